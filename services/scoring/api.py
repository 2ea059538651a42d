"""Scoring's HTTP routes: parse, call one use case, answer."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.scoring import service, simulation, versions
from services.scoring.contract import ContractIssue
from services.scoring.schemas import (
    CONTRACT_BODY,
    JSON_TYPES,
    YAML_TYPES,
    Activation,
    ContractDetail,
    ContractDocumentIn,
    ContractList,
    ContractVersion,
    SimulationResult,
)
from shared.auth import AdminScope, SalesScope
from shared.events import Decision
from shared.problems import (
    Forbidden,
    InvalidInput,
    ProblemError,
    TooManyRequests,
    Unauthorized,
    problem_responses,
    validation_problems,
)
from shared.web import ReadSession, WriteSession

router = APIRouter(
    prefix="/v1",
    tags=["scoring"],
    # InvalidInput: a query or path value FastAPI refuses, answered as problem+json (without
    # it here, FastAPI documents its own application/json validation error instead).
    responses=problem_responses(Unauthorized, Forbidden, TooManyRequests, InvalidInput),
)


class UnsupportedMediaType(ProblemError):
    status = 415
    title = "Send the contract as YAML text or as JSON"
    type = "https://leadrelay.dev/problems/unsupported-media-type"


def _scoring(request: Request) -> service.Scoring:
    scoring: service.Scoring = request.app.state.scoring
    return scoring


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.runtime.sessionmaker
    return sessions


async def _contract_document(request: Request) -> str:
    """The body as contract text: YAML as is, or JSON `{"document": ...}`; never bytes."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media not in YAML_TYPES and media not in JSON_TYPES:
        raise UnsupportedMediaType(
            f"got {media}; use application/yaml, text/yaml, text/plain or application/json"
        )
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        line = body.count(b"\n", 0, err.start) + 1
        raise versions.ContractRefused.of(
            [ContractIssue(line, "", f"the contract is not UTF-8 text (byte {err.start})")]
        ) from None
    if media in JSON_TYPES:
        return _document_from_json(text)
    return text


def _document_from_json(text: str) -> str:
    """`{"document": "..."}` gives its text; any other JSON is the contract itself."""
    try:
        parsed: Any = json.loads(text)
    except (ValueError, RecursionError):
        return text  # JSON is YAML: the loader names the line that is wrong
    if not isinstance(parsed, dict) or "document" not in parsed:
        return text
    try:
        return ContractDocumentIn.model_validate(parsed).document
    except ValidationError as err:
        # Refused as a contract (line, path and pointer per issue), the 422 these routes
        # document; a bare InvalidInput's errors lack the line and path that answer promises.
        raise versions.ContractRefused.of(
            [
                ContractIssue(None, ".".join(str(part) for part in e["loc"]), message)
                for e, message in zip(
                    err.errors(),
                    (p.message for p in validation_problems(err.errors())),
                    strict=True,
                )
            ]
        ) from None


Scoring = Annotated[service.Scoring, Depends(_scoring)]
Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]
ContractText = Annotated[str, Depends(_contract_document)]
Days = Annotated[
    int | None,
    Query(ge=1, le=simulation.MAX_DAYS, description="the last N days (default 30)"),
]
Since = Annotated[
    datetime | None,
    Query(description="leads received since this moment (ISO 8601 with an offset), not with days"),
]
Sample = Annotated[int, Query(ge=0, le=1000, description="how many changed leads to list")]


@router.get(
    "/contract",
    response_model=ContractDetail,
    summary="The active contract",
    responses=problem_responses(versions.NoActiveContract),
)
async def active_contract(_: SalesScope, session: ReadSession, scoring: Scoring) -> ContractDetail:
    """The version every new decision is made with: its YAML document and the parsed model."""
    return await versions.show_active(session, cache=scoring.contracts)


@router.get("/contracts", response_model=ContractList, summary="Every contract version")
async def list_contracts(_: SalesScope, session: ReadSession) -> ContractList:
    """Drafts, the active version and the retired ones, with when and by whom each changed."""
    return await versions.list_versions(session)


@router.post(
    "/contracts",
    response_model=ContractVersion,
    status_code=201,
    summary="Propose a contract version (stored as a draft)",
    responses={
        **versions.CONTRACT_REFUSED,
        **problem_responses(versions.VersionExists, UnsupportedMediaType),
    },
    openapi_extra=CONTRACT_BODY,
)
async def propose_contract(
    principal: AdminScope,
    document: ContractText,
    session: WriteSession,
    scoring: Scoring,
    response: Response,
) -> ContractVersion:
    """Validate the YAML and store it as a draft. An invalid contract is refused with every
    issue (line, dotted path, JSON pointer, message); an existing version is refused with 409:
    a version never changes once stored."""
    draft = await versions.propose(session, document, clock=scoring.clock, by=principal.name)
    response.headers["Location"] = f"/v1/contracts/{draft.version}"
    return draft


@router.post(
    "/contracts/simulate",
    response_model=SimulationResult,
    summary="Simulate a draft against past leads",
    responses={
        **versions.CONTRACT_REFUSED,
        **problem_responses(versions.NoActiveContract, UnsupportedMediaType),
    },
    openapi_extra=CONTRACT_BODY,
)
async def simulate_draft(
    _: AdminScope,
    document: ContractText,
    sessions: Sessions,
    scoring: Scoring,
    days: Days = None,
    since: Since = None,
    sample: Sample = 20,
) -> SimulationResult:
    """Score the leads received in the period under the draft and under the active contract:
    counts by decision and tier under each, the leads that would change decision (a sample),
    tier moves, and the qualified leads per month projected against the draft's quota.
    Nothing is stored."""
    return await simulation.simulate_document(
        sessions, document, scoring=scoring, days=days, since=since, sample=sample
    )


@router.get(
    "/contracts/{version}",
    response_model=ContractDetail,
    summary="One contract version",
    responses=problem_responses(versions.UnknownVersion),
)
async def contract_version(
    _: SalesScope, version: str, session: ReadSession, scoring: Scoring
) -> ContractDetail:
    """A version's status, its YAML document and the parsed model."""
    return await versions.show(session, version, cache=scoring.contracts)


@router.post(
    "/contracts/{version}/activate",
    response_model=Activation,
    summary="Make a version the active contract",
    responses={**versions.CONTRACT_REFUSED, **problem_responses(versions.UnknownVersion)},
)
async def activate_contract(
    principal: AdminScope, version: str, session: WriteSession, scoring: Scoring
) -> Activation:
    """New decisions use this version from now on (other replicas within
    `LEADRELAY_SCORING_CONTRACT_CACHE_SECONDS`); the version it replaces is retired.
    Existing decisions are not re-scored: each keeps the version that made it, and a lead is
    scored again when intake sends an update. Activating the active version changes nothing."""
    return await versions.activate(
        session, version, cache=scoring.contracts, clock=scoring.clock, by=principal.name
    )


@router.post(
    "/contracts/{version}/simulate",
    response_model=SimulationResult,
    summary="Simulate a stored version against past leads",
    responses=problem_responses(versions.UnknownVersion, versions.NoActiveContract),
)
async def simulate_version(
    _: AdminScope,
    version: str,
    sessions: Sessions,
    scoring: Scoring,
    days: Days = None,
    since: Since = None,
    sample: Sample = 20,
) -> SimulationResult:
    """As `POST /v1/contracts/simulate`, for a version already proposed."""
    return await simulation.simulate_version(
        sessions, version, scoring=scoring, days=days, since=since, sample=sample
    )


@router.get(
    "/leads/{lead_id}/score",
    response_model=Decision,
    summary="A lead's decision with its explanation",
    responses=problem_responses(service.LeadNotScored),
)
async def lead_score(_: SalesScope, lead_id: str, session: ReadSession) -> Decision:
    """Outcome, scores, tier, every rule that fired with its points, what is missing, and the
    contract version that decided."""
    return await service.lead_score(session, lead_id)
