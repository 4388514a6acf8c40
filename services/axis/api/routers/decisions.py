"""AI decisions: record one (with its evidence and LLM costs), list them, read one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from axis.api.auth import Context, CurrentUser, ensure_owner
from axis.api.errors import ApiError
from axis.api.schemas import API_PREFIX, DecisionOut, DecisionRequest, error_responses
from axis.store.cache import keys
from axis.store.models import AIDecision
from axis.store.records import DecisionRepository
from axis.store.types import to_decimal

router = APIRouter(prefix=f"{API_PREFIX}/decisions", tags=["decisions"])


def decision_out(row: AIDecision) -> DecisionOut:
    return DecisionOut(
        decision_id=row.id,
        user_id=row.user_id,
        timestamp=row.timestamp,
        agent_name=row.agent_name,
        input_data=row.input_data,
        output_data=row.output_data,
        evidence=row.evidence,
        reasoning=row.reasoning,
        actual_outcome=None if row.actual_outcome is None else float(row.actual_outcome),
        decision_quality=row.decision_quality,
        llm_model=row.llm_model,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        llm_cost=None if row.llm_cost is None else float(row.llm_cost),
        execution_time_ms=row.execution_time_ms,
    )


@router.post(
    "",
    name="decisions.create",
    status_code=201,
    response_model=DecisionOut,
    responses=error_responses(401, 403, 422, 429),
)
def create_decision(
    body: DecisionRequest, request: Request, ctx: Context, user: CurrentUser
) -> DecisionOut:
    """Record an agent's decision: input, output, evidence, reasoning, model and cost."""
    ensure_owner(user, body.user_id)
    with ctx.db.session() as session:
        row = DecisionRepository(session).add(
            AIDecision(
                user_id=body.user_id,
                timestamp=body.timestamp or ctx.now(),
                agent_name=body.agent_name,
                input_data=body.input_data,
                output_data=body.output_data,
                evidence=body.evidence,
                reasoning=body.reasoning,
                llm_model=body.llm_model,
                prompt_tokens=body.prompt_tokens,
                completion_tokens=body.completion_tokens,
                llm_cost=None if body.llm_cost is None else to_decimal(body.llm_cost),
                execution_time_ms=body.execution_time_ms,
            )
        )
        out = decision_out(row)
    ctx.publish(
        keys.STREAM_DECISIONS,
        {
            "type": "decision",
            "decision_id": out.decision_id,
            "user_id": body.user_id,
            "agent_name": body.agent_name,
        },
    )
    request.state.audit = {"decision_id": out.decision_id, "agent_name": body.agent_name}
    return out


@router.get(
    "",
    name="decisions.list",
    response_model=list[DecisionOut],
    responses=error_responses(401, 403, 422),
)
def list_decisions(
    ctx: Context,
    user: CurrentUser,
    user_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    agent_name: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DecisionOut]:
    """The caller's decisions, newest first (``user_id`` defaults to the caller)."""
    owner = user.user_id if user_id is None else user_id
    ensure_owner(user, owner)
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ApiError(
                422,
                f"query.{name}: give a timezone, e.g. 2025-01-27T14:30:00Z",
                field=f"query.{name}",
            )
    with ctx.db.session() as session:
        rows = DecisionRepository(session).search(
            user_id=owner, agent_name=agent_name, since=since, until=until, limit=limit
        )
        return [decision_out(r) for r in rows]


@router.get(
    "/{decision_id}",
    name="decisions.get",
    response_model=DecisionOut,
    responses=error_responses(401, 403, 404, 422),
)
def get_decision(
    decision_id: Annotated[int, Path(ge=1, le=2**62)], ctx: Context, user: CurrentUser
) -> DecisionOut:
    with ctx.db.session() as session:
        row = DecisionRepository(session).get(decision_id)
        if row is None:
            raise ApiError(404, "decision not found")
        ensure_owner(user, row.user_id)
        return decision_out(row)
