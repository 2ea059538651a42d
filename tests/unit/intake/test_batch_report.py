"""A stored row's result line is written without a model per row; it must be the very line
the model would write."""

from __future__ import annotations

import json
import uuid

import pytest

from services.intake.batches import BatchReport
from services.intake.schemas import BatchRowResult, LeadAccepted

LEAD = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("answer", "replayed"),
    [
        (LeadAccepted(lead_id=LEAD, status="accepted"), False),
        (LeadAccepted(lead_id=LEAD, status="accepted"), True),
        (LeadAccepted(lead_id=LEAD, status="duplicate", duplicate_of=LEAD), False),
        (LeadAccepted(lead_id=LEAD, status="duplicate", duplicate_of=LEAD), True),
        (LeadAccepted(lead_id='odd "id" \u00e9\n', status="accepted"), False),
        (LeadAccepted(lead_id=LEAD, status="duplicate", duplicate_of="x/\u2028"), True),
    ],
)
def test_a_stored_row_is_written_as_its_model_would_be(
    answer: LeadAccepted, replayed: bool
) -> None:
    fast, model = BatchReport(), BatchReport()
    fast.add_stored(7, answer, replayed)
    model.add(
        BatchRowResult(
            row=7,
            status=answer.status,
            lead_id=answer.lead_id,
            duplicate_of=answer.duplicate_of,
            replayed=replayed,
        )
    )
    assert fast.summary == model.summary
    fast_doc, model_doc = b"".join(fast.json_chunks()), b"".join(model.json_chunks())
    assert fast_doc == model_doc
    json.loads(fast_doc)
