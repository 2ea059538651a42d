"""Who gets a qualified lead: the account owner first, then a fair weighted round robin.

Pure: the caller loads the reps and the team's round-robin counts, stores the pick and
increments the count in the same transaction. Nothing here remembers anything between calls.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

REASON_ACCOUNT_OWNER = "account_owner"
REASON_ROUND_ROBIN = "round_robin"


@dataclass(frozen=True)
class RepView:
    """What routing needs to know of a rep; `available` already folds in leave and hours."""

    rep_id: str
    team: str
    weight: int
    capacity: int
    open_leads: int = 0
    available: bool = True

    def __post_init__(self) -> None:
        if self.weight < 0:
            raise ValueError(f"rep {self.rep_id}: weight must be >= 0, got {self.weight}")
        if self.capacity < 0:
            raise ValueError(f"rep {self.rep_id}: capacity must be >= 0, got {self.capacity}")

    @property
    def has_room(self) -> bool:
        """Capacity caps open leads so nobody drowns while others wait."""
        return self.open_leads < self.capacity


@dataclass(frozen=True)
class Assignment:
    """The chosen rep, the reason code reports group by, and a sentence a rep can read."""

    rep_id: str
    team: str
    reason: str
    detail: str


def choose_rep(
    *,
    team: str,
    reps: Sequence[RepView],
    assigned_counts: Mapping[str, int],
    account_owner: str | None = None,
    exclude: Collection[str] = (),
) -> Assignment | None:
    """Pick a rep for one lead, or None when nobody can take it (the caller queues the lead)."""
    owner_note = ""
    if account_owner is not None:
        owner = next((r for r in reps if r.rep_id == account_owner), None)
        why_not = _owner_unfit(owner, exclude)
        if owner is not None and why_not is None:
            return Assignment(
                rep_id=owner.rep_id,
                team=owner.team,
                reason=REASON_ACCOUNT_OWNER,
                detail=(
                    f"account owner {owner.rep_id} owns this account and has room "
                    f"({owner.open_leads} of {owner.capacity} open leads)"
                ),
            )
        owner_note = f" (account owner {account_owner} {why_not})"
    return _round_robin(team, reps, assigned_counts, exclude, owner_note)


def _owner_unfit(owner: RepView | None, exclude: Collection[str]) -> str | None:
    """Why the account owner cannot take the lead, in words, or None if they can."""
    if owner is None:
        return "is not a known rep"
    if owner.rep_id in exclude:
        return "was excluded"
    if not owner.available:
        return "is unavailable"
    if not owner.has_room:
        return f"is at capacity ({owner.open_leads} of {owner.capacity})"
    return None


def _round_robin(
    team: str,
    reps: Sequence[RepView],
    assigned_counts: Mapping[str, int],
    exclude: Collection[str],
    owner_note: str,
) -> Assignment | None:
    """Weighted round robin that stays within one lead of each rep's share at every step.

    Plain "fewest (count+1)/weight" (D'Hondt) lets a heavy rep run up to several leads ahead
    of its share (weights 5,1,1 give it 5 of the first 5). So, as in Balinski and Young's
    quota method, only reps still under their upper quota for the next lead compete; among
    those the lowest (count+1)/weight wins, ties going to the smallest rep_id.
    """
    eligible = [
        r
        for r in reps
        if r.team == team
        and r.available
        and r.weight > 0
        and r.has_room
        and r.rep_id not in exclude
    ]
    if not eligible:
        return None
    counts = {r.rep_id: max(0, assigned_counts.get(r.rep_id, 0)) for r in eligible}
    total_weight = sum(r.weight for r in eligible)
    next_n = sum(counts.values()) + 1
    # ceil(next_n * weight / total_weight): the most leads a rep may hold after this one.
    under_quota = [
        r for r in eligible if counts[r.rep_id] + 1 <= -(-next_n * r.weight // total_weight)
    ]
    # Never empty: the upper quotas sum to at least next_n, and the counts sum to next_n - 1.
    chosen = min(under_quota, key=lambda r: (Fraction(counts[r.rep_id] + 1, r.weight), r.rep_id))
    detail = (
        f"weighted round robin in team {team}: rep {chosen.rep_id} had "
        f"{counts[chosen.rep_id]} of {next_n - 1} assignments at weight "
        f"{chosen.weight}/{total_weight} among {len(eligible)} eligible reps{owner_note}"
    )
    return Assignment(rep_id=chosen.rep_id, team=team, reason=REASON_ROUND_ROBIN, detail=detail)


def fair_start_count(
    rep: RepView, reps: Sequence[RepView], assigned_counts: Mapping[str, int]
) -> int:
    """The count to store for a rep joining or returning to the rotation.

    Counts never forget: a rep back from two weeks' leave with a count of 0 would be owed
    every lead until level. Seeding its count at its share of its teammates' leads puts it
    level at once and leaves everyone else's share unchanged.
    """
    others = [
        r
        for r in reps
        if r.team == rep.team and r.rep_id != rep.rep_id and r.available and r.weight > 0
    ]
    total_weight = sum(r.weight for r in others)
    if total_weight == 0:
        return 0
    handed_out = sum(max(0, assigned_counts.get(r.rep_id, 0)) for r in others)
    return handed_out * rep.weight // total_weight
