"""The reports' HTTP models: every figure the JSON reports and the dashboard show, and the
campaign costs marketing enters."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

Share = float | None

_SHARE = "0..1, 4 places; null when there is nothing to divide by"


class PeriodOut(BaseModel):
    from_: date = Field(alias="from", description="first day (UTC), inclusive")
    to: date = Field(description="last day (UTC), inclusive")
    month: str | None = Field(None, description="YYYY-MM when the period is a calendar month")

    model_config = ConfigDict(populate_by_name=True)


class FiltersOut(BaseModel):
    source: str | None = None
    campaign: str | None = None
    team: str | None = None


class ReportBase(BaseModel):
    """What every report says about itself."""

    period: PeriodOut
    filters: FiltersOut
    generated_at: datetime = Field(description="handoff's clock when the report was made")


# --- funnel ----------------------------------------------------------------------------


class FunnelStep(BaseModel):
    step: str = Field(
        description="received, qualified, assigned, accepted, contacted, opportunity, won"
    )
    count: int = Field(description="leads that reached this step or a later one")
    conversion: Share = Field(description=f"count / the previous step's count; {_SHARE}")
    of_received: Share = Field(description=f"count / received; {_SHARE}")


class FunnelReport(ReportBase):
    steps: list[FunnelStep]


# --- SLA -------------------------------------------------------------------------------


class Bucket(BaseModel):
    label: str
    min_seconds: int
    max_seconds: int | None = Field(description="exclusive; null for the last, open bucket")
    count: int


class TimeToFirstContact(BaseModel):
    """Per lead: from its first assignment to its first contact attempt by any rep."""

    leads_contacted: int
    leads_not_contacted: int = Field(
        description="assigned leads with no attempt: still waiting, or given back without one"
    )
    p50_seconds: float | None
    p90_seconds: float | None
    mean_seconds: float | None
    histogram: list[Bucket] = Field(description="contacted leads per bucket")


class Clocks(BaseModel):
    """SLA clocks, one per assignment: met, missed, still running (open) or stopped before
    they were due (the rep rejected the lead or an outcome stopped them)."""

    clocks: int = Field(description="assignments with this clock")
    met: int
    missed: int
    open: int
    stopped: int
    within_sla_share: Share = Field(description=f"met / (met + missed); {_SHARE}")


class AttemptsFigures(BaseModel):
    leads: int = Field(description="leads assigned to a rep")
    attempts: int = Field(description="contact attempts on those leads")
    per_lead: float | None = Field(description="attempts / leads, 2 places")
    per_contacted_lead: float | None = Field(description="attempts / contacted leads, 2 places")
    clock: Clocks = Field(description="the contract's minimum attempts within its window")


class Breaches(BaseModel):
    first_contact: int
    attempts: int
    total: int


class SlaGroup(BaseModel):
    first_contact: Clocks
    p50_seconds: float | None = Field(description="per assignment: to this rep's first attempt")
    p90_seconds: float | None
    attempts: int = Field(description="attempts made on these assignments")
    breaches: Breaches


class TeamSla(SlaGroup):
    team: str


class RepSla(SlaGroup):
    rep_id: str
    name: str | None
    team: str


class SlaReport(ReportBase):
    time_to_first_contact: TimeToFirstContact
    first_contact: Clocks
    attempts: AttemptsFigures
    breaches: Breaches
    by_team: list[TeamSla]
    by_rep: list[RepSla]


# --- contribution ----------------------------------------------------------------------


class Split(BaseModel):
    """Marketing-sourced (source other than `sales`) against sales-sourced (`sales`)."""

    marketing: float
    sales: float
    marketing_share: Share = Field(description=f"marketing / (marketing + sales); {_SHARE}")
    agreed_share: float | None = Field(description="the contract's agreed marketing share")
    gap: float | None = Field(description="marketing_share - agreed_share, 4 places")
    met: bool | None = Field(description="marketing_share >= agreed_share")


class CloseRate(BaseModel):
    handed_over: int = Field(description="leads that reached a rep")
    won: int
    rate: Share = Field(description=f"won / handed_over; {_SHARE}")


class CloseRates(BaseModel):
    marketing: CloseRate
    sales: CloseRate


class OtherCurrency(BaseModel):
    AMOUNTS: ClassVar[tuple[str, ...]] = (
        "pipeline_marketing",
        "pipeline_sales",
        "revenue_marketing",
        "revenue_sales",
    )

    currency: str
    pipeline_marketing: float
    pipeline_sales: float
    revenue_marketing: float
    revenue_sales: float


class ContractRef(BaseModel):
    contract_version: str | None = Field(description="version of the contract file read")
    source: str = Field(description="the contract file")
    problem: str | None = Field(None, description="why the terms could not be read")
    decision_versions: dict[str, int] = Field(
        default_factory=dict, description="contract versions that decided the period's leads"
    )


class ContributionReport(ReportBase):
    currency: str = Field(description="pipeline and revenue are in this currency")
    contract: ContractRef
    opportunities: Split = Field(
        description="count of opportunities; held to the agreed pipeline share"
    )
    pipeline: Split = Field(description="opportunity value created (open, won or lost)")
    revenue: Split = Field(description="won value")
    close_rate: CloseRates
    other_currencies: list[OtherCurrency] = Field(
        default_factory=list, description="amounts in other currencies, left out of the shares"
    )


# --- quota -----------------------------------------------------------------------------


class QuotaDay(BaseModel):
    date: date
    qualified: int
    cumulative: int


class QuotaReport(ReportBase):
    contract: ContractRef
    qualified: int = Field(description="marketing-sourced leads received this month that qualified")
    quota: int | None = Field(description="the contract's qualified_per_month")
    share_of_quota: Share
    elapsed_share: float = Field(description="how much of the month has passed, 0..1")
    projected: float | None = Field(description="qualified / elapsed_share: linear to month end")
    projected_share_of_quota: Share
    on_track: bool | None = Field(description="projected >= quota")
    daily: list[QuotaDay]


# --- reject reasons --------------------------------------------------------------------


class ReasonCount(BaseModel):
    reason: str
    count: int
    share: Share


class ReasonsBy(BaseModel):
    key: str | None = Field(description="the campaign id or source; null for none")
    total: int
    reasons: dict[str, int]


class RejectReasonsReport(ReportBase):
    total: int = Field(description="rejections (a lead rejected twice counts twice)")
    reasons: list[ReasonCount]
    by_campaign: list[ReasonsBy]
    by_source: list[ReasonsBy]


# --- cost per qualified lead -----------------------------------------------------------


class CampaignCost(BaseModel):
    campaign_id: str
    name: str | None
    leads: int = Field(description="leads received in the period")
    qualified: int = Field(description="of which qualified")
    cost: float | None = Field(description="the campaign's cost spread over the period's days")
    currency: str | None
    cost_per_lead: float | None
    cost_per_qualified_lead: float | None


class CostTotal(BaseModel):
    currency: str
    cost: float
    qualified: int
    cost_per_qualified_lead: float | None


class CostReport(ReportBase):
    campaigns: list[CampaignCost]
    totals: list[CostTotal] = Field(description="per currency, campaigns with a cost only")


# --- business review -------------------------------------------------------------------


class ReviewReport(ReportBase):
    currency: str
    new_leads: int = Field(description="leads received in the month")
    under_development: int = Field(
        description="open leads in sales' hands now: assigned, accepted or an open opportunity"
    )
    qualified: int = Field(description="marketing-sourced qualified leads (the quota's count)")
    quota: int | None
    opportunities: int
    pipeline: float
    won: int
    revenue: float
    within_sla_share: Share
    sentences: list[str]
    text: str = Field(description="the sentences as one paragraph")


# --- campaign costs --------------------------------------------------------------------


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    cost: float = Field(ge=0, le=1e12, description="what the campaign cost over its period")
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="ISO 4217")
    period: str = Field(
        description="YYYY-MM (a month) or YYYY-MM-DD/YYYY-MM-DD (first/last day, inclusive)",
        examples=["2026-11", "2026-11-01/2026-12-15"],
    )


class CampaignOut(BaseModel):
    campaign_id: str
    name: str
    cost: float
    currency: str
    period: str
    period_start: date
    period_end: date
    updated_at: datetime
