"""`leadrelay campaigns set ID --cost N` and `leadrelay campaigns list`: campaign costs in a
running handoff, for the cost-per-qualified-lead report.

Exit codes: 0 done; 2 anything else (service unreachable, refused key, invalid input; the
problem's detail is printed).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8003"


def register(subparsers: Any) -> None:
    campaigns = subparsers.add_parser("campaigns", help="campaign costs in a running handoff")
    verbs = campaigns.add_subparsers(dest="campaigns_command", required=True)

    p = verbs.add_parser("set", help="create or replace a campaign's cost")
    p.add_argument("campaign_id")
    p.add_argument("--cost", type=float, required=True, help="what the campaign cost")
    p.add_argument("--name", help="a readable name (default: the id)")
    p.add_argument("--currency", default="USD", help="ISO 4217 (default USD)")
    p.add_argument(
        "--period",
        help="YYYY-MM or YYYY-MM-DD/YYYY-MM-DD, the days the cost covers (default: this month)",
    )
    _connection(p)
    p.set_defaults(func=set_cost)

    p = verbs.add_parser("list", help="every campaign with a cost")
    _connection(p)
    p.set_defaults(func=list_costs)


def _connection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=DEFAULT_URL, help=f"handoff's base URL ({DEFAULT_URL})")
    p.add_argument("--key", help="an API key (default: $LEADRELAY_API_KEY); set needs admin")


def _key(args: argparse.Namespace) -> str | None:
    key: str | None = args.key or os.environ.get("LEADRELAY_API_KEY")
    if not key:
        sys.stderr.write("error: give --key or set LEADRELAY_API_KEY\n")
    return key


def _problem(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return f"HTTP {answer.status_code}"
    detail = body.get("detail") or body.get("title") or f"HTTP {answer.status_code}"
    fields = "; ".join(f"{e['pointer']}: {e['message']}" for e in body.get("errors", []))
    return f"{detail}{' (' + fields + ')' if fields else ''}"


def set_cost(args: argparse.Namespace) -> int:
    key = _key(args)
    if key is None:
        return 2
    body = {
        "name": args.name or args.campaign_id,
        "cost": args.cost,
        "currency": args.currency.upper(),
        "period": args.period or datetime.now(UTC).strftime("%Y-%m"),
    }
    try:
        answer = httpx.put(
            f"{args.url.rstrip('/')}/v1/campaigns/{args.campaign_id}",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        sys.stderr.write(f"error: cannot reach handoff at {args.url}: {exc}\n")
        return 2
    if answer.status_code not in (200, 201):
        sys.stderr.write(f"error: {_problem(answer)}\n")
        return 2
    c = answer.json()
    verb = "created" if answer.status_code == 201 else "updated"
    print(f"{verb} {c['campaign_id']}: {c['cost']:,.2f} {c['currency']} for {c['period']}")
    return 0


def list_costs(args: argparse.Namespace) -> int:
    key = _key(args)
    if key is None:
        return 2
    try:
        answer = httpx.get(
            f"{args.url.rstrip('/')}/v1/campaigns",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        sys.stderr.write(f"error: cannot reach handoff at {args.url}: {exc}\n")
        return 2
    if answer.status_code != 200:
        sys.stderr.write(f"error: {_problem(answer)}\n")
        return 2
    for c in answer.json():
        print(f"{c['campaign_id']:<28} {c['cost']:>14,.2f} {c['currency']}  {c['period']}")
    return 0
