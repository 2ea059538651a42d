"""Batch uploads, streamed: body chunks -> rows -> chunks of leads, one transaction each.

Memory stays flat however long the file: the parser holds one line (or one CSV record),
at most `chunk_rows` rows wait for their transaction, and row results go to a spooled
temporary file (memory up to 1 MiB, then disk) from which the answer is streamed once the
whole body is read. The answer is never started before the body is read: a client that is
still sending cannot be made to deadlock on a server that is already answering.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from pydantic import ValidationError

from services.intake.batch import BatchFormat, BatchParser, LineTooLong, Row
from services.intake.dedupe import Submission
from services.intake.problems import TooLarge
from services.intake.schemas import (
    BatchRowResult,
    BatchSummary,
    FieldError,
    LeadAccepted,
    LeadIn,
    field_errors,
)
from services.intake.service import Intake, accept_leads
from shared import metrics
from shared.db import transaction

FEED_BYTES = 64 * 1024
"""Body chunks are fed in slices this size, so one huge chunk cannot queue a huge chunk of rows."""

SPOOL_IN_MEMORY = 1 << 20


@dataclass(frozen=True)
class BatchOptions:
    """How the caller asked for the upload to be read."""

    kind: BatchFormat
    channel: str = "batch"
    source: str | None = None
    campaign_id: str | None = None
    idempotency_key: str | None = None
    max_bytes: int = 200 * 1024 * 1024
    traceparent: str | None = None


@dataclass
class BatchReport:
    """The summary, and the row results waiting in a spooled file."""

    summary: BatchSummary = field(default_factory=BatchSummary)
    spool: IO[bytes] = field(
        default_factory=lambda: tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by close()
    )

    def add(self, result: BatchRowResult) -> None:
        setattr(self.summary, result.status, getattr(self.summary, result.status) + 1)
        if result.replayed:
            self.summary.replayed += 1
        self.spool.write(result.model_dump_json(exclude_defaults=True).encode() + b"\n")

    def add_stored(self, number: int, answer: LeadAccepted, replayed: bool) -> None:
        """`add` for an accepted or duplicate row, without a model per row: the same line
        `BatchRowResult(...).model_dump_json(exclude_defaults=True)` writes."""
        lead_id, duplicate_of = answer.lead_id, answer.duplicate_of
        if not _is_plain(lead_id) or (duplicate_of is not None and not _is_plain(duplicate_of)):
            self.add(_stored_result(number, answer, replayed))
            return
        line = f'{{"row":{number},"status":"{answer.status}","lead_id":"{lead_id}"'
        if duplicate_of is not None:
            line += f',"duplicate_of":"{duplicate_of}"'
        if replayed:
            line += ',"replayed":true'
            self.summary.replayed += 1
        if answer.status == "accepted":
            self.summary.accepted += 1
        else:
            self.summary.duplicate += 1
        self.spool.write(line.encode() + b"}\n")

    def json_chunks(self) -> Iterator[bytes]:
        """`{"summary": {...}, "rows": [...]}` in pieces of about 64 KiB (a sync iterator:
        Starlette runs each step in a worker thread, so file reads never block the loop and
        a piece per step keeps the thread hops few)."""
        try:
            piece = bytearray(
                b'{"summary":' + self.summary.model_dump_json().encode() + b',"rows":['
            )
            self.spool.seek(0)
            first = True
            for line in self.spool:
                if not first:
                    piece += b","
                piece += line.rstrip(b"\n")
                first = False
                if len(piece) >= FEED_BYTES:
                    yield bytes(piece)
                    piece.clear()
            yield bytes(piece + b"]}")
        finally:
            self.close()

    def close(self) -> None:
        self.spool.close()


async def accept_batch(
    body: AsyncIterator[bytes], options: BatchOptions, ctx: Intake
) -> BatchReport:
    """Read, validate and store every row; each chunk of rows commits on its own.

    A body past `max_bytes` or a line past the parser's limit stops the upload with 413;
    chunks committed before that stay (they are whole leads) and the problem says how far
    the upload got, so a client can resend from there (dedupe makes a full resend safe)."""
    report = BatchReport()
    reader = _Reader(options, ctx, report)
    try:
        received = 0
        async for chunk in body:
            received += len(chunk)
            if received > options.max_bytes:
                raise reader.stopped(f"the body exceeds {options.max_bytes} bytes")
            for start in range(0, len(chunk), FEED_BYTES):
                await reader.feed(chunk[start : start + FEED_BYTES])
        await reader.close()
    except BaseException:
        report.close()
        raise
    return report


class _Reader:
    def __init__(self, options: BatchOptions, ctx: Intake, report: BatchReport) -> None:
        self.options = options
        self.ctx = ctx
        self.report = report
        self.parser = BatchParser(options.kind)
        self.pending: list[Row] = []
        self.last_row = 0

    async def feed(self, data: bytes) -> None:
        try:
            self.pending.extend(self.parser.feed(data))
        except LineTooLong as exc:
            raise self.stopped(str(exc)) from None
        while len(self.pending) >= self.ctx.chunk_rows:
            chunk, self.pending = (
                self.pending[: self.ctx.chunk_rows],
                self.pending[self.ctx.chunk_rows :],
            )
            await self._store(chunk)

    async def close(self) -> None:
        self.pending.extend(self.parser.close())
        while self.pending:
            chunk, self.pending = (
                self.pending[: self.ctx.chunk_rows],
                self.pending[self.ctx.chunk_rows :],
            )
            await self._store(chunk)

    def stopped(self, why: str) -> TooLarge:
        """The problem for an upload cut short, with what was stored before the cut."""
        return TooLarge(
            f"{why}; the upload stopped there. Rows up to line {self.last_row} were "
            "processed (see summary); resend the rest, or all of it: duplicates are merged",
            extra={
                "summary": self.report.summary.model_dump(),
                "last_row": self.last_row,
            },
        )

    async def _store(self, rows: list[Row]) -> None:
        """Validate a chunk; its valid rows become leads in one transaction."""
        results: list[BatchRowResult | tuple[LeadAccepted, bool] | None] = []
        pending: list[tuple[int, Submission]] = []
        for row in rows:
            result = self._validate(row)
            if isinstance(result, Submission):
                pending.append((len(results), result))
                results.append(None)
            else:
                results.append(result)
        if pending:
            assert self.ctx.sessionmaker is not None, "batches need Intake.sessionmaker"
            async with transaction(self.ctx.sessionmaker) as session:
                outcomes = await accept_leads(
                    session,
                    [s for _, s in pending],
                    self.ctx,
                    channel=self.options.channel,
                    traceparent=self.options.traceparent,
                )
            self.ctx.on_commit()
            for (at, _), outcome in zip(pending, outcomes, strict=True):
                if outcome.answer is None:
                    results[at] = self._conflict(rows[at].number)
                else:
                    results[at] = (outcome.answer, outcome.replayed)
        for row, answered in zip(rows, results, strict=True):
            if isinstance(answered, BatchRowResult):
                self.report.add(answered)
            else:
                assert answered is not None
                self.report.add_stored(row.number, *answered)
        self.last_row = rows[-1].number

    def _validate(self, row: Row) -> BatchRowResult | Submission:
        if row.data is None:
            metrics.LEADS_REJECTED.labels(self.options.channel, "malformed").inc()
            return BatchRowResult(row=row.number, status="rejected", errors=row.errors)
        data: dict[str, Any] = dict(row.data)
        if self.options.source is not None:
            data.setdefault("source", self.options.source)
        if self.options.campaign_id is not None:
            data.setdefault("campaign_id", self.options.campaign_id)
        try:
            lead = LeadIn.model_validate(data)
        except ValidationError as exc:
            metrics.LEADS_REJECTED.labels(self.options.channel, "invalid").inc()
            return BatchRowResult(row=row.number, status="rejected", errors=field_errors(exc))
        key = self.options.idempotency_key
        return Submission(lead, f"{key}:{row.number}" if key else None)

    def _conflict(self, number: int) -> BatchRowResult:
        metrics.LEADS_REJECTED.labels(self.options.channel, "idempotency_conflict").inc()
        return BatchRowResult(
            row=number,
            status="rejected",
            errors=[
                FieldError(
                    pointer="",
                    message="this row's idempotency key was used for a different row; "
                    "send a changed file with a new Idempotency-Key",
                )
            ],
        )


_PLAIN_ID = re.compile(r"[0-9A-Za-z-]{1,64}")


def _is_plain(text: str) -> bool:
    """Ids that JSON writes as they are (lead ids are UUIDs), so no escaping can differ."""
    return _PLAIN_ID.fullmatch(text) is not None


def _stored_result(number: int, answer: LeadAccepted, replayed: bool) -> BatchRowResult:
    return BatchRowResult(
        row=number,
        status=answer.status,
        lead_id=answer.lead_id,
        duplicate_of=answer.duplicate_of,
        replayed=replayed,
    )
