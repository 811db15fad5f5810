"""The ``sharelaw`` command line: run in-process through ``main`` and, once each way, as
``python -m sharelaw`` in a subprocess."""

from __future__ import annotations

import io
import json
from pathlib import Path
import re
import shutil
import subprocess
import sys
from datetime import timedelta

import pytest

import sharelaw
from sharelaw import Bundle, Engine, EngineError, RulesetError, RulesetErrors
from sharelaw.cli import main
from sharelaw.law.eras import SCOPE_START
from sharelaw.rules.bundle import default_ruleset_dir

OUTCOMES = {"must_share", "may_share", "must_not_share", "refer"}

REQUEST = {
    "as_at": "2022-06-01",
    "interaction": "disclose_on_request",
    "discloser": {"kind": "nhs_trust", "legal_entity": "rh-trust"},
    "recipient": {"kind": "la_childrens_social_care", "legal_entity": "city-council"},
    "subject": {"age": 9, "capacity": "unknown"},
    "purpose": "child_protection_enquiry",
    "data": {
        "categories": ["health", "identity_contact"],
        "identifiability": "identifiable",
        "in_confidence": "yes",
        "already_public": "no",
    },
    "consent": {"state": "unsafe_to_seek"},
    "risk_of_harm": {"level": "significant_harm", "to": "subject"},
    "statutory_request": "s47_enquiry",
    "request_id": "case-42",
}


@pytest.fixture
def request_file(tmp_path):
    path = tmp_path / "request.json"
    path.write_text(json.dumps(REQUEST), encoding="utf-8")
    return path


def write_request(tmp_path, data) -> str:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_module(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sharelaw", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def assert_no_decision(out: str) -> None:
    assert '"outcome"' not in out
    assert "bundle_hash" not in out
    assert not any(o in out for o in ("MUST SHARE", "MAY SHARE", "MUST NOT SHARE", "REFER:"))


# ---------------------------------------------------------------------- decide


def test_decide_json_is_the_full_decision(capsys, request_file):
    code, out, err = run(capsys, "decide", str(request_file), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["outcome"] in OUTCOMES
    assert data["findings"] and all(f["rule_id"] for f in data["findings"])
    assert data["bundle_hash"].startswith("sha256:")
    assert data["request_id"] == "case-42"
    assert data == sharelaw.decide(REQUEST).model_dump(mode="json")
    assert out.startswith('{\n  "outcome"')  # indented, field order kept


def test_decide_json_is_deterministic(capsys, request_file):
    first = run(capsys, "decide", str(request_file), "--format", "json")
    second = run(capsys, "decide", str(request_file), "--format", "json")
    assert first == second


def test_decide_text_summarises_outcome_findings_and_tags(capsys, request_file):
    decision = sharelaw.decide(REQUEST)
    code, out, err = run(capsys, "decide", str(request_file))  # text is the default
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(decision.outcome.label)
    assert decision.summary in out
    for stage in decision.stages:
        assert f"{stage.title}: {stage.status.label}" in out
    for finding in decision.findings:
        tag = "" if finding.verification == "verified" else f" [{finding.verification.upper()}]"
        assert f"  - {finding.rule_id}{tag}: {finding.reason}" in lines
        assert finding.citations[0].label in out
    for basis in decision.basis:
        assert basis.rule_id in out
    for missing in decision.missing:
        assert missing.item in out
    for condition in decision.conditions:
        assert condition.text in out
    assert decision.bundle_hash in out


def test_decide_text_marks_non_verified_findings(capsys, request_file):
    findings = sharelaw.decide(REQUEST).findings
    if all(f.verification == "verified" for f in findings):
        pytest.skip("the shipped rules fire no non-verified rule for this request")
    code, out, _ = run(capsys, "decide", str(request_file))
    assert code == 0
    assert "[SECONDARY]" in out or "[UNVERIFIED]" in out


def test_decide_markdown_is_the_explanation(capsys, request_file):
    code, out, err = run(capsys, "decide", str(request_file), "--format", "markdown")
    assert code == 0, err
    assert out == sharelaw.decide(REQUEST).explain()
    assert out.startswith("# ")


def test_decide_reads_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(REQUEST)))
    code, out, err = run(capsys, "decide", "-", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["outcome"] in OUTCOMES


def test_module_decides_from_stdin_in_a_subprocess():
    proc = run_module("decide", "-", "--format", "json", stdin=json.dumps(REQUEST))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["outcome"] in OUTCOMES
    assert data["findings"]
    assert data["bundle_hash"] == sharelaw.default_engine().bundle.content_hash


def test_module_reports_invalid_request_in_a_subprocess(tmp_path):
    bad = dict(REQUEST, purpose="gossip")
    proc = run_module("decide", write_request(tmp_path, bad))
    assert proc.returncode == 2
    assert "purpose: " in proc.stderr and "[enum]" in proc.stderr
    assert proc.stdout == ""


# ---------------------------------------------------------------------- invalid input


def bad_request() -> dict:
    bad = json.loads(json.dumps(REQUEST))
    bad["subject"]["age"] = -1
    bad["purpose"] = "idle_curiosity"
    bad["favourite_colour"] = "blue"
    return bad


def test_invalid_request_lists_every_error_and_no_decision(capsys, tmp_path):
    code, out, err = run(capsys, "decide", write_request(tmp_path, bad_request()))
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert any(re.fullmatch(r"subject\.age: .+ \[age_range\]", line) for line in lines), err
    assert any(re.fullmatch(r"purpose: .+ \[enum\]", line) for line in lines), err
    assert any(re.fullmatch(r"favourite_colour: .+ \[extra_forbidden\]", line) for line in lines), err


def test_invalid_request_as_json_prints_the_error_document(capsys, tmp_path):
    code, out, err = run(capsys, "decide", write_request(tmp_path, bad_request()), "--format", "json")
    assert code == 2
    report = json.loads(out)
    assert report["code"] == "request_invalid"
    assert {e["loc"] for e in report["errors"]} == {"subject.age", "purpose", "favourite_colour"}
    assert_no_decision(out)
    assert "[extra_forbidden]" in err


def test_date_before_scope_is_rejected(capsys, tmp_path):
    code, out, err = run(capsys, "decide", write_request(tmp_path, dict(REQUEST, as_at="1999-12-31")))
    assert code == 2
    assert "out of scope" in err
    assert "as_at: " in err
    assert out == ""


def test_malformed_json_is_rejected(capsys, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"as_at": "2022-06-01",', encoding="utf-8")
    code, out, err = run(capsys, "decide", str(path))
    assert code == 2
    assert "not valid JSON" in err
    assert out == ""


def test_malformed_json_as_json_output_is_an_error_document(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("not json"))
    code, out, err = run(capsys, "decide", "-", "--format", "json")
    assert code == 2
    assert json.loads(out)["errors"][0]["code"] == "json_invalid"
    assert_no_decision(out)


def test_json_that_is_not_an_object_is_rejected(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("[1, 2]"))
    code, out, err = run(capsys, "decide", "-")
    assert code == 2
    assert "JSON object" in err
    assert out == ""


def test_missing_request_file_is_rejected(capsys, tmp_path):
    code, out, err = run(capsys, "decide", str(tmp_path / "nope.json"))
    assert code == 2
    assert "cannot read" in err and "nope.json" in err
    assert out == ""


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["decide"],
        ["decide", "x.json", "--format", "yaml"],
        ["schema", "widget"],
        ["rules"],
        ["rules", "list", "--stage", "stage5"],
        ["frobnicate"],
    ],
)
def test_bad_usage_exits_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert "usage:" in err
    assert out == ""


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.strip() == f"sharelaw {sharelaw.__version__}"


# ---------------------------------------------------------------------- internal errors


def test_engine_error_exits_1_without_a_decision(capsys, monkeypatch, request_file):
    def broken(self, request):
        raise EngineError("evaluators disagree on vires#3")

    monkeypatch.setattr(Engine, "decide", broken)
    for fmt in ("text", "json", "markdown"):
        code, out, err = run(capsys, "decide", str(request_file), "--format", fmt)
        assert code == 1
        # no decision; under --format json the error document instead (issue 14)
        assert out == "" if fmt != "json" else json.loads(out)["code"] == "internal_error"
        assert err.startswith("internal error: ")
        assert "evaluators disagree" in err


def test_unexpected_exception_exits_1_without_a_decision(capsys, monkeypatch, request_file):
    def broken(self, request):
        raise KeyError("surprise")

    monkeypatch.setattr(Engine, "decide", broken)
    code, out, err = run(capsys, "decide", str(request_file), "--format", "json")
    assert code == 1
    # no decision: under --format json, only the error document (issue 14)
    assert json.loads(out)["code"] == "internal_error" and "outcome" not in out
    assert err.startswith("internal error: KeyError")


def test_invalid_shipped_rules_are_an_internal_error(capsys, monkeypatch, request_file):
    def broken():
        raise RulesetErrors([RulesetError("ruleset_schema_error", "bad", file="national/x.yaml", line=7)])

    monkeypatch.setattr(sharelaw, "default_engine", broken)
    # decide in a new process (no shared engine yet) loads the shipped rules itself
    monkeypatch.setattr(Bundle, "load", staticmethod(lambda *a, **k: broken()))
    for argv in (["decide", str(request_file)], ["rules", "list"]):
        code, out, err = run(capsys, *argv)
        assert code == 1
        assert out == ""
        assert err.startswith("internal error: ")
        assert "national/x.yaml:7: ruleset_schema_error: bad" in err


# ---------------------------------------------------------------------- schema


@pytest.mark.parametrize("which", ["request", "decision", "ruleset"])
def test_schema_prints_json_schema(capsys, which):
    code, out, err = run(capsys, "schema", which)
    assert code == 0, err
    schema = json.loads(out)
    assert "properties" in schema
    expected = {"request": "as_at", "decision": "outcome", "ruleset": "rules"}[which]
    assert expected in schema["properties"]


# ---------------------------------------------------------------------- rules list


@pytest.fixture
def shipped() -> Bundle:
    return sharelaw.default_engine().bundle  # the shipped rules, as the command loads them


def listed_ids(capsys, *argv: str) -> list[str]:
    code, out, err = run(capsys, "rules", "list", "--format", "json", *argv)
    assert code == 0, err
    return [r["id"] for r in json.loads(out)["rules"]]


def test_rules_list_shows_every_rule(capsys, shipped):
    code, out, err = run(capsys, "rules", "list")
    assert code == 0, err
    for rule in shipped.rules.values():
        row = next(line for line in out.splitlines() if line.startswith(rule.id + " "))
        assert rule.stage.value in row and rule.in_force.start.isoformat() in row and rule.title in row
    assert sorted(listed_ids(capsys)) == sorted(shipped.rules)


def test_rules_list_as_at_leaves_out_rules_not_yet_in_force(capsys, shipped):
    later: dict = {}
    for r in shipped.rules.values():
        if r.in_force.start > SCOPE_START and shipped.file_windows[r.file].covers(r.in_force.start):
            later.setdefault(r.in_force.start, []).append(r.id)
    assert later, "the shipped rules have no rule commencing after the start of scope"
    for start, ids in sorted(later.items()):
        on_the_day = listed_ids(capsys, "--as-at", start.isoformat())
        the_day_before = listed_ids(capsys, "--as-at", (start - timedelta(days=1)).isoformat())
        for rule_id in ids:
            assert rule_id in on_the_day
            assert rule_id not in the_day_before


def test_rules_list_as_at_leaves_out_repealed_rules(capsys, shipped):
    ended = [r for r in shipped.rules.values() if r.in_force.end is not None]
    if not ended:
        pytest.skip("no shipped rule has an end date")
    for end in sorted({r.in_force.end for r in ended}):
        the_day_after = listed_ids(capsys, "--as-at", (end + timedelta(days=1)).isoformat())
        assert not {r.id for r in ended if r.in_force.end == end} & set(the_day_after)


def test_rules_list_as_at_matches_the_bundle(capsys, shipped):
    day = SCOPE_START + timedelta(days=365 * 5)
    assert listed_ids(capsys, "--as-at", day.isoformat()) == [r.id for r in shipped.in_force(day)]


def test_rules_list_by_stage(capsys, shipped):
    assert listed_ids(capsys, "--stage", "vires") == [r.id for r in shipped.by_stage[sharelaw.Stage.VIRES]]


def test_rules_list_rejects_a_bad_date(capsys):
    code, out, err = run(capsys, "rules", "list", "--as-at", "2020-02-30")
    assert code == 2
    assert "--as-at" in err and "2020-02-30" in err
    assert out == ""


# ---------------------------------------------------------------------- --rules


INVALID_RULES = """\
format: sharelaw/ruleset@1
id: local.broken
stage: vires
title: [unclosed
in_force: {from: 2000-03-01}
"""


@pytest.mark.parametrize("command", [["decide", "REQUEST"], ["rules", "list"]])
def test_invalid_rule_files_exit_2_with_file_and_line(capsys, tmp_path, request_file, command):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "broken.yaml").write_text(INVALID_RULES, encoding="utf-8")
    argv = [str(request_file) if a == "REQUEST" else a for a in command]
    code, out, err = run(capsys, *argv, "--rules", str(rules))
    assert code == 2
    assert out == ""
    assert re.search(re.escape(str(rules / "broken.yaml")) + r":\d+:\d+: ruleset_\w+: ", err), err


def test_empty_rules_directory_is_rejected(capsys, tmp_path, request_file):
    code, out, err = run(capsys, "decide", str(request_file), "--rules", str(tmp_path))
    assert code == 2
    assert "no rule files" in err
    assert out == ""


def test_custom_rules_are_used(capsys, tmp_path, request_file):
    rules = tmp_path / "rules"
    vires = sorted(default_ruleset_dir().rglob("*vires*.yaml"))
    assert vires
    rules.mkdir()
    shutil.copy(vires[0], rules / vires[0].name)
    # the stage-1 file uses the bundle's shared definitions (functions, lists), so they go with it
    for defs in sorted(default_ruleset_dir().rglob("00_*.yaml")):
        shutil.copy(defs, rules / defs.name)
    expected = Bundle.load(rules).content_hash
    code, out, err = run(capsys, "decide", str(request_file), "--format", "json", "--rules", str(rules))
    assert code == 0, err
    data = json.loads(out)
    assert data["bundle_hash"] == expected
    assert {f["stage"] for f in data["findings"]} == {"vires"}

    code, out, err = run(capsys, "rules", "list", "--format", "json", "--rules", str(rules))
    assert code == 0, err
    listing = json.loads(out)
    assert listing["bundle_hash"] == expected
    assert {r["stage"] for r in listing["rules"]} == {"vires"}


# ---------------------------------------------------------------------- sharelaw test / rules diff

REPO = Path(__file__).resolve().parent.parent


def test_test_command_runs_the_shipped_scenarios_with_full_coverage(capsys):
    code = main(["test", str(REPO / "rulesets"), str(REPO / "tests" / "scenarios"), "--require-full-coverage"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.rstrip().endswith(" passed, 0 failed")
    assert "never fired" not in out and "no scenario at its limit" not in out


def test_test_command_shows_a_failure_as_expected_and_got_and_exits_1(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(
        "format: sharelaw/scenarios@1\n"
        "scenarios:\n"
        "  - id: wrong-on-purpose\n"
        "    description: The hospital example expected (wrongly) to be refused.\n"
        "    request: " + (REPO / "examples" / "05-hospital-assists-s47-enquiry.json").read_text().replace("\n", " ") + "\n"
        "    expect: {outcome: must_not_share, fires: [vires.ca1989.s47_9.duty_to_assist]}\n"
    )
    code = main(["test", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL wrong-on-purpose" in out
    assert "- expected: must_not_share" in out and "+ got:      must_share" in out
    assert out.rstrip().endswith("0 passed, 1 failed")
    # without the whole scenario set, coverage is reported as incomplete but is not a failure...
    assert "never fired:" in out
    # ...unless full coverage is required
    (tmp_path / "s.yaml").write_text((tmp_path / "s.yaml").read_text().replace("must_not_share", "must_share"))
    assert main(["test", str(tmp_path)]) == 0
    assert main(["test", str(tmp_path), "--require-full-coverage"]) == 1


def test_test_command_without_scenarios_is_an_input_error(capsys):
    assert main(["test", str(REPO / "rulesets")]) == 2
    assert "no scenario files" in capsys.readouterr().err


def test_rules_diff_lists_the_duaa_changes(capsys):
    assert main(["rules", "diff", "--from", "2026-02-04", "--to", "2026-02-05", "--format", "json"]) == 0
    changes = json.loads(capsys.readouterr().out)["changes"]
    started = {c["id"] for c in changes if c["change"] == "started"}
    changed = {c["id"] for c in changes if c["change"] == "changed"}
    assert "ukgdpr.art6.1ea.recognised_legitimate_interest" in started
    assert "gdpr.art5.1b.purpose_limitation" in changed
    assert not [c for c in changes if c["change"] == "ended"]
    # every entry cites the law, point-in-time on the day it took effect
    for c in changes:
        if c["change"] == "started":
            assert c["citation"]["url"].endswith("/2026-02-05")


def test_rules_diff_across_the_gdpr_boundary(capsys):
    assert main(["rules", "diff", "--from", "2018-05-24", "--to", "2018-05-25"]) == 0
    out = capsys.readouterr().out
    came, ended = out.split("Ended")[0], out.split("Ended")[1].split("Changed")[0]
    assert "gdpr.art6.1e.public_task" in came and "dpa1998.sch2.p5.public_functions" in ended
    assert "Data Protection Act 1998" in out and "EU GDPR" in out


def test_rules_diff_rejects_reversed_dates(capsys):
    assert main(["rules", "diff", "--from", "2020-01-02", "--to", "2020-01-01"]) == 2
