"""The `leadrelay` command: composes the services; nothing imports it."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from shared.auth import SCOPES, KeyStore
from shared.settings import ServiceSettings
from shared.tansu import die_with_parent, port_open, start_tansu, tansu_command

PORTS = {"intake": 8001, "scoring": 8002, "handoff": 8003}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="leadrelay", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run one service in the foreground")
    p.add_argument("service", choices=sorted(PORTS))
    p.add_argument("--port", type=int)

    p = sub.add_parser("broker", help="run Tansu (Kafka-compatible) in the foreground")
    p.add_argument("--port", type=int, default=9092)

    p = sub.add_parser("up", help="the whole stack on this machine (SQLite + Tansu)")
    p.add_argument("--data-dir", default=".leadrelay")
    p.add_argument("--broker-port", type=int, default=9092)
    p.add_argument(
        "--base-port",
        type=int,
        default=8001,
        help="intake's port; scoring and handoff take the next two",
    )

    keys = sub.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_command", required=True
    )
    p = keys.add_parser("create", help="create a key and print it once")
    p.add_argument("name")
    p.add_argument(
        "--scope",
        action="append",
        required=True,
        help=f"one of {', '.join(SCOPES)} or form:ID; repeat for several",
    )
    keys.add_parser("list", help="list keys (never the keys themselves)")
    p = keys.add_parser("revoke", help="revoke a key by id")
    p.add_argument("key_id")

    for module in _command_modules():
        module.register(sub)

    args = parser.parse_args(argv)
    if getattr(args, "func", None) is not None:
        return int(args.func(args))
    if args.command == "serve":
        from services.serve import serve

        serve(args.service, args.port)
        return 0
    if args.command == "broker":
        return subprocess.call(tansu_command(args.port))
    if args.command == "up":
        ports = {svc: args.base_port + i for i, svc in enumerate(PORTS)}
        return up(Path(args.data_dir), args.broker_port, ports)
    return _keys(args)


def _command_modules() -> list[Any]:
    import services.commands as pkg

    return [
        importlib.import_module(f"{pkg.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name)
    ]


def _key_store() -> KeyStore:
    return KeyStore(Path(ServiceSettings().keys_file))


def _keys(args: argparse.Namespace) -> int:
    store = _key_store()
    if args.keys_command == "create":
        try:
            print(store.create(args.name, args.scope))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.keys_command == "list":
        for rec in store.list():
            state = "revoked" if rec.get("revoked_at") else "active"
            print(f"{rec['id']}  {rec['name']:<24} {','.join(rec['scopes']):<20} {state}")
        return 0
    if not store.revoke(args.key_id):
        print(f"error: no key {args.key_id}", file=sys.stderr)
        return 2
    return 0


def up(data_dir: Path, broker_port: int, ports: dict[str, int]) -> int:
    """Broker + three services on SQLite; Ctrl-C stops every process started here."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, port in [("broker", broker_port), *ports.items()]:
        if port_open(port):
            print(
                f"error: port {port} ({name}) is in use; is LeadRelay already running?",
                file=sys.stderr,
            )
            return 1
    env = dict(os.environ)
    env.setdefault("LEADRELAY_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{broker_port}")
    env.setdefault("LEADRELAY_KEYS_FILE", str(data_dir / "keys.json"))
    if "LEADRELAY_DATABASE_URL" not in env:  # the embedded default: a SQLite file each
        for svc in PORTS:
            env.setdefault(
                f"LEADRELAY_{svc.upper()}_DATABASE_URL",
                f"sqlite+aiosqlite:///{data_dir.resolve()}/{svc}.db",
            )
    procs: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        print(f"starting the broker (Tansu) on 127.0.0.1:{broker_port} ...", flush=True)
        procs.append(start_tansu(broker_port, log=data_dir / "broker.log", tied_to_parent=True))
        key = KeyStore(Path(env["LEADRELAY_KEYS_FILE"])).create("development", ["admin"])
        for svc, port in ports.items():
            log = open(data_dir / f"{svc}.log", "ab")  # noqa: SIM115 - lives with the child
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "services.cli", "serve", svc, "--port", str(port)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=die_with_parent,
                )
            )
        if not _wait_ready(procs, ports, lambda: stopping):
            print(f"error: the stack did not become ready; see {data_dir}/*.log", file=sys.stderr)
            return 1
        _banner(key, data_dir, ports, broker_port)
        while not stopping:
            for p in procs:
                if p.poll() is not None:
                    print(
                        f"error: a process exited with {p.returncode}; see {data_dir}/*.log",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.3)
        return 0
    finally:
        _stop_all(procs)
        print("stopped.", flush=True)


def _wait_ready(
    procs: list[subprocess.Popen[bytes]],
    ports: dict[str, int],
    stopping: Callable[[], bool],
    timeout: float = 90.0,
) -> bool:
    deadline = time.monotonic() + timeout
    pending = dict(ports)
    while pending and time.monotonic() < deadline:
        if stopping():
            return False
        if any(p.poll() is not None for p in procs):
            return False
        for svc, port in list(pending.items()):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    del pending[svc]
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    return not pending


def _banner(key: str, data_dir: Path, ports: dict[str, int], broker_port: int) -> None:
    i, s, h = (f"http://127.0.0.1:{ports[x]}" for x in ("intake", "scoring", "handoff"))
    lines = [
        "",
        "LeadRelay is up.",
        f"  intake   {i}/docs",
        f"  scoring  {s}/docs",
        f"  handoff  {h}/docs   (dashboard: {h}/)",
        f"  metrics  {i}/metrics  {s}/metrics  {h}/metrics",
        f"  broker   127.0.0.1:{broker_port}  (topics leads.received, leads.scored, "
        "leads.handoff, leads.feedback)",
        f"  logs     {data_dir}/*.log",
        "",
        f"API key: {key}",
        "",
        "Post a lead:",
        f"  curl -s -X POST {i}/v1/leads -H 'Authorization: Bearer {key}' "
        '-H \'Content-Type: application/json\' -d \'{"email": "jane.doe@acme.io", '
        '"first_name": "Jane", "last_name": "Doe", "company": "Acme", '
        '"job_title": "VP Marketing", "country": "US", "source": "web", '
        '"attributes": {"employees": 500}, "touches": [{"type": "form_submit", '
        '"at": "2026-11-24T10:00:00Z", "detail": "pricing page"}]}\'',
        "Then see it handed off:",
        f"  curl -s {h}/v1/leads/<lead_id> -H 'Authorization: Bearer {key}'",
        "",
        "Ctrl-C stops everything.",
    ]
    print("\n".join(lines), flush=True)


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 20
    for p in reversed(procs):
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


if __name__ == "__main__":
    sys.exit(main())
