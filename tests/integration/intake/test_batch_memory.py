"""A batch's memory does not grow with its rows: parsing, chunked storage and the spooled
row results together stay flat (the parser alone is pinned in tests/unit/intake)."""

from __future__ import annotations

import tracemalloc
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from services.intake import batches
from services.intake.service import Intake
from services.intake.settings import IntakeSettings
from services.intake.tables import plumbing
from shared.clock import SystemClock
from shared.runtime import Runtime


async def a_streamed_csv(rows: int) -> AsyncIterator[bytes]:
    """A CSV body made as it is sent, 64 KiB at a time, like a socket delivers it."""
    run = uuid.uuid4().hex[:8]
    buffer = bytearray(b"email,first_name,company,employees\n")
    for i in range(rows):
        buffer += f"m{i}-{run}@acme{i % 50}.io,Ada,Acme,{i}\n".encode()
        if len(buffer) >= 65536:
            yield bytes(buffer)
            buffer.clear()
    yield bytes(buffer)


async def peak_bytes(ctx: Intake, rows: int) -> int:
    tracemalloc.start()
    try:
        report = await batches.accept_batch(
            a_streamed_csv(rows), batches.BatchOptions(kind="csv"), ctx
        )
        assert report.summary.accepted == rows
        answered = sum(piece.count(b'"row":') for piece in report.json_chunks())
        assert answered == rows  # the answer streamed a piece at a time, too
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_four_times_the_rows_do_not_take_more_memory(tmp_path: Path) -> None:
    settings = IntakeSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/intake.db", forms_file="none"
    )
    runtime = Runtime.build(settings, plumbing)
    await runtime.migrate()
    ctx = Intake(
        clock=SystemClock(),
        dedupe_window=timedelta(days=30),
        sessionmaker=runtime.sessionmaker,
        chunk_rows=200,
    )
    try:
        await peak_bytes(ctx, 200)  # warm caches (validators, compiled statements)
        small = await peak_bytes(ctx, 1_000)
        large = await peak_bytes(ctx, 4_000)
    finally:
        await runtime.engine.dispose()
    assert large < small + 1_500_000, f"{small=} {large=}"
