"""Handoff's HTTP routes."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.handoff import service
from services.handoff.schemas import LeadView
from shared.auth import SalesScope
from shared.problems import NotFound, problem_responses
from shared.web import ReadSession

router = APIRouter(prefix="/v1", tags=["handoff"])


@router.get(
    "/leads/{lead_id}",
    response_model=LeadView,
    summary="A lead's whole timeline",
    responses=problem_responses(NotFound),
)
async def get_lead(lead_id: str, request: Request, session: ReadSession, _: SalesScope) -> LeadView:
    """Received, scored, assigned, attempts, SLA state and outcome, in order."""
    return await service.lead_view(session, lead_id)
