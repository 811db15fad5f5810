"""Appropriateness reports (issue 13): the classification, the intervals, the planted
tendencies found again in a log written through the real AuditLog API (SQLite and
PostgreSQL), the streaming bound, the command line and the pictures."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from report_generator import AGENCIES, Pool, expected_rates, generate
from test_audit_common import pg_url  # noqa: F401 - the fixture
from sharelaw.cli import main
from sharelaw.report import Klass, Options, Thresholds, build, classify, wilson
from sharelaw.report.aggregate import Aggregator
from sharelaw.report.stats import place, rate

pytest.importorskip("matplotlib")

PER_AGENCY_SQLITE = 200
PER_AGENCY_PG = 100


# ------------------------------------------------------------------ the classification


@pytest.mark.parametrize("outcome, acted, kwargs, expected", [
    ("may_share", "shared", {}, Klass.APPROPRIATE_SHARING),
    ("must_share", "shared", {}, Klass.APPROPRIATE_SHARING),
    ("must_not_share", "shared", {}, Klass.INAPPROPRIATE_SHARING),
    ("refer", "shared", {}, Klass.INAPPROPRIATE_SHARING),
    ("refer", "shared", {"referral_resolved_as": "may_share"}, Klass.APPROPRIATE_SHARING),
    ("refer", "shared", {"referral_resolved_as": "must_not_share"}, Klass.INAPPROPRIATE_SHARING),
    ("must_not_share", "withheld", {}, Klass.APPROPRIATE_WITHHOLDING),
    ("may_share", "withheld", {"reasons": "Not needed for the purpose."}, Klass.APPROPRIATE_WITHHOLDING),
    ("may_share", "withheld", {"reasons": "  "}, Klass.UNEXPLAINED_WITHHOLDING),
    ("must_share", "withheld", {}, Klass.INAPPROPRIATE_WITHHOLDING),
    ("refer", "withheld", {"referral_resolved_as": "must_share"}, Klass.INAPPROPRIATE_WITHHOLDING),
    ("refer", "withheld", {}, Klass.WITHHELD_PENDING_REFERRAL),
    ("must_share", None, {}, Klass.NOT_PASSED_ON),
    ("must_share", None, {"period_over": False}, Klass.AWAITING_ACTION),
    ("may_share", None, {}, Klass.NO_ACTION),
    ("must_not_share", None, {}, Klass.NO_ACTION),
])
def test_each_interaction_has_the_class_the_definitions_give(outcome, acted, kwargs, expected):
    assert classify(outcome, acted, **kwargs) is expected


def test_an_unknown_outcome_is_refused_not_guessed():
    with pytest.raises(ValueError, match="unknown decision outcome"):
        classify("perhaps", "shared")
    with pytest.raises(ValueError, match="unknown action outcome"):
        classify("may_share", "leaked")


# ------------------------------------------------------------------ the intervals


def test_wilson_matches_the_published_values():
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 -> 0.2553 to 0.3662;
    # 0/10 -> 0 to 0.2775; 15/148 -> 0.0624 to 0.1605.
    for k, n, low, high in ((81, 263, 0.2553, 0.3662), (0, 10, 0.0, 0.2775), (15, 148, 0.0624, 0.1605)):
        lo, hi = wilson(k, n)
        assert lo == pytest.approx(low, abs=5e-4) and hi == pytest.approx(high, abs=5e-4)


@given(st.integers(0, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_interval_holds_the_estimate_inside_zero_one(kn, confidence):
    k, n = kn
    low, high = wilson(k, n, confidence)
    assert 0.0 <= low <= high <= 1.0
    if n:
        assert low <= k / n <= high
        wider = wilson(k, n, min(0.999, confidence + 0.005))
        assert wider[0] <= low + 1e-12 and wider[1] >= high - 1e-12


def test_small_groups_are_not_placed_and_say_why():
    t = Thresholds(min_n=30)
    p = place(rate(5, 10), rate(1, 40), t)
    assert p.quadrant is None and "sharing: 10 < 30" in p.note
    p = place(rate(2, 100), rate(30, 100), t)
    assert p.quadrant == "over-cautious" and p.certain
    p = place(rate(11, 100), rate(2, 100), t)  # 11% is over 10%, but the interval crosses it
    assert p.quadrant == "over-open" and not p.certain and "sharing threshold" in p.note


# ------------------------------------------------------------------ streaming


def _bodies(n_decisions: int, days: int, seed: int = 1):
    """Synthetic records in log order: decisions spread over ``days``, half acted on a day later."""
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    step = timedelta(days=days) / n_decisions
    request = {"interaction": "offer", "purpose": "early_help", "discloser": {"kind": "nhs_trust"},
               "recipient": {"kind": "police"}, "request_id": None}
    for i in range(n_decisions):
        t = start + i * step
        did = f"d{i}"
        yield {"kind": "decision", "decision_id": did, "recorded_at": t.isoformat(),
               "actor": {"agency": "a", "role": "r"}, "request": request,
               "decision": {"outcome": ("must_share", "may_share")[i % 2], "missing": []}}
        if i % 4 == 0:
            at = t + timedelta(hours=1)
            yield {"kind": "action", "decision_id": did, "recorded_at": at.isoformat(),
                   "action": {"outcome": "shared", "at": at.isoformat(), "reasons": "x", "consulted": ["none"]}}


def test_memory_is_bounded_by_one_period_not_by_the_log():
    """What the pass holds is the decisions of one period: the same for a log 1x and 8x as long."""
    peaks = []
    for years in (1, 8):
        agg = Aggregator(Options(period=timedelta(days=30), as_of=datetime(2040, 1, 1, tzinfo=timezone.utc)))
        agg.feed(_bodies(2000 * years, 365 * years))
        report = agg.result()
        assert report.overall.interactions == 2000 * years
        peaks.append(agg.peak_pending)
    per_period = 2000 * 31 / 365
    assert peaks[0] <= per_period + 2 and peaks[1] <= per_period + 2
    # half the must_share decisions (every other one acted on) were never passed on
    assert report.overall.withholding.value == pytest.approx(0.5)


def test_an_action_after_the_period_is_late_and_does_not_reclassify():
    t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    req = {"interaction": "offer", "purpose": "early_help", "discloser": {"kind": "nhs_trust"},
           "recipient": {"kind": "police"}}
    bodies = [
        {"kind": "decision", "decision_id": "d", "recorded_at": t.isoformat(), "actor": {"agency": "a", "role": "r"},
         "request": req, "decision": {"outcome": "must_share"}},
        {"kind": "action", "decision_id": "d", "recorded_at": (t + timedelta(days=40)).isoformat(),
         "action": {"outcome": "shared", "at": (t + timedelta(days=40)).isoformat(), "reasons": "late"}},
    ]
    report = build(bodies, Options(period=timedelta(days=30)))
    assert report.late_actions == 1
    assert report.overall.classes == {"not_passed_on": 1}


# ------------------------------------------------------------------ planted tendencies, real logs


@pytest.fixture(scope="module")
def pool():
    import sharelaw

    return Pool(sharelaw.default_engine(), size=900)


def _generate(url, per_agency, pool):
    summary = generate(url, per_agency, pool=pool)
    as_of = (summary["end"] + timedelta(days=31)).date().isoformat()
    return summary, as_of


@pytest.fixture(scope="module")
def sqlite_log(tmp_path_factory, pool):
    """The planted log, on a RAM file system where there is one: the real SQLite store, with
    its fsyncs at memory speed (what is tested is the report, not the disk)."""
    import os
    import shutil
    import tempfile

    shm = "/dev/shm"
    folder = (tempfile.mkdtemp(prefix="sharelaw-report-", dir=shm) if os.path.isdir(shm) and os.access(shm, os.W_OK)
              else str(tmp_path_factory.mktemp("report")))
    try:
        path = os.path.join(folder, "planted.db")
        summary, as_of = _generate(f"sqlite:///{path}", PER_AGENCY_SQLITE, pool)
        yield path, summary, as_of
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _report_json(capsys, *args):
    code = main(["report", *args, "--format", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def _check_planted(data, per_agency):
    groups = {g["group"]: g for g in data["groups"]}
    assert set(groups) == {a.agency for a in AGENCIES}
    for a in AGENCIES:
        g = groups[a.agency]
        assert g["quadrant"] == a.quadrant, (a.agency, g)
        share, withhold = expected_rates(a, per_agency)
        s, w = g["inappropriate_sharing"], g["inappropriate_withholding"]
        # the planted rate is inside the stated interval, and (planted exactly) is what was found
        assert s["low"] <= a.share <= s["high"] and w["low"] <= a.withhold <= w["high"], (a, s, w)
        assert s["rate"] == pytest.approx(share) and w["rate"] == pytest.approx(withhold)
        assert g["interactions"] == per_agency


def test_the_report_places_each_agency_in_its_planted_quadrant_sqlite(sqlite_log, capsys):
    path, summary, as_of = sqlite_log
    data = _report_json(capsys, path, "--as-of", as_of)
    _check_planted(data, PER_AGENCY_SQLITE)
    assert data["log"]["records"] == summary["records"]
    assert data["referrals"]["resolved"] == sum(1 for _ in AGENCIES) * (round(PER_AGENCY_SQLITE * 0.15) // 3)
    assert len(data["months"]) == 12
    assert data["time_to_decide"]["count"] == summary["records"] - summary["interactions"] - data["referrals"]["resolved"]
    assert sum(data["consulted"]["inappropriate"].values()) > 0


def test_the_report_places_each_agency_in_its_planted_quadrant_postgres(pg_url, pool, capsys):
    summary, as_of = _generate(pg_url, PER_AGENCY_PG, pool)
    data = _report_json(capsys, pg_url, "--as-of", as_of)
    _check_planted(data, PER_AGENCY_PG)


def test_filters_and_groupings(sqlite_log, capsys):
    path, summary, as_of = sqlite_log
    one = _report_json(capsys, path, "--as-of", as_of, "--agency", "northshire-health")
    assert [g["group"] for g in one["groups"]] == ["northshire-health"]
    assert one["log"]["excluded_by_filters"] > 0
    half = _report_json(capsys, path, "--as-of", as_of, "--from", "2025-07-01", "--to", "2025-09-30")
    assert set(half["months"]) == {"2025-07", "2025-08", "2025-09"}
    assert sum(g["interactions"] for g in half["groups"]) < summary["interactions"] / 2
    by_role = _report_json(capsys, path, "--as-of", as_of, "--by", "role")
    assert {g["group"] for g in by_role["groups"]} == {a.role for a in AGENCIES}
    by_purpose = _report_json(capsys, path, "--as-of", as_of, "--by", "purpose", "--min-n", "100000")
    assert all(g["quadrant"] is None and "too few" in g["note"] for g in by_purpose["groups"])
    stricter = _report_json(capsys, path, "--as-of", as_of, "--sharing-threshold", "0.5",
                            "--withholding-threshold", "0.5")
    assert {g["quadrant"] for g in stricter["groups"]} == {"ideal"}


def test_verify_first_checks_the_chain_of_the_log_reported_on(sqlite_log, tmp_path, capsys):
    import shutil
    import sqlite3

    path, _, as_of = sqlite_log
    assert main(["report", path, "--as-of", as_of, "--verify"]) == 0
    capsys.readouterr()
    copy = tmp_path / "altered.db"
    shutil.copy(path, copy)
    with sqlite3.connect(copy) as db:  # a record's body changed in place: the chain breaks there
        db.execute("UPDATE audit_records SET body = body || ' ' WHERE seq = 3")
    assert main(["report", str(copy), "--as-of", as_of, "--verify"]) == 1
    assert "DAMAGED" in capsys.readouterr().out


def test_non_action_within_the_period_is_awaiting_not_a_failure(sqlite_log, capsys):
    path, summary, _ = sqlite_log
    data = _report_json(capsys, path)  # as of the last record: the last month's non-actions still have time
    classes = data["overall"]["classes"]
    assert classes.get("awaiting_action", 0) > 0
    planted = _report_json(capsys, path, "--as-of", "2026-03-01")["overall"]["classes"]
    assert classes.get("not_passed_on", 0) + classes["awaiting_action"] == planted["not_passed_on"]


def test_text_report_names_groups_rates_and_what_the_log_cannot_know(sqlite_log, capsys):
    path, _, as_of = sqlite_log
    assert main(["report", path, "--as-of", as_of]) == 0
    out = capsys.readouterr().out
    for a in AGENCIES:
        line = next(line for line in out.splitlines() if line.startswith(a.agency))
        placement = line.split(")", 2)[2].strip()  # after the two rates' (k/n)
        assert placement == a.quadrant or placement.startswith(a.quadrant + " (uncertain"), line
    assert "What the log cannot know" in out and "never put to sharelaw" in out


@pytest.mark.parametrize("args, message", [
    (["--sharing-threshold", "1.5"], "between 0 and 1"),
    (["--by", "colour"], "invalid choice"),
    (["--from", "2025-09-01", "--to", "2025-01-01"], "--to is before --from"),
    (["--period", "0"], "whole number from 1"),
])
def test_bad_options_are_usage_errors(sqlite_log, capsys, args, message):
    path = sqlite_log[0]
    assert main(["report", path, *args]) == 2
    assert message in capsys.readouterr().err


def test_a_missing_log_is_a_usage_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "absent.db")]) == 2
    assert "error" in capsys.readouterr().err


def test_rules_timeline_writes_the_picture(tmp_path, capsys):
    """The command on a small rule file (the shipped rules' timeline is drawn in the HTML report test)."""
    out = tmp_path / "law.svg"
    rules = ["--rules", "tests/fixtures/good/minimal.yaml"]
    assert main(["rules", "timeline", *rules, "--to", "2026-06-01", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    svg = out.read_text("utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "t.power" in svg and "UK GDPR" in svg and "DPA 1998" in svg  # rule ids and era labels as text
    assert main(["rules", "timeline", *rules, "--to", "2026-06-01", "--out", str(tmp_path / "law.gif")]) == 2
    assert "name an .svg or .png file" in capsys.readouterr().err


# ------------------------------------------------------------------ the pages in a real browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip(f"no {CHROMIUM}: apt-get install chromium")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _open(browser, path, shots, name):
    """Load the page; return it with its console errors; save a full-page screenshot."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    shot = shots / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    import shutil

    keep = os.environ.get("SHARELAW_SCREENSHOTS")  # to look at them after the run
    if keep:
        shutil.copy(shot, os.path.join(keep, shot.name))
    return page, errors, requests, shot


def _not_blank(png: bytes) -> tuple[int, float]:
    """The number of distinct colours and the share of pixels that are not white."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    small = img.resize((max(1, img.width // 4), max(1, img.height // 4)))
    pixels = list(small.getdata())
    return len(set(pixels)), sum(1 for p in pixels if p != (255, 255, 255)) / len(pixels)


def test_the_html_report_in_a_real_browser(sqlite_log, browser, tmp_path_factory, capsys):
    path, _, as_of = sqlite_log
    shots = tmp_path_factory.mktemp("screenshots")
    html_file = shots / "report.html"
    assert main(["report", path, "--as-of", as_of, "--html", str(html_file)]) == 0
    capsys.readouterr()
    page, errors, requests, shot = _open(browser, html_file, shots, "report")
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests  # readable offline
    images = page.query_selector_all("img")
    assert len(images) == 2
    for img in images:
        assert page.evaluate("(i) => i.complete && i.naturalWidth > 300 && i.naturalHeight > 200", img)
        colours, ink = _not_blank(img.screenshot())
        assert colours > 20 and 0.01 < ink < 0.95, (colours, ink)
    svg = page.query_selector("div.svgbox svg")
    assert svg is not None
    colours, ink = _not_blank(svg.screenshot())
    assert colours > 10 and ink > 0.01
    for a in AGENCIES:
        assert page.get_by_text(a.agency, exact=True).count() >= 1
    colours, ink = _not_blank(shot.read_bytes())
    assert colours > 50
    page.close()


def test_the_single_decision_page_in_a_real_browser(browser, tmp_path_factory, capsys):
    shots = tmp_path_factory.mktemp("screenshots")
    html_file = shots / "decision.html"
    assert main(["decide", "examples/04-school-referral-proportionality-not-recorded.json", "--format", "html"]) == 0
    html_file.write_text(capsys.readouterr().out, "utf-8")
    page, errors, requests, shot = _open(browser, html_file, shots, "decision")
    assert errors == [] and all(u.startswith("file:") for u in requests)
    flow = page.query_selector("div.flow svg")
    colours, ink = _not_blank(flow.screenshot())
    assert colours > 10 and ink > 0.05
    assert page.query_selector_all("section.stage")  # one per stage
    assert page.get_by_text("What is missing").count() == 1
    assert page.get_by_text("assessment.proportionate").count() >= 1
    links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    assert links and all(h.startswith(("https://", "http://")) for h in links)
    page.emulate_media(media="print")  # printable: the print stylesheet shows each link's target
    after = page.evaluate("() => getComputedStyle(document.querySelector('a[href]'), '::after').content")
    assert after.startswith('" <http') and links[0] in after
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    page.close()


def test_decision_page_escapes_words_from_the_request(capsys):
    from sharelaw.report import decision_html

    request = json.load(open("examples/04-school-referral-proportionality-not-recorded.json"))
    request["discloser"]["name"] = "<img src=x onerror=alert(1)>"
    request["request_id"] = "<script>alert(2)</script>"
    import sharelaw

    decision = sharelaw.default_engine().decide(request)
    page = decision_html(decision)
    assert "<img src=x" not in page and "<script>" not in page
    assert "&lt;script&gt;" in page

