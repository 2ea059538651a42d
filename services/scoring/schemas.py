"""Scoring's HTTP shapes: contract versions, contract problems, simulation results."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.scoring.contract import SimulationReport
from shared.problems import FieldProblem, Problem

ContractStatus = Literal["draft", "active", "retired"]

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")
JSON_TYPES = ("application/json",)


class ContractDocumentIn(BaseModel):
    """The JSON form of a contract body; the YAML text goes in `document`."""

    model_config = ConfigDict(extra="forbid")

    document: str = Field(description="the contract, as YAML text")


# The request body of the routes that take a contract, for the OpenAPI document: FastAPI
# cannot express "YAML text or this JSON object" from the signature, so it is declared.
CONTRACT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The contract as YAML text (`application/yaml`, `text/yaml`, "
        '`text/plain`), or JSON `{"document": "<yaml text>"}`. A JSON body without '
        "`document` is read as the contract itself (JSON is YAML).",
        "content": {
            "application/yaml": {
                "schema": {"type": "string"},
                "example": 'version: "2026.2"\nname: Stricter\nthresholds: {qualified: 70}\n',
            },
            "text/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": ContractDocumentIn.model_json_schema()},
        },
    }
}


class ContractVersion(BaseModel):
    """One stored version: a draft until activated, then active, then retired by the next."""

    version: str
    name: str | None = None
    status: ContractStatus
    created_at: datetime
    created_by: str | None = Field(None, description="name of the API key that proposed it")
    activated_at: datetime | None = Field(None, description="when it last became active")
    activated_by: str | None = None
    retired_at: datetime | None = Field(None, description="when another version replaced it")


class ContractDetail(ContractVersion):
    """A version with its document as proposed and the contract as the loader reads it."""

    document: str = Field(description="the YAML text, exactly as proposed")
    contract: dict[str, Any] = Field(
        description="the parsed contract: defaults filled in, canonical field names"
    )


class Activation(ContractVersion):
    previous_version: str | None = Field(
        None, description="the version this one replaced (now retired), if any"
    )


class ContractList(BaseModel):
    active: str | None = Field(description="the version new decisions are made with")
    contracts: list[ContractVersion] = Field(description="oldest first")


class ContractIssueOut(FieldProblem):
    """One problem in a contract: `pointer` into the document, plus its line and dotted path."""

    line: int | None = Field(description="1-based line in the document; null if not known")
    path: str = Field(description="dotted path, e.g. fit.rules[0].points; empty: whole document")


class ContractProblem(Problem):
    """422 for a contract that does not load: every issue, in line order."""

    errors: list[ContractIssueOut] = Field(default_factory=list)  # type: ignore[assignment]
    issue_count: int = Field(0, description="how many issues were found in all")


class SimulationResult(SimulationReport):
    """The simulation report and the period it covered."""

    since: datetime = Field(description="leads received at or after this moment ...")
    until: datetime = Field(description="... and up to this one (the time of the simulation)")
