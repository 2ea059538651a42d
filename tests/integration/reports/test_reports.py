"""The reports against a month whose answers were worked out by hand from what was sent
(conftest.py lists every lead and what sales did with it). Each figure below says where it
comes from, so a change in a definition shows up as a changed sentence, not a mystery."""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from tests.integration.reports.conftest import Month

NOVEMBER = {"month": "2026-11"}


def steps(report: dict[str, Any]) -> dict[str, int]:
    return {s["step"]: s["count"] for s in report["steps"]}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # 17 November leads (16 + the apac one); 12 qualified, all reached a rep; accepted
        # or further: 9; contacted: 8; opportunity (or won outright): 6; won: 3.
        (NOVEMBER, [17, 12, 12, 9, 8, 6, 3]),
        ({"month": "2026-10"}, [2, 1, 1, 1, 1, 1, 1]),
        ({**NOVEMBER, "source": "sales"}, [3, 2, 2, 2, 2, 2, 1]),
        ({**NOVEMBER, "campaign": "c-webinar"}, [3, 3, 3, 2, 2, 1, 0]),
        ({**NOVEMBER, "team": "emea"}, [5, 5, 5, 2, 2, 1, 1]),
        ({"from": "2026-11-03", "to": "2026-11-05"}, [6, 6, 6, 5, 4, 2, 0]),
    ],
)
async def test_the_funnel_counts_each_lead_at_the_furthest_step_it_reached(
    month: Month, params: dict[str, str], expected: list[int]
) -> None:
    report = await month.get("/v1/reports/funnel", **params)
    names = ["received", "qualified", "assigned", "accepted", "contacted", "opportunity", "won"]
    assert steps(report) == dict(zip(names, expected, strict=True))


async def test_funnel_conversion_is_each_step_over_the_one_before(month: Month) -> None:
    report = await month.get("/v1/reports/funnel", **NOVEMBER)
    conversion = {s["step"]: s["conversion"] for s in report["steps"]}
    assert conversion == {
        "received": None,
        "qualified": round(12 / 17, 4),
        "assigned": 1.0,
        "accepted": 0.75,
        "contacted": round(8 / 9, 4),
        "opportunity": 0.75,
        "won": 0.5,
    }
    assert report["steps"][-1]["of_received"] == round(3 / 17, 4)
    assert report["period"] == {"from": "2026-11-01", "to": "2026-11-30", "month": "2026-11"}


async def test_time_to_first_contact_is_measured_per_lead_from_its_first_assignment(
    month: Month,
) -> None:
    report = await month.get("/v1/reports/sla", **NOVEMBER)
    ttfc = report["time_to_first_contact"]
    # Seconds from each lead's first assignment to its first attempt: 5m, 20m, 2h, 10m,
    # 45m, 1m, 15m, and the apac lead: breached after 2h, then contacted 10m later.
    waited = [300, 1200, 7200, 600, 2700, 60, 900, 7800]
    quantiles = statistics.quantiles(waited, n=100, method="inclusive")
    assert ttfc["leads_contacted"] == 8
    assert ttfc["leads_not_contacted"] == 4  # two rejected early, one never, one late reject
    assert ttfc["p50_seconds"] == pytest.approx(quantiles[49])
    assert ttfc["p90_seconds"] == pytest.approx(quantiles[89])
    assert ttfc["mean_seconds"] == pytest.approx(statistics.mean(waited))
    assert [(b["label"], b["count"]) for b in ttfc["histogram"]] == [
        ("1-2m", 1),  # 60s
        ("2-5m", 0),  # empty buckets inside the range stay; those at either end do not
        ("5-15m", 2),  # 300s, 600s
        ("15-30m", 2),  # 900s, 1200s
        ("30m-1h", 1),  # 2700s
        ("1-4h", 2),  # 7200s, 7800s
    ]


async def test_first_contact_and_attempts_clocks_are_settled_per_assignment(
    month: Month,
) -> None:
    report = await month.get("/v1/reports/sla", **NOVEMBER)
    # 13 assignments. Met: 7. Missed: the 2h attempt, the accepted lead never called, the
    # lead rejected ten days later, and the apac lead's first rep. Stopped: the two rejected
    # within the hour.
    assert report["first_contact"] == {
        "clocks": 13,
        "met": 7,
        "missed": 4,
        "open": 0,
        "stopped": 2,
        "within_sla_share": round(7 / 11, 4),
    }
    # Two attempts within two days: the single-attempt lead, the never-called one and the
    # late reject miss it; the early rejects and the apac lead's first rep stopped first.
    assert report["attempts"] == {
        "leads": 12,
        "attempts": 16,
        "per_lead": round(16 / 12, 2),
        "per_contacted_lead": 2.0,
        "clock": {
            "clocks": 13,
            "met": 7,
            "missed": 3,
            "open": 0,
            "stopped": 3,
            "within_sla_share": 0.7,
        },
    }
    assert report["breaches"] == {"first_contact": 4, "attempts": 3, "total": 7}


async def test_sla_breaches_are_told_by_team_and_by_rep(month: Month) -> None:
    report = await month.get("/v1/reports/sla", **NOVEMBER)
    teams = {t["team"]: t for t in report["by_team"]}
    assert set(teams) == {"na", "emea", "apac"}
    na, emea, apac = teams["na"], teams["emea"], teams["apac"]
    assert (na["first_contact"]["met"], na["first_contact"]["missed"]) == (5, 1)
    assert na["first_contact"]["within_sla_share"] == round(5 / 6, 4)
    na_speed = [300, 1200, 600, 60, 900]  # the na rep's own first attempts
    q = statistics.quantiles(na_speed, n=100, method="inclusive")
    assert (na["p50_seconds"], na["p90_seconds"]) == (pytest.approx(q[49]), pytest.approx(q[89]))
    assert na["attempts"] == 11
    assert na["breaches"] == {"first_contact": 1, "attempts": 1, "total": 2}
    assert emea["first_contact"]["within_sla_share"] == round(1 / 3, 4)
    assert emea["breaches"] == {"first_contact": 2, "attempts": 2, "total": 4}
    assert apac["first_contact"]["within_sla_share"] == 0.5
    assert apac["p50_seconds"] == 600  # the second rep's own time, not the lead's wait

    reps = {r["rep_id"]: r for r in report["by_rep"]}
    first, second = reps[month.apac_first_rep], reps[month.apac_second_rep]
    assert first["breaches"] == {"first_contact": 1, "attempts": 0, "total": 1}
    assert first["first_contact"]["missed"] == 1
    assert first["attempts"] == 0
    assert second["first_contact"]["met"] == 1
    assert second["breaches"]["total"] == 0
    assert reps["em-eva"]["name"] == "Em-Eva"
    assert reps["em-eva"]["team"] == "emea"


async def test_contribution_sets_marketing_against_sales_and_the_agreed_shares(
    month: Month,
) -> None:
    report = await month.get("/v1/reports/contribution", **NOVEMBER)
    assert report["currency"] == "USD"
    assert report["contract"]["contract_version"] == "reports-test-1"
    assert report["contract"]["decision_versions"] == {"reports-test-1": 17}
    # Opportunities: web-won, the EUR webinar, search, expo (won outright) vs two sales ones.
    assert report["opportunities"] == {
        "marketing": 4.0,
        "sales": 2.0,
        "marketing_share": round(4 / 6, 4),
        "agreed_share": 0.5,
        "gap": round(round(4 / 6, 4) - 0.5, 4),
        "met": True,
    }
    # Pipeline in USD: 10,000 + 8,000 + 20,000 against 30,000 + 12,000 (the EUR one apart).
    assert report["pipeline"] == {
        "marketing": 38_000.0,
        "sales": 42_000.0,
        "marketing_share": 0.475,
        "agreed_share": 0.5,
        "gap": -0.025,
        "met": False,
    }
    assert report["revenue"] == {
        "marketing": 30_000.0,
        "sales": 30_000.0,
        "marketing_share": 0.5,
        "agreed_share": 0.4,
        "gap": 0.1,
        "met": True,
    }
    assert report["other_currencies"] == [
        {
            "currency": "EUR",
            "pipeline_marketing": 5_000.0,
            "pipeline_sales": 0.0,
            "revenue_marketing": 0.0,
            "revenue_sales": 0.0,
        }
    ]
    assert report["close_rate"] == {
        "marketing": {"handed_over": 10, "won": 2, "rate": 0.2},
        "sales": {"handed_over": 2, "won": 1, "rate": 0.5},
    }


async def test_quota_counts_marketing_qualified_leads_and_projects_to_month_end(
    month: Month,
) -> None:
    report = await month.get("/v1/reports/quota", **NOVEMBER)
    elapsed = 19.5 / 30  # 20 November, noon (UTC)
    assert report["qualified"] == 10  # the 12 qualified, less the two sales-sourced
    assert report["quota"] == 20
    assert report["share_of_quota"] == 0.5
    assert report["elapsed_share"] == round(elapsed, 4)
    assert report["projected"] == round(10 / elapsed, 1)
    assert report["projected_share_of_quota"] == round(round(10 / elapsed, 1) / 20, 4)
    assert report["on_track"] is False
    daily = {d["date"]: d["qualified"] for d in report["daily"] if d["qualified"]}
    assert daily == {
        "2026-11-02": 1,
        "2026-11-03": 3,
        "2026-11-04": 1,
        "2026-11-05": 2,
        "2026-11-07": 2,
        "2026-11-09": 1,
    }
    assert len(report["daily"]) == 30
    assert report["daily"][-1]["cumulative"] == 10


async def test_reject_reasons_are_counted_by_campaign_and_by_source(month: Month) -> None:
    report = await month.get("/v1/reports/reject-reasons", **NOVEMBER)
    assert report["total"] == 3
    assert {r["reason"]: (r["count"], r["share"]) for r in report["reasons"]} == {
        "bad_contact_data": (1, 0.3333),
        "existing_customer": (1, 0.3333),
        "not_a_fit": (1, 0.3333),
    }
    assert {g["key"]: g["reasons"] for g in report["by_campaign"]} == {
        "c-webinar": {"not_a_fit": 1},
        "c-expo": {"bad_contact_data": 1},
        None: {"existing_customer": 1},
    }
    assert {g["key"]: g["total"] for g in report["by_source"]} == {
        "campaign": 1,
        "event": 1,
        "partner": 1,
    }


async def test_cost_per_qualified_lead_spreads_each_campaign_cost_over_its_days(
    month: Month,
) -> None:
    report = await month.get("/v1/reports/cost-per-qualified-lead", **NOVEMBER)
    rows = {c["campaign_id"]: c for c in report["campaigns"]}
    assert set(rows) == {"c-webinar", "c-search", "c-expo", "c-idle"}
    webinar = rows["c-webinar"]
    assert (webinar["leads"], webinar["qualified"], webinar["cost"]) == (3, 3, 6000.0)
    assert webinar["cost_per_qualified_lead"] == 2000.0
    search = rows["c-search"]  # 9,000 over 16 October + 30 November days
    search_cost = round(9000 * 30 / 46, 2)
    assert (search["leads"], search["qualified"], search["cost"]) == (4, 2, search_cost)
    assert search["cost_per_qualified_lead"] == pytest.approx(search_cost / 2, abs=0.006)
    assert search["cost_per_lead"] == pytest.approx(search_cost / 4, abs=0.006)
    assert rows["c-expo"]["currency"] == "EUR"
    assert rows["c-expo"]["cost_per_qualified_lead"] == 2000.0
    assert rows["c-idle"]["qualified"] == 0
    assert rows["c-idle"]["cost_per_qualified_lead"] is None
    totals = {t["currency"]: t for t in report["totals"]}
    assert totals["USD"]["qualified"] == 5
    assert totals["USD"]["cost"] == pytest.approx(6000 + search_cost + 1000)
    assert totals["EUR"] == {
        "currency": "EUR",
        "cost": 4000.0,
        "qualified": 2,
        "cost_per_qualified_lead": 2000.0,
    }

    october = await month.get("/v1/reports/cost-per-qualified-lead", month="2026-10")
    search_october = {c["campaign_id"]: c for c in october["campaigns"]}["c-search"]
    assert search_october["cost"] == round(9000 * 16 / 46, 2)


async def test_the_business_review_says_the_month_in_figures_and_in_words(
    month: Month,
) -> None:
    review = await month.get("/v1/reports/business-review", **NOVEMBER)
    # Under development now: the late-contacted lead, the open opportunity, the accepted
    # lead never called and the apac lead.
    assert (review["new_leads"], review["under_development"]) == (17, 4)
    assert (review["opportunities"], review["pipeline"]) == (6, 80_000.0)
    assert (review["won"], review["revenue"]) == (3, 60_000.0)
    assert (review["qualified"], review["quota"]) == (10, 20)
    assert review["sentences"][:2] == [
        "We added 17 new leads this month, which makes 4 leads currently under development.",
        "Sales received 6 qualified opportunities representing $80,000.",
    ]
    assert "Marketing delivered 10 qualified leads against a quota of 20 (50.0%)" in review["text"]
    assert "Sales won 3 deals worth $60,000." in review["sentences"]
    assert review["text"] == " ".join(review["sentences"])

    october = await month.get("/v1/reports/business-review", month="2026-10")
    assert october["sentences"][0] == (
        "We added 2 new leads in October 2026, which makes 4 leads currently under development."
    )
    assert october["sentences"][1] == (
        "Sales received 1 qualified opportunity representing $7,000."
    )


async def test_every_report_agrees_with_the_others_on_shared_figures(month: Month) -> None:
    funnel = steps(await month.get("/v1/reports/funnel", **NOVEMBER))
    review = await month.get("/v1/reports/business-review", **NOVEMBER)
    quota = await month.get("/v1/reports/quota", **NOVEMBER)
    contribution = await month.get("/v1/reports/contribution", **NOVEMBER)
    sla = await month.get("/v1/reports/sla", **NOVEMBER)
    assert review["new_leads"] == funnel["received"]
    assert review["opportunities"] == funnel["opportunity"]
    assert review["won"] == funnel["won"]
    assert review["qualified"] == quota["qualified"]
    pipeline = contribution["pipeline"]
    assert review["pipeline"] == pipeline["marketing"] + pipeline["sales"]
    assert review["within_sla_share"] == sla["first_contact"]["within_sla_share"]


# --- the edges: periods, keys, campaigns, the page -------------------------------------


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        ({"month": "2026-11", "from": "2026-11-01"}, "/query/month"),
        ({"from": "2026-11-10", "to": "2026-11-01"}, "/query/to"),
        ({"to": "2026-11-01"}, "/query/from"),
        ({"month": "2026-13"}, "/query/month"),
        ({"from": "2025-01-01", "to": "2026-11-01"}, "/query/to"),
        ({"team": "Not A Team"}, "/query/team"),
    ],
)
async def test_a_bad_period_or_filter_is_a_problem_naming_the_parameter(
    month: Month, params: dict[str, str], pointer: str
) -> None:
    answer = await month.client.get("/v1/reports/funnel", params=params, headers=month.sales_auth)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in answer.json()["errors"]] == [pointer]


async def test_reports_need_a_key_with_the_sales_scope(month: Month) -> None:
    assert (await month.client.get("/v1/reports/sla")).status_code == 401
    intake = await month.client.get("/v1/reports/sla", headers=month.intake_auth)
    assert intake.status_code == 403
    assert intake.headers["content-type"] == "application/problem+json"


async def test_campaign_costs_are_set_by_admins_and_read_by_sales(month: Month) -> None:
    c = month.client
    body = {"name": "Spring promo", "cost": 1234.5, "currency": "GBP", "period": "2026-03"}
    denied = await c.put("/v1/campaigns/c-spring", json=body, headers=month.sales_auth)
    assert denied.status_code == 403
    created = await c.put("/v1/campaigns/c-spring", json=body, headers=month.auth)
    assert created.status_code == 201, created.text
    changed = await c.put(
        "/v1/campaigns/c-spring",
        json={**body, "period": "2026-03-01/2026-04-15"},
        headers=month.auth,
    )
    assert changed.status_code == 200
    assert changed.json()["period"] == "2026-03-01/2026-04-15"
    one = (await c.get("/v1/campaigns/c-spring", headers=month.sales_auth)).json()
    assert (one["cost"], one["currency"], one["period_end"]) == (1234.5, "GBP", "2026-04-15")
    listed = await c.get("/v1/campaigns", headers=month.sales_auth)
    assert "c-spring" in [x["campaign_id"] for x in listed.json()]
    bad = await c.put(
        "/v1/campaigns/c-spring", json={**body, "period": "spring"}, headers=month.auth
    )
    assert bad.status_code == 422
    assert [e["pointer"] for e in bad.json()["errors"]] == ["/period"]
    backwards = {**body, "period": "2026-04-15/2026-03-01"}
    assert (await c.put("/v1/campaigns/c-x", json=backwards, headers=month.auth)).status_code == 422
    missing = await c.get("/v1/campaigns/c-nothing", headers=month.sales_auth)
    assert missing.status_code == 404
    assert missing.json()["campaign_id"] == "c-nothing"


async def test_the_dashboard_page_is_public_and_loads_only_its_own_assets(month: Month) -> None:
    page = await month.client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace("http://www.w3.org", "")
    for asset in ("/static/dashboard.js", "/static/dashboard.css"):
        answer = await month.client.get(asset)
        assert answer.status_code == 200, asset
        assert "http://" not in answer.text.replace("http://www.w3.org", "")
        assert "https://" not in answer.text


async def test_every_report_is_documented_in_openapi(month: Month) -> None:
    spec = (await month.client.get("/openapi.json")).json()
    for path in (
        "/v1/reports/funnel",
        "/v1/reports/sla",
        "/v1/reports/contribution",
        "/v1/reports/quota",
        "/v1/reports/reject-reasons",
        "/v1/reports/cost-per-qualified-lead",
        "/v1/reports/business-review",
    ):
        op = spec["paths"][path]["get"]
        assert op["summary"], path
        assert op["description"], path
        assert "422" in op["responses"], path
    assert "/" not in spec["paths"]
