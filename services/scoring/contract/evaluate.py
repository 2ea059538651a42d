"""evaluate(contract, lead, now) -> Decision: the score, every rule that fired, what is missing.

Pure: no I/O and no clock reads, so a replay with the same `now` decides the same.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.scoring.contract.facts import LeadFacts, age
from services.scoring.contract.model import Contract, Rule, RuleGroup
from shared.events import Decision, FiredRule, Outcome, RouteHint, SlaTerms

BELOW_NURTURE = "below_nurture_threshold"
# Routing conditions cannot use touches (the loader refuses them), so no real `now` is needed.
_ROUTING_NOW = datetime(1970, 1, 1, tzinfo=UTC)


def evaluate(contract: Contract, lead: LeadFacts, *, now: datetime) -> Decision:
    """Score one lead against one contract version; the decision explains itself."""
    missing = tuple(f for f in contract.required if not lead.has(f))
    disqualified = tuple(
        FiredRule(rule=d.name, group="disqualifier", points=0, reason=d.reason)
        for d in contract.disqualifiers
        if d.when.holds(lead, now)
    )
    fit_fired, fit = score_group(contract.fit, "fit", lead, now)
    engagement_fired, engagement = score_group(contract.engagement, "engagement", lead, now)
    score = round(fit + engagement, 2)

    outcome: Outcome
    tier = None
    if disqualified:
        outcome = "disqualified"
    elif missing:
        outcome = "nurture"  # incomplete data is never qualified, whatever the score
    elif score >= contract.thresholds.qualified:
        outcome = "qualified"
        tier = next((t.name for t in contract.tiers if score >= t.min_score), None)
    elif score >= contract.thresholds.nurture:
        outcome = "nurture"
    else:
        outcome = "disqualified"
        disqualified = (
            FiredRule(rule="thresholds.nurture", group="disqualifier", reason=BELOW_NURTURE),
        )
    return Decision(
        lead_id=lead.lead_id,
        outcome=outcome,
        score=score,
        fit_score=fit,
        engagement_score=engagement,
        tier=tier,
        fired=disqualified + fit_fired + engagement_fired,
        missing=missing,
        contract_version=contract.version,
        decided_at=now,
    )


def score_group(
    group: RuleGroup, name: str, lead: LeadFacts, now: datetime
) -> tuple[tuple[FiredRule, ...], float]:
    """The rules of one group that fired, and the group's score after its cap (2 decimals)."""
    fired: list[FiredRule] = []
    for rule in group.rules:
        result = _score_rule(rule, group, lead, now)
        if result is not None:
            points, note = result
            fired.append(FiredRule(rule=rule.name, group=name, points=points, reason=note))
    total = sum(f.points for f in fired)
    if group.cap is not None:
        total = min(total, group.cap)
    return tuple(fired), round(total, 2)


def _score_rule(
    rule: Rule, group: RuleGroup, lead: LeadFacts, now: datetime
) -> tuple[float, str | None] | None:
    """Points a rule gives (None when it does not fire): flat, or per touch with decay."""
    if rule.when is not None and not rule.when.holds(lead, now):
        return None
    if rule.touch is None:
        points, note = rule.points, None
    else:
        ages = [age(t.at, now) for t in lead.touches if t.type.lower() in rule.touch]
        ages = [a for a in ages if rule.within is None or a <= rule.within]
        if not ages:
            return None
        half_life = group.half_life.total_seconds() if group.half_life else None
        points = sum(
            rule.points * (0.5 ** (a.total_seconds() / half_life) if half_life else 1.0)
            for a in ages
        )
        note = f"{len(ages)} touch{'es' if len(ages) != 1 else ''}"
    if rule.cap is not None and points > rule.cap:
        points = rule.cap
        note = f"{note}, capped at {rule.cap:g}" if note else f"capped at {rule.cap:g}"
    return round(points, 2), note


def sla_for(contract: Contract, tier: str | None) -> SlaTerms | None:
    """The SLA handoff must run for a tier, carried on lead.scored so handoff needs no contract."""
    terms = contract.sla.get(tier) if tier is not None else None
    if terms is None or tier is None:
        return None
    window = terms.attempts_within or terms.first_contact_within
    return SlaTerms(
        tier=tier,
        first_contact_seconds=int(terms.first_contact_within.total_seconds()),
        business_hours=terms.business_hours,
        warn_at_fraction=terms.warn_at,
        attempts_min=terms.attempts_min,
        attempts_window_seconds=int(window.total_seconds()),
        on_breach=terms.on_breach,
    )


def route(contract: Contract, lead: LeadFacts) -> RouteHint:
    """The team the first matching routing rule names, else the default team."""
    for rule in contract.routing.rules:
        if rule.when.holds(lead, _ROUTING_NOW):
            return RouteHint(
                team=rule.team, rule=rule.name, account_match=contract.routing.account_match
            )
    return RouteHint(
        team=contract.routing.default_team, rule=None, account_match=contract.routing.account_match
    )
