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

# A shared mailbox provider is not a company: two gmail.com leads have no account in common.
# Scoring keeps the long list for its `free_mail` rule; services meet only on Kafka, so
# handoff keeps the providers that matter for account matching here.
# fmt: off
PERSONAL_EMAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de",
    "ymail.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de", "outlook.com",
    "live.com", "msn.com", "aol.com", "icloud.com", "me.com", "mac.com", "protonmail.com",
    "proton.me", "pm.me", "gmx.com", "gmx.net", "gmx.de", "web.de", "t-online.de", "mail.com",
    "yandex.com", "yandex.ru", "mail.ru", "orange.fr", "free.fr", "laposte.net", "libero.it",
    "qq.com", "163.com", "126.com", "naver.com", "comcast.net", "verizon.net", "att.net",
    "sbcglobal.net", "btinternet.com", "zoho.com", "fastmail.com",
})
# fmt: on


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


def account_domain(email: str) -> str | None:
    """The company domain an email stands for, or None for a personal mailbox provider."""
    if "@" not in email:
        return None
    domain = email.rsplit("@", 1)[-1].strip().lower()
    return domain if domain and domain not in PERSONAL_EMAIL_DOMAINS else None


def in_rotation(rep: RepView, team: str) -> bool:
    """Whether a rep takes part in the team's rotation now (capacity aside: a full rep waits)."""
    return rep.team == team and rep.available and rep.weight > 0


@dataclass(frozen=True)
class RotationChanges:
    """Counts to store for reps (re)joining the rotation, and the reps who left it."""

    joined: Mapping[str, int]
    left: frozenset[str]


def rotation_changes(
    team: str,
    reps: Sequence[RepView],
    assigned_counts: Mapping[str, int],
    were_in_rotation: Collection[str],
) -> RotationChanges:
    """Who joined or left the rotation since the team's last assignment.

    A rep who joins (new, back from leave, weight raised from 0, moved in from another team)
    starts at `fair_start_count`, so they are neither owed a backlog nor skipped; reps who
    left are remembered as out, so their return is noticed. Joiners are seeded one by one,
    each against the reps already settled.
    """
    rotating = [r for r in reps if in_rotation(r, team)]
    counts = dict(assigned_counts)
    settled = [r for r in rotating if r.rep_id in were_in_rotation]
    joined: dict[str, int] = {}
    for rep in sorted(rotating, key=lambda r: r.rep_id):
        if rep.rep_id in were_in_rotation:
            continue
        joined[rep.rep_id] = counts[rep.rep_id] = fair_start_count(rep, settled, counts)
        settled.append(rep)
    now_in = {r.rep_id for r in rotating}
    left = frozenset(r for r in were_in_rotation if r not in now_in)
    return RotationChanges(joined=joined, left=left)


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
