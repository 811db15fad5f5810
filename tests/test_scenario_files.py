"""Scenario files: every malformed shape is a coded error with file and line (issue 10, item 12).

Most malformed shapes used to end in ``internal error`` (``AttributeError: 'list' object has
no attribute 'items'``, ``TypeError: unhashable type``...), a duplicated key was "last one
wins", and an unknown key (``requst:``) was ignored, so the scenario silently tested the
base request alone.
"""

from __future__ import annotations

import re

import textwrap
from pathlib import Path

import pytest

from sharelaw import scenarios
from sharelaw.cli import main
from sharelaw.errors import RulesetErrors

HEAD = "format: sharelaw/scenarios@1\n"
BASE = textwrap.dedent("""\
    bases:
      school:
        as_at: 2026-06-01
        interaction: offer
        discloser: {kind: maintained_school, legal_entity: st-marys-primary}
        recipient: {kind: la_childrens_social_care, legal_entity: northshire-council}
        subject: {age: 7, capacity: "no"}
        purpose: child_protection_enquiry
        data: {categories: [education_record], identifiability: identifiable, in_confidence: "yes", already_public: "no"}
        consent: {state: unsafe_to_seek}
        risk_of_harm: {level: significant_harm, to: subject}
    """)
GOOD = "  - id: ok\n    base: school\n    expect: {outcome: refer}\n"

#: (name, the text after HEAD, the code, the line reported). Line 1 is ``format:``.
CASES = [
    ("top level a list", "- a\n", "scenario_parse_error", 2),
    ("format of another kind", "format: sharelaw/ruleset@1\n", "scenario_duplicate_key", 2),
    ("unknown top-level key", "scenario:\n  - id: x\n", "scenario_schema_error", 2),
    ("bases a list", "bases: [a, b]\nscenarios: []\n", "scenario_schema_error", 2),
    ("bases a string", "bases: school\n", "scenario_schema_error", 2),
    ("a base a list", "bases:\n  school: [1, 2]\n", "scenario_schema_error", 3),
    ("a base named by a list", "bases:\n  ? [a]\n  : {as_at: 2026-06-01}\n", "scenario_parse_error", None),
    ("scenarios a mapping", "scenarios: {id: x}\n", "scenario_schema_error", 2),
    ("scenarios a string", "scenarios: all of them\n", "scenario_schema_error", 2),
    ("a scenario a string", "scenarios:\n  - just words\n", "scenario_schema_error", 3),
    ("a scenario a list", "scenarios:\n  - [id, x]\n", "scenario_schema_error", 3),
    ("no id", "scenarios:\n  - expect: {outcome: refer}\n", "scenario_schema_error", 3),
    ("id a list", "scenarios:\n  - id: [a, b]\n    expect: {outcome: refer}\n", "scenario_schema_error", 3),
    ("id a mapping", "scenarios:\n  - id: {a: b}\n    expect: {outcome: refer}\n", "scenario_schema_error", 3),
    ("id a number", "scenarios:\n  - id: 7\n    expect: {outcome: refer}\n", "scenario_schema_error", 3),
    ("unknown scenario key", "scenarios:\n  - id: x\n    requst: {purpose: early_help}\n    expect: {outcome: refer}\n",
     "scenario_schema_error", 4),
    ("base a list", "scenarios:\n  - id: x\n    base: [a]\n    expect: {outcome: refer}\n", "scenario_schema_error", 4),
    ("request a list", "scenarios:\n  - id: x\n    request: [a]\n    expect: {outcome: refer}\n", "scenario_schema_error", 4),
    ("request a string", "scenarios:\n  - id: x\n    request: hello\n    expect: {outcome: refer}\n",
     "scenario_schema_error", 4),
    ("description a mapping", "scenarios:\n  - id: x\n    description: {a: b}\n    expect: {outcome: refer}\n",
     "scenario_schema_error", 4),
    ("no expect", "scenarios:\n  - id: x\n", "scenario_schema_error", 3),
    ("expect a list", "scenarios:\n  - id: x\n    expect: [outcome]\n", "scenario_schema_error", 4),
    ("expect a number", "scenarios:\n  - id: x\n    expect: 3\n", "scenario_schema_error", 4),
    ("expect empty", "scenarios:\n  - id: x\n    expect: {}\n", "scenario_schema_error", 4),
    ("unknown expectation", "scenarios:\n  - id: x\n    expect:\n      outcom: refer\n", "scenario_schema_error", 5),
    ("fires a string", "scenarios:\n  - id: x\n    expect:\n      fires: some.rule\n", "scenario_schema_error", 5),
    ("fires of numbers", "scenarios:\n  - id: x\n    expect:\n      fires: [1, 2]\n", "scenario_schema_error", 5),
    ("stages a list", "scenarios:\n  - id: x\n    expect:\n      stages: [vires]\n", "scenario_schema_error", 5),
    ("outcome a list", "scenarios:\n  - id: x\n    expect:\n      outcome: [refer]\n", "scenario_schema_error", 5),
    ("missing a mapping", "scenarios:\n  - id: x\n    expect:\n      missing: {a: b}\n", "scenario_schema_error", 5),
    ("duplicate scenario key", "scenarios:\n  - id: x\n    expect: {outcome: refer}\n    expect: {outcome: may_share}\n",
     "scenario_duplicate_key", 5),
    ("duplicate request key", BASE + "scenarios:\n  - id: x\n    base: school\n    request:\n      as_at: 2020-01-01\n"
     "      as_at: 2026-06-01\n    expect: {outcome: refer}\n", "scenario_duplicate_key", 18),
    ("duplicate top-level key", "scenarios: []\nscenarios: []\n", "scenario_duplicate_key", 3),
    ("impossible date", BASE + "scenarios:\n  - id: x\n    base: school\n    request: {as_at: 2026-02-30}\n"
     "    expect: {outcome: refer}\n", "scenario_bad_dates", 16),
    ("an alias", BASE + "scenarios:\n  - id: x\n    request: &r {purpose: early_help}\n    expect: {outcome: refer}\n",
     "scenario_yaml_alias", 15),
    ("nested too deep", "scenarios:\n  - id: x\n    request: " + "{a: " * 300 + "1" + "}" * 300 + "\n"
     "    expect: {outcome: refer}\n", "scenario_too_deep", 4),
    ("a 5000-digit age", BASE + "scenarios:\n  - id: x\n    base: school\n    request: {subject: {age: 1" + "0" * 5000 + "}}\n"
     "    expect: {outcome: refer}\n", "scenario_schema_error", 16),
    ("not YAML", "scenarios: [\n", "scenario_parse_error", None),
    ("unknown base", "scenarios:\n  - id: x\n    base: nowhere\n    expect: {outcome: refer}\n", "scenario_schema_error", 4),
    ("duplicate id", BASE + "scenarios:\n" + GOOD + GOOD, "scenario_duplicate_id", 17),
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenarios.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("body, code, line", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_malformed_scenario_file_is_a_coded_error_at_its_line(tmp_path, body, code, line):
    path = write(tmp_path, HEAD + body)
    with pytest.raises(RulesetErrors) as info:
        scenarios.load([path])
    errors = info.value.errors
    assert errors[0].code == code, [e.render() for e in errors]
    assert errors[0].file == str(path)
    if line is not None:
        assert errors[0].line == line, [e.render() for e in errors]
    else:
        assert errors[0].line is not None


@pytest.mark.parametrize("body, code, line", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_sharelaw_test_reports_it_as_bad_input_never_internal_error(tmp_path, capsys, body, code, line):
    path = write(tmp_path, HEAD + body)
    exit_code = main(["test", str(path)])
    out, err = capsys.readouterr()
    assert exit_code == 2 and out == "", err
    assert "internal error" not in err and code in err
    if line is not None:
        assert re.search(rf"{re.escape(str(path))}:{line}:\d+: {code}: ", err), err


def test_every_error_in_a_file_is_reported(tmp_path):
    path = write(tmp_path, HEAD + "scenarios:\n  - id: [a]\n    expect: {outcome: refer}\n  - id: y\n    requst: {}\n"
                 "    expect: []\n")
    with pytest.raises(RulesetErrors) as info:
        scenarios.load([path])
    assert [(e.code, e.line) for e in info.value.errors] == [
        ("scenario_schema_error", 3), ("scenario_schema_error", 6), ("scenario_schema_error", 7)]


def test_a_non_utf8_scenario_file_names_the_line(tmp_path):
    path = tmp_path / "scenarios.yaml"
    path.write_bytes((HEAD + "scenarios:\n  - id: caf\xe9\n    expect: {outcome: refer}\n").encode("latin-1"))
    with pytest.raises(RulesetErrors) as info:
        scenarios.load([path])
    assert [(e.code, e.line) for e in info.value.errors] == [("scenario_parse_error", 3)]


def test_a_well_formed_file_still_loads(tmp_path):
    path = write(tmp_path, HEAD + BASE + "scenarios:\n" + GOOD)
    (loaded,) = scenarios.load([path])
    assert loaded.id == "ok" and loaded.request["as_at"] == "2026-06-01" and loaded.line == 14


def test_the_scenario_codes_are_documented():
    import re

    doc = (Path(__file__).parent.parent / "docs" / "rulesets.md").read_text(encoding="utf-8")
    codes = set(re.findall(r"``(scenario_[a-z_]+)``", scenarios.load.__doc__ or ""))
    assert codes >= {c[2] for c in CASES}
    for code in codes:
        assert f"| `{code}` |" in doc, code
