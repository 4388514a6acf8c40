"""The audit log: who did what, when, from where. Rows are only ever added."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from axis.store.models import AuditEntry


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def append(
        self,
        *,
        action: str,
        resource: str,
        method: str,
        status_code: int,
        outcome: str,
        actor_user_id: int | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        request_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(
            actor_user_id=actor_user_id,
            action=action[:64],
            resource=resource[:255],
            method=method[:8],
            status_code=status_code,
            outcome=outcome,
            ip=ip[:64] if ip else None,
            user_agent=user_agent[:255] if user_agent else None,
            request_id=request_id[:64] if request_id else None,
            details=details or {},
        )
        self.session.add(entry)
        self.session.flush()
        return entry

    def list(
        self,
        *,
        actor_user_id: int | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        query = select(AuditEntry)
        if actor_user_id is not None:
            query = query.where(AuditEntry.actor_user_id == actor_user_id)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        if since is not None:
            query = query.where(AuditEntry.time >= since)
        return list(self.session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))
