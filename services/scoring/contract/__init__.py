"""The marketing/sales contract as pure code: load YAML, evaluate a lead, simulate a draft.

No I/O and no clock reads: callers read the file and pass `now`.
"""

from services.scoring.contract.evaluate import evaluate, route, sla_for
from services.scoring.contract.facts import LeadFacts, canonical_field
from services.scoring.contract.issues import ContractInvalid, ContractIssue
from services.scoring.contract.job_levels import JOB_LEVELS, job_level
from services.scoring.contract.loader import load_contract
from services.scoring.contract.model import Contract
from services.scoring.contract.render import contract_as_dict
from services.scoring.contract.simulate import (
    ContractTally,
    OutcomeChange,
    Simulation,
    SimulationReport,
    simulate,
)

__all__ = [
    "JOB_LEVELS",
    "Contract",
    "ContractInvalid",
    "ContractIssue",
    "ContractTally",
    "LeadFacts",
    "OutcomeChange",
    "Simulation",
    "SimulationReport",
    "canonical_field",
    "contract_as_dict",
    "evaluate",
    "job_level",
    "load_contract",
    "route",
    "simulate",
    "sla_for",
]
