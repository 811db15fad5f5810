"""Issue 14: the toolchain a rule author and an integrator expect. Each test reproduces one
point a new user tripped over (they failed before the fix)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from sharelaw.cli import main
from sharelaw.rules.bundle import default_ruleset_dir

REQUEST = {
    "as_at": "2022-06-01",
    "interaction": "disclose_on_request",
    "discloser": {"kind": "nhs_trust", "legal_entity": "rh-trust"},
    "recipient": {"kind": "la_childrens_social_care", "legal_entity": "city-council"},
    "subject": {"age": 9, "capacity": "unknown"},
    "purpose": "child_protection_enquiry",
    "data": {"categories": ["health", "identity_contact"], "identifiability": "identifiable",
             "in_confidence": "yes", "already_public": "no"},
    "consent": {"state": "unsafe_to_seek"},
    "risk_of_harm": {"level": "significant_harm", "to": "subject"},
    "statutory_request": "s47_enquiry",
    "request_id": "case-42",
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def request_file(tmp_path: Path) -> Path:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(REQUEST), encoding="utf-8")
    return path


@pytest.fixture
def national_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(default_ruleset_dir() / "national", target)
    return target


# --- item 1: --rules no longer swallows the request file ------------------------------------

def test_rules_before_the_request_file_decides(capsys, request_file, national_copy):
    code, out, err = run(capsys, "decide", "--rules", str(national_copy), str(request_file), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["outcome"] in {"must_share", "may_share", "must_not_share", "refer"}


def test_rules_is_repeatable(capsys, request_file, national_copy, tmp_path):
    files = sorted(national_copy.glob("*.yaml"))
    argv = ["decide", str(request_file), "--format", "json"]
    for f in files:
        argv += ["--rules", str(f)]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    from sharelaw import Bundle

    assert json.loads(out)["bundle_hash"] == Bundle.load(national_copy).content_hash


def test_rules_list_still_takes_several_paths_after_one_option(capsys, national_copy):
    files = sorted(str(f) for f in national_copy.glob("*.yaml"))
    code, out, err = run(capsys, "rules", "list", "--format", "json", "--rules", *files)
    assert code == 0, err
    assert json.loads(out)["rules"]


# --- item 3: dates on the command line are as strict as the request's as_at --------------------

@pytest.mark.parametrize("text", ["2012", "2012-06", "20120601", "2012-06-01T00:00:00+01:00",
                                  "2012-06-01T10:00", "2012-W22-5", "2012-02-30", " 2012-06-01"])
def test_a_date_that_is_not_yyyy_mm_dd_is_a_usage_error(capsys, text):
    for argv in (["rules", "list", "--as-at", text], ["rules", "diff", "--from", text, "--to", "2020-01-01"],
                 ["prove", "--as-at", text]):
        code, out, err = run(capsys, *argv)
        assert code == 2, (argv, out)
        assert out == ""
        assert "YYYY-MM-DD" in err


def test_a_yyyy_mm_dd_date_is_accepted(capsys):
    code, out, err = run(capsys, "rules", "list", "--as-at", "2012-06-01", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["as_at"] == "2012-06-01"


# --- item 2: one error format, JSON errors on stdout, columns, did-you-mean ------------------

LOCATED = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>[a-z_]+): (?P<msg>.+?)( \[(?P<rule>[^\]]+)\])?$")


@pytest.fixture
def misspelt_rules(national_copy: Path) -> tuple[Path, Path]:
    """A copy of the national rules whose stage-3 file misspells a fact value and a definition."""
    path = national_copy / "03_confidence.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("- consent.state: {in: [explicit_for_this, earlier_covering]}",
                        "- consent.state: {in: [explicit_for_ths, earlier_covering]}", 1)
    text = text.replace("- use: giver_self_or_parent", "- use: giver_self_or_parnt", 1)
    path.write_text(text, encoding="utf-8")
    return national_copy, path


def test_invalid_rules_give_a_json_error_document_on_stdout(capsys, request_file, misspelt_rules):
    rules, path = misspelt_rules
    from sharelaw.cli._common import ErrorDocument

    for argv in (["decide", str(request_file), "--rules", str(rules), "--format", "json"],
                 ["prove", str(rules), "--budget", "1", "--format", "json"],
                 ["rules", "list", "--rules", str(rules), "--format", "json"]):
        code, out, err = run(capsys, *argv)
        assert code == 2, argv
        doc = json.loads(out)
        ErrorDocument.model_validate(doc)  # the schema `sharelaw schema error` prints
        assert doc["code"] == "rules_invalid" and doc["count"] == len(doc["errors"]) == 2
        for e in doc["errors"]:
            assert e["file"] == str(path) and e["line"] and e["column"] and e["rule_id"]
        # the same errors, in the one text format, on stderr
        lines = [ln for ln in err.splitlines() if LOCATED.match(ln)]
        assert len(lines) == 2, err
        for e, ln in zip(doc["errors"], lines):
            assert ln == f"{e['file']}:{e['line']}:{e['column']}: {e['code']}: {e['message']} [{e['rule_id']}]"


def test_check_and_decide_print_a_rule_error_the_same_way(capsys, request_file, misspelt_rules):
    rules, _ = misspelt_rules
    _, out, _ = run(capsys, "check", str(rules))
    checked = [ln for ln in out.splitlines() if LOCATED.match(ln)]
    _, _, err = run(capsys, "decide", str(request_file), "--rules", str(rules))
    decided = [ln for ln in err.splitlines() if LOCATED.match(ln)]
    assert checked and checked == decided


def test_a_misspelt_value_or_id_is_named_with_its_column_and_a_suggestion(capsys, request_file, misspelt_rules):
    rules, path = misspelt_rules
    _, _, err = run(capsys, "rules", "list", "--rules", str(rules))
    text = path.read_text(encoding="utf-8").splitlines()
    found = {m["code"]: m for m in map(LOCATED.match, err.splitlines()) if m}
    value, definition = found["ruleset_bad_value"], found["ruleset_unknown_definition"]
    assert "did you mean 'explicit_for_this'?" in value["msg"]
    assert "did you mean 'giver_self_or_parent'?" in definition["msg"]
    for m, word in ((value, "consent.state"), (definition, "use:")):
        line = text[int(m["line"]) - 1]
        assert line.index(word) + 1 == int(m["col"]), (line, m["col"])


def test_a_misspelt_key_in_a_rule_file_suggests_the_key(capsys, national_copy):
    path = national_copy / "02_hra.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("    reason:", "    reasn:", 1), encoding="utf-8")
    code, out, err = run(capsys, "check", str(national_copy), "--format", "json")
    assert code == 1
    (d,) = [d for d in json.loads(out)["diagnostics"] if "reasn" in d["message"]]
    assert "did you mean 'reason'?" in d["message"] and d["column"] == 5


def test_schema_error_describes_the_error_document(capsys):
    code, out, _ = run(capsys, "schema", "error")
    assert code == 0
    schema = json.loads(out)
    assert set(schema["required"]) == {"code", "count", "errors"}
    entry = schema["$defs"]["ErrorEntry"]["properties"]
    assert {"file", "line", "column", "code", "message", "rule_id"} <= set(entry)


def test_a_request_error_is_the_same_json_document(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**REQUEST, "purpose": "child_protection_enquiri"}), encoding="utf-8")
    from sharelaw.cli._common import ErrorDocument

    code, out, err = run(capsys, "decide", str(bad), "--format", "json")
    assert code == 2
    doc = ErrorDocument.model_validate(json.loads(out))
    assert doc.code == "request_invalid" and doc.errors[0].loc == "purpose" and doc.errors[0].file == str(bad)


# --- item 4: scenario files validated whole; schema scenario and protocol ---------------------

SCENARIO = """format: sharelaw/scenarios@1
scenarios:
  - id: hospital-s47
    request: {request}
    expect:
      outcome: {outcome}
      stages: {{vires: pass}}
"""


@pytest.mark.parametrize("outcome, suggestion", [("may_shar", "may_share"), ("share", None)])
def test_an_invalid_expected_outcome_is_an_error_at_its_line_not_a_mismatch(capsys, tmp_path, outcome, suggestion):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(request=json.dumps(REQUEST), outcome=outcome), encoding="utf-8")
    code, out, err = run(capsys, "test", str(path))
    assert code == 2 and "FAIL" not in out + err
    assert re.search(rf"{re.escape(str(path))}:6:7: scenario_schema_error: scenarios\.0\.expect\.outcome: ", err), err
    assert (f"did you mean '{suggestion}'?" in err) == (suggestion is not None)


def test_an_unknown_stage_or_status_in_expect_is_an_error(capsys, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(request=json.dumps(REQUEST), outcome="may_share")
                    .replace("{vires: pass}", "{vires: passed, hrra: pass}"), encoding="utf-8")
    code, out, err = run(capsys, "test", str(path), "--format", "json")
    assert code == 2
    messages = [e["message"] for e in json.loads(out)["errors"]]
    assert any("stages.vires" in m and "'pass'" in m for m in messages), messages
    assert any("stages.hrra" in m and "did you mean 'hra'?" in m for m in messages), messages


def test_a_misspelt_scenario_key_is_refused(capsys, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(request=json.dumps(REQUEST), outcome="may_share").replace("request:", "requst:"),
                    encoding="utf-8")
    code, _, err = run(capsys, "test", str(path))
    assert code == 2 and "requst" in err


def test_schema_scenario_and_protocol(capsys):
    from sharelaw.scenarios import ScenarioFileModel

    code, out, _ = run(capsys, "schema", "scenario")
    assert code == 0
    schema = json.loads(out)
    assert schema["additionalProperties"] is False and "scenarios" in schema["properties"]
    # every shipped scenario file is valid against the model the schema comes from
    import yaml

    for f in sorted((Path(__file__).parent / "scenarios").glob("*.yaml")):
        ScenarioFileModel.model_validate(yaml.safe_load(f.read_text(encoding="utf-8")))
    code, out, _ = run(capsys, "schema", "protocol")
    assert code == 0 and "partners" in json.loads(out)["properties"]


# --- item 5: test --format json|junit, -k, -v; check --format sarif|github -------------------

SCENARIOS = Path(__file__).parent / "scenarios"


def test_test_json_k_and_verbose(capsys):
    code, out, err = run(capsys, "test", str(SCENARIOS), "-k", "gw.contactpoint", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    ids = [c["id"] for c in doc["scenarios"]]
    assert ids and all("gw.contactpoint" in i for i in ids) and doc["passed"] == len(ids) and doc["failed"] == 0
    code, out, _ = run(capsys, "test", str(SCENARIOS), "-k", "GW.CONTACTPOINT.*", "-v")
    assert code == 0
    assert [ln.split()[1] for ln in out.splitlines() if ln.startswith("PASS ")] == ids
    code, _, err = run(capsys, "test", str(SCENARIOS), "-k", "no-such-scenario")
    assert code == 2 and "no scenario matches" in err


def test_test_junit_reports_a_failure(capsys, tmp_path):
    import xml.etree.ElementTree as ET

    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(request=json.dumps(REQUEST), outcome="must_not_share"), encoding="utf-8")
    code, out, _ = run(capsys, "test", str(path), "--format", "junit")
    assert code == 1
    root = ET.fromstring(out)
    (case,) = root.iter("testcase")
    assert case.get("name") == "hospital-s47" and root.get("failures") == "1"
    failure = case.find("failure")
    assert failure is not None and "must_not_share" in (failure.text or "")


def test_check_sarif_and_github(capsys, misspelt_rules):
    rules, path = misspelt_rules
    code, out, _ = run(capsys, "check", str(rules), "--format", "sarif")
    assert code == 1
    doc = json.loads(out)
    assert doc["version"] == "2.1.0"
    results = doc["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"ruleset_bad_value", "ruleset_unknown_definition"}
    region = results[0]["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] > 0 and region["startColumn"] > 0
    code, out, _ = run(capsys, "check", str(rules), "--format", "github")
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 2 and all(re.match(r"::error file=[^,]+,line=\d+,col=\d+,title=ruleset_\w+::", ln) for ln in lines)


# --- item 6: progress bars; prove writes nothing into the current directory ------------------

def test_prove_writes_no_hypothesis_directory_into_the_cwd(capsys, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, out, err = run(capsys, "prove", "--as-at", "2022-06-01", "--budget", "0.2", "--max-classes", "20",
                         "--examples", "3", "--no-progress")
    assert code in (0, 1), err
    assert list(work.iterdir()) == []


def test_prove_without_hypothesis_says_which_extra(capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "hypothesis", None)  # import hypothesis raises ImportError
    code, out, err = run(capsys, "prove", "--as-at", "2022-06-01", "--format", "json")
    assert code == 2
    assert "pip install 'sharelaw[prove]'" in err
    assert json.loads(out)["code"] == "missing_dependency"


@pytest.fixture
def small_log(capsys, tmp_path, request_file) -> str:
    log = str(tmp_path / "audit.db")
    for _ in range(3):
        code, _, err = run(capsys, "audit", "record", log, str(request_file), "--agency", "a", "--role", "r")
        assert code == 0, err
    return log


def test_replay_progress_is_a_bar_with_rate_and_eta(capsys, small_log, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    code, out, err = run(capsys, "replay", small_log, "--progress")
    assert code == 0, err
    assert "replayed" in err and "3/3" in err and "ETA" in err and "record(s)" in err
    assert "\x1b[3" not in err and "\x1b[9" not in err  # NO_COLOR: no foreground colours
    assert "replayed" not in out


def test_no_progress_when_stderr_is_not_a_terminal(capsys, small_log):
    code, _, err = run(capsys, "replay", small_log)
    assert code == 0 and err == ""


# --- item 7: decide --batch ---------------------------------------------------------------

def test_batch_decides_each_line_and_reports_each_error(capsys, tmp_path):
    lines = [json.dumps(REQUEST), json.dumps({**REQUEST, "as_at": "2012"}), "{not json", "",
             json.dumps({**REQUEST, "request_id": "second"})]
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "decide", "--batch", str(path))
    assert code == 2  # a line was invalid
    results = [json.loads(ln) for ln in out.splitlines()]
    assert [r["line"] for r in results] == [1, 2, 3, 5]
    assert results[0]["decision"]["request_id"] == "case-42" and results[3]["decision"]["request_id"] == "second"
    assert results[1]["error"]["code"] == "request_invalid"
    assert results[1]["error"]["errors"][0]["loc"] == "as_at" and results[1]["error"]["errors"][0]["line"] == 2
    assert results[2]["error"]["code"] == "request_not_json" and "decision" not in results[2]
    assert "2 decided, 2 refused" in err and f"{path}:4: blank line skipped" in err

    path.write_text(lines[0] + "\n" + lines[4] + "\n", encoding="utf-8")
    code, out, err = run(capsys, "decide", "--batch", str(path))
    assert code == 0 and len(out.splitlines()) == 2


def test_batch_streams_a_result_before_the_next_line_arrives(tmp_path):
    """Flat memory: each line is decided and written before the next is read (a pipe held open)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "sharelaw", "decide", "--batch", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        seen = []
        for i in range(3):
            proc.stdin.write(json.dumps({**REQUEST, "request_id": f"r{i}"}) + "\n")
            proc.stdin.flush()
            # the result of this line arrives while the input is still open
            seen.append(json.loads(proc.stdout.readline())["decision"]["request_id"])
        proc.stdin.close()
        assert proc.stdout.read() == ""
        assert proc.wait(timeout=120) == 0
    finally:
        proc.kill()
    assert seen == ["r0", "r1", "r2"]


def test_batch_and_a_request_file_together_is_a_usage_error(capsys, request_file):
    code, _, err = run(capsys, "decide", str(request_file), "--batch", str(request_file))
    assert code == 2 and "not both" in err


# --- item 8: a missing PostgreSQL driver is a usage error -----------------------------------

def test_a_missing_postgres_driver_exits_2_naming_the_extra(capsys, monkeypatch, request_file):
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)
    url = "postgresql://sharelaw:sharelaw@127.0.0.1:1/none"
    for argv in (["audit", "verify", url], ["replay", url], ["audit", "export", url],
                 ["audit", "record", url, str(request_file), "--agency", "a", "--role", "r"]):
        code, out, err = run(capsys, *argv)
        assert code == 2, argv
        assert "pip install 'sharelaw[postgres]'" in err and "internal error" not in err


# --- item 9: help text, exit codes, one argument style for audit ----------------------------

def test_help_documents_formats_against_exit_codes_and_examples(capsys):
    import contextlib
    import io

    def help_of(*argv: str) -> str:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main([*argv, "--help"]) == 0
        return buf.getvalue()

    top = help_of()
    assert "exit codes:" in top and "examples:" in top and "sharelaw decide --batch" in top
    assert re.search(r"--format \{text,json,markdown[^}]*\}\s+text \(default", help_of("decide"))
    assert re.search(r"--against current\|sha256:HASH\s+compare", help_of("replay"))
    for argv in (("check",), ("test",), ("rules", "list"), ("audit", "verify"), ("audit", "record")):
        assert re.search(r"--format \{[^}]+\}\s+\S", help_of(*argv)), argv


def test_audit_record_takes_the_log_first_like_the_other_audit_commands(capsys, tmp_path, request_file):
    log = str(tmp_path / "a.db")
    code, out, err = run(capsys, "audit", "record", log, str(request_file), "--agency", "a", "--role", "r",
                         "--format", "json")
    assert code == 0, err
    decision_id = json.loads(out)["decision_id"]
    code, out, _ = run(capsys, "audit", "show", log, decision_id)
    assert code == 0 and json.loads(out)["record"]["decision_id"] == decision_id
    # the 0.3.0 form still works
    code, _, err = run(capsys, "audit", "record", str(request_file), "--log", log, "--agency", "a", "--role", "r")
    assert code == 0, err


# --- item 10: py.typed means something: a user's code type-checks against sharelaw ------------

def test_a_users_code_type_checks_strictly_against_sharelaw(tmp_path):
    api = pytest.importorskip("mypy.api")
    user = tmp_path / "user.py"
    user.write_text(
        "import sharelaw\n"
        "decision = sharelaw.decide({})\n"
        "label: str = decision.outcome.label\n"
        "first: str = decision.findings[0].citations[0].label\n"
        "reveal_type(decision.outcome.label)\n", encoding="utf-8")
    out, err, status = api.run(["--strict", "--follow-imports=silent", "--no-incremental",
                                "--cache-dir", str(tmp_path / "cache"), str(user)])
    assert 'Revealed type is "builtins.str"' in out or 'Revealed type is "str"' in out, out + err
    assert "error" not in out.replace("Success", ""), out


def test_batch_uses_the_evaluator_and_cross_check_rate_given(tmp_path, capsys):
    # --evaluator/--cross-check apply to every line of a batch as to one request
    request = json.loads((Path(__file__).resolve().parents[1] / "examples" / "05-hospital-assists-s47-enquiry.json").read_text("utf-8"))
    batch = tmp_path / "requests.jsonl"
    batch.write_text(json.dumps(request) + "\n" + json.dumps(request) + "\n", "utf-8")
    code = main(["decide", "--batch", str(batch), "--evaluator", "compiled", "--cross-check", "0"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and len(lines) == 2
    assert {(r["decision"]["evaluator"], r["decision"]["cross_checked"]) for r in lines} == {("compiled", False)}
