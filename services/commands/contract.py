"""`leadrelay contract validate FILE` (offline) and `leadrelay contract simulate FILE`
(against a running scoring service).

Exit codes: 0 done; 1 the contract is invalid (every issue printed, one per line, as
`line N: path: message`); 2 anything else (unreadable file, service unreachable, refused key).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from services.scoring.contract import ContractInvalid, load_contract

DEFAULT_URL = "http://127.0.0.1:8002"
_SINCE = re.compile(r"(\d+)\s*([dw])")


def register(subparsers: Any) -> None:
    contract = subparsers.add_parser("contract", help="check or simulate a contract file")
    verbs = contract.add_subparsers(dest="contract_command", required=True)

    p = verbs.add_parser("validate", help="load a contract file offline; list every issue")
    p.add_argument("file", type=Path)
    p.set_defaults(func=validate)

    p = verbs.add_parser("simulate", help="score past leads under a draft and the active contract")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--since",
        default="30d",
        help="the period: days or weeks back (30d, 4w) or a moment (2026-10-01T00:00:00Z)",
    )
    p.add_argument("--sample", type=int, default=20, help="changed leads to list (default 20)")
    p.add_argument("--url", default=DEFAULT_URL, help=f"scoring's base URL ({DEFAULT_URL})")
    p.add_argument("--key", help="an admin API key (default: $LEADRELAY_API_KEY)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=simulate)


def _out(line: object) -> None:
    sys.stdout.write(f"{line}\n")


def _err(line: str) -> None:
    sys.stderr.write(f"{line}\n")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        _err(f"error: cannot read {path}: {err}")
        return None


def validate(args: argparse.Namespace) -> int:
    text = _read(args.file)
    if text is None:
        return 2
    try:
        contract = load_contract(text)
    except ContractInvalid as err:
        for issue in err.issues:
            _out(issue)
        return 1
    _out(f"valid: version {contract.version}")
    return 0


def period_query(since: str) -> dict[str, str] | None:
    """`30d` / `4w` -> days=30 / days=28; an ISO moment -> since=...; None if neither."""
    whole = _SINCE.fullmatch(since.strip())
    if whole:
        count, unit = int(whole.group(1)), whole.group(2)
        return {"days": str(count * 7 if unit == "w" else count)}
    try:
        moment = datetime.fromisoformat(since.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return {"since": moment.isoformat()}


def simulate(args: argparse.Namespace) -> int:
    key = args.key or os.environ.get("LEADRELAY_API_KEY")
    if not key:
        _err("error: pass --key or set LEADRELAY_API_KEY (an admin key)")
        return 2
    query = period_query(args.since)
    if query is None:
        _err(f"error: --since {args.since!r}: use 30d, 4w or a moment like 2026-10-01T00:00Z")
        return 2
    text = _read(args.file)
    if text is None:
        return 2
    try:
        answer = httpx.post(
            f"{args.url.rstrip('/')}/v1/contracts/simulate",
            params={**query, "sample": str(args.sample)},
            content=text.encode("utf-8"),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/yaml"},
            timeout=300,
        )
    except httpx.HTTPError as err:
        _err(f"error: cannot reach scoring at {args.url}: {err}")
        return 2
    return _answer(answer, as_json=args.json)


def _answer(answer: httpx.Response, *, as_json: bool) -> int:
    try:
        body: Any = answer.json()
    except ValueError:
        body = {"title": answer.text[:200]}
    if answer.status_code == 200:
        _out(json.dumps(body, indent=2) if as_json else render_report(body))
        return 0
    if answer.status_code == 422 and body.get("type", "").endswith("/invalid-contract"):
        for issue in body.get("errors", []):
            _out(_issue_line(issue))
        return 1
    title = body.get("title", "error")
    detail = f": {body['detail']}" if body.get("detail") else ""
    _err(f"error: {answer.status_code} {title}{detail}")
    return 2


def _issue_line(issue: dict[str, Any]) -> str:
    """The same line `validate` prints for an issue."""
    parts = [f"line {issue['line']}"] if issue.get("line") is not None else []
    if issue.get("path"):
        parts.append(issue["path"])
    parts.append(issue["message"])
    return ": ".join(parts)


def render_report(report: dict[str, Any]) -> str:
    """The simulation as a short table a person reads in a terminal."""
    active, draft = report["active"], report["draft"]
    head = f"{'':<16}{'active ' + active['contract_version']:>22}"
    head += f"{'draft ' + draft['contract_version']:>22}"
    lines = [
        f"{report['leads']} leads received {report['since']} .. {report['until']} "
        f"({report['period_days']} days)",
        "",
        head,
    ]
    for outcome in active["by_outcome"]:
        lines.append(
            f"{outcome:<16}{active['by_outcome'][outcome]:>22}"
            f"{draft['by_outcome'].get(outcome, 0):>22}"
        )
    for tier in dict.fromkeys([*active["by_tier"], *draft["by_tier"]]):
        lines.append(
            f"{'tier ' + tier:<16}{active['by_tier'].get(tier, 0):>22}"
            f"{draft['by_tier'].get(tier, 0):>22}"
        )
    lines += ["", f"changed decision: {report['changed']}   tier moves: {report['tier_moves']}"]
    lines += [
        f"  {c['lead_id']}  {c['before']} -> {c['after']}  "
        f"(score {c['before_score']:g} -> {c['after_score']:g})"
        for c in report["changes"]
    ]
    projected = f"projected qualified per month: {report['projected_qualified_per_month']:g}"
    if report.get("quota_qualified_per_month") is not None:
        projected += f" against a quota of {report['quota_qualified_per_month']}"
        if report.get("projected_share_of_quota") is not None:
            projected += f" ({report['projected_share_of_quota']:.0%})"
    lines += ["", projected]
    return "\n".join(lines)
