"""Routing: account owner first, then a weighted round robin that is fair at every step."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import pytest

from services.handoff.routing import (
    Assignment,
    RepView,
    account_domain,
    choose_rep,
    fair_start_count,
    rotation_changes,
)


def a_rep(
    rep_id: str,
    *,
    team: str = "emea",
    weight: int = 1,
    capacity: int = 1_000_000,
    open_leads: int = 0,
    available: bool = True,
) -> RepView:
    return RepView(
        rep_id=rep_id,
        team=team,
        weight=weight,
        capacity=capacity,
        open_leads=open_leads,
        available=available,
    )


def route_many(reps: list[RepView], leads: int) -> list[str]:
    """Feed `leads` leads through choose_rep, keeping the counts the way the caller would."""
    counts: Counter[str] = Counter()
    picks = []
    for _ in range(leads):
        chosen = choose_rep(team="emea", reps=reps, assigned_counts=counts)
        assert chosen is not None
        counts[chosen.rep_id] += 1
        picks.append(chosen.rep_id)
    return picks


@pytest.mark.parametrize(
    "weights",
    [(1, 2, 3, 4), (5, 1, 1), (1, 1), (3, 7), (1, 1, 1, 1, 1, 1, 1, 10), (2, 3, 5, 7, 11), (1,)],
)
def test_every_rep_stays_within_one_lead_of_its_share_at_every_prefix(
    weights: tuple[int, ...],
) -> None:
    reps = [a_rep(f"r{i}", weight=w) for i, w in enumerate(weights)]
    total = sum(weights)
    counts: Counter[str] = Counter()
    for n, rep_id in enumerate(route_many(reps, 1_000), start=1):
        counts[rep_id] += 1
        for rep in reps:
            share = Fraction(n * rep.weight, total)
            assert abs(counts[rep.rep_id] - share) < 1, (n, rep.rep_id, counts, share)


def test_round_robin_is_stateless_given_the_counts() -> None:
    reps = [a_rep("r1", weight=2), a_rep("r2", weight=1)]
    counts = {"r1": 4, "r2": 1}
    first = choose_rep(team="emea", reps=reps, assigned_counts=counts)
    again = choose_rep(team="emea", reps=list(reversed(reps)), assigned_counts=counts)
    assert first == again
    assert first is not None
    assert first.rep_id == "r2"


def test_equal_standing_goes_to_the_smallest_rep_id() -> None:
    reps = [a_rep("r2"), a_rep("r1"), a_rep("r3")]
    assert route_many(reps, 6) == ["r1", "r2", "r3", "r1", "r2", "r3"]


def test_round_robin_detail_explains_the_pick_in_words() -> None:
    reps = [a_rep("r1", weight=3), a_rep("r2", weight=2)]
    chosen = choose_rep(team="emea", reps=reps, assigned_counts={"r1": 7, "r2": 3})
    assert chosen == Assignment(
        rep_id="r2",
        team="emea",
        reason="round_robin",
        detail="weighted round robin in team emea: rep r2 had 3 of 10 assignments at weight 2/5"
        " among 2 eligible reps",
    )


def test_capacity_is_never_exceeded_as_open_leads_grow() -> None:
    capacities = {"r1": 3, "r2": 5, "r3": 1}
    open_leads = dict.fromkeys(capacities, 0)
    counts: Counter[str] = Counter()
    for _ in range(sum(capacities.values())):
        reps = [
            a_rep(r, weight=2 if r == "r3" else 1, capacity=c, open_leads=open_leads[r])
            for r, c in capacities.items()
        ]
        chosen = choose_rep(team="emea", reps=reps, assigned_counts=counts)
        assert chosen is not None
        open_leads[chosen.rep_id] += 1
        counts[chosen.rep_id] += 1
        assert open_leads[chosen.rep_id] <= capacities[chosen.rep_id]
    full = [a_rep(r, capacity=c, open_leads=open_leads[r]) for r, c in capacities.items()]
    assert open_leads == capacities
    assert choose_rep(team="emea", reps=full, assigned_counts=counts) is None


def test_unavailable_reps_are_skipped_even_when_far_behind() -> None:
    reps = [a_rep("r1", available=False), a_rep("r2")]
    picks = route_many(reps, 5)
    assert picks == ["r2"] * 5


def test_weight_zero_keeps_a_rep_out_of_the_rotation() -> None:
    assert set(route_many([a_rep("r1", weight=0), a_rep("r2")], 5)) == {"r2"}


def test_reps_of_other_teams_are_not_in_the_rotation() -> None:
    reps = [a_rep("r1", team="amer"), a_rep("r2", team="emea")]
    assert set(route_many(reps, 4)) == {"r2"}


def test_nobody_eligible_means_no_assignment_so_the_lead_is_queued() -> None:
    reps = [a_rep("r1", available=False), a_rep("r2", open_leads=3, capacity=3)]
    assert choose_rep(team="emea", reps=reps, assigned_counts={}) is None
    assert choose_rep(team="apac", reps=[], assigned_counts={}) is None


def test_account_owner_wins_over_the_rotation_even_from_another_team() -> None:
    reps = [a_rep("r1"), a_rep("owner", team="amer", capacity=10, open_leads=4)]
    chosen = choose_rep(team="emea", reps=reps, assigned_counts={}, account_owner="owner")
    assert chosen == Assignment(
        rep_id="owner",
        team="amer",
        reason="account_owner",
        detail="account owner owner owns this account and has room (4 of 10 open leads)",
    )


@pytest.mark.parametrize(
    ("owner", "exclude", "why"),
    [
        (a_rep("owner", available=False), (), "is unavailable"),
        (a_rep("owner", capacity=2, open_leads=2), (), "is at capacity (2 of 2)"),
        (a_rep("owner"), ("owner",), "was excluded"),
        (a_rep("someone-else"), (), "is not a known rep"),
    ],
)
def test_account_owner_who_cannot_take_the_lead_falls_back_to_round_robin(
    owner: RepView, exclude: tuple[str, ...], why: str
) -> None:
    reps = [owner, a_rep("r1")]
    chosen = choose_rep(
        team="emea", reps=reps, assigned_counts={"owner": 0}, account_owner="owner", exclude=exclude
    )
    assert chosen is not None
    assert chosen.reason == "round_robin"
    assert chosen.rep_id == "r1"
    assert chosen.detail.endswith(f"(account owner owner {why})")


def test_reassignment_after_a_breach_excludes_the_rep_who_missed_it() -> None:
    reps = [a_rep("r1"), a_rep("r2"), a_rep("r3")]
    chosen = choose_rep(team="emea", reps=reps, assigned_counts={}, exclude={"r1"})
    assert chosen is not None
    assert chosen.rep_id == "r2"
    assert choose_rep(team="emea", reps=reps[:1], assigned_counts={}, exclude={"r1"}) is None


def rotate(reps: list[RepView], counts: dict[str, int], leads: int) -> list[str]:
    picks = []
    for _ in range(leads):
        chosen = choose_rep(team="emea", reps=reps, assigned_counts=counts)
        assert chosen is not None
        counts[chosen.rep_id] += 1
        picks.append(chosen.rep_id)
    return picks


def test_rep_returning_with_a_stale_count_is_owed_every_lead_until_level() -> None:
    counts = {"r1": 50, "r2": 50, "r3": 0}  # r3 was away while r1 and r2 took 100 leads
    reps = [a_rep("r1"), a_rep("r2"), a_rep("r3")]
    assert rotate(reps, counts, 30) == ["r3"] * 30


def test_rep_returning_with_a_fair_start_count_rejoins_the_rotation_level() -> None:
    reps = [a_rep("r1"), a_rep("r2"), a_rep("r3", weight=2)]
    counts = {"r1": 50, "r2": 50}
    counts["r3"] = fair_start_count(reps[2], reps, counts)
    assert counts["r3"] == 100
    picks = rotate(reps, counts, 8)
    assert Counter(picks) == {"r1": 2, "r2": 2, "r3": 4}


def test_fair_start_count_of_a_team_of_one_is_zero() -> None:
    assert fair_start_count(a_rep("r1"), [a_rep("r1")], {"r1": 7}) == 0


def test_negative_weight_or_capacity_is_refused() -> None:
    with pytest.raises(ValueError, match="weight"):
        a_rep("r1", weight=-1)
    with pytest.raises(ValueError, match="capacity"):
        a_rep("r1", capacity=-1)


# --- joining and leaving the rotation ----------------------------------------------------


def test_a_new_rep_joins_level_with_the_team() -> None:
    reps = [a_rep("r1"), a_rep("r2"), a_rep("r3", weight=2)]
    changes = rotation_changes("emea", reps, {"r1": 10, "r2": 10}, {"r1", "r2"})
    assert changes.joined == {"r3": 20}
    assert changes.left == frozenset()


def test_a_rep_on_leave_leaves_the_rotation_and_is_reseeded_on_return() -> None:
    counts = {"r1": 10, "r2": 10, "r3": 10}
    away = [a_rep("r1"), a_rep("r2"), a_rep("r3", available=False)]
    assert rotation_changes("emea", away, counts, {"r1", "r2", "r3"}).left == {"r3"}
    counts.update(r1=40, r2=40)  # 60 leads while r3 was away
    back = [a_rep("r1"), a_rep("r2"), a_rep("r3")]
    changes = rotation_changes("emea", back, counts, {"r1", "r2"})
    assert changes.joined == {"r3": 40}


def test_reps_joining_together_are_seeded_one_after_the_other() -> None:
    reps = [a_rep("r1"), a_rep("r2"), a_rep("r3")]
    changes = rotation_changes("emea", reps, {"r1": 9}, {"r1"})
    assert changes.joined == {"r2": 9, "r3": 9}


def test_a_brand_new_team_starts_everyone_at_zero() -> None:
    reps = [a_rep("r1"), a_rep("r2", weight=3)]
    assert rotation_changes("emea", reps, {}, set()).joined == {"r1": 0, "r2": 0}


def test_weight_zero_and_other_teams_are_not_in_the_rotation() -> None:
    reps = [a_rep("boss", weight=0), a_rep("owner", team="amer"), a_rep("r1")]
    changes = rotation_changes("emea", reps, {"boss": 3}, {"boss", "owner"})
    assert changes.joined == {"r1": 0}
    assert changes.left == {"boss", "owner"}


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("Jane@Acme.io", "acme.io"),
        ("cfo@globex.co.uk", "globex.co.uk"),
        ("someone@gmail.com", None),
        ("x@HOTMAIL.com", None),
        ("not-an-email", None),
    ],
)
def test_account_domain_is_the_company_domain_never_a_mailbox_provider(
    email: str, domain: str | None
) -> None:
    assert account_domain(email) == domain
