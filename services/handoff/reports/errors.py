"""The reports' errors: each a status and a problem type, rendered once as problem+json."""

from __future__ import annotations

from shared.problems import FieldProblem, InvalidInput, NotFound


class InvalidPeriod(InvalidInput):
    """The period parameters contradict each other; names the parameter at fault."""

    title = "Invalid report period"
    type = "https://leadrelay.dev/problems/invalid-period"

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(
            message, errors=[FieldProblem(pointer=f"/query/{parameter}", message=message)]
        )


class CampaignNotFound(NotFound):
    title = "Unknown campaign"
    type = "https://leadrelay.dev/problems/campaign-not-found"

    def __init__(self, campaign_id: str) -> None:
        super().__init__(
            f"no cost recorded for campaign {campaign_id}; PUT /v1/campaigns/{campaign_id}",
            extra={"campaign_id": campaign_id},
        )


class InvalidCampaignPeriod(InvalidInput):
    title = "Invalid campaign period"
    type = "https://leadrelay.dev/problems/invalid-campaign-period"

    def __init__(self, message: str) -> None:
        super().__init__(message, errors=[FieldProblem(pointer="/period", message=message)])
