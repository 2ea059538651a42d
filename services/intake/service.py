"""Intake's use cases: leads from every channel, in the caller's transaction.

Every channel ends in `accept_leads`: lock the people and keys involved, read what is
known, let `dedupe.plan_intake` decide, then write leads, outbox rows and idempotency
records in one go. The commit belongs to the caller (the request, or one batch chunk).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake import forms, store
from services.intake.dedupe import Outcome, Submission, plan_intake, request_fingerprint
from services.intake.forms import FormConfig, FormPost
from services.intake.hooks import ADAPTERS
from services.intake.normalize import identity_of
from services.intake.problems import (
    BadSignature,
    FormManagedByFile,
    IdempotencyKeyReused,
    MalformedBody,
    OriginNotAllowed,
    UnknownForm,
    UnknownHook,
)
from services.intake.schemas import (
    FieldError,
    HookAccepted,
    HookItemResult,
    LeadIn,
    field_errors,
)
from services.intake.tables import keyring, plumbing
from shared import ids, metrics
from shared.clock import Clock
from shared.events import Event, LeadData, LeadKeyIssued, LeadReceived, LeadUpdated
from shared.pii import DataKey, seal_lead
from shared.problems import FieldProblem, InvalidInput

SOURCE = "/leadrelay/intake"


@dataclass(frozen=True)
class Intake:
    """What the use cases need besides a session: the clock, the rules, and for batches
    (which commit chunk by chunk) the sessionmaker and what to do after each commit."""

    clock: Clock
    dedupe_window: timedelta
    sessionmaker: async_sessionmaker[AsyncSession] | None = None
    on_commit: Callable[[], None] = lambda: None
    chunk_rows: int = 500
    hook_secrets: Mapping[str, str] = field(default_factory=dict)


# --- the one path every lead takes ---------------------------------------------------------


async def accept_leads(
    session: AsyncSession,
    submissions: Sequence[Submission],
    ctx: Intake,
    *,
    channel: str,
    traceparent: str | None = None,
    traceparents: Sequence[str | None] | None = None,
) -> list[Outcome]:
    """Store new leads, merge the same person's, replay known keys; queue every event.

    `traceparents` gives each submission its own trace (a group commit of several
    requests); otherwise `traceparent` applies to all."""
    if not submissions:
        return []
    now = ctx.clock.now()
    identities = [identity_of(s.lead.email) for s in submissions]  # LeadIn normalised it
    keys = {s.idempotency_key for s in submissions if s.idempotency_key}
    await store.lock(session, {*identities, *keys})
    dedupe = ctx.dedupe_window > timedelta(0)
    plan = plan_intake(
        submissions,
        identities=identities,
        earlier=await store.find_remembered(session, keys),
        recent=await store.find_recent(session, set(identities), now - ctx.dedupe_window)
        if dedupe
        else {},
        now=now,
        channel=channel,
        new_id=ids.new_id,
        dedupe=dedupe,
    )
    await store.insert_leads(session, plan.inserts.values())
    await store.update_leads(session, plan.updates.values(), now)
    trace_of: dict[str, str | None] = {}
    if traceparents is not None:
        for outcome, tp in zip(plan.outcomes, traceparents, strict=True):
            if outcome.answer is not None:
                trace_of.setdefault(outcome.answer.lead_id, tp)
    data_keys, issued = await _keys_for(session, plan.events, set(plan.inserts), now)
    await plumbing.outbox.add_many(
        session,
        [
            *issued,  # before the leads' events: the relay sends rows in order
            *(
                _event(
                    kind,
                    seal_lead(lead, data_keys[lead.lead_id]),
                    trace_of.get(lead.lead_id, traceparent),
                )
                for kind, lead in plan.events
            ),
        ],
    )
    await store.remember(session, plan.remember, now)
    _count(submissions, plan.outcomes, channel)
    return plan.outcomes


async def _keys_for(
    session: AsyncSession,
    events: Sequence[tuple[str, LeadData]],
    new: set[str],
    now: datetime,
) -> tuple[dict[str, DataKey], list[Event]]:
    """Each lead's data key: drawn when intake first accepts it (with a lead.key event for
    leads.keys), else the one stored; one insert (and, for merges, one query) per chunk."""
    lead_ids = {lead.lead_id for _, lead in events}
    stored = await keyring.load(session, lead_ids - new)
    keys = {i: k for i, k in stored.items() if k is not None}
    fresh = {i: DataKey.new() for i in sorted(lead_ids) if i not in stored}
    await keyring.add(session, {i: (k, now) for i, k in fresh.items()})
    keys.update(fresh)
    issued: list[Event] = [
        LeadKeyIssued(source=SOURCE, subject=i, data=k.record(i, now)) for i, k in fresh.items()
    ]
    return keys, issued


def _event(kind: str, lead: LeadData, traceparent: str | None) -> LeadReceived | LeadUpdated:
    cls = LeadReceived if kind == "received" else LeadUpdated
    return cls(source=SOURCE, subject=lead.lead_id, data=lead, traceparent=traceparent)


def _count(submissions: Sequence[Submission], outcomes: Sequence[Outcome], channel: str) -> None:
    """Refusals are counted by whoever answers them (the edge, or a batch's row result).
    One increment per label set, not per lead (a batch chunk has hundreds of one kind)."""
    received: Counter[str] = Counter()
    duplicate: Counter[str] = Counter()
    for sub, outcome in zip(submissions, outcomes, strict=True):
        if outcome.answer is None:
            continue
        if outcome.replayed:
            duplicate["idempotency"] += 1
        elif outcome.answer.status == "duplicate":
            duplicate["person"] += 1
        else:
            received[sub.lead.source] += 1
    for reason, n in duplicate.items():
        metrics.LEADS_DUPLICATE.labels(channel, reason).inc(n)
    for source, n in received.items():
        metrics.LEADS_RECEIVED.labels(source, channel).inc(n)


async def accept_lead(
    session: AsyncSession,
    lead: LeadIn,
    ctx: Intake,
    *,
    channel: str,
    idempotency_key: str | None = None,
    traceparent: str | None = None,
) -> Outcome:
    """One lead: accepted, merged into the same person's (duplicate), or a replay."""
    [outcome] = await accept_leads(
        session, [Submission(lead, idempotency_key)], ctx, channel=channel, traceparent=traceparent
    )
    if outcome.conflict:
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different lead")
    return outcome


# --- forms ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormReply:
    """What became of a form post; the edge turns it into a redirect or an answer."""

    form: FormConfig
    outcome: Outcome | None = None
    errors: list[FieldError] = field(default_factory=list)
    post: FormPost | None = None
    bot: bool = False


async def describe_form(session: AsyncSession, form_id: str) -> tuple[FormConfig, str]:
    """The form's configuration and who manages it: `file` (the forms file) or `api`."""
    found = await store.get_form(session, form_id)
    if found is None:
        raise UnknownForm(f"there is no form {form_id!r}")
    return FormConfig.model_validate(found[0]), found[1]


async def admit_origin(session: AsyncSession, form_id: str, origin: str | None) -> FormConfig:
    """The form, if a browser at `origin` may post it (a CORS preflight asks just this)."""
    form, _ = await describe_form(session, form_id)
    if not form.allows_origin(origin):
        raise OriginNotAllowed(f"form {form_id!r} does not accept posts from {origin!r}")
    return form


async def accept_form(
    session: AsyncSession,
    form_id: str,
    posted: Mapping[str, Sequence[str]],
    ctx: Intake,
    *,
    origin: str | None,
    idempotency_key: str | None = None,
    traceparent: str | None = None,
) -> FormReply:
    """A browser's post: origin, honeypot, mapping, validation, then the one path."""
    form = await admit_origin(session, form_id, origin)
    if forms.is_bot(form, posted):
        metrics.LEADS_REJECTED.labels("form", "honeypot").inc()
        return FormReply(form, bot=True)
    post = forms.map_post(form_id, form, posted, now=ctx.clock.now())
    try:
        lead = LeadIn.model_validate(post.data)
    except ValidationError as exc:
        return FormReply(form, errors=field_errors(exc), post=post)
    outcome = await accept_lead(
        session,
        lead,
        ctx,
        channel="form",
        idempotency_key=idempotency_key,
        traceparent=traceparent,
    )
    return FormReply(form, outcome=outcome, post=post)


async def list_forms(session: AsyncSession) -> list[tuple[str, FormConfig, str]]:
    return [
        (form_id, FormConfig.model_validate(config), managed_by)
        for form_id, config, managed_by in await store.list_forms(session)
    ]


async def put_form(session: AsyncSession, form_id: str, config: FormConfig, now: datetime) -> str:
    """Create or replace a form over the API; forms from the forms file are read-only here."""
    found = await store.get_form(session, form_id)
    if found is not None and found[1] == "file":
        raise FormManagedByFile(f"form {form_id!r} is defined in the forms file; change it there")
    await store.put_form(session, form_id, config.model_dump(mode="json"), "api", now)
    return "api"


async def delete_form(session: AsyncSession, form_id: str) -> None:
    found = await store.get_form(session, form_id)
    if found is None:
        raise UnknownForm(f"there is no form {form_id!r}")
    if found[1] == "file":
        raise FormManagedByFile(f"form {form_id!r} is defined in the forms file; remove it there")
    await store.delete_form(session, form_id)


async def apply_forms_file(
    session: AsyncSession, defined: Mapping[str, FormConfig], now: datetime
) -> None:
    """On start: the file's forms are created or replaced, and the ones it dropped go."""
    for form_id, config in defined.items():
        await store.put_form(session, form_id, config.model_dump(mode="json"), "file", now)
    await store.delete_file_forms_except(session, set(defined))


# --- webhooks ------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    """Strict JSON (no NaN), any hostile body a 400 rather than a crash."""
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, huge ints
        raise MalformedBody(f"the body is not valid JSON: {str(exc)[:200]}") from None


async def accept_hook(
    session: AsyncSession,
    tool: str,
    body: bytes,
    signature: str | None,
    ctx: Intake,
    *,
    traceparent: str | None = None,
) -> HookAccepted:
    """A signed delivery from a marketing-automation tool: every event it carries, answered.

    A redelivered event (tools retry) has the same content, hence the same idempotency key,
    and gets its first answer back without storing anything."""
    adapter = ADAPTERS.get(tool)
    secret = ctx.hook_secrets.get(tool)
    if adapter is None or not secret:
        raise UnknownHook(f"no webhook {tool[:40]!r} is configured")
    if not adapter.verify(secret, body, signature):
        raise BadSignature(f"the {adapter.signature_header} header does not sign this body")
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise InvalidInput(
            "a delivery is a JSON object of event lists",
            errors=[FieldProblem(pointer="", message="must be a JSON object")],
        )
    results: list[HookItemResult] = []
    pending: list[tuple[int, Submission]] = []
    for item in adapter.items(payload, ctx.clock.now()):
        result = HookItemResult(index=item.index, event=item.event, status="skipped")
        if item.data is None:
            results.append(result.model_copy(update={"reason": item.skipped}))
            continue
        try:
            lead = LeadIn.model_validate(item.data)
        except ValidationError as exc:
            metrics.LEADS_REJECTED.labels("hook", "invalid").inc()
            results.append(
                result.model_copy(update={"status": "rejected", "errors": field_errors(exc)})
            )
            continue
        key = f"hook:{tool}:{request_fingerprint(item.data)}"
        pending.append((len(results), Submission(lead, key)))
        results.append(result)
    outcomes = await accept_leads(
        session, [s for _, s in pending], ctx, channel="hook", traceparent=traceparent
    )
    for (at, _), outcome in zip(pending, outcomes, strict=True):
        results[at] = _hook_result(results[at], outcome)
    return HookAccepted(tool=tool, results=results)


def _hook_result(result: HookItemResult, outcome: Outcome) -> HookItemResult:
    if outcome.answer is None:  # same content, same key: only a hash collision gets here
        metrics.LEADS_REJECTED.labels("hook", "idempotency_conflict").inc()
        return result.model_copy(update={"status": "rejected", "reason": "key conflict"})
    return result.model_copy(
        update={
            "status": outcome.answer.status,
            "lead_id": outcome.answer.lead_id,
            "duplicate_of": outcome.answer.duplicate_of,
            "replayed": outcome.replayed,
        }
    )
