"""Scoring's HTTP routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from services.scoring import service
from shared.auth import SalesScope
from shared.events import Decision
from shared.problems import NotFound, problem_responses
from shared.web import ReadSession

router = APIRouter(prefix="/v1", tags=["scoring"])


@router.get(
    "/contract",
    summary="The active contract",
    responses=problem_responses(service.NoActiveContract),
)
async def active_contract(request: Request, session: ReadSession, _: SalesScope) -> dict[str, Any]:
    """The contract version every new decision is made with."""
    contract = await request.app.state.scoring.active(session)
    return {"version": contract.version, "contract": contract.model_dump(mode="json")}


@router.get(
    "/leads/{lead_id}/score",
    response_model=Decision,
    summary="A lead's decision with its explanation",
    responses=problem_responses(NotFound),
)
async def lead_score(lead_id: str, session: ReadSession, _: SalesScope) -> Decision:
    """Outcome, scores, tier, every rule that fired with its points, what is missing."""
    return await service.lead_score(session, lead_id)
