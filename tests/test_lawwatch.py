"""The law watch (issue 15 part 1): checked_on and review dates in `check`, and `sharelaw law watch`
against saved legislation.gov.uk responses, from a folder and from a real local HTTP server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from sharelaw.analysis.check import check
from sharelaw.analysis.currency import cited_provisions, currency
from sharelaw.cli import main
from sharelaw.lawwatch import (
    DirectorySource,
    LegislationDataError,
    RateLimiter,
    parse_changes_feed,
    parse_provision,
    touches,
    watch,
)
from sharelaw.lawwatch.clml import ID_BASE
from sharelaw.rules.bundle import Bundle

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "legislation"
CA2004 = "ukpga/2004/31"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def shipped() -> Bundle:
    return Bundle.load(ROOT / "rulesets")


# ---------------------------------------------------------------------- checked_on and review dates


def test_every_legislation_citation_in_the_shipped_rules_has_checked_on(shipped):
    cited = cited_provisions(shipped)
    assert len(cited) >= 300
    assert [c.citation.legislation for c in cited if c.citation.checked_on is None] == []
    assert all(c.review_by is not None for c in cited if not c.owner.startswith("function."))


def _rules_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "rulesets"
    shutil.copytree(ROOT / "rulesets" / "national", dest / "national")
    return dest


def test_check_errors_on_a_legislation_citation_without_checked_on(tmp_path, capsys):
    rules = _rules_copy(tmp_path)
    hra = rules / "national" / "02_hra.yaml"
    text = hra.read_text()
    line = text[: text.index("        checked_on:")].count("\n") + 1
    hra.write_text(text.replace("        checked_on: 2026-11-24\n", "", 1))
    code, out, _ = run_cli(capsys, "check", str(rules), "--today", "2026-12-02", "--format", "json")
    assert code == 1
    bad = [d for d in json.loads(out)["diagnostics"] if d["severity"] == "error"]
    assert [(d["code"], d["file"].endswith("02_hra.yaml"), d["rule_id"]) for d in bad] == [
        ("citation_not_checked", True, "hra.not_in_force")
    ]
    assert "ukpga/1998/42/section/6" in bad[0]["message"] and bad[0]["line"] < line


def test_check_errors_on_a_rule_without_a_review_date_and_a_check_in_the_future(tmp_path):
    rules = _rules_copy(tmp_path)
    duaa = rules / "national" / "05_dp_duaa.yaml"
    text = re.sub(r"\nreview_by: .*\n", "\n", duaa.read_text())
    duaa.write_text(re.sub(r"checked_on: [0-9-]+", "checked_on: 2027-06-01", text, count=1))
    report = check([rules], today=date(2026, 12, 2))
    codes = {d.code for d in report.errors}
    assert codes == {"rule_no_review_date", "citation_checked_future"}
    assert {d.file.rsplit("/", 1)[-1] for d in report.errors} == {"05_dp_duaa.yaml"}


def test_check_warns_once_a_review_date_has_passed(capsys, shipped):
    assert currency(shipped, date(2027, 4, 1)) == []  # due on the day, not yet passed
    protocol = currency(shipped, date(2027, 4, 2))  # the protocol's review_date has passed
    assert {d.code for d in protocol} == {"rule_review_due"} and {d.severity for d in protocol} == {"warning"}
    assert all(d.rule_id.startswith("protocol.exampleton_cyp.") for d in protocol)
    assert len(protocol) == sum(len(p.rules) for p in shipped.protocols.values())
    code, out, _ = run_cli(capsys, "check", str(ROOT / "rulesets"), "--today", "2027-11-25", "--format", "json")
    assert code == 0  # a warning, not an error
    data = json.loads(out)
    due = [d for d in data["diagnostics"] if d["code"] == "rule_review_due"]
    assert all(d["severity"] == "warning" for d in due) and data["warnings"] == len(due)
    assert len(due) == len(shipped.rules)  # every rule once (a protocol's practices are among them)
    assert len({d["rule_id"] for d in due}) == len(due)


# ---------------------------------------------------------------------- the parsers


def test_the_feed_parser_reads_the_documented_effect_and_its_next_page():
    page = parse_changes_feed((FIXTURES / "changes/affected/ukpga/2004/31/data.feed").read_bytes())
    assert page.next_url == "http://www.legislation.gov.uk/changes/affected/ukpga/2004/31/data.feed?page=2"
    e = page.effects[0]
    assert (e.type, e.affected_provisions, e.applied, e.requires_applied) == ("words substituted", "s. 16H(2)", False, True)
    assert e.affected_uris == (ID_BASE + "ukpga/2004/31/section/16H/2",)
    assert e.in_force_dates == [date(2027, 1, 4)] and not e.prospective
    last = parse_changes_feed((FIXTURES / "changes/affected/ukpga/2004/31/data.feed@page=2").read_bytes())
    assert last.next_url is None and last.effects[0].prospective  # s16LA: a day to be appointed


def test_scope_a_provision_inside_a_range_or_a_repeal_of_the_whole_act():
    feed = (FIXTURES / "changes/affected/ukpga/2004/31/data.feed").read_bytes()
    e = parse_changes_feed(feed).effects[0]
    item = ID_BASE + CA2004
    assert touches(e, item + "/section/16H", item)
    assert not touches(e, item + "/section/16", item) and not touches(e, item + "/section/16H/1", item)
    ranged = e.__class__(**{**e.__dict__, "affected_uris": (), "affected_ranges": ((item + "/section/10", item + "/section/12"),)})
    assert touches(ranged, item + "/section/11", item) and not touches(ranged, item + "/section/16E", item)
    whole = e.__class__(**{**e.__dict__, "affected_uris": (item,), "affected_provisions": "Act", "type": "repealed"})
    assert touches(whole, item + "/section/11", item)
    applied = e.__class__(**{**e.__dict__, "affected_uris": (item,), "affected_provisions": "Act", "type": "applied"})
    assert not touches(applied, item + "/section/11", item)


def test_the_provision_parser_reads_status_match_and_restrict_dates():
    xml = (FIXTURES / "ukpga/2004/31/section/11/data.xml").read_text()
    uri = ID_BASE + "ukpga/2004/31/section/11"
    ok = parse_provision(xml.encode(), uri)
    assert ok.found and ok.status is None and ok.match and ok.restrict_start == date(2005, 10, 1) and not ok.unapplied
    pros = xml.replace('id="section-11" RestrictExtent="E+W" RestrictStartDate="2005-10-01"',
                       'id="section-11" Match="false" Status="Prospective"')
    version = parse_provision(pros.encode(), uri)
    assert (version.status, version.match) == ("Prospective", False)
    assert not parse_provision(xml.encode(), ID_BASE + "ukpga/2004/31/section/99").found


def test_hostile_xml_is_refused_not_expanded():
    bomb = b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><feed>&b;</feed>'
    with pytest.raises(LegislationDataError):
        parse_changes_feed(bomb)


def test_the_rate_limiter_spaces_requests():
    limiter = RateLimiter(0.05)
    stamps = []
    for _ in range(4):
        limiter.wait()
        stamps.append(time.monotonic())
    assert min(b - a for a, b in zip(stamps, stamps[1:])) >= 0.049


# ---------------------------------------------------------------------- the watch, from saved files


def _flagged(data: dict) -> dict[str, list[dict]]:
    return {p["legislation"]: p for p in data["provisions"] if p["state"] == "changed"}


def test_watch_from_saved_files_flags_exactly_the_amended_provision(capsys):
    code, out, _ = run_cli(capsys, "law", "watch", "--from", str(FIXTURES), "--act", CA2004, "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["flagged_rules"] == ["function.child_safeguarding_practice_review", "vires.ca2004.s16h.partner_request"]
    changed = [p for p in data["provisions"] if p["state"] == "changed"]
    assert {p["legislation"] for p in changed} == {"ukpga/2004/31/section/16H"}
    s11 = [p for p in data["provisions"] if p["legislation"] == "ukpga/2004/31/section/11"]
    assert s11 and all(p["state"] == "unchanged" for p in s11)  # amended in 2019, before checked_on
    assert data["counts"] == {"changed": 2, "unchanged": 8, "not_checked": 0}
    finding = changed[0]["findings"][0]
    assert finding["kind"] == "in_force_after_check"
    effect = finding["effect"]
    assert effect["type"] == "words substituted" and effect["affected_provisions"] == "s. 16H(2)"
    assert effect["affecting"] == {"title": "Illustrative Amendments (Fixture) Act 2026", "provisions": "s. 4(2)",
                                   "uri": "http://www.legislation.gov.uk/id/ukpga/2026/99/section/4/2"}
    assert [f["date"] for f in effect["in_force"]] == ["2027-01-04"]
    assert len(changed[0]["findings"]) == 1  # the feed's effect and the XML's unapplied copy are one effect
    code, text, _ = run_cli(capsys, "law", "watch", "--from", str(FIXTURES), "--act", CA2004)
    assert code == 1 and "Changed since checked_on (2):" in text and "in force 2027-01-04, after checked_on" in text
    doc = (ROOT / "docs" / "law-watch.md").read_text()
    shown = doc.split("$ sharelaw law watch --from tests/fixtures/legislation/ --act ukpga/2004/31\n", 1)[1]
    assert text.replace(str(FIXTURES), "tests/fixtures/legislation") == shown.split("```", 1)[0]  # docs show real output


def test_watch_passes_when_nothing_changed_after_checked_on(tmp_path, capsys):
    saved = tmp_path / "legislation"
    shutil.copytree(FIXTURES, saved)
    feed = saved / "changes/affected/ukpga/2004/31/data.feed"
    feed.write_text(feed.read_text().replace('Applied="false" Date="2027-01-04"', 'Applied="true" Date="2020-01-04"')
                    .replace('Applied="false" RequiresApplied="true" AffectedProvisions="s. 16H(2)"',
                             'Applied="true" RequiresApplied="true" AffectedProvisions="s. 16H(2)"'))
    s16h = saved / "ukpga/2004/31/section/16H/data.xml"
    s16h.write_text(re.sub(r"\s*<ukm:UnappliedEffects>.*</ukm:UnappliedEffects>", "", s16h.read_text(), flags=re.S))
    code, out, _ = run_cli(capsys, "law", "watch", "--from", str(saved), "--act", CA2004, "--format", "json")
    assert code == 0, out
    assert json.loads(out)["counts"] == {"changed": 0, "unchanged": 10, "not_checked": 0}


def test_missing_or_broken_data_is_not_checked_never_unchanged(tmp_path, shipped):
    saved = tmp_path / "legislation"
    shutil.copytree(FIXTURES, saved)
    (saved / "ukpga/2004/31/section/12/data.xml").write_text("<html>Service unavailable")
    report = watch(shipped, DirectorySource(saved))
    states = {w.legislation: w.state for w in report.watched}
    assert states["ukpga/2004/31/section/12"] == "not_checked"
    assert states["ukpga/1998/37/section/115"] == "not_checked"  # no feed saved for the Crime and Disorder Act
    assert not report.ok and report.flagged_rules() == [
        "function.child_safeguarding_practice_review", "vires.ca2004.s16h.partner_request"]


def test_watch_usage_errors_are_listed(capsys):
    code, _, err = run_cli(capsys, "law", "watch", "--from", "/nonexistent", "--min-interval", "0.01", "--act", "ukpga/2004")
    assert code == 2
    assert "--from reads saved files" in err and "at least 0.1" in err and "not a folder" in err and "TYPE/YEAR/NUMBER" in err


def test_an_act_no_rule_cites_is_a_usage_error(capsys):
    code, out, err = run_cli(capsys, "law", "watch", "--from", str(FIXTURES), "--act", "ukpga/1999/1")
    assert (code, out) == (2, "") and "--act ukpga/1999/1: no rule cites it" in err


def test_as_at_reads_the_point_in_time_version(tmp_path, capsys):
    saved = tmp_path / "legislation"
    shutil.copytree(FIXTURES, saved)
    for xml in sorted((saved / "ukpga/2004/31/section").glob("*/data.xml")):
        (xml.parent / "2026-12-02").mkdir()
        xml.rename(xml.parent / "2026-12-02" / "data.xml")
    code, out, _ = run_cli(capsys, "law", "watch", "--from", str(saved), "--act", CA2004, "--format", "json",
                           "--as-at", "2026-12-02")
    data = json.loads(out)
    assert code == 1 and data["as_at"] == "2026-12-02" and data["counts"]["not_checked"] == 0
    assert data["flagged_rules"] == ["function.child_safeguarding_practice_review", "vires.ca2004.s16h.partner_request"]
    code, out, _ = run_cli(capsys, "law", "watch", "--from", str(saved), "--act", CA2004, "--format", "json")
    current = json.loads(out)  # the current versions are not saved: every provision is (also) not checked
    assert code == 1 and all(p["not_checked"] for p in current["provisions"]) and len(current["provisions"]) == 10


# ---------------------------------------------------------------------- online, against a real HTTP server


@pytest.fixture()
def server(tmp_path):
    log = tmp_path / "requests.log"
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "lawwatch_server.py"), str(FIXTURES), str(log)],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_online_watch_matches_the_saved_files_is_polite_and_caches(server, tmp_path, capsys):
    pytest.importorskip("httpx")
    base, log = server
    args = ["law", "watch", "--act", CA2004, "--format", "json", "--base-url", base, "--min-interval", "0.1",
            "--cache", str(tmp_path / "cache"), "--contact", "watch@example.org"]
    code, out, _ = run_cli(capsys, *args)
    online = json.loads(out)
    code_saved, saved_out, _ = run_cli(capsys, "law", "watch", "--from", str(FIXTURES), "--act", CA2004, "--format", "json")
    assert code == code_saved == 1
    assert online["provisions"] == json.loads(saved_out)["provisions"]
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert {x["path"] for x in lines} >= {"/changes/affected/ukpga/2004/31/data.feed",
                                          "/changes/affected/ukpga/2004/31/data.feed?page=2",
                                          "/ukpga/2004/31/section/16H/data.xml"}
    assert len(lines) == online["requests"] == 9  # two feed pages, seven provisions
    assert all(x["ua"].startswith("sharelaw-law-watch/") and "watch@example.org" in x["ua"] for x in lines)
    times = [x["t"] for x in lines]
    assert min(b - a for a, b in zip(times, times[1:])) >= 0.09  # spaced by --min-interval
    code, out, _ = run_cli(capsys, *args)  # within the hour: all from the cache
    assert json.loads(out)["requests"] == 0 and len(log.read_text().splitlines()) == 9
    assert json.loads(out)["provisions"] == online["provisions"]


def test_online_watch_revalidates_a_stale_cache_and_reports_http_errors(server, tmp_path):
    pytest.importorskip("httpx")
    from sharelaw.lawwatch import HttpSource

    base, log = server
    with HttpSource(base, cache_dir=tmp_path / "cache", min_interval=0.1, cache_ttl=0.0) as source:
        first = source.get("/ukpga/2004/31/section/11/data.xml")
        again = source.get("/ukpga/2004/31/section/11/data.xml")
        assert first == again and source.requests == 2
        from sharelaw.lawwatch import DataUnavailable

        with pytest.raises(DataUnavailable, match="HTTP 404"):
            source.get("/ukpga/1998/37/section/115/data.xml")
    assert [json.loads(x)["status"] for x in log.read_text().splitlines()] == [200, 304, 404]
