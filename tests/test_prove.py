"""`sharelaw prove`: exhaustive where the space allows, bounded search where not, and real
counterexamples (each one a valid request that the public Engine decides as the prover said)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sharelaw import Engine
from sharelaw.cli import main
from sharelaw.errors import EngineError
from sharelaw.request import parse_request
from sharelaw.rules.bundle import Bundle, default_ruleset_dir
from sharelaw.vocab import Outcome

FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "prove" / "tiny"
WIDENING = FIXTURES / "protocols" / "widening"


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_a_small_rule_set_is_proved_exhaustively_and_the_classes_add_up(capsys):
    code, out = run(capsys, "prove", str(TINY), "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["ok"]
    (segment,) = report["segments"]
    assert segment["mode"] == "proved"
    # the classes partition the valid space exactly: nothing left out, nothing counted twice
    assert segment["covered"] == segment["space"] > 10**15
    assert report["outcomes_reached"] == sorted(o.value for o in Outcome)
    assert set(report["invariants"].values()) == {"holds"}
    code, out = run(capsys, "prove", str(TINY))
    assert "PROVED exhaustively" in out and "1 proved exhaustively" in out


def test_a_missing_special_category_condition_is_caught_with_a_real_request(capsys, tmp_path):
    # Without its stage-4 file the tiny rule set shares health data with no condition for it.
    (tmp_path / "tiny.yaml").write_text((TINY / "tiny.yaml").read_text("utf-8"), "utf-8")
    code, out = run(capsys, "prove", str(tmp_path), "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["invariants"]["special_category_needs_condition"] == "FAILED"
    example = next(v for v in report["violations"] if v["invariant"] == "special_category_needs_condition")
    assert example["confirmed"] is True
    request = parse_request(example["request"])  # a valid request, not just a fact vector
    decision = Engine(Bundle.load(tmp_path), evaluator="reference").decide(request)
    assert decision.outcome in (Outcome.MAY_SHARE, Outcome.MUST_SHARE)
    assert request.data.identifiability.value in ("identifiable", "pseudonymised")


def test_the_widening_protocol_is_caught_with_a_counterexample(capsys):
    code, out = run(capsys, "prove", str(WIDENING), "--as-at", "2026-06-01", "--budget", "1", "--examples", "2000",
                    "--format", "json")
    report = json.loads(out)
    assert code == 1
    assert report["invariants"]["protocol_only_narrows"] == "FAILED"
    example = next(v for v in report["violations"] if v["invariant"] == "protocol_only_narrows")
    request = example["request"]
    assert request["protocols"] == ["protocol.widenham_carers"]
    bundle = Bundle.load(default_ruleset_dir() / "national", WIDENING)
    unguarded = Engine(bundle, evaluator="reference", guard_protocols=False)
    national = unguarded.decide({**request, "protocols": []}).outcome
    widened = unguarded.decide(request).outcome
    assert (national, widened) == (Outcome.MUST_NOT_SHARE, Outcome.REFER)
    assert f"gives {national.value}; with protocol.widenham_carers it gives {widened.value}" in example["message"]
    # and the engine, guarded as it always is outside the prover, refuses to decide it
    with pytest.raises(EngineError, match="caldicott_referral"):
        Engine(bundle, evaluator="reference").decide(request)
    code, text = run(capsys, "prove", str(WIDENING), "--as-at", "2026-06-01", "--budget", "1", "--examples", "2000")
    assert "COUNTEREXAMPLE protocol_only_narrows" in text and "FAILED" in text.splitlines()[-1]


def test_the_shipped_rules_hold_and_the_report_states_its_bounds(capsys):
    code, out = run(capsys, "prove", "rulesets/", "--budget", "0.3", "--examples", "30", "--format", "json")
    report = json.loads(out)
    assert code == 0, [v["message"] for v in report["violations"]][:3]
    assert set(report["invariants"].values()) == {"holds"}
    assert report["outcomes_reached"] == sorted(o.value for o in Outcome)
    national = [s for s in report["segments"] if s["protocol"] is None]
    local = [s for s in report["segments"] if s["protocol"] == "protocol.exampleton_cyp"]
    assert len(national) > 20 and local
    for s in report["segments"]:
        assert 0 < s["covered"] <= s["space"]
        assert s["mode"] == "proved" or s["examples"] == 30
    assert "abstraction" in report and "classes" in report["abstraction"]


def test_rules_named_for_consent_are_exactly_those_that_need_consent_given():
    """The consent invariant finds consent-based rules by name ("consent" in the id); the name
    must not lie: every satisfying rule so named fires only when consent was given, and no
    other satisfying rule needs consent given."""
    from sharelaw.rules.model import In
    from sharelaw.analysis.solver import implies, national_domains
    from sharelaw.vocab import EffectKind

    domains = national_domains()
    given = In("consent.state", ("explicit_for_this", "earlier_covering", "implied_direct_care"))
    named = [r for r in Bundle.load().rules.values() if r.effect.kind is EffectKind.SATISFIES and r.protocol is None]
    for r in named:
        assert implies(r.when, given, domains) == ("consent" in r.id), r.id
