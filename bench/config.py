"""How much load each figure gets: the full run (`make bench`) and a quick smoke run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    concurrency: int = 16  # closed-loop POST clients, ours and baseline alike
    warmup_seconds: float = 1.0  # excluded from every closed-loop rate
    post_seconds: float = 6.0
    post_max_requests: int = 40_000  # distinct leads generated for the POST figures
    batch_leads: int = 20_000
    batch_timeout: float = 45.0
    scoring_leads: int = 10_000
    scoring_timeout: float = 45.0  # a slower worker is still measured: scored / elapsed
    latency_rate: float = 200.0  # leads/s offered, open loop
    latency_seconds: float = 10.0
    drain_timeout: float = 10.0  # after the offered load, for the last assignments


FULL = Scale()
QUICK = Scale(
    warmup_seconds=0.5,
    post_seconds=2.0,
    post_max_requests=10_000,
    batch_leads=2_000,
    batch_timeout=30.0,
    scoring_leads=2_000,
    scoring_timeout=30.0,
    latency_seconds=3.0,
    drain_timeout=5.0,
)
