"""What `sharelaw check` passes, the engine accepts (issue 10, item 13): rules the engines
cannot compile are found by `check`, at their file and line, and reported as the user's
rules, never as "the shipped rules"."""

from __future__ import annotations

import json
import shutil

import pytest

from sharelaw.cli import main
from sharelaw.rules.bundle import default_ruleset_dir

HEAD = (
    "format: sharelaw/ruleset@1\nid: local.extra\nstage: vires\ntitle: Extra rules\n"
    "in_force: {from: 2000-03-01}\nrules:\n"
)


def _rule(i: int, when: str) -> str:
    return (f"  - id: local.extra.r{i}\n    title: Extra rule {i}\n    in_force: {{from: 2000-03-01}}\n"
            f"    when: {when}\n    effect: {{kind: notes}}\n    citations: [{{case: \"A v B\"}}]\n"
            "    verification: unverified\n    reason: An extra note.\n")


@pytest.fixture()
def rules(tmp_path):
    root = tmp_path / "rules"
    shutil.copytree(default_ruleset_dir() / "national", root / "national")
    return root


def _check(capsys, root):
    code = main(["check", str(root), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_a_condition_nested_too_deeply_is_found_by_check_at_its_line(capsys, rules):
    deep = "{not: " * 250 + "{purpose: other}" + "}" * 250
    (rules / "national" / "99_extra.yaml").write_text(HEAD + _rule(1, deep), "utf-8")
    code, report = _check(capsys, rules)
    assert code == 1
    (diag,) = [d for d in report["diagnostics"] if d["code"] == "ruleset_engine_limit"]
    assert diag["file"].endswith("99_extra.yaml") and diag["line"] == 7 and diag["rule_id"] == "local.extra.r1"


def test_too_many_rules_with_one_condition_are_found_by_check(capsys, rules, tmp_path):
    # durable-rules refuses about 257 rules with an identical condition in one ruleset (error 108)
    (rules / "national" / "99_extra.yaml").write_text(HEAD + "".join(_rule(i, "true") for i in range(300)), "utf-8")
    code, report = _check(capsys, rules)
    assert code == 1
    assert any(d["code"] == "ruleset_engine_limit" for d in report["diagnostics"]), report["diagnostics"][:3]
    # and deciding with them is the user's rules being invalid (exit 2), not an internal error
    request = tmp_path / "req.json"
    request.write_text((default_ruleset_dir().parent / "examples" / "05-hospital-assists-s47-enquiry.json").read_text("utf-8")
                       if (default_ruleset_dir().parent / "examples").is_dir() else "{}", "utf-8")
    code = main(["decide", str(request), "--rules", str(rules)])
    err = capsys.readouterr().err
    assert code == 2 and "the rules given are invalid" in err and "shipped" not in err
