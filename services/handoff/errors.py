"""Handoff's domain errors: each a status and a problem type, rendered once as problem+json."""

from __future__ import annotations

from shared.problems import Conflict, FieldProblem, InvalidInput, NotFound


class LeadNotFound(NotFound):
    title = "Unknown lead"
    type = "https://leadrelay.dev/problems/lead-not-found"

    def __init__(self, lead_id: str) -> None:
        super().__init__(f"no lead {lead_id} in handoff", extra={"lead_id": lead_id})


class RepNotFound(NotFound):
    title = "Unknown rep"
    type = "https://leadrelay.dev/problems/rep-not-found"

    def __init__(self, rep_id: str) -> None:
        super().__init__(f"no rep {rep_id}", extra={"rep_id": rep_id})


class TeamNotFound(NotFound):
    title = "Unknown team"
    type = "https://leadrelay.dev/problems/team-not-found"

    def __init__(self, team: str) -> None:
        super().__init__(f"no team {team}", extra={"team": team})


class SubscriptionNotFound(NotFound):
    title = "Unknown subscription"
    type = "https://leadrelay.dev/problems/subscription-not-found"

    def __init__(self, subscription_id: str) -> None:
        super().__init__(f"no subscription {subscription_id}")


class NotLeadOwner(Conflict):
    """The reporting rep does not hold the lead (reassigned, recycled, rejected or queued)."""

    title = "This rep does not hold the lead"
    type = "https://leadrelay.dev/problems/not-lead-owner"

    def __init__(self, lead_id: str, rep_id: str, status: str, current_rep_id: str | None) -> None:
        holder = f"rep {current_rep_id}" if current_rep_id else "no rep"
        super().__init__(
            f"lead {lead_id} is {status} and held by {holder}, not by rep {rep_id}",
            extra={"lead_id": lead_id, "status": status, "current_rep_id": current_rep_id},
        )


class LeadStateConflict(Conflict):
    """The report does not fit where the lead stands (e.g. an outcome after it was won)."""

    title = "The lead's state does not allow this"
    type = "https://leadrelay.dev/problems/lead-state"

    def __init__(self, detail: str, *, lead_id: str, status: str, current_rep_id: str | None):
        super().__init__(
            detail,
            extra={"lead_id": lead_id, "status": status, "current_rep_id": current_rep_id},
        )


class AttemptIdReused(Conflict):
    title = "This attempt id was already used for a different attempt"
    type = "https://leadrelay.dev/problems/attempt-id-reused"


class InvalidReport(InvalidInput):
    """A well-formed report that contradicts the lead: names the field at fault."""

    type = "https://leadrelay.dev/problems/invalid-report"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, errors=[FieldProblem(pointer=f"/{field}", message=message)])


class UnknownManager(InvalidInput):
    title = "The manager is not a known rep"
    type = "https://leadrelay.dev/problems/unknown-manager"

    def __init__(self, manager: str) -> None:
        message = f"no rep {manager}; create the rep first with PUT /v1/reps/{manager}"
        super().__init__(message, errors=[FieldProblem(pointer="/manager", message=message)])
