"""What routing knows while it plans: the teams a transaction holds locked (their reps, open
leads and rotation counts) and who owns each company's account, kept current as the plan
hands out leads. Loaded once per transaction by `assignment.load_plan`; no I/O here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.handoff.routing import (
    REASON_ROUND_ROBIN,
    Assignment,
    RepView,
    choose_rep,
    rotation_changes,
)
from services.handoff.service import available


@dataclass
class _Slot:
    """A rep's place in a team's rotation as routing last left it."""

    count: int
    inside: bool
    stored: bool  # a rotation_counts row exists
    changed: bool = False


@dataclass
class Roster:
    """The teams this transaction holds locked: their reps, open leads and rotation counts.

    `reps` also holds account owners from other teams (their teams are locked too);
    `looked_up` is every rep id asked for, so an owner who is not a rep (any more) reads as
    no owner, while an owner nobody loaded is a bug, never a silent round robin."""

    now: datetime
    reps: dict[str, dict[str, Any]]
    members: dict[str, list[str]]  # team -> rep ids in rep_id order
    open_leads: dict[str, int]
    rotation: dict[str, dict[str, _Slot]]  # team -> rep_id -> slot
    looked_up: frozenset[str] = frozenset()
    _settled: set[str] = field(default_factory=set)

    @classmethod
    def of(
        cls,
        now: datetime,
        *,
        teams: Iterable[str],
        reps: Iterable[Mapping[str, Any]],
        looked_up: Collection[str],
        rotation: Mapping[str, Mapping[str, tuple[int, bool]]],
    ) -> Roster:
        """`reps`: rows with their `open_leads`, of the teams and of the account owners."""
        members: dict[str, list[str]] = {team: [] for team in teams}
        by_id: dict[str, dict[str, Any]] = {}
        open_leads: dict[str, int] = {}
        for rep in sorted(reps, key=lambda r: r["rep_id"]):
            row = dict(rep)
            open_leads[row["rep_id"]] = int(row.pop("open_leads"))
            by_id[row["rep_id"]] = row
            if row["team"] in members:
                members[row["team"]].append(row["rep_id"])
        slots = {
            team: {
                rep_id: _Slot(count, inside, stored=True)
                for rep_id, (count, inside) in rotation.get(team, {}).items()
            }
            for team in members
        }
        return cls(now, by_id, members, open_leads, slots, frozenset(looked_up))

    def choose(
        self, team: str, owner_id: str | None, exclude: Collection[str]
    ) -> Assignment | None:
        """`choose_rep` over the team as it stands now, the owner's rotation settled first."""
        if team not in self.members:
            raise RuntimeError(f"team {team} was not loaded and locked before routing")
        reps = [self.reps[rep_id] for rep_id in self.members[team]]
        owner = None
        if owner_id is not None:
            if owner_id not in self.reps and owner_id not in self.looked_up:
                raise RuntimeError(f"account owner {owner_id} was not loaded before routing")
            owner = self.reps.get(owner_id)
        if owner is not None and owner_id not in self.members[team]:
            reps.append(owner)
        views = [self._view(rep) for rep in reps]
        self._settle(team, views)
        return choose_rep(
            team=team,
            reps=views,
            assigned_counts={rep_id: s.count for rep_id, s in self.rotation[team].items()},
            account_owner=owner_id if owner is not None else None,
            exclude=exclude,
        )

    def take(self, choice: Assignment) -> None:
        """The rep holds one more open lead; a round-robin pick counts in the rotation."""
        self.open_leads[choice.rep_id] = self.open_leads.get(choice.rep_id, 0) + 1
        if choice.reason == REASON_ROUND_ROBIN:
            slots = self.rotation.setdefault(choice.team, {})
            slot = slots.get(choice.rep_id)
            if slot is None:
                slots[choice.rep_id] = _Slot(1, inside=True, stored=False, changed=True)
            else:
                slot.count += 1
                slot.changed = True

    def rotation_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(new, changed) rotation_counts rows: team, rep_id, assigned, in_rotation."""
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for team, slots in sorted(self.rotation.items()):
            for rep_id, slot in sorted(slots.items()):
                if slot.changed:
                    row = {
                        "team": team,
                        "rep_id": rep_id,
                        "assigned": slot.count,
                        "in_rotation": slot.inside,
                    }
                    (changed if slot.stored else new).append(row)
        return new, changed

    def _view(self, rep: dict[str, Any]) -> RepView:
        return RepView(
            rep_id=rep["rep_id"],
            team=rep["team"],
            weight=rep["weight"],
            capacity=rep["capacity"],
            open_leads=self.open_leads.get(rep["rep_id"], 0),
            available=available(rep, self.now),
        )

    def _settle(self, team: str, views: list[RepView]) -> None:
        """Seed the counts of reps who (re)joined the rotation; remember who left it.

        Once per team and plan: who is in the rotation depends on availability, weight and
        team, none of which routing changes."""
        if team in self._settled:
            return
        self._settled.add(team)
        slots = self.rotation[team]
        changes = rotation_changes(
            team,
            views,
            {rep_id: s.count for rep_id, s in slots.items()},
            {rep_id for rep_id, s in slots.items() if s.inside},
        )
        for rep_id, count in changes.joined.items():
            slot = slots.setdefault(rep_id, _Slot(0, inside=True, stored=False))
            slot.count, slot.inside, slot.changed = count, True, True
        for rep_id in changes.left:
            slots[rep_id].inside = False
            slots[rep_id].changed = True


# --- who holds each account -----------------------------------------------------------


class Accounts:
    """The account owner of a company domain: the rep most recently given one of its leads
    who still holds it. `outside` is the latest holder among leads not in play (one query);
    the leads in play are followed as the plan changes them."""

    def __init__(self, outside: Mapping[str, tuple[str, datetime]]) -> None:
        self._outside = dict(outside)
        self._holders: dict[str, dict[str, tuple[datetime, int, str]]] = {}
        self._domain_of: dict[str, str] = {}
        self._seq = 0

    def track(self, row: Mapping[str, Any]) -> None:
        """Note the lead's current domain and holder (rep_id is set only with assigned_at)."""
        lead_id, domain, rep_id = row["lead_id"], row["email_domain"], row["rep_id"]
        old = self._domain_of.pop(lead_id, None)
        held = self._holders[old].pop(lead_id, None) if old is not None else None
        if not domain or not rep_id:
            return
        if held is None or old != domain or (held[0], held[2]) != (row["assigned_at"], rep_id):
            # Later in the plan breaks a tie in assigned_at: a clock that did not move.
            self._seq += 1
            held = (row["assigned_at"], self._seq, rep_id)
        self._holders.setdefault(domain, {})[lead_id] = held
        self._domain_of[lead_id] = domain

    def owner(self, domain: str, lead_id: str) -> str | None:
        """The owner of `domain` for lead `lead_id`, its own assignment aside."""
        best: tuple[datetime, int, str] | None = None
        if domain in self._outside:
            rep_id, at = self._outside[domain]
            best = (at, 0, rep_id)
        for other, held in self._holders.get(domain, {}).items():
            if other != lead_id and (best is None or held[:2] > best[:2]):
                best = held
        return best[2] if best is not None else None
