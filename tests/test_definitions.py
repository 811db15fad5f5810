"""Shared definitions (sharelaw/definitions@1): loaded once, used by every stage, and the
consent conditions that must agree with each other do agree."""

from __future__ import annotations

import itertools

import pytest

from sharelaw.errors import RulesetErrors
from sharelaw.rules.bundle import Bundle, default_ruleset_dir
from sharelaw.rules.loader import _CondBuilder, _Loader, _Source, load_definitions
from sharelaw.rules.reference import holds
from sharelaw.vocab import AgeBand, ConsentGiver, Stage, YesNoUnknown

import yaml


def _shared_and_local(bundle: Bundle, file_suffix: str):
    shared = {k: v for d in bundle.definitions for k, v in d.shared.items()}
    rel = next(r for r in bundle.sources if r.endswith(file_suffix))
    local = yaml.load(bundle.sources[rel], Loader=_Loader).get("define", {})
    return shared, local


def _build(name: str, shared, local):
    errors: list = []
    src = _Source("test", {})
    cond = _CondBuilder(Stage.PROTOCOL, local, src, errors, None, shared=shared).use(name, ("define", name))
    assert not errors, errors
    return cond


@pytest.mark.parametrize("definition,complement", [
    ("giver_self_or_parent", "giver_not_self_or_parent"),
    ("giver_mca_authority", "giver_not_mca_authority"),
])
def test_consent_definitions_and_their_complements_agree_everywhere(definition, complement):
    """02_hra.yaml writes the complements positively; each is exactly "someone named as
    giving consent who cannot", for every giver, age band and capacity."""
    bundle = Bundle.load()
    shared, local = _shared_and_local(bundle, "02_hra.yaml")
    can = _build(definition, shared, local)
    cannot = _build(complement, shared, local)
    givers = [g for g in ConsentGiver if g is not ConsentGiver.NONE]
    for giver, band, capacity in itertools.product(givers, AgeBand, YesNoUnknown):
        facts = {"consent.given_by": giver.value, "subject.age_band": band.value, "subject.capacity": capacity.value}
        assert holds(can, facts) != holds(cannot, facts), facts


@pytest.mark.parametrize("giver,band,capacity,valid", [
    ("subject", "18_plus", "unknown", True),      # capacity presumed (MCA 2005 s1(2))
    ("subject", "13_to_15", "unknown", False),    # Gillick competence must be shown
    ("subject", "13_to_15", "yes", True),
    ("parent", "under_13", "unknown", True),
    ("parent", "13_to_15", "yes", False),         # a competent child decides
    ("parent", "16_to_17", "no", False),          # parental consent ends with capacity at 16
    ("welfare_attorney", "18_plus", "no", True),  # MCA s9, s11(7)(a) (from 1 October 2007)
    ("welfare_attorney", "18_plus", "yes", False),  # the donor has capacity and decides
    ("welfare_deputy", "16_to_17", "no", True),   # MCA s2(5), s16
    ("relative_or_carer", "18_plus", "no", False),  # no authority to decide for an adult
])
def test_who_can_consent(giver, band, capacity, valid):
    bundle = Bundle.load()
    shared, local = _shared_and_local(bundle, "02_hra.yaml")
    competent = _build("giver_with_authority", shared, local)
    assert holds(competent, {"consent.given_by": giver, "subject.age_band": band, "subject.capacity": capacity}) is valid


def test_a_rule_file_may_not_redefine_a_shared_name(tmp_path):
    root = tmp_path / "rules"
    root.mkdir()
    for p in default_ruleset_dir().rglob("*.yaml"):
        dest = root / p.relative_to(default_ruleset_dir())
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(p.read_text("utf-8"), "utf-8")
    hra = root / "national" / "02_hra.yaml"
    text = hra.read_text("utf-8").replace("define:\n", "define:\n  personal: {data.identifiability: identifiable}\n", 1)
    hra.write_text(text, "utf-8")
    with pytest.raises(RulesetErrors) as exc:
        Bundle.load(root)
    errors = [e for e in exc.value.errors if e.code == "ruleset_duplicate_id"]
    assert errors and "personal" in errors[0].message and errors[0].file.endswith("02_hra.yaml")


def test_a_bad_shared_definition_is_reported_at_its_own_file_and_line():
    text = "format: sharelaw/definitions@1\nid: t.defs\ntitle: t\ndefine:\n  broken:\n    no.such.fact: yes\n"
    with pytest.raises(RulesetErrors) as exc:
        load_definitions(text, "defs.yaml")
    (err,) = exc.value.errors
    assert err.code == "ruleset_unknown_fact" and err.file == "defs.yaml" and err.line == 6


def test_a_function_maps_to_its_purposes():
    text = ("format: sharelaw/definitions@1\nid: t.defs\ntitle: t\nfunctions:\n"
            "  child_welfare:\n    title: Children's welfare\n    purposes: [child_in_need, early_help]\n")
    loaded = load_definitions(text, "defs.yaml")
    cond = _build("function.child_welfare", loaded.shared, {})
    assert holds(cond, {"purpose": "early_help"}) and not holds(cond, {"purpose": "direct_care"})
    with pytest.raises(RulesetErrors) as exc:
        load_definitions(text.replace("early_help", "early_halp"), "defs.yaml")
    assert exc.value.errors[0].code == "ruleset_schema_error"
