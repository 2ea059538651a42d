"""`python -m bench.soak` (`make soak`): the soak of issue #7. Leads offered at a fixed rate
(open loop) through the whole flow for a while, with reps answering every assignment; every
interval a row of rates, consumer lag, outbox backlog and each service's RSS; at the end a
summary: totals, leads lost, and each service's RSS growth after warm-up against <= 10%.

Loopback only, bounded in time (duration + drain + start-up, then a hard stop), not a CI
test. A fresh Tansu and a fresh database (SQLite in a temp dir, or a PostgreSQL database
dropped afterwards), the services as `leadrelay serve` children on free ports, all stopped
at the end, on errors and on Ctrl-C. The time series goes to bench/soak-results.json.

Exit status: 0 PASS; 1 FAIL (a service's RSS grew > 10% after warm-up, a lead lost or still
queued after the drain, intake accepted < 99% of the offered leads, or handoff refused a
feedback call); 2 the stack did not start; 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import signal
import sys
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.client import Pool, auth, pool
from bench.load import percentile
from bench.procs import Child, NotReady, Processes, rss_mb, wait_ready
from bench.soak_flow import QUALIFYING, Job, LeadMix, Reps, Tally, Watcher, partitions
from bench.stack import REPO, DatabaseUnavailable, Stack, open_stack
from shared.events import TOPIC_RECEIVED, TOPIC_SCORED
from shared.tansu import free_port

RESULTS = Path(__file__).resolve().parent / "soak-results.json"
SERVICES = ("intake", "scoring", "handoff")
GROUPS = {"scoring": TOPIC_RECEIVED, "handoff": TOPIC_SCORED}
"""Each consuming service's group and topic (intake consumes nothing)."""
RSS_LIMIT = 0.10
RATE_SHORTFALL = 0.99  # accepted below this share of offered: the rate was not sustained
POST_CONNECTIONS = 64
POST_TIMEOUT = 10.0
REPS = 8
"""Concurrent sales-tool requests to handoff (--reps-concurrency): a CRM sync's handful."""
STARTUP_SECONDS = 180.0
SAMPLE_SECONDS = 1.0
RATES = ("offered", "accepted", "scored", "assigned", "answered", "feedback_calls")


@dataclass(frozen=True)
class Options:
    rate: float
    duration: float
    warmup: float
    interval: float
    drain: float
    database: str
    output: Path
    seed: int
    reps: int = REPS
    tracemalloc: tuple[str, ...] = ()


@dataclass
class Series:
    """The time series: a row per interval and an RSS sample per second."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    rss: list[dict[str, Any]] = field(default_factory=list)  # {"t": s, "intake": MB, ...}


# --- lag and backlog -------------------------------------------------------------------


class Lag:
    """Committed lag per consuming service: end offsets minus the group's committed offsets
    (Tansu does not answer list_consumer_group_offsets; OffsetFetch through a consumer of
    the same group id, which never subscribes and so never joins, works)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.ends = self._consumer(None)
        self.groups = {svc: self._consumer(svc) for svc in GROUPS}
        self.tps: dict[str, list[TopicPartition]] = {}

    def _consumer(self, group: str | None) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Lag]:
        started: list[AIOKafkaConsumer] = []
        try:
            for c in (self.ends, *self.groups.values()):
                await c.start()
                started.append(c)
            for svc, topic in GROUPS.items():
                self.tps[svc] = await partitions(self.ends, (topic,))
            yield self
        finally:
            for c in started:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(c.stop(), timeout=10)

    async def read(self) -> dict[str, int | None]:
        out: dict[str, int | None] = {}
        for svc, tps in self.tps.items():
            try:
                ends = await self.ends.end_offsets(tps)
                committed = [await self.groups[svc].committed(tp) for tp in tps]
            except Exception:  # a slow broker answer is a missing cell, not a failed soak
                out[svc] = None
                continue
            out[svc] = sum(
                max(0, ends[tp] - (c or 0)) for tp, c in zip(tps, committed, strict=True)
            )
        return out

    async def end_total(self, topic: str) -> int:
        tps = [tp for tps in self.tps.values() for tp in tps if tp.topic == topic]
        return sum((await self.ends.end_offsets(tps)).values())


_BACKLOG = re.compile(r'^leadrelay_outbox_backlog\{service="(\w+)"\} (\S+)$', re.MULTILINE)


async def backlogs(client: httpx.AsyncClient, services: dict[str, Child]) -> dict[str, int | None]:
    """Each service's outbox backlog gauge from its /metrics."""
    out: dict[str, int | None] = {}
    for svc, child in services.items():
        out[svc] = None
        with contextlib.suppress(httpx.HTTPError):
            text = (await client.get(f"{child.url}/metrics")).text
            for name, value in _BACKLOG.findall(text):
                if name == svc:
                    out[svc] = int(float(value))
    return out


# --- the run ---------------------------------------------------------------------------


class Soak:
    def __init__(self, stack: Stack, services: dict[str, Child], opts: Options) -> None:
        self.stack = stack
        self.services = services
        self.opts = opts
        self.tally = Tally()
        self.series = Series()
        self.jobs: asyncio.Queue[Job] = asyncio.Queue()
        self.broker = next(c for c in stack.procs.children if c.name == "tansu")
        self.t0 = 0.0
        self.load_end = 0.0
        self.phase = "warm-up" if opts.warmup > 0 else "load"
        self.posts: set[asyncio.Task[None]] = set()
        self.sent_at: list[float] = []
        self.drained_in: float | None = None
        self.cpu0: dict[str, float | None] = {}
        self.snapshots: list[str] = []  # what each SIGUSR1 to the traced services meant

    def rss_now(self) -> dict[str, float | None]:
        rss = {svc: rss_mb(c.pid) for svc, c in self.services.items()}
        rss["tansu"] = rss_mb(self.broker.pid)
        return rss

    async def run(self) -> None:
        run = uuid.uuid4().hex[:8]
        mix = LeadMix(run, self.opts.seed)
        watcher = Watcher(self.stack.bootstrap, self.tally, self.jobs)
        async with (
            Lag(self.stack.bootstrap).running() as lag,
            watcher.running(),
            pool(self.services["intake"].url, POST_CONNECTIONS, timeout=POST_TIMEOUT) as posts,
            pool(self.services["handoff"].url, self.opts.reps, timeout=30.0) as feedback,
            httpx.AsyncClient(timeout=5.0) as client,
        ):
            reps = Reps(feedback, self.stack.keys, self.tally, self.opts.seed + 1)
            workers = [asyncio.create_task(reps.work(self.jobs)) for _ in range(self.opts.reps)]
            self.t0 = time.perf_counter()
            self.cpu0 = {svc: cpu_seconds(c.pid) for svc, c in self.services.items()}
            self.cpu0["client"] = time.process_time()
            sampler = asyncio.create_task(self._sample())
            printer = asyncio.create_task(self._rows(lag, client, reps))
            try:
                if self.phase == "load":
                    self.snapshot("start")
                await self._offer(posts, mix)
                self.load_end = time.perf_counter()
                self.phase = "drain"
                self.snapshot("end of load")
                await self._drain(reps)
                self.snapshot("after drain")
            finally:
                for t in (sampler, printer, *workers, *self.posts):
                    t.cancel()
                await asyncio.gather(
                    sampler, printer, *workers, *self.posts, return_exceptions=True
                )
            await self._row(lag, client, reps, final=True)

    async def _offer(self, p: Pool, mix: LeadMix) -> None:
        """Lead i leaves at t0 + i/rate whether or not earlier ones were answered."""
        count = int(self.opts.rate * self.opts.duration)
        for i in range(count):
            delay = self.t0 + i / self.opts.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.phase == "warm-up" and time.perf_counter() - self.t0 >= self.opts.warmup:
                self.phase = "load"
                self.snapshot("after warm-up")
            profile, body = mix.next(i)
            task = asyncio.create_task(self._post(p, i, profile, body))
            self.posts.add(task)
            task.add_done_callback(self.posts.discard)
        if self.posts:
            await asyncio.wait(self.posts, timeout=POST_TIMEOUT + 5)

    async def _post(self, p: Pool, i: int, profile: str, body: bytes) -> None:
        tally = self.tally
        tally.counts["offered"] += 1
        sent = time.perf_counter()
        self.sent_at.append(sent)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": f"soak-{i}",
            **auth(self.stack.keys, i),
        }
        status, content = await p.post("/v1/leads", body, headers)
        tally.post_status[status] += 1
        if 200 <= status < 300:
            tally.post_ms.append((time.perf_counter() - sent) * 1000)
            lead_id = json.loads(content).get("lead_id")
            if lead_id:
                tally.accepted[lead_id] = profile
                tally.counts["accepted"] += 1

    def snapshot(self, label: str) -> None:
        """Ask each traced service for a tracemalloc snapshot (bench/soak_trace.py)."""
        if not self.opts.tracemalloc:
            return
        self.snapshots.append(label)
        for svc in self.opts.tracemalloc:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.services[svc].pid, signal.SIGUSR1)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0 if self.t0 else 0.0

    def settled(self, reps: Reps) -> bool:
        t = self.tally
        return (
            not self.posts
            and all(k in t.scored for k in t.accepted)
            and all(k in t.assigned for k in t.qualified())
            and self.jobs.empty()
            and reps.busy == 0
        )

    async def _drain(self, reps: Reps) -> None:
        deadline = time.perf_counter() + self.opts.drain
        while not self.settled(reps):
            left = deadline - time.perf_counter()
            if left <= 0:
                return  # drained_in stays None: it did not settle
            await asyncio.sleep(min(0.5, left))
        self.drained_in = time.perf_counter() - self.load_end

    async def _sample(self) -> None:
        while True:
            sample: dict[str, Any] = {"t": round(time.perf_counter() - self.t0, 1)}
            sample["phase"] = self.phase
            sample.update(self.rss_now())
            self.series.rss.append(sample)
            await asyncio.sleep(SAMPLE_SECONDS)

    async def _rows(self, lag: Lag, client: httpx.AsyncClient, reps: Reps) -> None:
        print(header(), flush=True)
        n = 1
        while True:
            await asyncio.sleep(max(0.0, self.t0 + n * self.opts.interval - time.perf_counter()))
            await self._row(lag, client, reps)
            n += 1

    async def _row(
        self, lag: Lag, client: httpx.AsyncClient, reps: Reps, *, final: bool = False
    ) -> None:
        now = time.perf_counter()
        first: dict[str, Any] = {"t": 0.0, "totals": {}}
        prev = self.series.rows[-1] if self.series.rows else first
        span = max(1e-6, now - self.t0 - prev["t"])
        if final and span < 1.0:
            return
        totals = {k: self.tally.counts[k] for k in RATES}
        cpu = {svc: cpu_seconds(c.pid) for svc, c in self.services.items()}
        cpu["client"] = time.process_time()
        prev_cpu = prev.get("cpu_s", self.cpu0)
        row: dict[str, Any] = {
            "t": round(now - self.t0, 1),
            "phase": self.phase,
            "per_second": {k: (totals[k] - prev["totals"].get(k, 0)) / span for k in RATES},
            "totals": totals,
            "lag": await lag.read(),
            "outbox_backlog": await backlogs(client, self.services),
            "answer_queue": self.jobs.qsize() + reps.busy,
            "rss_mb": self.rss_now(),
            "cpu_s": cpu,
            "cpu_pct": {
                k: None if v is None else (v - (prev_cpu.get(k) or 0.0)) / span * 100
                for k, v in cpu.items()
            },
            "load1": os.getloadavg()[0],
        }
        self.series.rows.append(row)
        print(format_row(row), flush=True)


# --- printing --------------------------------------------------------------------------


def header() -> str:
    rates = " ".join(f"{k[:8]:>8}" for k in RATES[:-1]) + f" {'fb calls':>8}"
    lag = f"{'lag sc':>7} {'lag ho':>7}"
    backlog = f"{'obx in':>7} {'obx sc':>7} {'obx ho':>7} {'rq':>6}"
    rss = " ".join(f"{s[:7]:>7}" for s in (*SERVICES, "tansu"))
    cpu = " ".join(f"{s[:4]:>4}" for s in (*SERVICES, "client"))
    return (
        f"{'t(s)':>6} {'phase':<7} {rates} | {lag} | {backlog} | RSS MB {rss} | CPU% {cpu} | load"
        f"\n{'':>6} {'':<7} {'(per second in the interval)':>53} |"
    )


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (/proc/PID/stat), None once gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cell(v: float | None, fmt: str = ".0f") -> str:
    return "-" if v is None else format(v, fmt)


def format_row(row: dict[str, Any]) -> str:
    rates = " ".join(f"{row['per_second'][k]:>8.1f}" for k in RATES)
    lag = " ".join(f"{_cell(row['lag'].get(s)):>7}" for s in GROUPS)
    backlog = " ".join(f"{_cell(row['outbox_backlog'].get(s)):>7}" for s in SERVICES)
    rss = " ".join(f"{_cell(row['rss_mb'].get(s), '.1f'):>7}" for s in (*SERVICES, "tansu"))
    cpu = " ".join(f"{_cell(row['cpu_pct'].get(s)):>4}" for s in (*SERVICES, "client"))
    return (
        f"{row['t']:>6.0f} {row['phase']:<7} {rates} | {lag} | {backlog} "
        f"{row['answer_queue']:>6} |        {rss} |      {cpu} | {row['load1']:.1f}"
    )


# --- the verdict -----------------------------------------------------------------------


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def rss_verdict(soak: Soak) -> dict[str, dict[str, Any]]:
    """Per process: mean RSS over the first interval after warm-up vs over the last interval
    of the load; growth in %; services PASS at <= 10% (the broker is shown, not judged: its
    memory engine keeps every message)."""
    opts = soak.opts
    load_end = soak.load_end - soak.t0
    warm = (opts.warmup, opts.warmup + opts.interval)
    end = (load_end - opts.interval, load_end)
    out: dict[str, dict[str, Any]] = {}
    for proc in (*SERVICES, "tansu"):

        def window(lo: float, hi: float, p: str = proc) -> list[float]:
            return [s[p] for s in soak.series.rss if lo <= s["t"] < hi and s.get(p) is not None]

        after_warmup, at_end = _mean(window(*warm)), _mean(window(*end))
        peak = max(window(opts.warmup, float("inf")), default=None)
        growth = (at_end - after_warmup) / after_warmup * 100 if after_warmup and at_end else None
        judged = proc in SERVICES
        ok = growth is not None and growth <= RSS_LIMIT * 100
        out[proc] = {
            "after_warmup_mb": after_warmup,
            "at_end_mb": at_end,
            "peak_after_warmup_mb": peak,
            "after_drain_mb": soak.series.rss[-1].get(proc) if soak.series.rss else None,
            "growth_pct": growth,
            "verdict": ("PASS" if ok else "FAIL") if judged else "info",
        }
    return out


def summarize(soak: Soak) -> tuple[dict[str, Any], list[str]]:
    """The summary and the reasons for FAIL (none: PASS)."""
    t, opts = soak.tally, soak.opts
    qualified = t.qualified()
    not_scored = [k for k in t.accepted if k not in t.scored]
    not_assigned = [k for k in qualified if k not in t.assigned]
    mismatched = sum(
        1 for k, p in t.accepted.items() if k in t.scored and (p in QUALIFYING) != (k in qualified)
    )
    sent = soak.sent_at
    achieved = (len(sent) - 1) / (sent[-1] - sent[0]) if len(sent) > 1 else 0.0
    rss = rss_verdict(soak)
    summary: dict[str, Any] = {
        "offered": t.counts["offered"],
        "offered_rate_achieved": achieved,
        "accepted": len(t.accepted),
        "post_statuses": {str(k): v for k, v in sorted(t.post_status.items())},
        "post_ms_p50": percentile(t.post_ms, 50) if t.post_ms else None,
        "post_ms_p99": percentile(t.post_ms, 99) if t.post_ms else None,
        "scored": sum(1 for k in t.accepted if k in t.scored),
        "qualified": len(qualified),
        "profile_decision_mismatches": mismatched,
        "assigned": sum(1 for k in qualified if k in t.assigned),
        "reassigned": t.counts["reassigned"],
        "answered": len(t.answered),
        "answer_ms_p50": percentile(t.answer_ms, 50) if t.answer_ms else None,
        "answer_ms_p99": percentile(t.answer_ms, 99) if t.answer_ms else None,
        "feedback_calls": dict(sorted(t.feedback_status.items())),
        "feedback_calls_per_s": t.counts["feedback_calls"] / max(1e-6, soak.elapsed()),
        "not_scored": len(not_scored),
        "not_assigned": len(not_assigned),
        "not_scored_sample": not_scored[:10],
        "not_assigned_sample": not_assigned[:10],
        "drained_in_s": soak.drained_in,
        "rss": rss,
        "client_cpu_s": _cpu_seconds(),
    }
    reasons = []
    if not_scored or not_assigned:
        last = soak.series.rows[-1] if soak.series.rows else {}
        lag, backlog = last.get("lag", {}), last.get("outbox_backlog", {})
        pending = sum(v or 0 for v in (*lag.values(), *backlog.values()))
        what = (
            f"{len(not_scored)} accepted leads not scored, {len(not_assigned)} qualified "
            f"leads not assigned after the {opts.drain:.0f}s drain"
        )
        if pending:
            reasons.append(f"not drained: {what}; still queued: lag {lag}, outbox {backlog}")
        else:
            reasons.append(f"lost: {what}, with no lag and no outbox backlog left")
    if t.counts["offered"] and len(t.accepted) < RATE_SHORTFALL * t.counts["offered"]:
        reasons.append(
            f"rate not sustained: {len(t.accepted)} of {t.counts['offered']} POSTs accepted"
        )
    answered_short = [k for k in qualified if k in t.assigned and k not in t.answered]
    summary["not_answered"] = len(answered_short)
    refused = sum(n for k, n in t.feedback_status.items() if not k.split()[1].startswith("2"))
    if refused:
        reasons.append(f"handoff refused {refused} feedback calls")
    for proc, r in rss.items():
        if r["verdict"] == "FAIL":
            reasons.append(f"{proc} RSS grew {_cell(r['growth_pct'], '.1f')}% after warm-up")
    summary["verdict"] = "FAIL" if reasons else "PASS"
    summary["reasons"] = reasons
    return summary, reasons


def _cpu_seconds() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return round(u.ru_utime + u.ru_stime, 1)


def print_summary(summary: dict[str, Any], opts: Options) -> None:
    s = summary
    print()
    print(
        f"offered {s['offered']} leads at {s['offered_rate_achieved']:.1f}/s "
        f"(asked {opts.rate:.0f}/s); accepted {s['accepted']} "
        f"(statuses {s['post_statuses']}; POST p50 {_cell(s['post_ms_p50'], '.1f')} ms, "
        f"p99 {_cell(s['post_ms_p99'], '.1f')} ms)"
    )
    print(
        f"scored {s['scored']}, qualified {s['qualified']} "
        f"(profile/decision mismatches {s['profile_decision_mismatches']}), "
        f"assigned {s['assigned']} (+{s['reassigned']} reassignments), answered {s['answered']} "
        f"(assigned seen -> answered p50 {_cell(s['answer_ms_p50'], '.0f')} ms, "
        f"p99 {_cell(s['answer_ms_p99'], '.0f')} ms)"
    )
    print(f"feedback calls: {s['feedback_calls']}")
    print(
        f"not scored {s['not_scored']}, not assigned {s['not_assigned']}, not answered "
        f"{s['not_answered']} (drain took {_cell(s['drained_in_s'], '.1f')}s of "
        f"{opts.drain:.0f}s; '-': it did not settle); soak client CPU {s['client_cpu_s']}s"
    )
    if s["not_answered"]:
        print(
            f"note: the reps fell behind: handoff answered {s['feedback_calls_per_s']:.0f} "
            "feedback calls/s on average; unanswered leads are not lost (their SLA clocks run)"
        )
    print()
    print(
        f"{'RSS MB':<8} {'warm-up':>8} {'end':>8} {'peak':>8} {'drained':>8} {'growth':>8}  "
        f"(<= {RSS_LIMIT * 100:.0f}% after {opts.warmup:.0f}s warm-up)"
    )
    for proc, r in s["rss"].items():
        print(
            f"{proc:<8} {_cell(r['after_warmup_mb'], '.1f'):>8} {_cell(r['at_end_mb'], '.1f'):>8} "
            f"{_cell(r['peak_after_warmup_mb'], '.1f'):>8} {_cell(r['after_drain_mb'], '.1f'):>8} "
            f"{_cell(r['growth_pct'], '+.1f'):>7}%  {r['verdict']}"
        )
    print()
    print(f"{s['verdict']}" + ("" if not s["reasons"] else ": " + "; ".join(s["reasons"])))


# --- tracemalloc (--tracemalloc SERVICE) -----------------------------------------------


async def start_services(stack: Stack, traced: tuple[str, ...]) -> dict[str, Child]:
    """The three services, traced ones under bench/soak_trace.py; all ready."""
    children = {}
    for svc in SERVICES:
        if svc not in traced:
            children[svc] = stack.spawn(svc)
            continue
        port = free_port()
        argv = [sys.executable, "-m", "bench.soak_trace", str(stack.workdir / f"heap-{svc}")]
        child = stack.procs.start(
            svc,
            [*argv, "serve", svc, "--port", str(port)],
            log=stack.workdir / f"{svc}.log",
            env=stack.service_env(svc),
            cwd=REPO,
            port=port,
        )
        stack.children.append(child)
        children[svc] = child
    await asyncio.gather(*(wait_ready(c) for c in children.values()))
    return children


async def heap_growth(soak: Soak, top: int = 12) -> dict[str, Any]:
    """Per traced service: what was allocated after warm-up and still held at the end of
    the load (tracing starts when the warm-up ends), by line and by traceback."""
    out: dict[str, Any] = {}
    labels = [x for x in soak.snapshots if x != "after warm-up"]
    if "after warm-up" not in soak.snapshots or "end of load" not in labels:
        return out
    dumps = {label: f"{i:02d}.snap" for i, label in enumerate(labels)}
    for svc in soak.opts.tracemalloc:
        heap = soak.stack.workdir / f"heap-{svc}"
        paths = {label: heap / name for label, name in dumps.items()}
        for _ in range(240):  # a big heap takes a while to dump; 2 minutes at most
            if all(p.exists() for p in paths.values()):
                break
            await asyncio.sleep(0.5)
        else:
            out[svc] = {"error": "no snapshots (did the service die?)"}
            continue
        out[svc] = await asyncio.to_thread(_held, paths, top)
    return out


def _held(paths: dict[str, Path], top: int) -> dict[str, Any]:
    snaps = {label: tracemalloc.Snapshot.load(str(p)) for label, p in paths.items()}
    end = snaps["end of load"]
    lines = end.statistics("lineno")[:top]
    stacks = end.statistics("traceback")[:3]
    return {
        "held_mb": {label: sum(t.size for t in s.traces) / 2**20 for label, s in snaps.items()},
        "top_lines": [
            {"where": str(s.traceback[0]), "size_kb": s.size / 1024, "count": s.count}
            for s in lines
        ],
        "top_tracebacks": [
            {
                "size_kb": s.size / 1024,
                "count": s.count,
                "traceback": [str(f) for f in s.traceback],
            }
            for s in stacks
        ],
    }


def print_heaps(heaps: dict[str, Any]) -> None:
    for svc, h in heaps.items():
        print()
        if "error" in h:
            print(f"tracemalloc {svc}: {h['error']}")
            continue
        held = ", ".join(f"{mb:.1f} MB {label}" for label, mb in h["held_mb"].items())
        print(f"tracemalloc {svc}: allocated after warm-up and still held: {held}; by line:")
        for line in h["top_lines"]:
            print(f"  {line['size_kb']:>10.1f} KiB {line['count']:>8} blocks  {line['where']}")
        for i, tb in enumerate(h["top_tracebacks"], 1):
            print(f"  #{i} {tb['size_kb']:.1f} KiB in {tb['count']} blocks, newest frame last:")
            for frame in tb["traceback"]:
                print(f"      {frame}")


# --- main ------------------------------------------------------------------------------


async def soak(opts: Options, procs: Processes) -> int:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    hard_stop = STARTUP_SECONDS + opts.duration + opts.drain + 60
    try:
        async with asyncio.timeout(hard_stop), open_stack(opts.database, procs) as stack:
            # The services create the topics themselves, with their own configs.
            started = time.monotonic()
            services = await start_services(stack, opts.tracemalloc)
            print(
                f"stack ready in {time.monotonic() - started:.0f}s: "
                + ", ".join(f"{s} pid {c.pid} {c.url}" for s, c in services.items())
                + f"; broker {stack.bootstrap}",
                flush=True,
            )
            s = Soak(stack, services, opts)
            heaps: dict[str, Any] = {}
            try:
                await s.run()
                heaps = await heap_growth(s)
            finally:
                summary, reasons = summarize(s)
                summary["tracemalloc"] = heaps
                write(opts, s, summary)
            print_summary(summary, opts)
            print_heaps(heaps)
            print(f"wrote {opts.output}", flush=True)
            return 1 if reasons else 0
    except (DatabaseUnavailable, NotReady) as exc:
        print(f"error: the stack did not start: {exc}", file=sys.stderr)
        return 2
    except TimeoutError:
        print(f"error: hard stop after {hard_stop:.0f}s", file=sys.stderr)
        return 1


def write(opts: Options, s: Soak, summary: dict[str, Any]) -> None:
    doc = {
        "started_at": datetime.now(UTC).isoformat(),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(opts).items()},
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "rows": s.series.rows,
        "rss_samples": s.series.rss,
        "summary": summary,
    }
    opts.output.write_text(json.dumps(doc, indent=1, default=str) + "\n")


def _runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def parse(argv: list[str] | None) -> Options:
    p = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rate", type=float, default=200.0, help="leads offered per second (200)")
    p.add_argument("--duration", type=float, default=300.0, help="seconds of load (300)")
    p.add_argument("--warmup", type=float, default=60.0, help="seconds before RSS counts (60)")
    p.add_argument("--interval", type=float, default=10.0, help="seconds per printed row (10)")
    p.add_argument("--drain", type=float, default=60.0, help="most seconds to drain after (60)")
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--output", type=Path, default=RESULTS, help=f"JSON results ({RESULTS.name})")
    p.add_argument("--seed", type=int, default=7, help="lead mix and reps' choices (7)")
    p.add_argument(
        "--reps-concurrency",
        type=int,
        default=REPS,
        help=f"concurrent feedback requests the simulated sales tool makes ({REPS})",
    )
    p.add_argument(
        "--tracemalloc",
        choices=SERVICES,
        action="append",
        default=[],
        help="run this service under tracemalloc and print what its heap grew by after "
        "warm-up (slows it; for finding a leak, not for the figures)",
    )
    a = p.parse_args(argv)
    if a.rate <= 0 or a.interval <= 0 or a.duration <= 0:
        p.error("--rate, --duration and --interval must be positive")
    if a.warmup + 2 * a.interval > a.duration:
        p.error("--duration must leave two intervals after --warmup (warm-up and end windows)")
    return Options(
        a.rate,
        a.duration,
        a.warmup,
        a.interval,
        a.drain,
        a.db,
        a.output,
        a.seed,
        max(1, a.reps_concurrency),
        tuple(dict.fromkeys(a.tracemalloc)),
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    print(
        f"LeadRelay soak: {opts.rate:.0f} leads/s for {opts.duration:.0f}s on {opts.database}, "
        f"warm-up {opts.warmup:.0f}s, a row every {opts.interval:.0f}s, drain <= "
        f"{opts.drain:.0f}s; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    procs = Processes()
    try:
        with _runner() as runner:
            return runner.run(soak(opts, procs))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; stopping everything the soak started", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())
