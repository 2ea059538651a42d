"""`--profile DIR`: py-spy records the services while their figures run: raw collapsed
stacks (open them in speedscope.app or flamegraph.pl) and a summary of the hottest
functions. Figures measured while profiling run a little slower (py-spy samples without
pausing the process, but it still takes CPU on this 2-core machine)."""

from __future__ import annotations

import collections
import contextlib
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.procs import Child

REPO = Path(__file__).resolve().parent.parent

RATE = 100  # samples per second
TOP = 15
_LINE = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@dataclass(frozen=True)
class Profiler:
    out_dir: Path

    @contextlib.contextmanager
    def recording(self, children: dict[str, Child], label: str) -> Iterator[None]:
        """Record each child for the duration of the block; summarise after."""
        exe = py_spy()
        if exe is None:
            print("  (py-spy not found: pip install py-spy; not profiling)", flush=True)
            yield
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        running = {
            svc: _record(exe, child.pid, self.out_dir / f"{label}-{svc}")
            for svc, child in children.items()
        }
        try:
            yield
        finally:
            for svc, proc in running.items():
                _finish(proc)
                raw = self.out_dir / f"{label}-{svc}.txt"
                summary = summarise(raw) if raw.exists() else "(no samples)"
                (self.out_dir / f"{label}-{svc}.top.txt").write_text(summary + "\n")
                print(f"  profile {label} {svc}: {raw}\n{_indent(summary)}", flush=True)


def _record(exe: str, pid: int, stem: Path) -> subprocess.Popen[bytes]:
    argv = [exe, "record", "--pid", str(pid), "--rate", str(RATE), "--nonblocking"]
    log = stem.with_suffix(".log").open("wb")
    with log:
        return subprocess.Popen(
            [*argv, "--format", "raw", "--output", str(stem.with_suffix(".txt"))],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _finish(proc: subprocess.Popen[bytes]) -> None:
    """py-spy writes its output on SIGINT."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def summarise(raw: Path, top: int = TOP) -> str:
    """Hottest frames of a py-spy raw (collapsed) profile, in % of samples: by self time
    (the leaf frame, with its line: `tx.get()` waits, `function()` works) and by inclusive
    time in LeadRelay's own code (services/, shared/)."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")[2:]]  # drop process and thread
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in {_LINE.sub(")", f) for f in frames if _ours(f)}:
            inclusive[name] += count
    if not total:
        return "(no samples)"
    lines = [f"{total} samples; self time (leaf frame):"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in own.most_common(top)]
    lines.append("inclusive time in LeadRelay code:")
    lines += [f"  {n / total:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


OURS = ("services/", "shared/")
ENTRY = ("services/cli.py", "services/serve.py")  # on every main-thread stack: no news


def _ours(frame: str) -> bool:
    path = frame.split(" (")[-1]
    return path.startswith(OURS) and not path.startswith(ENTRY)


def _short(frame: str) -> str:
    """ "f (/long/path/site-packages/pkg/mod.py:12)" -> "f (pkg/mod.py:12)"."""
    for marker in ("site-packages/", sysconfig.get_paths()["stdlib"] + "/", f"{REPO}/"):
        if marker in frame:
            name, _, path = frame.partition(" (")
            return f"{name} ({path.split(marker)[-1]}"
    return frame


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
