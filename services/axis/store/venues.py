"""Venue events: what a worker's FailoverVenue records (breaker transitions, failovers)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from axis.store.db import Database
from axis.store.models import VenueEvent


class VenueTransitionLike(Protocol):
    """The fields of :class:`axis.venues.failover.VenueTransition` (kept structural so the
    store does not import the venues)."""

    @property
    def venue(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def from_state(self) -> str: ...
    @property
    def to_state(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def policy(self) -> str | None: ...
    @property
    def details(self) -> Mapping[str, Any]: ...
    @property
    def time(self) -> datetime: ...


class VenueEventRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def append(self, strategy: str, transition: VenueTransitionLike) -> VenueEvent:
        event = VenueEvent(
            time=transition.time,
            strategy=strategy[:200],
            venue=transition.venue[:64],
            kind=transition.kind[:16],
            from_state=transition.from_state[:64],
            to_state=transition.to_state[:64],
            policy=transition.policy,
            reason=transition.reason,
            details=dict(transition.details),
        )
        self.session.add(event)
        self.session.flush()
        return event

    def for_strategy(
        self, strategy: str, *, kind: str | None = None, limit: int = 100
    ) -> list[VenueEvent]:
        """The strategy's newest ``limit`` events, oldest first."""
        query = select(VenueEvent).where(VenueEvent.strategy == strategy)
        if kind is not None:
            query = query.where(VenueEvent.kind == kind)
        newest = query.order_by(VenueEvent.time.desc(), VenueEvent.id.desc()).limit(limit)
        return list(reversed(list(self.session.scalars(newest))))


class VenueEventRecorder:
    """A FailoverVenue ``recorder``: each transition in its own short transaction."""

    def __init__(self, db: Database, strategy: str) -> None:
        self.db = db
        self.strategy = strategy

    def __call__(self, transition: VenueTransitionLike) -> None:
        with self.db.session() as session:
            VenueEventRepository(session).append(self.strategy, transition)
