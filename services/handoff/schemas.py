"""Handoff's HTTP models."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.handoff.business_hours import Calendar


class RepIn(BaseModel):
    """A rep as PUT /v1/reps/{rep_id} and the seed file describe them."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    team: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    territories: list[str] = Field(default_factory=list, max_length=100)
    weight: int = Field(1, ge=0, le=1000)
    capacity: int = Field(25, ge=0, le=100_000)
    time_zone: str = "UTC"
    working_hours: tuple[str, str] = ("09:00", "17:00")
    working_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    subdivision: str | None = Field(None, pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
    available: bool = True
    out_of_office_until: datetime | None = None

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, v: tuple[str, str]) -> tuple[str, str]:
        start, end = (time.fromisoformat(x) for x in v)
        if end <= start:
            raise ValueError("working_hours: the end must be after the start")
        return v

    @model_validator(mode="after")
    def _calendar(self) -> RepIn:
        self.calendar()  # raises ValueError on a bad time zone or days
        if self.subdivision and self.country and not self.subdivision.startswith(self.country):
            raise ValueError(f"subdivision {self.subdivision} is not in country {self.country}")
        return self

    def calendar(self) -> Calendar:
        return Calendar.of(self.time_zone, hours=self.working_hours, days=self.working_days)


class RepOut(RepIn):
    rep_id: str
    open_leads: int = 0
    updated_at: datetime


class TimelineEntry(BaseModel):
    kind: str
    at: datetime
    rep_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class LeadView(BaseModel):
    """A lead's whole story in handoff: where it stands and everything that happened."""

    lead_id: str
    status: str
    outcome: str
    tier: str | None
    team: str | None
    rep_id: str | None
    assigned_at: datetime | None
    first_attempt_at: datetime | None
    attempts: int
    breaches: int
    sla: dict[str, Any] = Field(default_factory=dict)
    lead: dict[str, Any]
    decision: dict[str, Any]
    timeline: list[TimelineEntry]
