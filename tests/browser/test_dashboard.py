"""The dashboard after a demo month: the three services and a broker running for real, the
`leadrelay demo` playing against them, and the page in headless Chromium at 1280x800."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from services.commands.demo import DemoConfig, run_demo
from services.handoff.app import create_app as handoff_app
from services.handoff.settings import HandoffSettings
from services.intake.app import create_app as intake_app
from services.intake.settings import IntakeSettings
from services.scoring.app import create_app as scoring_app
from services.scoring.settings import ScoringSettings
from shared.auth import KeyStore
from tests.infra import service_env

CHARTS = ("funnel", "quota", "ttfc", "sla", "contribution", "cost", "reasons")
REPORTS = {
    "funnel": "funnel",
    "sla": "sla",
    "contribution": "contribution",
    "quota": "quota",
    "reject-reasons": "reasons",
    "cost-per-qualified-lead": "cost",
    "business-review": "review",
}


def pick(data: Any, path: str) -> Any:
    for part in path.split("."):
        if data is None:
            return None
        data = data[int(part)] if isinstance(data, list) else data.get(part)
    return data


def seconds_of(text: str) -> tuple[float, float]:
    """'4m 10s' -> (250, 1): the seconds shown and the unit they were rounded to."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+)([smhd])", text)
    assert parts, text
    return sum(int(n) * units[u] for n, u in parts), units[parts[-1][1]]


def represents(text: str, value: Any, kind: str) -> bool:
    """Whether the page's text shows the JSON value (allowing for the format's rounding)."""
    if value is None:
        return text == "\N{EN DASH}"
    if kind == "int":
        return text == f"{round(value):,}"
    if kind == "share":
        return text.endswith("%") and abs(float(text[:-1]) - value * 100) <= 0.051
    if kind == "money":
        return text.startswith("$") and abs(int(text[1:].replace(",", "")) - value) <= 0.5001
    if kind == "number":
        return abs(float(text.replace(",", "")) - value) <= 0.0051
    if kind == "duration":
        shown, unit = seconds_of(text)
        return abs(shown - value) <= unit
    return text == str(value)


def stack_apps(tmp: Path, broker: str, keys: Path) -> dict[str, Any]:
    def env(service: str, **extra: Any) -> dict[str, Any]:
        return service_env(f"sqlite+aiosqlite:///{tmp}/{service}.db", broker, keys, **extra)

    return {
        "intake": intake_app(IntakeSettings(**env("intake"))),
        "scoring": scoring_app(ScoringSettings(**env("scoring"))),
        "handoff": handoff_app(HandoffSettings(**env("handoff", scan_seconds=0.5))),
    }


async def test_the_dashboard_shows_the_reports_figures_as_charts_after_a_demo_month(
    browser: Any, broker: str, serve: Any, tmp_path: Path
) -> None:
    keys = tmp_path / "keys.json"
    admin = KeyStore(keys).create("demo", ["admin"])
    sales = KeyStore(keys).create("dashboard", ["sales"])
    urls = {name: serve(app) for name, app in stack_apps(tmp_path, broker, keys).items()}
    tally = await run_demo(DemoConfig(urls=urls, key=admin, leads=90, seed=11), say=print)
    assert tally.sent == 90
    assert tally.contacted > 0
    assert tally.late > 0
    assert tally.opportunities > 0
    base = urls["handoff"]

    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    responses: list[Any] = []
    page.on("response", lambda r: responses.append(r) if "/v1/reports/" in r.url else None)

    await page.goto(base + "/")
    await page.wait_for_function("() => document.body.dataset.state === 'need-key'")
    assert await page.is_visible("#key-panel")
    await page.fill("#key-input", sales)
    await page.click("#key-form button[type=submit]")
    await page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=20_000)
    assert not await page.is_visible("#key-panel")

    served = {}
    for r in responses:
        assert r.status == 200, r.url
        served[REPORTS[urlsplit(r.url).path.rsplit("/", 1)[-1]]] = await r.json()
    assert set(served) == set(REPORTS.values())

    for name in CHARTS:
        chart = page.locator(f'svg[data-chart="{name}"]')
        box = await chart.bounding_box()
        assert box is not None, name
        assert box["width"] > 100, name
        assert box["height"] > 50, name
        assert await chart.locator("rect, polyline, path").count() > 0, name

    figures = await page.eval_on_selector_all(
        "[data-figure]",
        "els => els.map(e => [e.dataset.figure, e.dataset.format, e.dataset.value, e.textContent])",
    )
    assert len(figures) >= 20
    for path, kind, raw, text in figures:
        report, _, rest = path.partition(".")
        value = pick(served[report], rest)
        assert json.loads(raw) == value, path
        assert represents(text, value, kind), (path, text, value)

    funnel_bars = await page.locator('svg[data-chart="funnel"] text.value').all_text_contents()
    assert funnel_bars == [f"{s['count']:,}" for s in served["funnel"]["steps"]]
    review = await page.text_content("#review-text")
    assert review == served["review"]["text"]
    assert review.startswith(f"We added {served['review']['new_leads']} new leads this month")

    page_origin = urlsplit(base).netloc
    assert all(u.startswith("data:") or urlsplit(u).netloc == page_origin for u in requested)

    shot = tmp_path / "dashboard-1280x800.png"
    await page.screenshot(path=str(shot))
    await page.screenshot(path=str(tmp_path / "dashboard-full.png"), full_page=True)
    if os.environ.get("LEADRELAY_SCREENSHOT_DIR"):
        target = Path(os.environ["LEADRELAY_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        for png in tmp_path.glob("dashboard-*.png"):
            shutil.copy(png, target / png.name)

    responses.clear()
    await page.select_option("#f-source", "sales")
    await page.click("#filters button[type=submit]")
    # Functions, not expressions: a string expression is eval'd, which the page's CSP forbids.
    await page.wait_for_function(
        "() => document.body.dataset.state === 'ready' && "
        "window.leadrelayReports.review.filters.source === 'sales'"
    )
    sales_funnel = next(r for r in responses if "/funnel" in r.url)
    assert "source=sales" in sales_funnel.url
    shown = await page.get_attribute('[data-figure="review.new_leads"]', "data-value")
    sales_review = next(r for r in responses if "/business-review" in r.url)
    assert json.loads(shown or "null") == (await sales_review.json())["new_leads"]
    assert problems == []
