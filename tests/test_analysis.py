"""Static checks of rule bundles (analysis/static.py) and the finite-domain solver under
them (analysis/solver.py).

Each diagnostic code has a small bad ruleset, built inline, whose offending line carries
the comment ``# <- error``: the check must report that code at that file and line, and a
near-identical good ruleset must come out clean.
"""

from __future__ import annotations

import itertools
import textwrap
import time
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharelaw import Engine
from sharelaw.errors import RequestError
from sharelaw.request import parse_request
from sharelaw.analysis import static as analysis
from sharelaw.analysis.static import Diagnostic, all_segments, analyse
from sharelaw.rules.bundle import Bundle
from sharelaw.rules.facts import FACTS
from sharelaw.rules.model import All, AnyOf, Const, In, Not
from sharelaw.rules.reference import holds
from sharelaw.analysis.solver import (
    VALIDITY,
    VALIDITY_PARTS,
    equivalent,
    facts_of,
    implies,
    national_domains,
    satisfiable,
    validity_for,
)
from sharelaw.vocab import PURPOSE_KIND, Stage

MARKER = "# <- error"

# ---------------------------------------------------------------------- ruleset text


def _rule(id: str, when: str, effect: str, in_force: str = "{from: 2000-03-01}", mark: bool = False) -> str:
    return "\n".join([
        f"- id: {id}" + ("  " + MARKER if mark else ""),
        f"  title: Rule {id}",
        f"  in_force: {in_force}",
        f"  when: {when}",
        f"  effect: {effect}",
        "  citations:",
        "    - legislation: ukpga/1998/29/section/35",
        '      label: "Data Protection Act 1998 s35"',
        "  verification: verified",
        "  reason: A reason.",
    ]) + "\n"


def _req(id: str, when: str = "true", in_force: str | None = None, mark: bool = False) -> str:
    lines = [f"- id: {id}" + ("  " + MARKER if mark else ""), f"  title: Requirement {id}"]
    if in_force:
        lines.append(f"  in_force: {in_force}")
    lines += [f"  when: {when}", "  unmet: Not met."]
    return "\n".join(lines) + "\n"


def _file(id: str, stage: str, requirements: list[str], rules: list[str], in_force: str = "{from: 2000-03-01}") -> str:
    text = f"format: sharelaw/ruleset@1\nid: {id}\nstage: {stage}\ntitle: Test {id}\nin_force: {in_force}\n"
    if requirements:
        text += "requirements:\n" + textwrap.indent("".join(requirements), "  ")
    if rules:
        text += "rules:\n" + textwrap.indent("".join(rules), "  ")
    return text


#: A clean stage 1, so that the bundles below have a power on every day.
VIRES = _file(
    "t.vires", "vires", [_req("power")],
    [_rule("t.vires.power", "true", "{kind: satisfies, requirement: power, basis: implied_power}")],
)


def _bundle(**files: str) -> Bundle:
    sources = {"01_vires.yaml": VIRES}
    sources.update({f"{name}.yaml": text for name, text in files.items()})
    return Bundle.from_sources(sources)


def _marked(files: dict[str, str]) -> list[tuple[str, int]]:
    return [
        (f"{name}.yaml", i)
        for name, text in files.items()
        for i, line in enumerate(text.splitlines(), 1)
        if MARKER in line
    ]


def _check(code: str, bad: dict[str, str], good: dict[str, str]) -> list[Diagnostic]:
    """The bad files give exactly one ``code`` diagnostic per marked line, there; the good
    files give no diagnostic at all."""
    found = [d for d in analyse(_bundle(**bad)) if d.code == code]
    assert [(d.file, d.line) for d in found] == _marked(bad), found
    assert analyse(_bundle(**good)) == []
    return found


def _dp(requirements: list[str], rules: list[str]) -> dict[str, str]:
    return {"04_dp": _file("t.dp", "data_protection", requirements, rules)}


SAT = "{kind: satisfies, requirement: basis}"
FAIL = "{kind: fails, requirement: basis}"
REFER = "{kind: refers, requirement: basis, missing: [assessment.necessary]}"


# ---------------------------------------------------------------------- ruleset_unreachable_rule


def test_unreachable_rule_that_no_valid_request_fires() -> None:
    def files(kind: str, mark: bool) -> dict[str, str]:
        return _dp([_req("basis")], [
            _rule("t.ok", "true", SAT),
            # direct care is a service-provision purpose: no request is both.
            _rule("t.odd", f"{{all: [{{purpose: direct_care}}, {{sharing_kind: {kind}}}]}}",
                  "{kind: notes}", mark=mark),
        ])

    found = _check("ruleset_unreachable_rule", files("routine", True), files("service_provision", False))
    assert found[0].rule_id == "t.odd" and found[0].severity == "warning"
    assert "cannot hold for any valid request" in found[0].message


def test_unreachable_rule_consent_giver() -> None:
    def files(state: str, mark: bool) -> dict[str, str]:
        return _dp([_req("basis")], [
            _rule("t.consent", f"{{all: [{{consent.state: {state}}}, {{consent.given_by: subject}}]}}", SAT, mark=mark),
        ])

    _check("ruleset_unreachable_rule", files("not_sought", True), files("explicit_for_this", False))


def test_unreachable_rule_reading_an_outcome_a_later_stage_never_sees() -> None:
    # Stage 2 runs only after stage 1 passed or referred.
    def files(status: str, mark: bool) -> dict[str, str]:
        return {"02_hra": _file("t.hra", "hra", [_req("basis")], [
            _rule("t.ok", "true", SAT),
            _rule("t.status", f"{{vires.status: {status}}}", FAIL, mark=mark),
        ])}

    _check("ruleset_unreachable_rule", files("fail", True), files("refer", False))


def test_unreachable_rule_whose_requirement_never_applies_with_it() -> None:
    def files(health: str, mark: bool) -> dict[str, str]:
        return _dp([_req("basis"), _req("special", "{data.health: true}")], [
            _rule("t.basis", "true", SAT),
            _rule("t.special", f"{{data.health: {health}}}", "{kind: satisfies, requirement: special}", mark=mark),
        ])

    bad, good = files("false", True), files("true", False)
    found = [d for d in analyse(_bundle(**bad)) if d.code == "ruleset_unreachable_rule"]
    assert [(d.file, d.line) for d in found] == _marked(bad)
    assert "never holds while a requirement it names (special) applies" in found[0].message
    assert analyse(_bundle(**good)) == []


def test_unreachable_rule_in_force_only_when_its_requirement_is_not() -> None:
    def files(rule_dates: str, mark: bool) -> dict[str, str]:
        return _dp([_req("basis"), _req("late", in_force="{from: 2010-01-01}")], [
            _rule("t.basis", "true", SAT),
            _rule("t.late.ok", "true", "{kind: satisfies, requirement: late}", in_force="{from: 2010-01-01}"),
            _rule("t.late", "{purpose: other}", "{kind: fails, requirement: late}", in_force=rule_dates, mark=mark),
        ])

    found = [d for d in analyse(_bundle(**files("{from: 2000-03-01, to: 2009-12-31}", True)))
             if d.code == "ruleset_unreachable_rule"]
    assert [(d.file, d.line) for d in found] == _marked(files("", True))
    assert "no requirement it names (late) is in force" in found[0].message
    assert analyse(_bundle(**files("{from: 2000-03-01}", False))) == []


def test_rule_reachable_in_one_segment_is_reachable() -> None:
    # The requirement is declared by two files with different conditions; the rule (in a
    # third file spanning both) can take effect under the second only: it is reachable.
    early = _file("t.dp1", "data_protection", [_req("basis", "{data.health: true}")],
                  [_rule("t.any", "true", SAT)], in_force="{from: 2000-03-01, to: 2009-12-31}")
    late = _file("t.dp2", "data_protection", [_req("basis", "{data.health: false}")],
                 [_rule("t.any2", "true", SAT)], in_force="{from: 2010-01-01}")
    both = _file("t.dp3", "data_protection", [], [_rule("t.late", "{data.health: false}", SAT)])
    assert analyse(_bundle(a=early, b=late, c=both)) == []
    only_early = _file("t.dp3", "data_protection", [], [
        _rule("t.late", "{data.health: false}", SAT, in_force="{from: 2000-03-01, to: 2009-12-31}", mark=True)])
    found = analyse(_bundle(a=early, b=late, c=only_early))
    assert [(d.code, d.file, d.line) for d in found] == [
        ("ruleset_unreachable_rule", f, n) for f, n in _marked({"c": only_early})]


# ---------------------------------------------------------------------- ruleset_shadowed_rule


def test_shadowed_satisfies_rule_names_the_failing_rules() -> None:
    def files(second: str, mark: bool) -> dict[str, str]:
        return _dp([_req("basis")], [
            _rule("t.consent", "{all: [{consent.state: {in: [explicit_for_this, earlier_covering]}}, {purpose: direct_care}]}",
                  SAT, mark=mark),
            _rule("t.not_explicit", "{consent.state: earlier_covering}", FAIL),
            _rule("t.second", second, FAIL),
            _rule("t.other", "{consent.state: {in: [not_sought, cannot_be_given, unsafe_to_seek]}}", SAT),
        ])

    # Together the two fails rules cover both states the satisfies rule fires on.
    found = _check("ruleset_shadowed_rule", files("{consent.state: explicit_for_this}", True),
                   files("{all: [{consent.state: explicit_for_this}, {data.health: true}]}", False))
    assert "t.not_explicit" in found[0].message and "t.second" in found[0].message
    assert "t.other" not in found[0].message


def test_shadowed_refers_rule_by_a_satisfying_rule() -> None:
    def files(who: str, mark: bool) -> dict[str, str]:
        return _dp([_req("basis")], [
            _rule("t.public", f"{{discloser.public_authority: {who}}}", SAT),
            _rule("t.private", "{discloser.public_authority: false}", SAT),
            _rule("t.unknown", "{all: [{discloser.public_authority: true}, {assessment.necessary: not_assessed}]}",
                  REFER, mark=mark),
        ])

    found = _check("ruleset_shadowed_rule", files("true", True), files("false", False))
    assert "t.public" in found[0].message and "t.private" not in found[0].message


def test_satisfies_rules_never_shadow_each_other_in_stage_1() -> None:
    vires = _file("t.vires", "vires", [_req("power")], [
        _rule("t.a", "true", "{kind: satisfies, requirement: power, basis: implied_power}"),
        _rule("t.b", "{purpose: other}", "{kind: satisfies, requirement: power, basis: duty}"),
    ])
    assert analyse(Bundle.from_sources({"v.yaml": vires})) == []


def test_shadowed_only_if_shadowed_in_every_segment() -> None:
    def files(to: str) -> dict[str, str]:
        return _dp([_req("basis")], [
            _rule("t.sat", "{purpose: other}", SAT),
            _rule("t.fail", "true", FAIL, in_force=f"{{from: 2000-03-01{to}}}"),
            _rule("t.ok", "true", SAT),
        ])

    assert {d.rule_id for d in analyse(_bundle(**files(""))) if d.code == "ruleset_shadowed_rule"} == {"t.ok", "t.sat"}
    assert [d for d in analyse(_bundle(**files(", to: 2009-12-31"))) if d.code == "ruleset_shadowed_rule"] == []


# ---------------------------------------------------------------------- ruleset_contradiction


def test_contradiction_reported_on_the_later_rule() -> None:
    def files(fails_on: str, mark: bool) -> dict[str, str]:
        return _dp([_req("basis")], [
            _rule("t.necessary", "{assessment.necessary: {in: [\"yes\", not_assessed]}}", SAT),
            _rule("t.unnecessary", f"{{assessment.necessary: {fails_on}}}", FAIL, mark=mark),
        ])

    found = _check("ruleset_contradiction", files("{in: [\"no\", not_assessed]}", True), files("\"no\"", False))
    assert found[0].severity == "error" and found[0].rule_id == "t.unnecessary"
    assert "t.necessary" in found[0].message


def test_contradiction_needs_the_same_facts() -> None:
    files = _dp([_req("basis")], [
        _rule("t.yes", "{assessment.necessary: \"yes\"}", SAT),
        _rule("t.no", "{all: [{assessment.necessary: \"yes\"}, {purpose: other}]}", FAIL),
    ])
    assert [d for d in analyse(_bundle(**files)) if d.code == "ruleset_contradiction"] == []


# ---------------------------------------------------------------------- ruleset_date_gap


def test_date_gap_in_stage_1_is_an_error() -> None:
    def vires(dates: str | None, mark: bool) -> str:
        return _file("t.vires", "vires", [_req("power", in_force=dates, mark=mark)], [
            _rule("t.vires.power", "true", "{kind: satisfies, requirement: power, basis: implied_power}"),
        ])

    bad = {"01_vires": vires("{from: 2000-03-01, to: 2010-12-31}", True)}
    found = [d for d in analyse(Bundle.from_sources({"01_vires.yaml": bad["01_vires"]})) if d.code == "ruleset_date_gap"]
    assert [(d.file, d.line) for d in found] == _marked(bad)
    assert found[0].severity == "error" and "2011-01-01 onwards" in found[0].message
    assert analyse(Bundle.from_sources({"01_vires.yaml": vires(None, False)})) == []


def test_date_gap_between_two_eras_of_a_later_stage() -> None:
    def files(second_from: str, mark: bool) -> dict[str, str]:
        return {
            "04_a": _file("t.dp1", "data_protection", [_req("basis", mark=mark)], [_rule("t.a", "true", SAT)],
                          in_force="{from: 2000-03-01, to: 2009-12-31}"),
            "04_b": _file("t.dp2", "data_protection", [_req("basis")], [_rule("t.b", "true", SAT)],
                          in_force=f"{{from: {second_from}}}"),
        }

    found = _check("ruleset_date_gap", files("2011-01-01", True), files("2010-01-01", False))
    assert found[0].severity == "warning" and "2010-01-01 to 2010-12-31" in found[0].message


def test_date_gap_explained_by_a_note() -> None:
    def files(note_to: str, mark: bool) -> dict[str, str]:
        return {"02_hra": _file("t.hra", "hra", [_req("basis", in_force="{from: 2000-10-02}", mark=mark)], [
            _rule("t.not_yet", "true", "{kind: notes}", in_force=f"{{from: 2000-03-01, to: {note_to}}}"),
            _rule("t.a", "true", SAT, in_force="{from: 2000-10-02}"),
        ])}

    # A note in force only before the requirement, firing for everyone, says why: no gap.
    # A note that stays in force once the requirement applies explains nothing.
    _check("ruleset_date_gap", files("2001-12-31", True), files("2000-10-01", False))


def test_date_gap_requirement_nobody_can_meet() -> None:
    def files(sat_from: str, mark: bool) -> dict[str, str]:
        return _dp([_req("basis", mark=mark)], [
            _rule("t.fail", "{purpose: other}", FAIL),
            _rule("t.sat", "{purpose: {ne: other}}", SAT, in_force=f"{{from: {sat_from}}}"),
        ])

    found = _check("ruleset_date_gap", files("2005-01-01", True), files("2000-03-01", False))
    assert found[0].severity == "error"
    assert "'basis'" in found[0].message and "2000-03-01 to 2004-12-31" in found[0].message


def test_requirement_whose_satisfier_never_applies_with_it() -> None:
    files = _dp([_req("basis", "{data.health: true}", mark=True)], [
        _rule("t.sat", "{data.health: false}", SAT),
    ])
    found = [d for d in analyse(_bundle(**files)) if d.code == "ruleset_date_gap"]
    assert [(d.file, d.line) for d in found] == _marked(files)


# ---------------------------------------------------------------------- the API


def test_diagnostic_as_dict_and_order() -> None:
    d = Diagnostic("ruleset_date_gap", "error", "m", "f.yaml", 3)
    assert d.as_dict() == {"code": "ruleset_date_gap", "severity": "error", "message": "m",
                           "file": "f.yaml", "line": 3, "rule_id": None}
    files = _dp([_req("basis")], [
        _rule("t.odd", "{all: [{purpose: direct_care}, {sharing_kind: routine}]}", SAT),
        _rule("t.odd2", "{all: [{purpose: other}, {sharing_kind: routine}]}", SAT),
    ])
    found = analyse(_bundle(**files))
    assert found == sorted(found, key=lambda d: (d.file or "", d.line or 0, d.code))
    assert {d.code for d in found} == {"ruleset_unreachable_rule", "ruleset_date_gap"}


def test_codes_are_documented() -> None:
    for code in analysis.CODES:
        assert f"``{code}``" in (analysis.__doc__ or "")


def test_segments_and_domains_arguments() -> None:
    bundle = _bundle(**_dp([_req("basis")], [_rule("t.sat", "{purpose: direct_care}", SAT)]))
    dp = [s for s in all_segments(bundle) if s.stage is Stage.DATA_PROTECTION]
    assert analyse(bundle, segments=dp) == []
    # With purpose able to be only 'other', the rule never fires and nothing meets basis.
    domains = dict(national_domains(), purpose=("other",))
    codes = sorted(d.code for d in analyse(bundle, segments=dp, domains=lambda seg: domains))
    assert codes == ["ruleset_date_gap", "ruleset_unreachable_rule"]
    assert sorted(d.code for d in analyse(bundle, segments=dp, domains=domains)) == codes


# ---------------------------------------------------------------------- the shipped rules


def test_shipped_rules_have_no_errors_and_check_quickly() -> None:
    bundle = Bundle.load()
    start = time.perf_counter()
    found = analyse(bundle)
    assert time.perf_counter() - start < 20
    assert [d for d in found if d.severity == "error"] == []


_AGES = {"under_13": 5, "13_to_15": 14, "16_to_17": 16, "18_plus": 40, "unknown": "unknown"}


def _request(facts: dict, as_at: date) -> dict:
    """A request with the given facts (the rest neutral and valid)."""
    f = facts.get

    def agency(side: str, entity: str) -> dict:
        out = {"kind": f(f"{side}.kind", "police"), "legal_entity": entity}
        if f"{side}.public_authority" in facts:
            out["acts_as_public_authority"] = facts[f"{side}.public_authority"]
        return out

    cats = [k[len("data."):] for k, v in facts.items() if k.startswith("data.") and v is True]
    return {
        "as_at": as_at.isoformat(),
        "interaction": f("interaction", "offer"),
        "discloser": agency("discloser", "a"),
        "recipient": agency("recipient", "a" if f("same_legal_entity", False) else "b"),
        "subject": {"age": _AGES[f("subject.age_band", "18_plus")],
                    "adult_at_risk": f("subject.adult_at_risk", "unknown"), "capacity": f("subject.capacity", "unknown")},
        "purpose": f("purpose", "other"),
        "data": {"categories": cats or ["identity_contact"], "identifiability": f("data.identifiability", "identifiable"),
                 "in_confidence": f("data.in_confidence", "unknown"), "already_public": f("data.already_public", "unknown"),
                 "art89_safeguards": f("data.art89_safeguards", "unknown")},
        "consent": {"state": f("consent.state", "not_sought"), "given_by": f("consent.given_by", "none")},
        "risk_of_harm": {"level": f("risk.level", "none"), "to": f("risk.to", "not_applicable"),
                         **({"other_person": facts["risk.other_person"]} if "risk.other_person" in facts else {})},
        "statutory_request": f("statutory_request", "none"),
        "assessment": {
            k: {"value": f(f"assessment.{k}"), "reason": "r"}
            for k in (n.removeprefix("assessment.") for n in FACTS if n.startswith("assessment."))
            if f(f"assessment.{k}", "not_assessed") != "not_assessed"
        },
    }


def test_witnesses_are_real_requests_that_fire_the_rule() -> None:
    """Every shipped stage-1 rule the solver says can fire does fire for its witness."""
    bundle = Bundle.load()
    engine = Engine(bundle, evaluator="reference")
    domains = national_domains()
    seg = bundle.segment(Stage.VIRES, date(2024, 1, 1))
    assert seg.rules
    for rule in seg.rules:
        witness = satisfiable(rule.when, domains, assume=VALIDITY)
        assert witness is not None, rule.id
        assert rule.id in engine.fired(_request(witness, date(2024, 1, 1)))[Stage.VIRES]


# ---------------------------------------------------------------------- VALIDITY


def _request_with(**parts) -> dict:
    base = _request({}, date(2020, 1, 1))
    base.update(parts)
    return base


def _valid(req: dict) -> bool:
    try:
        parse_request(req)
    except RequestError:
        return False
    return True


def test_validity_purpose_and_kind() -> None:
    d = national_domains()
    for purpose, kind in itertools.product(d["purpose"], d["sharing_kind"]):
        facts = {"purpose": purpose, "sharing_kind": kind}
        assert holds(VALIDITY_PARTS[0], facts) == (PURPOSE_KIND[purpose].value == kind)


_AGE_OF = {"under_13": 9, "13_to_15": 14, "16_to_17": 17, "18_plus": 40, "unknown": "unknown"}


def test_validity_consent_is_exact() -> None:
    """Who gave consent, for which state, and for a person of which age (attorneys and deputies)."""
    d = national_domains()
    for state, giver, band in itertools.product(d["consent.state"], d["consent.given_by"], d["subject.age_band"]):
        facts = {"consent.state": state, "consent.given_by": giver, "subject.age_band": band}
        subject = {"age": _AGE_OF[band], "adult_at_risk": "unknown", "capacity": "unknown"}
        assert holds(VALIDITY_PARTS[1], facts) == _valid(
            _request_with(consent={"state": state, "given_by": giver}, subject=subject)), facts


def test_validity_risk_is_exact() -> None:
    d = national_domains()
    for level, to, other in itertools.product(d["risk.level"], d["risk.to"], d["risk.other_person"]):
        facts = {"risk.level": level, "risk.to": to, "risk.other_person": other}
        risk = {"level": level, "to": to, "other_person": other}
        # Omitted, other_person is derived from 'to', so the omitted form is valid exactly
        # when the derived value is.
        assert holds(VALIDITY_PARTS[2], facts) == _valid(_request_with(risk_of_harm=risk)), facts


def test_validity_categories_are_exact() -> None:
    names = sorted(n for n in FACTS if n.startswith("data.") and FACTS[n].is_bool)
    for chosen in itertools.chain([()], ((n,) for n in names), [tuple(names)]):
        facts = {n: n in chosen for n in names}
        cats = [n[len("data."):] for n in chosen]
        data = dict(_request({}, date(2020, 1, 1))["data"], categories=cats)
        assert holds(VALIDITY_PARTS[3], facts) == _valid(_request_with(data=data))


def test_validity_parts_cover_the_validity() -> None:
    assert VALIDITY == All(VALIDITY_PARTS)
    assert validity_for({"purpose"}) == All((VALIDITY_PARTS[0],))
    # the age band is constrained only with the consent giver (attorneys and deputies)
    assert validity_for({"subject.age_band"}) == All((VALIDITY_PARTS[1],))
    assert validity_for({"subject.capacity"}) == Const(True)


# ---------------------------------------------------------------------- the solver


_DOMAINS = {"a": ("x", "y", "z"), "b": (False, True), "c": ("p", "q"), "d": (False, True)}
_leaf = st.one_of(
    st.builds(Const, st.booleans()),
    *[
        st.builds(In, st.just(fact), st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True).map(tuple), st.booleans())
        for fact, values in _DOMAINS.items()
    ],
)
_conds = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.builds(All, st.lists(inner, min_size=1, max_size=4).map(tuple)),
        st.builds(AnyOf, st.lists(inner, min_size=1, max_size=4).map(tuple)),
        st.builds(Not, inner),
    ),
    max_leaves=12,
)


def _brute(cond, assume=None) -> bool:
    names = sorted(_DOMAINS)
    for values in itertools.product(*(_DOMAINS[n] for n in names)):
        facts = dict(zip(names, values))
        if holds(cond, facts) and (assume is None or holds(assume, facts)):
            return True
    return False


@settings(max_examples=400, deadline=None)
@given(_conds, st.one_of(st.none(), _conds))
def test_satisfiable_agrees_with_brute_force(cond, assume) -> None:
    witness = satisfiable(cond, _DOMAINS, assume=assume)
    assert (witness is not None) == _brute(cond, assume)
    if witness is not None:
        read = facts_of(cond) | (facts_of(assume) if assume is not None else set())
        assert set(witness) == read
        full = {n: _DOMAINS[n][0] for n in _DOMAINS} | witness
        assert holds(cond, full) and (assume is None or holds(assume, full))


@settings(max_examples=200, deadline=None)
@given(_conds, _conds)
def test_implies_and_equivalent_agree_with_brute_force(a, b) -> None:
    assert implies(a, b, _DOMAINS) == (not _brute(All((a, Not(b)))))
    assert equivalent(a, b, _DOMAINS) == (not _brute(All((a, Not(b)))) and not _brute(All((b, Not(a)))))


def test_solver_basics() -> None:
    assert satisfiable(Const(True), _DOMAINS) == {}
    assert satisfiable(Const(False), _DOMAINS) is None
    assert satisfiable(In("a", ("x",)), _DOMAINS) == {"a": "x"}
    # Values are compared as reference.holds does: True is not the string "true".
    assert satisfiable(In("b", ("true",)), _DOMAINS) is None
    assert implies(In("a", ("x",)), In("a", ("x", "y")), _DOMAINS)
    assert equivalent(Not(In("a", ("x",))), In("a", ("y", "z")), _DOMAINS)
    with pytest.raises(KeyError, match="nope"):
        satisfiable(In("nope", ("x",)), _DOMAINS)


def test_national_domains() -> None:
    d = national_domains()
    assert set(d) == set(FACTS)
    for name, spec in FACTS.items():
        assert d[name] == ((False, True) if spec.is_bool else spec.values)


def test_solver_is_fast_on_wide_conditions() -> None:
    """Whether any stage-4 rule's condition implies the disjunction of all the others, for
    every rule of the busiest shipped segment: dozens of facts per query."""
    bundle = Bundle.load()
    seg = bundle.segment(Stage.DATA_PROTECTION, date(2026, 6, 1))
    domains = national_domains()
    start = time.perf_counter()
    for rule in seg.rules:
        others = AnyOf(tuple(r.when for r in seg.rules if r is not rule))
        implies(rule.when, others, domains, assume=VALIDITY)
    assert time.perf_counter() - start < 10
