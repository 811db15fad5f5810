"""What `sharelaw check` passes, the engine accepts (issue 10, item 13): rules the engines
cannot compile are found by `check`, at their file and line, and reported as the user's
rules, never as "the shipped rules"."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest

from sharelaw.cli import main
from sharelaw.rules.bundle import default_ruleset_dir

HEAD = (
    "format: sharelaw/ruleset@1\nid: local.extra\nstage: vires\ntitle: Extra rules\n"
    "in_force: {from: 2000-03-01}\nrules:\n"
)


def _rule(i: int, when: str) -> str:
    return (f"  - id: local.extra.r{i}\n    title: Extra rule {i}\n    in_force: {{from: 2000-03-01}}\n"
            "    review_by: 2030-01-01\n"
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


def test_more_rules_with_one_condition_than_one_ruleset_takes_are_split_and_all_fire(capsys, rules, tmp_path):
    # durable-rules refuses 257 rules with an identical condition in one ruleset (error 108):
    # the layout puts them in several rulesets, so check passes and every one of them fires
    (rules / "national" / "99_extra.yaml").write_text(HEAD + "".join(_rule(i, "true") for i in range(300)), "utf-8")
    code, report = _check(capsys, rules)
    assert code == 0, report["diagnostics"][:3]
    from sharelaw import Engine
    from sharelaw.rules.bundle import Bundle
    from sharelaw.vocab import Stage

    bundle = Bundle.load(rules)
    segment = bundle.segment(Stage.VIRES, date(2024, 1, 1))
    engine = Engine(bundle)  # cross-checked against the reference evaluator on every firing
    layout = engine._primary.layout(segment)
    assert len(layout.shards()) >= 2 and layout.headroom().betas <= 256
    request = json.loads((default_ruleset_dir().parent / "examples" / "05-hospital-assists-s47-enquiry.json").read_text("utf-8"))
    request["as_at"] = "2024-01-01"
    fired = engine.fired(request)[Stage.VIRES]
    assert [i for i in fired if i.startswith("local.extra.")] == [f"local.extra.r{i}" for i in range(300)]
    engine.close()


def test_a_rule_too_large_to_cut_is_found_by_check_at_its_line(capsys, rules):
    # 24 distinct two-way alternatives that must all hold: 24 `any` inside an `all` exceed the
    # core's 15 operators, and cutting them would take 2**10 pieces
    alternatives = [f"{{any: [{{purpose: early_help}}, {{data.{c}: true}}]}}" for c in (
        "health", "mental_health", "sexual_health", "social_care_record", "education_record",
        "criminal_offence", "ethnic_origin", "religious_belief", "sex_life_orientation", "genetic_biometric",
        "financial")]
    alternatives += [f"{{any: [{{interaction: offer}}, {{risk.level: {v}}}]}}" for v in ("none", "unknown")]
    alternatives += [f"{{any: [{{subject.age_band: {a}}}, {{consent.state: refused}}]}}" for a in (
        "under_13", "13_to_15", "16_to_17", "18_plus")]
    alternatives += [f"{{any: [{{statutory_request: none}}, {{purpose: {p}}}]}}" for p in (
        "other", "child_in_need", "youth_support_services", "child_protection_enquiry", "research_statistics",
        "direct_care", "adult_safeguarding")]
    assert len(alternatives) == 24
    (rules / "national" / "99_extra.yaml").write_text(HEAD + _rule(1, "{all: [" + ", ".join(alternatives) + "]}"), "utf-8")
    code, report = _check(capsys, rules)
    assert code == 1, report
    (diag,) = [d for d in report["diagnostics"] if d["code"] == "ruleset_engine_limit"]
    assert diag["file"].endswith("99_extra.yaml") and diag["line"] == 7 and diag["rule_id"] == "local.extra.r1"


def test_decide_compiling_lazily_still_refuses_a_rule_the_engine_cannot_take(capsys, rules, tmp_path):
    # `sharelaw decide` compiles only the segments its request reaches (a cold start's main
    # cost): a rule the core cannot take is found when its segment is reached, and is the
    # same rule-file error at its line, with nothing decided
    deep = "{not: " * 250 + "{purpose: other}" + "}" * 250
    (rules / "national" / "99_extra.yaml").write_text(HEAD + _rule(1, deep), "utf-8")
    request = default_ruleset_dir().parent / "examples" / "05-hospital-assists-s47-enquiry.json"
    code = main(["decide", "--rules", str(rules), str(request), "--format", "json"])
    captured = capsys.readouterr()
    assert code == 2
    assert "99_extra.yaml:7" in captured.err and "ruleset_engine_limit" in captured.err
    assert '"outcome"' not in captured.out


def test_a_lazily_prepared_engine_decides_as_an_eager_one(rules):
    from sharelaw import Engine
    from sharelaw.rules.bundle import Bundle

    bundle = Bundle.load(rules)
    eager, lazy = Engine(bundle), Engine(bundle, prepare="lazy")
    try:
        for path in sorted((default_ruleset_dir().parent / "examples").glob("0*.json")):
            request = json.loads(path.read_text("utf-8"))
            assert lazy.decide(request) == eager.decide(request)
    finally:
        eager.close()
        lazy.close()
