"""`leadrelay demo`: a realistic month of traffic against a running stack, so every report
and chart of the dashboard has something to say.

It sets up reps (PUT /v1/reps), enters campaign costs, sends leads from the web, campaigns,
events and partners (and some reps' own, `source: sales`) to intake, and plays the reps:
some contact fast, some late, some never; they accept and reject, open opportunities, win
and lose them. Everything goes through the public APIs.

Time is compressed. A real first-contact SLA runs for minutes or hours, so unless
`--real-sla` is given the demo proposes `<active version>-demo`: the active contract with
its SLA clocks in seconds and wall-clock time, activates it while it plays, and activates
the previous version again at the end. Leads a rep never contacts then breach within
seconds and are reassigned, escalated or recycled by handoff itself, as the contract says.

Exit codes: 0 done; 2 the stack is not reachable or ready, or a key was refused.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import yaml

URLS = {"intake": "http://127.0.0.1:8001", "scoring": "http://127.0.0.1:8002"}
URLS["handoff"] = "http://127.0.0.1:8003"
DEMO_SLA_SECONDS = {"first": 10, "other": 20}  # first tier (hot), the others (warm)
CONCURRENCY = 8

# --- who is who ------------------------------------------------------------------------

REPS: dict[str, dict[str, Any]] = {
    "mgr-na": {"name": "Maria Lopez", "team": "na", "weight": 0, "tz": "America/New_York"},
    "rep-ana": {"name": "Ana Silva", "team": "na", "weight": 2, "tz": "America/New_York"},
    "rep-ben": {"name": "Ben Carter", "team": "na", "weight": 1, "tz": "America/Los_Angeles"},
    "rep-eve": {"name": "Eve Park", "team": "na", "weight": 1, "tz": "America/Chicago"},
    "mgr-emea": {"name": "Greta Vogel", "team": "emea", "weight": 0, "tz": "Europe/Berlin"},
    "rep-chloe": {"name": "Chloe Martin", "team": "emea", "weight": 1, "tz": "Europe/London"},
    "rep-dirk": {"name": "Dirk Weber", "team": "emea", "weight": 1, "tz": "Europe/Berlin"},
    "rep-femi": {"name": "Femi Adeyemi", "team": "emea", "weight": 1, "tz": "Europe/London"},
}
# Chance a rep makes first contact before the clock runs out: fast, slow and absent reps.
CONTACT = {"rep-ana": 0.95, "rep-ben": 0.45, "rep-eve": 0.9, "rep-chloe": 0.92}
CONTACT |= {"rep-dirk": 0.2, "rep-femi": 0.85, "mgr-na": 1.0, "mgr-emea": 1.0}

CAMPAIGNS: dict[str, tuple[str, str, float]] = {
    "webinar-lead-scoring": ("Webinar: lead scoring 101", "campaign", 9_000),
    "paid-search-brand": ("Paid search (brand)", "campaign", 14_000),
    "linkedin-abm": ("LinkedIn ABM", "campaign", 11_000),
    "newsletter": ("Monthly newsletter", "campaign", 1_500),
    "saastr-expo": ("SaaS Expo booth", "event", 24_000),
    "partner-co-marketing": ("Partner co-marketing", "partner", 5_000),
}
Weighted = tuple[tuple[str, int], ...]
SOURCES: Weighted = (("web", 30), ("campaign", 33), ("event", 12), ("partner", 8))
SOURCES += (("referral", 5), ("sales", 12))
COUNTRIES: Weighted = (("US", 45), ("CA", 8), ("GB", 17), ("DE", 14), ("FR", 8), ("NL", 8))
PROFILES: Weighted = (("hot", 32), ("warm", 24), ("nurture", 28), ("disqualified", 16))
REJECT_REASONS: Weighted = (
    ("not_a_fit", 5),
    ("no_interest", 4),
    ("bad_contact_data", 3),
    ("existing_customer", 2),
    ("wrong_territory", 1),
    ("duplicate", 1),
    ("competitor", 1),
)
LOST_REASONS = ("price", "competitor", "no_budget", "timing", "no_decision")
FIRST = ("Ada", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jade", "Kofi")
LAST = ("Lovelace", "Okafor", "Schmidt", "Dubois", "Novak", "Rossi", "Tanaka", "Jensen")
COMPANIES: tuple[str, ...] = (
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Acme",
    "Hooli",
)
COMPANIES += ("Vandelay", "Soylent", "Tyrell", "Cyberdyne", "Aperture", "Wonka")


def _pick(rng: random.Random, weighted: Weighted) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


# --- the plan --------------------------------------------------------------------------


@dataclass
class Lead:
    """One lead the demo sends, and what became of it."""

    index: int
    body: dict[str, Any]
    profile: str
    lead_id: str | None = None
    status: str | None = None
    rep_id: str | None = None
    assigned_at: datetime | None = None
    due_at: datetime | None = None
    contacted: bool = False
    attempts: int = 0


@dataclass
class Tally:
    sent: int = 0
    assigned: int = 0
    contacted: int = 0
    late: int = 0
    never: int = 0
    accepted: int = 0
    rejected: int = 0
    opportunities: int = 0
    won: int = 0
    lost: int = 0
    refused: Counter[int] = field(default_factory=Counter)


def plan_leads(n: int, rng: random.Random, run: str, now: datetime) -> list[Lead]:
    """`n` leads across sources, campaigns, countries and fits; touches spread over weeks."""
    leads = []
    by_source: dict[str, list[str]] = {}
    for cid, (_, source, _) in CAMPAIGNS.items():
        by_source.setdefault(source, []).append(cid)
    for i in range(n):
        source = _pick(rng, SOURCES)
        profile = "hot" if source == "sales" and rng.random() < 0.7 else _pick(rng, PROFILES)
        if source == "sales" and profile == "disqualified":
            profile = "warm"
        campaign = rng.choice(by_source[source]) if source in by_source else None
        leads.append(Lead(i, _lead_body(i, profile, source, campaign, rng, run, now), profile))
    return leads


def _lead_body(
    i: int,
    profile: str,
    source: str,
    campaign: str | None,
    rng: random.Random,
    run: str,
    now: datetime,
) -> dict[str, Any]:
    first, last, company = rng.choice(FIRST), rng.choice(LAST), rng.choice(COMPANIES)
    domain = f"{company.lower()}-{run}-{i}.example"
    title, employees = {
        "hot": (rng.choice(("VP Marketing", "Chief Revenue Officer", "Head of Sales")), 800),
        "warm": (rng.choice(("Director of Operations", "Sales Director")), 350),
        "nurture": (rng.choice(("Marketing Manager", "Analyst")), 60),
        "disqualified": (rng.choice(("Student", "Intern", "Software Engineer")), 30),
    }[profile]
    email = f"{first.lower()}.{last.lower()}@{domain}"
    if profile == "disqualified" and rng.random() < 0.5:
        email = f"{first.lower()}.{last.lower()}.{run}{i}@gmail.com"
    touches = [
        {
            "type": "form_submit" if profile in ("hot", "warm") else "email_click",
            "at": (now - timedelta(hours=rng.randint(1, 72))).isoformat(),
            "detail": campaign or "website",
        }
    ]
    if profile == "hot" or rng.random() < 0.3:
        touches.append(
            {
                "type": "webinar",
                "at": (now - timedelta(days=rng.randint(3, 25))).isoformat(),
                "detail": "lead scoring 101",
            }
        )
    body: dict[str, Any] = {
        "email": email,
        "first_name": first,
        "last_name": last,
        "company": f"{company} {rng.choice(('Inc', 'GmbH', 'Ltd', 'BV', 'SA'))}",
        "job_title": title,
        "country": _pick(rng, COUNTRIES),
        "source": source,
        "attributes": {"employees": employees + rng.randint(0, 400)},
        "touches": sorted(touches, key=lambda t: t["at"]),
    }
    if campaign:
        body["campaign_id"] = campaign
    return body


# --- talking to the stack --------------------------------------------------------------


class Refused(Exception):
    """The stack said no (not ready, key refused): stop with its words."""


@dataclass
class Stack:
    client: httpx.AsyncClient
    urls: dict[str, str]
    key: str
    tally: Tally
    gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(CONCURRENCY))

    async def call(
        self, method: str, service: str, path: str, *, ok: tuple[int, ...] = (200, 201), **kw: Any
    ) -> httpx.Response:
        """One request; waits out 429 and 503 (Retry-After); 401/403 stop the demo."""
        headers = {"Authorization": f"Bearer {self.key}", **kw.pop("headers", {})}
        async with self.gate:
            for _ in range(30):
                answer = await self.client.request(
                    method, self.urls[service] + path, headers=headers, **kw
                )
                if answer.status_code not in (429, 503):
                    break
                await asyncio.sleep(min(5.0, float(answer.headers.get("Retry-After", "1"))))
        if answer.status_code in (401, 403):
            raise Refused(f"{service} refused the key: {answer.text[:200]}")
        if answer.status_code not in ok:
            self.tally.refused[answer.status_code] += 1
        return answer


async def _ready(stack: Stack, timeout: float) -> None:
    """Wait for every service to be ready (a consumer may still be joining its group)."""
    deadline = time.monotonic() + timeout
    for service, url in stack.urls.items():
        while True:
            try:
                answer = await stack.client.get(url + "/readyz", timeout=5)
                problem = None if answer.status_code == 200 else answer.text[:200]
            except httpx.HTTPError as exc:
                problem = f"not reachable: {exc}"
            if problem is None:
                break
            if time.monotonic() > deadline:
                raise Refused(f"{service} at {url} is not ready: {problem}")
            await asyncio.sleep(0.5)


async def _setup_reps(stack: Stack) -> None:
    for rep_id, r in REPS.items():
        body = {
            "name": r["name"],
            "team": r["team"],
            "weight": r["weight"],
            "capacity": 80,
            "time_zone": r["tz"],
        }
        answer = await stack.call("PUT", "handoff", f"/v1/reps/{rep_id}", json=body)
        if answer.status_code not in (200, 201):
            raise Refused(f"could not set up rep {rep_id}: {answer.text[:200]}")
    for team, manager in (("na", "mgr-na"), ("emea", "mgr-emea")):
        await stack.call("PUT", "handoff", f"/v1/teams/{team}", json={"manager": manager})


async def _set_costs(stack: Stack, month: str) -> None:
    for cid, (name, _, cost) in CAMPAIGNS.items():
        body = {"name": name, "cost": cost, "currency": "USD", "period": month}
        await stack.call("PUT", "handoff", f"/v1/campaigns/{cid}", json=body)


def demo_contract(document: str, version: str) -> str:
    """The active contract with its SLA clocks in seconds of wall-clock time."""
    doc = yaml.safe_load(document)
    tiers = [t["name"] for t in doc.get("tiers") or []]
    seconds = {t: DEMO_SLA_SECONDS["first" if i == 0 else "other"] for i, t in enumerate(tiers)}
    sla = doc.setdefault("sla", {})
    sla["first_contact"] = {
        t: {"within": f"{s}s", "business_hours": False, "warn_at": 0.8} for t, s in seconds.items()
    }
    sla["attempts"] = {t: {"min": 2, "within": f"{s * 12}s"} for t, s in seconds.items()}
    doc["version"] = version
    doc["name"] = f"{doc.get('name', 'contract')} (demo: SLA in seconds)"
    return str(yaml.safe_dump(doc, sort_keys=False))


async def _use_demo_contract(stack: Stack, say: Callable[[str], None]) -> str | None:
    """Activate `<active>-demo`; return the version to restore afterwards."""
    answer = await stack.call("GET", "scoring", "/v1/contract")
    if answer.status_code != 200:
        say(f"no active contract ({answer.status_code}); keeping things as they are")
        return None
    active = answer.json()
    version = str(active["version"])
    if version.endswith("-demo"):  # a demo stopped half-way: restore the real one after
        return version.removesuffix("-demo")
    demo = f"{version}-demo"
    text = demo_contract(active["document"], demo)
    headers = {"Content-Type": "application/yaml"}
    await stack.call(
        "POST", "scoring", "/v1/contracts", ok=(201, 409), content=text, headers=headers
    )
    done = await stack.call("POST", "scoring", f"/v1/contracts/{demo}/activate")
    if done.status_code != 200:
        say(f"could not activate {demo}: {done.text[:200]}; using {version}")
        return None
    first, other = DEMO_SLA_SECONDS["first"], DEMO_SLA_SECONDS["other"]
    say(f"contract {demo} active: first contact within {first}s / {other}s while the demo plays")
    return version


# --- playing the month -----------------------------------------------------------------


async def _send(stack: Stack, leads: list[Lead], run: str) -> None:
    async def one(lead: Lead) -> None:
        answer = await stack.call(
            "POST",
            "intake",
            "/v1/leads",
            ok=(202,),
            json=lead.body,
            headers={"Idempotency-Key": f"demo-{run}-{lead.index}"},
        )
        if answer.status_code == 202:
            lead.lead_id = answer.json()["lead_id"]
            stack.tally.sent += 1

    await asyncio.gather(*(one(lead) for lead in leads))


async def _received_today(stack: Stack) -> int:
    """Leads handoff has received since yesterday (UTC), by its own funnel report."""
    since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    answer = await stack.call("GET", "handoff", "/v1/reports/funnel", params={"from": since})
    return int(answer.json()["steps"][0]["count"]) if answer.status_code == 200 else 0


async def _arrived(stack: Stack, leads: list[Lead], baseline: int, timeout: float) -> None:
    """Wait until handoff has every lead sent, then note who holds the qualified ones."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await _received_today(stack) >= baseline + stack.tally.sent:
            break
        await asyncio.sleep(0.3)
    likely = [lead for lead in leads if lead.lead_id and lead.profile in ("hot", "warm")]
    await asyncio.gather(*(_look(stack, lead) for lead in likely))


async def _look(stack: Stack, lead: Lead) -> None:
    answer = await stack.call("GET", "handoff", f"/v1/leads/{lead.lead_id}", ok=(200, 404))
    if answer.status_code != 200:
        return
    view = answer.json()
    lead.status, lead.rep_id = view["status"], view["rep_id"]
    lead.assigned_at = _at(view["assigned_at"]) if view["assigned_at"] else None
    due = view["sla"]["first_contact_due_at"]
    lead.due_at = _at(due) if due else None


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _attempt(stack: Stack, lead: Lead, rng: random.Random, *, late: bool) -> bool:
    """The holder's first attempt, some time after the assignment and never in the future."""
    if lead.assigned_at is None or lead.rep_id is None:
        return False
    now = datetime.now(UTC)
    room = max(0.5, (now - lead.assigned_at).total_seconds() - 0.2)
    soon = min(room, DEMO_SLA_SECONDS["first"] * 0.9) if not late else room
    at = lead.assigned_at + timedelta(seconds=rng.uniform(0.3, soon))
    body = {
        "attempt_id": f"demo-{uuid.uuid4().hex[:12]}",
        "rep_id": lead.rep_id,
        "channel": rng.choice(("call", "call", "email", "social")),
        "outcome": rng.choice(("no_answer", "voicemail", "connected", "connected")),
        "at": min(at, now).isoformat(),
    }
    path = f"/v1/leads/{lead.lead_id}/attempts"
    answer = await stack.call("POST", "handoff", path, json=body)
    if answer.status_code == 201:
        lead.contacted, lead.attempts = True, lead.attempts + 1
    return answer.status_code == 201


async def _follow_up(stack: Stack, lead: Lead, rng: random.Random) -> None:
    """More attempts, accept or reject, and what became of the deal."""
    path = f"/v1/leads/{lead.lead_id}"
    rep = {"rep_id": lead.rep_id}
    if rng.random() < 0.1:
        body = {**rep, "reason": _pick(rng, REJECT_REASONS)}
        rejected = await stack.call("POST", "handoff", f"{path}/reject", json=body)
        stack.tally.rejected += rejected.is_success  # read after the await: no lost update
        return
    for _ in range(rng.choice((0, 1, 1, 2))):
        await _attempt(stack, lead, rng, late=True)
    if rng.random() < 0.9:
        accepted = await stack.call("POST", "handoff", f"{path}/accept", json=rep)
        stack.tally.accepted += accepted.is_success
    sales = lead.body["source"] == "sales"
    if rng.random() < (0.55 if sales else 0.35):
        await _deal(stack, path, rep, rng, sales=sales)


async def _deal(
    stack: Stack, path: str, rep: dict[str, Any], rng: random.Random, *, sales: bool
) -> None:
    """An opportunity; then won, lost, or still open. Reps close more of their own leads."""
    amount = round(rng.lognormvariate(10, 0.6) / 500) * 500 + 5_000
    body = {**rep, "stage": "opportunity", "amount": amount, "currency": "USD"}
    if not (await stack.call("POST", "handoff", f"{path}/outcome", json=body)).is_success:
        return
    tally = stack.tally
    tally.opportunities += 1
    roll = rng.random()
    if roll < (0.6 if sales else 0.4):
        won = await stack.call("POST", "handoff", f"{path}/outcome", json={**rep, "stage": "won"})
        tally.won += won.is_success
    elif roll < 0.7:
        body = {**rep, "stage": "lost", "reason": rng.choice(LOST_REASONS), "currency": "USD"}
        lost = await stack.call("POST", "handoff", f"{path}/outcome", json=body)
        tally.lost += lost.is_success


async def _first_round(stack: Stack, leads: list[Lead], rng: random.Random) -> list[Lead]:
    """First contacts, soonest due first; returns the leads their rep leaves untouched."""
    newest = max((lead.assigned_at for lead in leads if lead.assigned_at), default=None)
    if newest is not None:  # let the clocks run a little: first attempts spread over seconds
        await asyncio.sleep(max(0.0, (newest - datetime.now(UTC)).total_seconds() + 4.0))
    held = sorted(
        (lead for lead in leads if lead.status == "assigned" and lead.rep_id),
        key=lambda lead: lead.due_at or lead.assigned_at or datetime.now(UTC),
    )
    stack.tally.assigned = len(held)
    chosen = [lead for lead in held if rng.random() < CONTACT.get(lead.rep_id or "", 0.8)]
    untouched = [lead for lead in held if lead not in chosen]
    if untouched and rng.random() < 0.5:  # someone rejects without a word: junk data
        junk = untouched.pop()
        body = {"rep_id": junk.rep_id, "reason": rng.choice(("spam", "bad_contact_data"))}
        answer = await stack.call("POST", "handoff", f"/v1/leads/{junk.lead_id}/reject", json=body)
        stack.tally.rejected += answer.is_success
    done = await asyncio.gather(*(_attempt(stack, lead, rng, late=False) for lead in chosen))
    contacted = [lead for lead, ok in zip(chosen, done, strict=True) if ok]
    stack.tally.contacted += len(contacted)
    await asyncio.gather(*(_follow_up(stack, lead, rng) for lead in contacted))
    return untouched


async def _late_round(
    stack: Stack, untouched: list[Lead], rng: random.Random, say: Callable[[str], None]
) -> None:
    """After the clocks ran out: reassigned leads get a call from their new rep, late."""
    dues = [lead.due_at for lead in untouched if lead.due_at is not None]
    if not dues:
        return
    wait = max(0.0, (max(dues) - datetime.now(UTC)).total_seconds()) + 2.5  # + a scanner pass
    say(f"{len(untouched)} leads left uncontacted; waiting {wait:.0f}s for their SLA to run out")
    await asyncio.sleep(wait)
    before = {lead.lead_id: lead.rep_id for lead in untouched}
    await asyncio.gather(*(_look(stack, lead) for lead in untouched))
    moved = [
        lead
        for lead in untouched
        if lead.status in ("assigned", "accepted") and lead.rep_id != before[lead.lead_id]
    ]
    stack.tally.never = len(untouched) - len(moved)
    late = [lead for lead in moved if rng.random() < CONTACT.get(lead.rep_id or "", 0.8)]
    done = await asyncio.gather(*(_attempt(stack, lead, rng, late=True) for lead in late))
    contacted = [lead for lead, ok in zip(late, done, strict=True) if ok]
    stack.tally.late += len(contacted)
    stack.tally.contacted += len(contacted)
    await asyncio.gather(*(_follow_up(stack, lead, rng) for lead in contacted))


# --- the whole run ---------------------------------------------------------------------


@dataclass(frozen=True)
class DemoConfig:
    urls: dict[str, str]
    key: str
    leads: int = 300
    seed: int | None = None
    real_sla: bool = False
    timeout: float = 40.0


async def run_demo(config: DemoConfig, say: Callable[[str], None] = print) -> Tally:
    """Play the month; raises Refused when the stack is not there or says no."""
    rng = random.Random(config.seed)
    run = uuid.uuid4().hex[:6]
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=15) as client:
        stack = Stack(client, config.urls, config.key, Tally())
        await _ready(stack, config.timeout)
        await _setup_reps(stack)
        now = datetime.now(UTC)
        await _set_costs(stack, now.strftime("%Y-%m"))
        restore = None if config.real_sla else await _use_demo_contract(stack, say)
        try:
            leads = plan_leads(config.leads, rng, run, now)
            baseline = await _received_today(stack)
            await _send(stack, leads, run)
            say(f"sent {stack.tally.sent} leads to intake ({time.monotonic() - started:.1f}s)")
            await _arrived(stack, leads, baseline, config.timeout)
            untouched = await _first_round(stack, leads, rng)
            say(f"reps worked {stack.tally.contacted} leads ({time.monotonic() - started:.1f}s)")
            if not config.real_sla:
                await _late_round(stack, untouched, rng, say)
        finally:
            if restore is not None:
                await stack.call("POST", "scoring", f"/v1/contracts/{restore}/activate")
                say(f"contract {restore} active again")
    say(f"done in {time.monotonic() - started:.1f}s")
    return stack.tally


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="play a realistic month of leads and reps against a running stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for service, url in URLS.items():
        p.add_argument(f"--{service}-url", default=url, help=f"{service}'s base URL ({url})")
    p.add_argument("--key", help="an admin API key (default: $LEADRELAY_API_KEY)")
    p.add_argument("--leads", type=int, default=300, help="how many leads (default 300)")
    p.add_argument("--seed", type=int, help="random seed, for the same month twice")
    p.add_argument(
        "--real-sla",
        action="store_true",
        help="keep the active contract's SLA times (misses then appear only as time passes)",
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    key = args.key or os.environ.get("LEADRELAY_API_KEY")
    if not key:
        sys.stderr.write("error: give --key or set LEADRELAY_API_KEY (an admin key)\n")
        return 2
    if not 1 <= args.leads <= 5000:
        sys.stderr.write("error: --leads must be between 1 and 5000\n")
        return 2
    urls = {s: getattr(args, f"{s}_url").rstrip("/") for s in URLS}
    config = DemoConfig(
        urls=urls, key=key, leads=args.leads, seed=args.seed, real_sla=args.real_sla
    )
    try:
        tally = asyncio.run(run_demo(config, say=lambda line: print(f"demo: {line}", flush=True)))
    except Refused as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    print(
        f"demo: {tally.sent} leads; {tally.assigned} reached a rep; {tally.contacted} contacted "
        f"({tally.late} late); {tally.rejected} rejected; {tally.opportunities} opportunities, "
        f"{tally.won} won, {tally.lost} lost"
    )
    print(f"dashboard: {urls['handoff']}/  (enter your API key; it stays in that browser tab)")
    return 0
