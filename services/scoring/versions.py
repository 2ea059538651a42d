"""Contract versions: propose (validated), activate, read; and the cache the consumer reads.

A version never changes once stored, so its parsed form is cached forever. Which version is
active can change on any replica, so each replica trusts its idea of it for at most
`ttl` seconds (and drops it at once when it activates one itself).
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import store
from services.scoring.contract import (
    Contract,
    ContractInvalid,
    ContractIssue,
    contract_as_dict,
    load_contract,
)
from services.scoring.schemas import (
    Activation,
    ContractDetail,
    ContractIssueOut,
    ContractList,
    ContractProblem,
    ContractVersion,
)
from shared.clock import Clock
from shared.problems import PROBLEM_JSON, Conflict, InvalidInput, NotFound, pointer

MAX_ISSUES_SHOWN = 1000
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class NoActiveContract(Conflict):
    title = "No contract is active"
    type = "https://leadrelay.dev/problems/no-active-contract"


class UnknownVersion(NotFound):
    title = "No such contract version"
    type = "https://leadrelay.dev/problems/unknown-contract-version"


class VersionExists(Conflict):
    title = "This contract version already exists"
    type = "https://leadrelay.dev/problems/contract-version-exists"


class ContractRefused(InvalidInput):
    """A contract that does not load; `errors` lists every issue with line, path and pointer."""

    title = "The contract is invalid"
    type = "https://leadrelay.dev/problems/invalid-contract"

    @classmethod
    def of(cls, issues: Sequence[ContractIssue]) -> ContractRefused:
        shown = [
            ContractIssueOut(
                pointer=path_pointer(i.path), message=i.message, line=i.line, path=i.path
            )
            for i in issues[:MAX_ISSUES_SHOWN]
        ]
        count = len(issues)
        head = f"{count} problem{'s' if count != 1 else ''}"
        if count > MAX_ISSUES_SHOWN:
            head += f" (the first {MAX_ISSUES_SHOWN} are listed)"
        first = f"; the first: {issues[0]}" if issues else ""
        return cls(f"{head}{first}", errors=shown, extra={"issue_count": count})


# The OpenAPI entry for ContractRefused: its errors carry line and path besides the pointer.
CONTRACT_REFUSED: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ContractProblem,
        "description": ContractRefused.title,
        "content": {PROBLEM_JSON: {}},
    }
}


def path_pointer(path: str) -> str:
    """`fit.rules[0].points` -> `/fit/rules/0/points` (a JSON pointer into the document)."""
    parts = [m.group(1) or m.group(2) for m in _PATH_PART.finditer(path)]
    return pointer(parts)


async def parse(document: str) -> Contract:
    """Load a contract off the event loop (a large one takes a while); refuse it with issues."""
    try:
        return await asyncio.to_thread(load_contract, document)
    except ContractInvalid as err:
        raise ContractRefused.of(err.issues) from None


@dataclass
class ContractCache:
    """Parsed versions, and the active version trusted for `ttl` seconds."""

    ttl: float
    monotonic: Callable[[], float] = time.monotonic
    parsed: dict[str, Contract] = field(default_factory=dict)
    _active: str | None = None
    _checked_at: float = -math.inf
    _generation: int = 0

    async def active(self, session: AsyncSession) -> Contract:
        """The active contract; asks the database for its version at most every `ttl` s."""
        now = self.monotonic()
        version = self._active
        if version is None or now - self._checked_at >= self.ttl:
            generation = self._generation
            version = await store.active_version(session)
            if version is None:
                raise NoActiveContract("activate a contract first: POST /v1/contracts/{v}/activate")
            if generation == self._generation:  # nobody activated meanwhile on this replica
                self._active, self._checked_at = version, now
        return await self.version(session, version)

    async def version(self, session: AsyncSession, version: str) -> Contract:
        """A stored version, parsed once."""
        contract = self.parsed.get(version)
        if contract is None:
            document = await store.contract_document(session, version)
            if document is None:
                raise UnknownVersion(f"no contract version {version!r}")
            try:
                contract = load_contract(document)
            except ContractInvalid as err:  # stored before the loader grew stricter
                raise ContractRefused.of(err.issues) from None
            self.parsed[version] = contract
        return contract

    def forget_active(self) -> None:
        self._generation += 1
        self._active = None

    def forget_active_after_commit(self, session: AsyncSession) -> None:
        """After this session commits, ask the database again (before it, the old one holds)."""
        event.listen(
            session.sync_session, "after_commit", lambda _: self.forget_active(), once=True
        )


def _version(row: store.ContractRow) -> ContractVersion:
    return ContractVersion.model_validate(row, from_attributes=True)


def _detail(row: store.ContractRow, contract: Contract) -> ContractDetail:
    return ContractDetail(
        **_version(row).model_dump(),
        document=row.document or "",
        contract=contract_as_dict(contract),
    )


async def propose(
    session: AsyncSession, document: str, *, clock: Clock, by: str | None
) -> ContractVersion:
    """Store a validated draft; its version must be new (versions never change once stored)."""
    contract = await parse(document)
    await store.lock_contracts(session)
    existing = await store.contract(session, contract.version)
    if existing is not None:
        raise VersionExists(
            f"version {contract.version!r} exists ({existing.status}); change `version`",
        )
    await store.add_contract(
        session,
        version=contract.version,
        name=contract.name,
        document=document,
        at=clock.now(),
        by=by,
    )
    row = await store.contract(session, contract.version)
    assert row is not None
    return _version(row)


async def activate(
    session: AsyncSession,
    version: str,
    *,
    cache: ContractCache,
    clock: Clock,
    by: str | None,
) -> Activation:
    """Make a stored version the one new decisions use; the one it replaces is retired.

    Existing decisions are not re-scored: each keeps the version that made it."""
    await store.lock_contracts(session)
    row = await store.contract(session, version)
    if row is None:
        raise UnknownVersion(f"no contract version {version!r}; POST /v1/contracts first")
    if row.status == "active":
        return Activation(**_version(row).model_dump())
    await cache.version(session, version)  # never activate what the loader cannot read
    previous = await store.activate_contract(session, version, at=clock.now(), by=by)
    cache.forget_active_after_commit(session)
    row = await store.contract(session, version)
    assert row is not None
    return Activation(**_version(row).model_dump(), previous_version=previous)


async def show(session: AsyncSession, version: str, *, cache: ContractCache) -> ContractDetail:
    row = await store.contract(session, version)
    if row is None:
        raise UnknownVersion(f"no contract version {version!r}")
    return _detail(row, await cache.version(session, version))


async def show_active(session: AsyncSession, *, cache: ContractCache) -> ContractDetail:
    row = await store.active_contract(session)
    if row is None:
        raise NoActiveContract("activate a contract first: POST /v1/contracts/{v}/activate")
    return _detail(row, await cache.version(session, row.version))


async def list_versions(session: AsyncSession) -> ContractList:
    rows = await store.list_contracts(session)
    active = next((r.version for r in rows if r.status == "active"), None)
    return ContractList(active=active, contracts=[_version(r) for r in rows])


async def ensure_active(session: AsyncSession, document: str, *, clock: Clock) -> str:
    """On first start the shipped contract becomes the active one; later starts keep theirs."""
    await store.lock_contracts(session)
    version = await store.active_version(session)
    if version is not None:
        return version
    contract = load_contract(document)
    now = clock.now()
    if await store.contract(session, contract.version) is None:
        await store.add_contract(
            session,
            version=contract.version,
            name=contract.name,
            document=document,
            at=now,
            by="contract_file",
        )
    await store.activate_contract(session, contract.version, at=now, by="contract_file")
    return contract.version
