"""`leadrelay import FILE`: a CSV or NDJSON file of leads into a running intake.

The file is streamed to `POST /v1/leads/batch` (one request; intake stores it chunk by
chunk) with a progress line on stderr. The answer has a result per row: the summary goes
to stdout, rejected rows with their reasons to a file beside the input. The request
carries an `Idempotency-Key` made of the file's content, source and campaign, and intake
keys each row by it and its line: running the same import twice stores nothing twice.

Exit status: 0 all rows stored, 1 some rows rejected (see the rejects file), 2 the import
could not run (file, connection, key, or intake refused the upload).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from services.intake.batch import BatchFormat, guess_delimiter
from services.intake.schemas import SOURCES

DEFAULT_URL = "http://127.0.0.1:8001"
CHUNK_BYTES = 256 * 1024
FORMATS: dict[str, BatchFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "ndjson",
}
CONTENT_TYPES: dict[BatchFormat, str] = {"csv": "text/csv", "ndjson": "application/x-ndjson"}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "import",
        help="import a CSV or NDJSON file of leads into a running intake",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", type=Path, help="a .csv or .ndjson/.jsonl file")
    p.add_argument(
        "--source",
        choices=SOURCES,
        default="campaign",
        help="source of rows that name none (default: campaign)",
    )
    p.add_argument("--campaign", help="campaign id of rows that name none")
    p.add_argument("--format", choices=("csv", "ndjson"), help="default: from the file's suffix")
    p.add_argument(
        "--url",
        default=os.environ.get("LEADRELAY_INTAKE_URL", DEFAULT_URL),
        help=f"intake's base URL (env LEADRELAY_INTAKE_URL, default {DEFAULT_URL})",
    )
    p.add_argument(
        "--key",
        default=os.environ.get("LEADRELAY_API_KEY"),
        help="an API key with the intake scope (env LEADRELAY_API_KEY)",
    )
    p.add_argument(
        "--rejects", type=Path, help="where rejected rows go (default: FILE.rejected.csv|ndjson)"
    )
    p.add_argument("--timeout", type=float, default=900.0, help="seconds to wait (default 900)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        plan = ImportPlan.of(
            args.file,
            fmt=args.format,
            source=args.source,
            campaign=args.campaign,
            rejects=args.rejects,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.key:
        print("error: no API key: pass --key or set LEADRELAY_API_KEY", file=sys.stderr)
        return 2
    timeout = httpx.Timeout(args.timeout, connect=10.0)
    with httpx.Client(base_url=args.url, timeout=timeout) as client:
        return run_import(client, plan, key=args.key, out=sys.stdout, err=sys.stderr)


@dataclass(frozen=True)
class ImportPlan:
    path: Path
    fmt: BatchFormat
    source: str | None
    campaign: str | None
    rejects: Path

    @classmethod
    def of(
        cls,
        path: Path,
        *,
        fmt: str | None = None,
        source: str | None = "campaign",
        campaign: str | None = None,
        rejects: Path | None = None,
    ) -> ImportPlan:
        if not path.is_file():
            raise ValueError(f"no file {path}")
        kind: BatchFormat | None = (
            ("csv" if fmt == "csv" else "ndjson") if fmt else FORMATS.get(path.suffix.lower())
        )
        if kind is None:
            raise ValueError(f"cannot tell the format of {path.name}; pass --format csv|ndjson")
        suffix = "csv" if kind == "csv" else "ndjson"
        return cls(
            path,
            kind,
            source,
            campaign,
            rejects or path.with_name(f"{path.name}.rejected.{suffix}"),
        )

    def idempotency_key(self) -> str:
        """The same file imported the same way is the same import, wherever it is run."""
        digest = hashlib.sha256()
        with self.path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        digest.update(f"\0{self.fmt}\0{self.source or ''}\0{self.campaign or ''}".encode())
        return f"import-{digest.hexdigest()[:40]}"


def run_import(
    client: httpx.Client, plan: ImportPlan, *, key: str, out: IO[str], err: IO[str]
) -> int:
    """Upload, report, write the rejects file; returns the exit status."""
    size = plan.path.stat().st_size
    params = {"channel": "import"}
    if plan.source:
        params["source"] = plan.source
    if plan.campaign:
        params["campaign_id"] = plan.campaign
    progress = Progress(plan.path.name, size, err)
    try:
        response = client.post(
            "/v1/leads/batch",
            params=params,
            content=progress.stream(plan.path),
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": CONTENT_TYPES[plan.fmt],
                "Content-Length": str(size),
                "Idempotency-Key": plan.idempotency_key(),
            },
        )
    except httpx.HTTPError as exc:
        progress.done()
        print(f"error: cannot reach intake at {client.base_url}: {exc}", file=err)
        return 2
    progress.done()
    if response.status_code != 200:
        print(f"error: intake answered {response.status_code}: {_problem(response)}", file=err)
        return 2
    result = response.json()
    summary = result["summary"]
    rejected = [row for row in result["rows"] if row["status"] == "rejected"]
    print(
        f"{plan.path.name}: {summary['accepted']} accepted, {summary['duplicate']} duplicate, "
        f"{summary['rejected']} rejected"
        + (f" ({summary['replayed']} already imported)" if summary.get("replayed") else ""),
        file=out,
    )
    if not rejected:
        return 0
    write_rejects(plan, {row["row"]: row["errors"] for row in rejected})
    print(f"rejected rows and their reasons: {plan.rejects}", file=out)
    return 1


def _problem(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return response.text[:300]
    return str(doc.get("detail") or doc.get("title") or doc)[:500]


class Progress:
    """A plain progress line on stderr: redrawn on a terminal, every 10% otherwise."""

    def __init__(self, name: str, total: int, err: IO[str]) -> None:
        self.name = name
        self.total = max(total, 1)
        self.err = err
        self.tty = err.isatty()
        self.sent = 0
        self.lines = 0
        self.shown = -1
        self.started = time.monotonic()

    def stream(self, path: Path) -> Iterator[bytes]:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
                self.sent += len(chunk)
                self.lines += chunk.count(b"\n")
                self.show()
                yield chunk

    def show(self) -> None:
        percent = min(100, self.sent * 100 // self.total)
        step = percent if self.tty else percent // 10 * 10
        if step == self.shown:
            return
        self.shown = step
        bar = "#" * (percent // 5) + "." * (20 - percent // 5)
        line = f"importing {self.name} [{bar}] {percent:3d}%  {self.lines:,} lines"
        print(f"\r{line}" if self.tty else line, end="" if self.tty else "\n", file=self.err)
        self.err.flush()

    def done(self) -> None:
        elapsed = time.monotonic() - self.started
        end = "\n" if self.tty else ""
        print(f"{end}sent {self.sent:,} bytes in {elapsed:.1f}s", file=self.err)


def write_rejects(plan: ImportPlan, errors: dict[int, list[dict[str, str]]]) -> None:
    """The rejected records as they were in the file, each with its line and reasons."""
    if plan.fmt == "csv":
        _write_csv_rejects(plan.path, plan.rejects, errors)
    else:
        _write_ndjson_rejects(plan.path, plan.rejects, errors)


def _reasons(errors: list[dict[str, str]]) -> str:
    return "; ".join(f"{e['pointer'] or 'row'}: {e['message']}" for e in errors)


def _write_ndjson_rejects(src: Path, dst: Path, errors: dict[int, list[dict[str, str]]]) -> None:
    with src.open("rb") as f, dst.open("w", encoding="utf-8") as out:
        for number, raw in enumerate(f, start=1):
            if number not in errors:
                continue
            text = raw.decode("utf-8", "replace").rstrip("\r\n").removeprefix("\ufeff")
            try:
                record: Any = json.loads(text)
            except ValueError:
                record = text
            line = {"line": number, "errors": errors[number], "record": record}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")


def _write_csv_rejects(src: Path, dst: Path, errors: dict[int, list[dict[str, str]]]) -> None:
    """Columns `line` and `errors`, then the file's own columns, so a fixed copy can be
    re-imported once those two are deleted."""
    with src.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        consumed = 0

        def counted() -> Iterator[str]:
            nonlocal consumed
            for text in f:
                consumed += 1
                yield text

        lines = counted()
        first = next(lines, "")
        reader = csv.reader([first], delimiter=guess_delimiter(first))
        header = next(reader, [])
        reader = csv.reader(lines, delimiter=guess_delimiter(first))
        with dst.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["line", "errors", *header])
            if 1 in errors:
                writer.writerow([1, _reasons(errors[1]), *header])
            while True:
                start = consumed + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error:
                    cells = ["(unreadable record)"]
                if start in errors:
                    writer.writerow([start, _reasons(errors[start]), *cells])
