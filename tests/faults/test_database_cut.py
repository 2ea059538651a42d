"""Every service's database connections cut, a few times, in the middle of the flow."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.faults.conftest import HARNESS_APP, LeadPoster, Stack, asyncpg_dsn, audit, meanwhile

pytestmark = pytest.mark.faults

CUT = """
select count(*) filter (where pg_terminate_backend(pid))
from pg_stat_activity
where datname = current_database() and pid <> pg_backend_pid() and application_name <> $1
"""


async def test_database_connections_cut_mid_flow(stack: Stack) -> None:
    """300 leads at ~100/s; three times (after 60, 140 and 220 leads), every connection of
    every service to the database is terminated, three times 150 ms apart so that the first
    reconnects die too. The services must recover on their own (pool_pre_ping); intake may
    answer 503 with Retry-After meanwhile (the client retries with the same Idempotency-Key;
    the answers are counted), never a 500, and the audit must hold."""
    async with asyncio.timeout(200):
        await stack.up()
        poster = LeadPoster(stack.url(), stack.api_key)
        admin = await asyncpg.connect(
            asyncpg_dsn(stack.db_url), timeout=5, server_settings={"application_name": HARNESS_APP}
        )
        try:
            async with meanwhile(poster.post(300, rate=100)):
                for at in (60, 140, 220):
                    await stack.wait_count("select count(*) from intake.leads", at)
                    cut = 0
                    for _ in range(3):
                        cut += await asyncio.wait_for(admin.fetchval(CUT, HARNESS_APP), 10)
                        await asyncio.sleep(0.15)
                    stack.note(f"after {at} leads: terminated {cut} backends")
        finally:
            await admin.close(timeout=5)
        stack.note(poster.summary())
        await stack.wait_ready(timeout=60)
        await audit(stack, poster)
