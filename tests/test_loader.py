"""Rule files: loading, the stable error codes (with file and line), bundles, date
segments, and compilation to durable-rules (checked against the reference evaluator).

Every documented error code has a fixture in tests/fixtures/bad/<code>.yaml whose
offending line carries the comment ``# <- error``; the loader must report exactly that
code, that file and that line.
"""

from __future__ import annotations

import itertools
import re
import shutil
import textwrap
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelaw.errors import RulesetError, RulesetErrors
from sharelaw.rules import loader
from sharelaw.rules.bundle import Bundle
from sharelaw.rules.compile import compile_condition, compile_rules, nnf
from sharelaw.rules.model import All, AnyOf, Const, In, Not
from sharelaw.rules.reference import ReferenceEvaluator, holds
from sharelaw.vocab import Stage

FIXTURES = Path(__file__).parent / "fixtures"
BAD = FIXTURES / "bad"
MARKER = "# <- error"

ALL_CODES = re.findall(r"``(ruleset_[a-z_]+)``", loader.__doc__ or "")
#: Raised when an Engine compiles the rules for durable-rules, not by Bundle.load.
ENGINE_CODES = ["ruleset_engine_limit"]
#: About the file itself (a dangling symlink, a FIFO...), so no YAML fixture can show it:
#: tests/test_unreadable_rules.py builds each case.
FILE_CODES = ["ruleset_unreadable"]
DOCUMENTED_CODES = [c for c in ALL_CODES if c not in ENGINE_CODES + FILE_CODES]


# ---------------------------------------------------------------------- helpers


def header(stage: str = "vires", file_id: str = "test.file", in_force: str = "{from: 2000-03-01}") -> str:
    return textwrap.dedent(
        f"""\
        format: sharelaw/ruleset@1
        id: {file_id}
        stage: {stage}
        title: A test rule file
        in_force: {in_force}
        """
    )


POWER = textwrap.dedent(
    """\
    requirements:
      - id: power
        title: The discloser has a power to share
        unmet: No power was found for {discloser}.
    """
)


def rule(rule_id: str, when: str = "true", *, effect: str = "{kind: notes}", in_force: str = "{from: 2000-03-01}",
         priority: int = 100, citations: str = '[{case: "R v Somerset CC, ex p Fewings [1995] 1 WLR 1037"}]',
         reason: str = "A reason.") -> str:
    """One rule as YAML list item (two-space indented under ``rules:``)."""
    when_block = textwrap.indent(textwrap.dedent(when).strip(), "      ")
    return (
        f"  - id: {rule_id}\n"
        f"    title: Rule {rule_id}\n"
        f"    in_force: {in_force}\n"
        f"    priority: {priority}\n"
        f"    when:\n{when_block}\n"
        f"    effect: {effect}\n"
        f"    citations: {citations}\n"
        f"    verification: verified\n"
        f"    reason: {reason}\n"
    )


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(*paths: Path) -> list[RulesetError]:
    with pytest.raises(RulesetErrors) as info:
        Bundle.load(*paths)
    return info.value.errors


def line_of(path: Path, needle: str) -> int:
    """1-based number of the first line of ``path`` containing ``needle``."""
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in text:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


# ---------------------------------------------------------------------- error codes


def test_docstring_documents_the_codes():
    assert len(DOCUMENTED_CODES) == 16
    assert len(set(ALL_CODES)) == len(ALL_CODES)
    assert set(ENGINE_CODES) <= set(ALL_CODES)
    assert set(FILE_CODES) <= set(ALL_CODES)


def test_engine_limit_is_reported_at_engine_start_naming_the_rule():
    """durable-rules takes at most 31 expressions per rule; the Engine says which rule, where."""
    from sharelaw import Engine

    path = FIXTURES / "engine" / "ruleset_engine_limit.yaml"
    bundle = Bundle.load(path)  # the file itself is valid
    with pytest.raises(RulesetErrors) as info:
        Engine(bundle)
    (err,) = info.value.errors
    assert err.code == "ruleset_engine_limit"
    assert Path(err.file).name == path.name
    assert err.line == line_of(path, MARKER)
    assert err.rule_id == "bad.engine_limit.rule"
    # the reference evaluator has no such limit and decides with the same bundle
    Engine(bundle, evaluator="reference")


def test_every_documented_code_has_a_fixture():
    # protocol_*.yaml fixtures load with the national rules: tests/test_protocols.py.
    fixtures = {p.stem for p in BAD.glob("ruleset_*.yaml")}
    assert fixtures == set(DOCUMENTED_CODES)


@pytest.mark.parametrize("code", DOCUMENTED_CODES)
def test_bad_fixture_reports_its_code_file_and_line(code):
    path = BAD / f"{code}.yaml"
    expected_line = line_of(path, MARKER)
    errors = errors_of(path)
    assert [e.code for e in errors] == [code], [e.render() for e in errors]
    (err,) = errors
    assert Path(err.file).name == path.name
    assert err.line == expected_line
    assert err.message
    # The rendered form that users see names file:line and the code.
    assert re.search(rf"{re.escape(path.name)}:{expected_line}(:\d+)?: {code}: ", err.render()), err.render()
    # And the error is a ValueError carrying the same data as a dict (for JSON output).
    assert isinstance(err, ValueError)
    assert err.to_dict()["code"] == code and err.to_dict()["line"] == expected_line


@pytest.mark.parametrize(
    "code",
    [c for c in DOCUMENTED_CODES
     if c not in {"ruleset_parse_error", "ruleset_duplicate_key", "ruleset_yaml_alias", "ruleset_too_deep"}],
)
def test_rule_level_errors_name_the_rule(code):
    """Errors inside a rule say which rule (the fixtures each hold one offending rule)."""
    path = BAD / f"{code}.yaml"
    (err,) = errors_of(path)
    assert err.rule_id is not None and err.rule_id.startswith("bad.")


def test_bundle_load_raises_ruleset_errors_for_a_directory_of_bad_files():
    """Loading the whole fixture directory reports every file's error, not just the first."""
    errors = errors_of(*sorted(BAD.glob("ruleset_*.yaml")))
    # ruleset_unknown_requirement is a cross-file check: it runs only once every file loaded.
    per_file = {Path(e.file).stem for e in errors}
    assert per_file == set(DOCUMENTED_CODES) - {"ruleset_unknown_requirement"}


def test_parse_error_in_a_tabbed_file(tmp_path):
    path = write(tmp_path, "tabs.yaml", header() + "rules:\n\t- id: x\n")
    (err,) = errors_of(path)
    assert (err.code, err.line) == ("ruleset_parse_error", 7)


def test_empty_file_and_non_mapping_file_are_schema_errors(tmp_path):
    empty = write(tmp_path / "a", "empty.yaml", "")
    listing = write(tmp_path / "b", "list.yaml", "- one\n- two\n")
    assert [(e.code, e.line) for e in errors_of(empty)] == [("ruleset_schema_error", 1)]
    assert [(e.code, e.line) for e in errors_of(listing)] == [("ruleset_schema_error", 1)]


def test_missing_path_is_reported(tmp_path):
    (err,) = errors_of(tmp_path / "nowhere.yaml")
    assert err.code == "ruleset_schema_error"
    assert err.file.endswith("nowhere.yaml")


# ---------------------------------------------------------------------- valid files


def test_minimal_valid_file_loads():
    path = FIXTURES / "good" / "minimal.yaml"
    bundle = Bundle.load(path)
    assert list(bundle.rules) == ["t.power"]
    r = bundle.rules["t.power"]
    assert r.stage is Stage.VIRES
    assert r.file == str(path)
    assert r.line == line_of(path, "- id: t.power")
    assert r.when == In("discloser.public_authority", (True,))
    assert r.effect.basis.value == "implied_power"
    assert r.citations[0].legislation == "ukpga/1989/41/section/47"
    assert r.verification == "verified"
    assert [rq.id for rq in bundle.requirements[Stage.VIRES]] == ["power"]
    assert bundle.requirements[Stage.VIRES][0].when == Const(True)
    assert bundle.by_stage[Stage.HRA] == []


def test_rules_are_ordered_by_priority_then_file_order(tmp_path):
    text = header() + POWER + "rules:\n" + rule("b.second", priority=5) + rule("a.first", priority=1) + rule(
        "c.third", priority=5
    )
    bundle = Bundle.load(write(tmp_path, "order.yaml", text))
    assert [r.id for r in bundle.by_stage[Stage.VIRES]] == ["a.first", "b.second", "c.third"]


def test_a_rule_may_predate_its_file(tmp_path):
    """Law made before the file's era (Children Act 1989) is fine as long as it overlaps the era."""
    text = header() + POWER + "rules:\n" + rule("old.law", in_force="{from: 1991-10-14}")
    assert "old.law" in Bundle.load(write(tmp_path, "old.yaml", text)).rules


def test_a_rule_starting_after_its_file_ends_is_bad_dates(tmp_path):
    text = header(in_force="{from: 2000-03-01, to: 2018-05-24}") + POWER + "rules:\n" + rule(
        "late.law", in_force="{from: 2018-05-25}"
    )
    path = write(tmp_path, "late.yaml", text)
    (err,) = errors_of(path)
    assert (err.code, err.rule_id, err.line) == ("ruleset_bad_dates", "late.law", line_of(path, "in_force: {from: 2018-05-25}"))


def test_in_force_to_before_from_is_a_schema_error(tmp_path):
    text = header() + POWER + "rules:\n" + rule("x.backwards", in_force="{from: 2010-01-01, to: 2009-01-01}")
    path = write(tmp_path, "backwards.yaml", text)
    (err,) = errors_of(path)
    assert err.code == "ruleset_schema_error"
    assert err.line == line_of(path, "to: 2009-01-01")


# ---------------------------------------------------------------------- several errors


def test_multiple_errors_in_one_file_are_all_reported(tmp_path):
    text = (
        header()
        + POWER
        + "rules:\n"
        + rule("m.unknown_fact", "{discloser.colour: red}")
        + rule("m.bad_value", "{purpose: flying}")
        + rule("m.bad_template", reason='"For {nobody.knows}."')
        + rule("m.no_citation", citations="[]")
        + rule("m.no_basis", effect="{kind: satisfies, requirement: power}")
        + rule("m.later_fact", "{confidence.status: pass}")
    )
    path = write(tmp_path, "many.yaml", text)
    found = {(e.code, e.rule_id, e.line) for e in errors_of(path)}
    assert found == {
        ("ruleset_unknown_fact", "m.unknown_fact", line_of(path, "discloser.colour")),
        ("ruleset_bad_value", "m.bad_value", line_of(path, "purpose: flying")),
        ("ruleset_bad_template", "m.bad_template", line_of(path, "nobody.knows")),
        ("ruleset_missing_citation", "m.no_citation", line_of(path, "- id: m.no_citation")),
        ("ruleset_bad_effect", "m.no_basis", line_of(path, "requirement: power}")),
        ("ruleset_fact_not_available", "m.later_fact", line_of(path, "confidence.status")),
    }


def test_multiple_schema_errors_are_all_reported(tmp_path):
    text = (
        "format: sharelaw/ruleset@2\n"
        "id: Not A Valid Id\n"
        "stage: vires\n"
        "title: Schema errors\n"
        "in_force: {to: 2001-01-01}\n"
        "rules:\n"
        "  - id: s.one\n"
        "    title: One\n"
        "    in_force: {from: 2000-03-01}\n"
        "    when: true\n"
        "    effect: {kind: note}\n"
        '    citations: [{case: "X v Y", guidance: "Some guidance"}]\n'
        "    verification: checked\n"
        "    reason: R.\n"
    )
    path = write(tmp_path, "schema.yaml", text)
    errors = errors_of(path)
    assert {e.code for e in errors} == {"ruleset_schema_error"}
    assert sorted(e.line for e in errors) == [1, 2, 5, 11, 12, 13]
    by_line = {e.line: e for e in errors}
    assert by_line[11].rule_id == "s.one"
    assert "rules.0.effect.kind" in by_line[11].message
    assert "in_force.from" in by_line[5].message


def test_errors_in_several_files_are_all_reported(tmp_path):
    a = write(tmp_path, "a.yaml", header(file_id="t.a") + POWER + "rules:\n" + rule("a.one", "{purpose: flying}"))
    b = write(tmp_path, "b.yaml", header(file_id="t.b") + "rules:\n" + rule("b.one", "{hra.status: pass}"))
    found = {(Path(e.file).name, e.code) for e in errors_of(tmp_path)}
    assert found == {(a.name, "ruleset_bad_value"), (b.name, "ruleset_fact_not_available")}


# ---------------------------------------------------------------------- YAML 1.2 booleans


def test_yaml_yes_and_no_stay_strings():
    data, _ = loader.read_yaml("a: yes\nb: no\nc: on\nd: off\ne: Yes\nf: true\ng: False\n", "x.yaml")
    assert data == {"a": "yes", "b": "no", "c": "on", "d": "off", "e": "Yes", "f": True, "g": False}
    assert all(type(data[k]) is str for k in "abcde")


def test_yes_no_are_vocabulary_values_in_conditions(tmp_path):
    when = """\
        all:
          - subject.adult_at_risk: yes
          - data.in_confidence: {in: [no, unknown]}
          - discloser.public_authority: true
        """
    text = header() + POWER + "rules:\n" + rule("yn.rule", when)
    bundle = Bundle.load(write(tmp_path, "yn.yaml", text))
    assert bundle.rules["yn.rule"].when == All(
        (
            In("subject.adult_at_risk", ("yes",)),
            In("data.in_confidence", ("no", "unknown")),
            In("discloser.public_authority", (True,)),
        )
    )


def test_yes_is_not_a_boolean_for_a_boolean_fact(tmp_path):
    text = header() + POWER + "rules:\n" + rule("yn.bool", "{discloser.public_authority: yes}")
    path = write(tmp_path, "ynb.yaml", text)
    (err,) = errors_of(path)
    assert (err.code, err.line) == ("ruleset_bad_value", line_of(path, "public_authority: yes"))


def test_true_is_not_a_value_of_an_enum_fact(tmp_path):
    text = header() + POWER + "rules:\n" + rule("yn.enum", "{subject.capacity: true}")
    (err,) = errors_of(write(tmp_path, "yne.yaml", text))
    assert err.code == "ruleset_bad_value"


# ---------------------------------------------------------------------- conditions


def test_condition_forms_load_to_the_documented_ast(tmp_path):
    when = """\
        any:
          - all:
              - purpose: {in: [early_help, child_in_need]}
              - risk.level: {ne: unknown}
          - not: {consent.state: {not_in: [refused, withdrawn]}}
          - {same_legal_entity: false, discloser.kind: la_housing}
          - false
        """
    text = header() + POWER + "rules:\n" + rule("c.forms", when)
    cond = Bundle.load(write(tmp_path, "c.yaml", text)).rules["c.forms"].when
    assert cond == AnyOf(
        (
            All((In("purpose", ("early_help", "child_in_need")), In("risk.level", ("unknown",), negated=True))),
            Not(In("consent.state", ("refused", "withdrawn"), negated=True)),
            All((In("same_legal_entity", (False,)), In("discloser.kind", ("la_housing",)))),
            Const(False),
        )
    )


@pytest.mark.parametrize(
    "when",
    [
        "{all: [{purpose: early_help}], any: [{purpose: other}]}",  # combinators must stand alone
        "{purpose: {gt: early_help}}",  # not a comparison
        "{purpose: {in: early_help}}",  # in takes a list
        "{purpose: {not_in: []}}",  # non-empty list
        '"purpose is early help"',  # a string is not a condition
        "{}",  # an empty mapping
    ],
)
def test_malformed_conditions_are_bad_condition(tmp_path, when):
    text = header() + POWER + "rules:\n" + rule("c.bad", when)
    path = write(tmp_path, "bad.yaml", text)
    (err,) = errors_of(path)
    assert err.code == "ruleset_bad_condition"
    assert err.rule_id == "c.bad"
    assert err.line is not None and line_of(path, "when:") <= err.line <= line_of(path, "effect:")


# ---------------------------------------------------------------------- definitions


def test_definitions_are_expanded_where_used(tmp_path):
    text = (
        header()
        + POWER
        + textwrap.dedent(
            """\
            define:
              child:
                subject.age_band: {in: [under_13, 13_to_15, 16_to_17]}
              child_at_risk:
                all:
                  - use: child
                  - risk.level: significant_harm
            """
        )
        + "rules:\n"
        + rule("d.user", "{any: [{use: child_at_risk}, {purpose: early_help}]}")
    )
    cond = Bundle.load(write(tmp_path, "defs.yaml", text)).rules["d.user"].when
    child = In("subject.age_band", ("under_13", "13_to_15", "16_to_17"))
    assert cond == AnyOf((All((child, In("risk.level", ("significant_harm",)))), In("purpose", ("early_help",))))


def test_circular_definition_is_an_error(tmp_path):
    text = (
        header()
        + POWER
        + textwrap.dedent(
            """\
            define:
              a:
                any:
                  - purpose: early_help
                  - use: b
              b:
                all:
                  - use: a
                  - risk.level: none
            """
        )
        + "rules:\n"
        + rule("d.cycle", "{use: a}")
    )
    path = write(tmp_path, "cycle.yaml", text)
    errors = errors_of(path)
    assert {e.code for e in errors} == {"ruleset_unknown_definition"}
    # the cycle is closed by the `use: a` inside b
    assert line_of(path, "- use: a") in {e.line for e in errors}
    assert any("refers to itself" in e.message for e in errors)


def test_self_referencing_unused_definition_is_an_error(tmp_path):
    text = header() + POWER + "define:\n  loop: {use: loop}\n" + "rules:\n" + rule("d.plain")
    path = write(tmp_path, "self.yaml", text)
    errors = errors_of(path)
    assert {(e.code, e.line) for e in errors} == {("ruleset_unknown_definition", line_of(path, "loop: {use: loop}"))}


def test_unused_definition_is_still_checked(tmp_path):
    text = header() + POWER + "define:\n  spare:\n    purpose: flying\n" + "rules:\n" + rule("d.plain")
    path = write(tmp_path, "spare.yaml", text)
    errors = errors_of(path)
    assert {(e.code, e.line) for e in errors} == {("ruleset_bad_value", line_of(path, "purpose: flying"))}


def test_definitions_do_not_cross_files(tmp_path):
    write(tmp_path, "a.yaml", header(file_id="t.a") + POWER + "define:\n  child: {subject.age_band: under_13}\nrules: []\n")
    b = write(tmp_path, "b.yaml", header(file_id="t.b") + "rules:\n" + rule("b.user", "{use: child}"))
    (err,) = errors_of(tmp_path)
    assert (err.code, Path(err.file).name, err.line) == ("ruleset_unknown_definition", b.name, line_of(b, "use: child"))


# ---------------------------------------------------------------------- across files


def test_rule_id_duplicated_across_files(tmp_path):
    a = write(tmp_path, "a.yaml", header(file_id="t.a") + POWER + "rules:\n" + rule("same.id"))
    b = write(tmp_path, "b.yaml", header(file_id="t.b") + "rules:\n" + rule("other.id") + rule("same.id"))
    (err,) = errors_of(tmp_path)
    assert err.code == "ruleset_duplicate_id"
    assert err.rule_id == "same.id"
    assert Path(err.file).name == b.name
    # the second definition is reported, pointing back at the first
    assert err.line == line_of(b, "- id: same.id")
    assert f"{a}:{line_of(a, '- id: same.id')}" in err.message


def test_ruleset_id_duplicated_across_files(tmp_path):
    write(tmp_path, "a.yaml", header(file_id="t.same") + POWER + "rules: []\n")
    b = write(tmp_path, "b.yaml", header(file_id="t.same") + "rules: []\n")
    (err,) = errors_of(tmp_path)
    assert (err.code, Path(err.file).name, err.line) == ("ruleset_duplicate_id", b.name, 1)


def test_requirement_declared_twice_for_a_stage(tmp_path):
    write(tmp_path, "a.yaml", header(file_id="t.a") + POWER + "rules: []\n")
    b = write(tmp_path, "b.yaml", header(file_id="t.b") + POWER + "rules: []\n")
    (err,) = errors_of(tmp_path)
    assert (err.code, Path(err.file).name, err.line) == ("ruleset_duplicate_id", b.name, line_of(b, "- id: power"))


def test_requirement_id_reused_by_another_era_of_the_same_stage(tmp_path):
    """Era files of one stage may each declare a requirement of the same id if their dates do not overlap."""
    principles = "requirements:\n  - id: principles\n    title: The principles\n    unmet: Not met.\n"
    write(tmp_path, "a.yaml", header(file_id="t.dpa1998", in_force="{from: 2000-03-01, to: 2018-05-24}") + principles + "rules: []\n")
    write(tmp_path, "b.yaml", header(file_id="t.gdpr", in_force="{from: 2018-05-25}") + principles + "rules: []\n")
    bundle = Bundle.load(tmp_path)
    old = bundle.segment(Stage.VIRES, date(2018, 5, 24)).requirements
    new = bundle.segment(Stage.VIRES, date(2018, 5, 25)).requirements
    assert [(rq.id, Path(rq.file).name) for rq in old] == [("principles", "a.yaml")]
    assert [(rq.id, Path(rq.file).name) for rq in new] == [("principles", "b.yaml")]


def test_requirement_id_reused_on_overlapping_dates_is_duplicate(tmp_path):
    principles = "requirements:\n  - id: principles\n    title: The principles\n    unmet: Not met.\n"
    write(tmp_path, "a.yaml", header(file_id="t.dpa1998", in_force="{from: 2000-03-01, to: 2018-05-25}") + principles + "rules: []\n")
    b = write(tmp_path, "b.yaml", header(file_id="t.gdpr", in_force="{from: 2018-05-25}") + principles + "rules: []\n")
    (err,) = errors_of(tmp_path)
    assert (err.code, Path(err.file).name, err.line) == ("ruleset_duplicate_id", b.name, line_of(b, "- id: principles"))


def test_same_requirement_id_in_different_stages_is_fine(tmp_path):
    write(tmp_path, "a.yaml", header(file_id="t.a") + POWER + "rules: []\n")
    write(tmp_path, "b.yaml", header(stage="hra", file_id="t.b") + POWER + "rules: []\n")
    bundle = Bundle.load(tmp_path)
    assert [rq.id for rq in bundle.requirements[Stage.VIRES]] == ["power"]
    assert [rq.id for rq in bundle.requirements[Stage.HRA]] == ["power"]


def test_effect_naming_a_requirement_of_another_stage(tmp_path):
    """A requirement declared for stage 2 cannot be satisfied by a stage-1 rule."""
    hra_req = "requirements:\n  - id: lawful_interference\n    title: Article 8(2)\n    unmet: Not justified.\n"
    write(tmp_path, "a.yaml", header(file_id="t.a") + POWER + "rules:\n" + rule("v.ok", effect="{kind: fails, requirement: power}"))
    write(tmp_path, "b.yaml", header(stage="hra", file_id="t.b") + hra_req + "rules: []\n")
    c = write(
        tmp_path,
        "c.yaml",
        header(file_id="t.c") + "rules:\n" + rule("v.wrong", effect="{kind: fails, requirement: [power, lawful_interference]}"),
    )
    (err,) = errors_of(tmp_path)
    assert (err.code, err.rule_id, Path(err.file).name) == ("ruleset_unknown_requirement", "v.wrong", c.name)
    assert err.line == line_of(c, "- id: v.wrong")
    assert "lawful_interference" in err.message


@pytest.mark.parametrize(
    "effect, fragment",
    [
        ("{kind: fails}", "must name the requirement"),
        ("{kind: refers, requirement: power}", "must name what is missing"),
        ("{kind: refers, requirement: power, missing: [subject.shoe_size]}", "unknown missing item"),
        ("{kind: fails, requirement: power, missing: [purpose]}", "only a 'refers' effect"),
        ("{kind: satisfies, requirement: power, basis: express_power, required_by_law: true}", "required_by_law"),
    ],
)
def test_inconsistent_effects_are_bad_effect(tmp_path, effect, fragment):
    text = header() + POWER + "rules:\n" + rule("e.bad", effect=effect)
    path = write(tmp_path, "effect.yaml", text)
    (err,) = errors_of(path)
    assert (err.code, err.line) == ("ruleset_bad_effect", line_of(path, "effect:"))
    assert fragment in err.message


def test_refers_on_an_earlier_stage_referral_needs_no_missing_items(tmp_path):
    """A stage-2 rule that passes on stage 1's referral asks for nothing new."""
    req = "requirements:\n  - id: lawful\n    title: Lawful\n    unmet: Not lawful.\n"
    text = header(stage="hra") + req + "rules:\n" + rule(
        "e.waits", "{vires.status: refer}", effect="{kind: refers, requirement: lawful}"
    )
    bundle = Bundle.load(write(tmp_path, "waits.yaml", text))
    assert bundle.rules["e.waits"].effect.missing == []


def test_basis_outside_stage_one_is_bad_effect(tmp_path):
    req = "requirements:\n  - id: justified\n    title: Justified\n    unmet: Not justified.\n"
    text = header(stage="hra") + req + "rules:\n" + rule("e.hra", effect="{kind: satisfies, requirement: justified, basis: duty}")
    (err,) = errors_of(write(tmp_path, "hra.yaml", text))
    assert err.code == "ruleset_bad_effect"
    assert "only stage-1" in err.message


def test_template_placeholders(tmp_path):
    ok = '"{discloser} to {recipient} on {as_at} about a person {subject.age_band} for {purpose}."'
    bundle = Bundle.load(write(tmp_path / "ok", "ok.yaml", header() + POWER + "rules:\n" + rule("t.ok", reason=ok)))
    assert "{subject.age_band}" in bundle.rules["t.ok"].reason
    bad_unmet = header() + "requirements:\n  - id: power\n    title: P\n    unmet: No power for {holder}.\n" + "rules: []\n"
    path = write(tmp_path / "bad", "bad.yaml", bad_unmet)
    (err,) = errors_of(path)
    assert (err.code, err.line) == ("ruleset_bad_template", line_of(path, "{holder}"))


# ---------------------------------------------------------------------- content hash


def _two_file_ruleset(directory: Path) -> Path:
    write(directory, "01_a.yaml", header(file_id="t.a") + POWER + "rules:\n" + rule("h.one") + "# a comment\n")
    write(directory, "02_b.yaml", header(stage="hra", file_id="t.b") + "rules:\n" + rule("h.two"))
    return directory


def test_content_hash_is_stable_across_loads(tmp_path):
    root = _two_file_ruleset(tmp_path / "rules")
    first = Bundle.load(root).content_hash
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", first)
    assert Bundle.load(root).content_hash == first


def test_content_hash_changes_when_one_byte_changes(tmp_path):
    root = _two_file_ruleset(tmp_path / "rules")
    before = Bundle.load(root).content_hash
    path = root / "01_a.yaml"
    path.write_bytes(path.read_bytes().replace(b"# a comment", b"# A comment"))
    assert Bundle.load(root).content_hash != before


def test_content_hash_does_not_depend_on_the_directory(tmp_path):
    one = _two_file_ruleset(tmp_path / "one" / "rules")
    two = tmp_path / "elsewhere" / "deeper" / "copy"
    shutil.copytree(one, two)
    assert Bundle.load(one).content_hash == Bundle.load(two).content_hash


def test_content_hash_covers_file_names(tmp_path):
    root = _two_file_ruleset(tmp_path / "rules")
    before = Bundle.load(root).content_hash
    (root / "02_b.yaml").rename(root / "03_b.yaml")
    assert Bundle.load(root).content_hash != before


def test_bundle_keeps_sources_by_relative_path(tmp_path):
    root = _two_file_ruleset(tmp_path / "rules")
    bundle = Bundle.load(root)
    assert set(bundle.sources) == {"01_a.yaml", "02_b.yaml"}
    assert bundle.sources["01_a.yaml"] == (root / "01_a.yaml").read_text(encoding="utf-8")


# ---------------------------------------------------------------------- date segments


def _dated_bundle(tmp_path: Path) -> Bundle:
    text = (
        header()
        + POWER
        + "rules:\n"
        + rule("s.always")
        + rule("s.care_act", in_force="{from: 2015-04-01}")
        + rule("s.wellbeing", in_force="{from: 2000-10-18, to: 2012-04-03}")
    )
    return Bundle.load(write(tmp_path, "dated.yaml", text))


def ids(segment) -> list[str]:
    return [r.id for r in segment.rules]


def test_rule_in_force_from_a_date_is_absent_the_day_before(tmp_path):
    bundle = _dated_bundle(tmp_path)
    assert "s.care_act" not in ids(bundle.segment(Stage.VIRES, date(2015, 3, 31)))
    assert "s.care_act" in ids(bundle.segment(Stage.VIRES, date(2015, 4, 1)))


def test_in_force_to_is_inclusive(tmp_path):
    bundle = _dated_bundle(tmp_path)
    assert "s.wellbeing" not in ids(bundle.segment(Stage.VIRES, date(2000, 10, 17)))
    assert "s.wellbeing" in ids(bundle.segment(Stage.VIRES, date(2000, 10, 18)))
    assert "s.wellbeing" in ids(bundle.segment(Stage.VIRES, date(2012, 4, 3)))
    assert "s.wellbeing" not in ids(bundle.segment(Stage.VIRES, date(2012, 4, 4)))


def test_segments_cover_the_days_between_boundaries(tmp_path):
    bundle = _dated_bundle(tmp_path)
    seg = bundle.segment(Stage.VIRES, date(2013, 6, 1))
    assert (seg.start, seg.end) == (date(2012, 4, 4), date(2015, 3, 31))
    assert ids(seg) == ["s.always"]
    assert bundle.segment(Stage.VIRES, date(2015, 3, 31)) is seg
    assert bundle.segment(Stage.VIRES, date(2015, 4, 1)).key != seg.key
    latest = bundle.segment(Stage.VIRES, date(2030, 1, 1))
    assert (latest.start, latest.end) == (date(2015, 4, 1), None)
    assert ids(latest) == ["s.always", "s.care_act"]
    assert bundle.boundaries() == [date(2000, 3, 1), date(2000, 10, 18), date(2012, 4, 4), date(2015, 4, 1)]
    assert [r.id for r in bundle.in_force(date(2001, 1, 1))] == ["s.always", "s.wellbeing"]


def test_file_dates_bound_their_rules_and_requirements(tmp_path):
    text = header(in_force="{from: 2000-03-01, to: 2018-05-24}") + POWER + "rules:\n" + rule(
        "s.dpa1998", in_force="{from: 1998-07-16}"
    )
    bundle = Bundle.load(write(tmp_path, "dpa.yaml", text))
    before = bundle.segment(Stage.VIRES, date(2000, 2, 29))
    during = bundle.segment(Stage.VIRES, date(2018, 5, 24))
    after = bundle.segment(Stage.VIRES, date(2018, 5, 25))
    assert (ids(before), ids(during), ids(after)) == ([], ["s.dpa1998"], [])
    assert [rq.id for rq in during.requirements] == ["power"]
    assert after.requirements == ()


def test_requirement_dates(tmp_path):
    reqs = (
        "requirements:\n"
        "  - id: power\n    title: P\n    unmet: No power.\n"
        "  - id: later\n    title: L\n    unmet: Not yet.\n    in_force: {from: 2021-01-01}\n"
    )
    bundle = Bundle.load(write(tmp_path, "r.yaml", header() + reqs + "rules: []\n"))
    assert [rq.id for rq in bundle.segment(Stage.VIRES, date(2020, 12, 31)).requirements] == ["power"]
    assert [rq.id for rq in bundle.segment(Stage.VIRES, date(2021, 1, 1)).requirements] == ["power", "later"]


def test_far_future_end_date_does_not_crash_the_loader(tmp_path):
    """An end date of 9999-12-31 (the last representable day) loads; the rule is in force then."""
    text = header(in_force="{from: 2000-03-01, to: 9999-12-31}") + POWER + "rules:\n" + rule("f.forever")
    path = write(tmp_path, "forever.yaml", text)
    bundle = Bundle.load(path)
    assert [r.id for r in bundle.segment(Stage.VIRES, date(9999, 12, 31)).rules] == ["f.forever"]


# ---------------------------------------------------------------------- shipped rules


def test_shipped_national_rules_load_with_citations_dates_and_verification():
    bundle = Bundle.load()
    assert bundle.rules, "no shipped rules"
    assert bundle.by_stage[Stage.VIRES], "no stage-1 rules shipped"
    for r in bundle.rules.values():
        assert len(r.citations) >= 1, r.id
        assert isinstance(r.in_force.start, date), r.id
        assert r.in_force.end is None or r.in_force.end >= r.in_force.start, r.id
        assert r.verification in {"verified", "secondary", "unverified"}, r.id
        assert r.reason.strip(), r.id
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", bundle.content_hash)
    # every shipped national rule must resolve to a requirement its stage declares
    for r in bundle.rules.values():
        if r.protocol is not None:
            continue  # a protocol's own requirement is declared by the protocol (tests/test_protocols.py)
        for q in r.requirements:
            assert q in {rq.id for rq in bundle.requirements[r.stage]}, (r.id, q)


def test_rulesets_doc_lists_every_fact_missing_item_and_error_code():
    """docs/rulesets.md is the rule writer's reference: it must not fall behind the code."""
    from sharelaw.rules.facts import FACTS, MISSING_ITEMS

    doc = (Path(__file__).parent.parent / "docs" / "rulesets.md").read_text(encoding="utf-8")
    rows: dict[str, list[str]] = {}
    for line in doc.splitlines():
        if line.startswith("| `"):
            rows.setdefault(line.split("|")[1].strip(), []).append(line)
    for spec in FACTS.values():
        values = ["true", "false"] if spec.is_bool else list(spec.values)
        fact_rows = [
            row for row in rows.get(f"`{spec.name}`", [])
            if f"| {spec.from_stage.value} |" in row and all(f"`{v}`" in row for v in values)
        ]
        assert fact_rows, f"fact {spec.name} (values, stage) not documented in docs/rulesets.md"
    for item in MISSING_ITEMS:
        assert f"`{item}`" in rows, f"missing item {item} not in docs/rulesets.md"
    for code in DOCUMENTED_CODES:
        assert f"`{code}`" in rows, f"error code {code} not in docs/rulesets.md"


# ---------------------------------------------------------------------- compile: nnf

A = In("purpose", ("early_help",))
B = In("risk.level", ("none", "unknown"))
C = In("discloser.public_authority", (True,))


def neg(leaf: In) -> In:
    return In(leaf.fact, leaf.values, not leaf.negated)


def test_nnf_not_all_is_any_of_negations():
    assert nnf(Not(All((A, B)))) == AnyOf((neg(A), neg(B)))


def test_nnf_not_any_is_all_of_negations():
    assert nnf(Not(AnyOf((A, B)))) == All((neg(A), neg(B)))


def test_nnf_double_negation_and_leaves():
    assert nnf(Not(Not(A))) == A
    assert nnf(Not(neg(A))) == A
    assert nnf(Not(A)) == neg(A)
    assert nnf(Not(Const(True))) == Const(False)
    assert nnf(Not(Const(False))) == Const(True)
    assert nnf(A) == A


def test_nnf_nested():
    cond = Not(AnyOf((All((A, Not(B))), Not(AnyOf((C, Const(False)))))))
    assert nnf(cond) == All((AnyOf((neg(A), B)), AnyOf((C, Const(False)))))


def test_compile_condition_shapes():
    assert compile_condition(In("purpose", ("early_help", "other"))) == {
        "$or": [{"purpose": "early_help"}, {"purpose": "other"}]
    }
    assert compile_condition(Not(In("risk.level", ("none", "unknown")))) == {
        "$and": [{"$neq": {"risk__level": "none"}}, {"$neq": {"risk__level": "unknown"}}]
    }
    assert compile_condition(In("discloser.public_authority", (False,))) == {"discloser__public_authority": False}


FACT_VALUES = {
    "purpose": ["early_help", "other", "child_in_need"],
    "risk.level": ["none", "unknown", "significant_harm"],
    "discloser.public_authority": [True, False],
}


def _leaf():
    return st.sampled_from(sorted(FACT_VALUES)).flatmap(
        lambda f: st.builds(
            In,
            st.just(f),
            st.lists(st.sampled_from(FACT_VALUES[f]), min_size=1, max_size=3, unique=True).map(tuple),
            st.booleans(),
        )
    )


conditions = st.recursive(
    st.one_of(_leaf(), st.builds(Const, st.booleans())),
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: All(tuple(xs))),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: AnyOf(tuple(xs))),
    ),
    max_leaves=8,
)

ALL_FACTS = [dict(zip(FACT_VALUES, combo)) for combo in itertools.product(*FACT_VALUES.values())]


def _has_not(cond) -> bool:
    if isinstance(cond, Not):
        return True
    if isinstance(cond, (All, AnyOf)):
        return any(_has_not(c) for c in cond.items)
    return False


@settings(max_examples=300, deadline=None)
@given(conditions)
def test_nnf_removes_not_and_preserves_meaning(cond):
    out = nnf(cond)
    assert not _has_not(out)
    for facts in ALL_FACTS:
        assert holds(out, facts) == holds(cond, facts)
        assert holds(nnf(cond, negate=True), facts) != holds(cond, facts)


# ---------------------------------------------------------------------- compile: durable vs reference

#: Rules whose compiled ``$or`` branches are mutually exclusive (one fact, different values),
#: so each rule can fire at most once in durable-rules.
DIFF_RULES = [
    ("d.true", "true", 50),
    ("d.false", "false", 51),
    ("d.in_many", "{purpose: {in: [child_protection_enquiry, child_in_need, early_help]}}", 10),
    ("d.not_in", "{purpose: {not_in: [early_help, other]}}", 20),
    ("d.ne", "{risk.level: {ne: unknown}}", 5),
    ("d.eq", "{risk.level: {eq: none}}", 6),
    ("d.bool_true", "{discloser.public_authority: true}", 30),
    ("d.bool_false", "{same_legal_entity: false}", 30),
    ("d.bool_not_in", "{same_legal_entity: {not_in: [true]}}", 31),
    ("d.not_bool", "{not: {discloser.public_authority: true}}", 40),
    ("d.two_keys", "{purpose: early_help, risk.level: none}", 41),
    (
        "d.nested_exclusive",
        """\
        any:
          - all:
              - purpose: early_help
              - use: child
              - not: {any: [{risk.level: none}, {discloser.public_authority: false}]}
          - all:
              - purpose: {in: [other, service_planning]}
              - not:
                  not:
                    all:
                      - risk.level: {ne: unknown}
                      - same_legal_entity: true
        """,
        1,
    ),
    (
        "d.not_any_in",
        "{not: {any: [{subject.age_band: {in: [under_13, unknown]}}, {purpose: {not_in: [other, early_help]}}]}}",
        2,
    ),
    ("d.any_false", "{any: [false, {subject.age_band: unknown}]}", 3),
    ("d.all_true", "{all: [true, {purpose: service_planning}]}", 3),
]

#: Rules with an ``any`` (or a ``not all``) whose branches read different facts, so that
#: several branches can hold at once.
OVERLAPPING_RULES = [
    (
        "d.nested",
        """\
        any:
          - all:
              - use: child
              - not: {any: [{risk.level: none}, {discloser.public_authority: false}]}
          - not:
              all:
                - purpose: {not_in: [early_help, other]}
                - risk.level: {ne: unknown}
        """,
        1,
    ),
    ("d.any_overlap", "{any: [{purpose: early_help}, {risk.level: none}]}", 7),
    ("d.not_all", "{not: {all: [{subject.age_band: 18_plus}, {same_legal_entity: false}]}}", 8),
]

DIFF_FACTS = {
    "purpose": ["child_protection_enquiry", "early_help", "other", "service_planning"],
    "risk.level": ["none", "significant_harm", "unknown"],
    "discloser.public_authority": [True, False],
    "same_legal_entity": [True, False],
    "subject.age_band": ["under_13", "18_plus", "unknown"],
}

DIFF_COMBOS = [dict(zip(DIFF_FACTS, combo)) for combo in itertools.product(*DIFF_FACTS.values())]


def _segment(directory: Path, rules) -> "Segment":  # noqa: F821 - bundle.Segment
    text = (
        header(file_id="t.diff")
        + "define:\n  child:\n    subject.age_band: {in: [under_13, 13_to_15, 16_to_17]}\n"
        + "rules:\n"
        + "".join(rule(rid, when, priority=pri) for rid, when, pri in rules)
    )
    bundle = Bundle.load(write(directory, "diff.yaml", text))
    return bundle.segment(Stage.VIRES, date(2020, 1, 1))


@pytest.fixture(scope="module")
def diff_segment(tmp_path_factory):
    return _segment(tmp_path_factory.mktemp("diff"), DIFF_RULES)


@pytest.fixture(scope="module")
def overlap_segment(tmp_path_factory):
    return _segment(tmp_path_factory.mktemp("overlap"), DIFF_RULES + OVERLAPPING_RULES)


@pytest.fixture
def durable():
    """A fresh evaluator per test: DurableEvaluator caches compiled rulesets by (stage,
    segment index), so one instance must only ever see segments of one bundle."""
    from sharelaw.engine.durable import DurableEvaluator

    ev = DurableEvaluator()
    yield ev
    try:
        ev.close()
    except Exception:  # noqa: BLE001 - close() itself is tested below; do not mask the test's result
        pass


def _assert_agree(segment, durable, rule_list):
    reference = ReferenceEvaluator()
    seen: dict[str, set[bool]] = {rid: set() for rid, _, _ in rule_list}
    for facts in DIFF_COMBOS:
        expected = reference.fire(segment, facts)
        assert durable.fire(segment, dict(facts)) == expected, facts
        for rid in seen:
            seen[rid].add(rid in expected)
    # the comparison is not vacuous: every rule both fires and does not fire somewhere
    assert seen.pop("d.true") == {True}
    assert seen.pop("d.false") == {False}
    assert all(v == {True, False} for v in seen.values()), seen


def test_compiled_ruleset_has_one_entry_per_rule_and_a_catch_all(diff_segment):
    definition, rule_ids = compile_rules(diff_segment.rules)
    assert rule_ids == [r.id for r in diff_segment.rules]
    assert len(definition) == len(DIFF_RULES) + 1
    assert [definition[f"r{i}"]["pri"] for i in range(len(rule_ids))] == list(range(len(rule_ids)))
    # no `$not` survives: durable-rules has none
    assert "$not" not in repr(definition)


def test_durable_fires_exactly_what_the_reference_fires(diff_segment, durable):
    _assert_agree(diff_segment, durable, DIFF_RULES)


def test_durable_fires_a_rule_once_when_two_any_branches_hold(tmp_path, durable):
    """durable-rules activates a rule once per matching branch of a compiled ``$or``; the
    binding must collapse the repeats (the runtime cross-check would otherwise fail)."""
    segment = _segment(tmp_path, [("d.any_overlap", "{any: [{purpose: early_help}, {risk.level: none}]}", 1)])
    facts = {"purpose": "early_help", "risk.level": "none"}
    assert ReferenceEvaluator().fire(segment, facts) == ["d.any_overlap"]
    assert durable.fire(segment, facts) == ["d.any_overlap"]


def test_durable_agrees_with_reference_with_overlapping_branches(overlap_segment, durable):
    _assert_agree(overlap_segment, durable, DIFF_RULES + OVERLAPPING_RULES)


def test_durable_evaluator_closes_after_firing(diff_segment):
    """close() releases every compiled ruleset (Engine.close and the CLI's --rules path call it)."""
    from sharelaw.engine.durable import DurableEvaluator

    ev = DurableEvaluator()
    facts = dict(DIFF_COMBOS[0])
    assert ev.fire(diff_segment, facts) == ReferenceEvaluator().fire(diff_segment, facts)
    ev.close()
    ev.close()  # idempotent


def test_reference_firing_order_and_values(diff_segment, durable):
    facts = {
        "purpose": "early_help",
        "risk.level": "significant_harm",
        "discloser.public_authority": True,
        "same_legal_entity": False,
        "subject.age_band": "under_13",
    }
    expected = [
        "d.nested_exclusive",  # pri 1: early help for a child, harm not none, public authority
        "d.ne",  # pri 5
        "d.in_many",  # pri 10
        "d.bool_true",  # pri 30, defined before d.bool_false
        "d.bool_false",  # pri 30
        "d.bool_not_in",  # pri 31
        "d.true",  # pri 50
    ]
    assert ReferenceEvaluator().fire(diff_segment, facts) == expected
    assert durable.fire(diff_segment, dict(facts)) == expected


def test_a_bundle_rebuilt_from_its_sources_has_the_same_hash_and_decides_the_same():
    """Auditors replay decisions with archived rule texts: the rebuilt bundle must be the same."""
    import json

    from sharelaw import Engine

    shipped = Bundle.load()
    rebuilt = Bundle.from_sources(shipped.sources)
    assert rebuilt.content_hash == shipped.content_hash
    assert [r.id for r in rebuilt.in_force(date(2019, 6, 1))] == [r.id for r in shipped.in_force(date(2019, 6, 1))]
    example = Path(__file__).parent.parent / "examples" / "04-school-referral-proportionality-not-recorded.json"
    request = json.loads(example.read_text())
    assert Engine(rebuilt).decide(request).model_dump_json() == Engine(shipped).decide(request).model_dump_json()


def test_a_placeholder_with_digits_is_rendered_and_checked():
    from sharelaw.rules.loader import load_file

    """{data.art89_safeguards} was left unrendered (and unchecked) while placeholders could
    hold only letters: a misspelt one must be an error, a real one filled in."""
    text = (
        "format: sharelaw/ruleset@1\nid: t.v\nstage: vires\ntitle: t\nin_force: {from: 2000-03-01}\n"
        "requirements: [{id: power, title: p, unmet: u}]\n"
        "rules:\n  - id: t.r\n    title: t\n    in_force: {from: 2000-03-01}\n    when: true\n"
        "    effect: {kind: notes}\n    citations: [{case: c}]\n    verification: verified\n"
        "    reason: 'Safeguards {data.art89_safeguardz}.'\n"
    )
    with pytest.raises(RulesetErrors) as exc:
        load_file(text, "t.yaml")
    assert [e.code for e in exc.value.errors] == ["ruleset_bad_template"]
    loaded = load_file(text.replace("safeguardz", "safeguards"), "t.yaml")
    assert loaded.rules[0].reason == "Safeguards {data.art89_safeguards}."
