"""`python -m bench` (`make bench`): every figure on each database, a table on stdout and
bench/results.json. A missed target is reported, never an error: the exit status is 0."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench import intake, latency, scoring
from bench.config import FULL, QUICK, Scale
from bench.procs import Processes
from bench.profile import Profiler
from bench.report import Figure, Target, missing, table, write_json
from bench.stack import DatabaseUnavailable, Stack, open_stack

RESULTS = Path(__file__).resolve().parent / "results.json"
DATABASES = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Group:
    """Figures measured together on one fresh broker and database."""

    title: str
    run: Callable[[Stack, Scale], Awaitable[list[Figure]]]
    figures: list[tuple[str, str, Target]]


ALL_GROUPS = {
    "intake": Group("intake: POST and batch rates", intake.run, intake.FIGURES),
    "scoring": Group("scoring: rate per worker", scoring.run, scoring.FIGURES),
    "latency": Group("end to end: latency and memory", latency.run, latency.FIGURES),
}
GROUPS = tuple(ALL_GROUPS.values())


async def run_database(
    database: str,
    scale: Scale,
    procs: Processes,
    profiler: Profiler | None,
    groups: tuple[Group, ...] = GROUPS,
) -> list[Figure]:
    figures: list[Figure] = []
    for i, group in enumerate(groups):
        print(f"[{database}] {group.title} ...", flush=True)
        started = time.monotonic()
        try:
            async with open_stack(database, procs, profiler) as stack:
                figures += await group.run(stack, scale)
        except DatabaseUnavailable as exc:
            print(f"  skipped: {exc}", flush=True)
            return figures + [
                missing(name, database, unit, target, str(exc))
                for g in groups[i:]
                for name, unit, target in g.figures
            ]
        except Exception as exc:  # a crash under load is a finding: report it, go on
            traceback.print_exc()
            first_line = (str(exc).splitlines() or [""])[0][:200]
            note = f"error: {type(exc).__name__}: {first_line}"
            figures += [missing(n, database, u, t, note) for n, u, t in group.figures]
        print(f"  {time.monotonic() - started:.0f}s", flush=True)
    return figures


async def main_async(
    databases: list[str],
    scale: Scale,
    procs: Processes,
    profiler: Profiler | None,
    groups: tuple[Group, ...] = GROUPS,
) -> list[Figure]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    figures: list[Figure] = []
    for database in databases:
        figures += await run_database(database, scale, procs, profiler, groups)
        write_json(figures, RESULTS)
    return figures


def _runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--db", choices=[*DATABASES, "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="smaller counts: a smoke run")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        type=Path,
        help="record the services with py-spy while the figures run, into DIR",
    )
    parser.add_argument(
        "--only", choices=sorted(ALL_GROUPS), action="append", help="run only these groups"
    )
    args = parser.parse_args(argv)
    groups = tuple(ALL_GROUPS[g] for g in args.only) if args.only else GROUPS
    databases = list(DATABASES) if args.db == "both" else [args.db]
    scale = QUICK if args.quick else FULL
    print(
        f"LeadRelay bench: {', '.join(databases)}{' (quick)' if args.quick else ''}; "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
        + (f"; profiling into {args.profile}" if args.profile else ""),
        flush=True,
    )
    procs = Processes()
    started = time.monotonic()
    figures: list[Figure] = []
    try:
        with _runner() as runner:
            profiler = Profiler(args.profile) if args.profile else None
            figures = runner.run(main_async(databases, scale, procs, profiler, groups))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; stopping everything the bench started", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()
    print()
    print(table(figures))
    print(f"\nwrote {RESULTS} in {time.monotonic() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
