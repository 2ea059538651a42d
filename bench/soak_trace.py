"""`python -m bench.soak_trace DIR serve SERVICE --port N`: `leadrelay serve` with
tracemalloc ready, for `python -m bench.soak --tracemalloc SERVICE`. The first SIGUSR1
(the soak sends it when the warm-up ends) starts tracing; each later one dumps a snapshot
into DIR as 00.snap, 01.snap, ... (written by a thread, renamed when complete). A snapshot
then holds exactly the memory allocated after warm-up and still alive: what grew.

Tracing slows the service (every allocation is recorded), so a traced run's rates and RSS
are not the figures of record; it answers "what grew", not "how much"."""

from __future__ import annotations

import runpy
import signal
import sys
import threading
import tracemalloc
from pathlib import Path

FRAMES = 6


def _tracer(out: Path, wanted: threading.Event) -> None:
    wanted.wait()
    wanted.clear()
    tracemalloc.start(FRAMES)
    n = 0
    while True:
        wanted.wait()
        wanted.clear()
        snapshot = tracemalloc.take_snapshot().filter_traces(
            (tracemalloc.Filter(False, tracemalloc.__file__),)
        )
        part = out / f"{n:02d}.snap.part"
        snapshot.dump(str(part))
        part.rename(out / f"{n:02d}.snap")
        n += 1


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    wanted = threading.Event()
    threading.Thread(target=_tracer, args=(out, wanted), daemon=True, name="tracer").start()
    signal.signal(signal.SIGUSR1, lambda *_: wanted.set())
    sys.argv = ["leadrelay", *sys.argv[2:]]
    runpy.run_module("services.cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
