"""API keys: random, shown once, stored hashed in a keys file every service reads.

A key looks like `lr_<id>_<secret>`. The file keeps id, name, scopes and the SHA-256 of the
secret (a 256-bit random secret needs no slow hash). Services reload the file when it
changes, so `leadrelay keys create|revoke` takes effect without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request

from shared.problems import Forbidden, TooManyRequests, Unauthorized

SCOPES = ("intake", "sales", "admin")


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class KeyStore:
    path: Path
    rate_per_second: float = 100.0
    burst: float = 200.0
    _records: dict[str, dict[str, Any]] = field(default_factory=dict)
    _mtime: float = -1.0
    _checked_at: float = -1e9
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- file ---------------------------------------------------------------------------
    def _load(self, *, max_age: float = 0.0) -> None:
        """Re-read the file if it changed; `max_age` spares a stat per request."""
        now = time.monotonic()
        if max_age and now - self._checked_at < max_age:
            return
        self._checked_at = now
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._records, self._mtime = {}, -1.0
            return
        if mtime == self._mtime:
            return
        doc = json.loads(self.path.read_text() or "{}")
        self._records = {r["id"]: r for r in doc.get("keys", [])}
        self._mtime = mtime

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"keys": list(self._records.values())}, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)
        self._mtime = -1.0

    def create(self, name: str, scopes: list[str]) -> str:
        """Add a key; return the plain key, which is never stored."""
        for s in scopes:
            if s not in SCOPES and not s.startswith("form:"):
                raise ValueError(f"unknown scope {s!r}; use one of {', '.join(SCOPES)} or form:ID")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        with self._lock:
            self._load()
            self._records[key_id] = {
                "id": key_id,
                "name": name,
                "scopes": list(scopes),
                "hash": _hash(secret),
                "created_at": datetime.now(UTC).isoformat(),
                "revoked_at": None,
            }
            self._save()
        return f"lr_{key_id}_{secret}"

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            self._load()
            return [{k: v for k, v in r.items() if k != "hash"} for r in self._records.values()]

    def revoke(self, key_id: str) -> bool:
        with self._lock:
            self._load()
            rec = self._records.get(key_id)
            if rec is None:
                return False
            rec["revoked_at"] = datetime.now(UTC).isoformat()
            self._save()
            return True

    # -- checks -------------------------------------------------------------------------
    def authenticate(self, presented: str | None) -> Principal:
        if not presented:
            raise Unauthorized("send Authorization: Bearer <key> or X-API-Key")
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != "lr":
            raise Unauthorized("unknown API key")
        with self._lock:
            self._load(max_age=1.0)
            rec = self._records.get(parts[1])
            if rec is None:  # a key created a moment ago: look again now
                self._load()
                rec = self._records.get(parts[1])
        if (
            rec is None
            or rec.get("revoked_at")
            or not hmac.compare_digest(rec["hash"], _hash(parts[2]))
        ):
            raise Unauthorized("unknown API key")
        return Principal(rec["id"], rec["name"], frozenset(rec["scopes"]))

    def take_token(self, key_id: str) -> float | None:
        """Token bucket per key; None if allowed, else seconds until the next token."""
        now = time.monotonic()
        with self._lock:
            b = self._buckets.get(key_id) or _Bucket(self.burst, now)
            b.tokens = min(self.burst, b.tokens + (now - b.at) * self.rate_per_second)
            b.at = now
            self._buckets[key_id] = b
            if b.tokens >= 1:
                b.tokens -= 1
                return None
            return (1 - b.tokens) / self.rate_per_second


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth and auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def require(scope: str) -> Any:
    """A dependency: the caller's key must carry `scope` (admin carries every scope)."""

    async def check(request: Request) -> Principal:  # async: no thread hop per request
        store: KeyStore = request.app.state.keys
        principal = store.authenticate(presented_key(request))
        if not principal.allows(scope):
            raise Forbidden(f"this route needs the {scope!r} scope")
        wait = store.take_token(principal.key_id)
        if wait is not None:
            raise TooManyRequests(
                "too many requests for this key", headers={"Retry-After": str(max(1, round(wait)))}
            )
        return principal

    return Depends(check)


IntakeScope = Annotated[Principal, require("intake")]
SalesScope = Annotated[Principal, require("sales")]
AdminScope = Annotated[Principal, require("admin")]
