"""The compiled evaluator decides exactly as durable-rules does (issue 11).

OPA keeps its interpreter and its compiled path equal by tests; so do we:

- 100,000 generated requests (10% of them between the example protocol's partners, so
  practices fire): every segment fired on the way to each decision is fired by both
  durable-rules and the compiled evaluator, on the same facts, and must give the same
  rule ids in the same order (the facts of later stages are those durable-rules' results
  established, so a disagreement is caught where it first appears);
- on a sample of 2,000, the whole decision JSON is the same but for ``evaluator``;
- the compiled functions really skip rules that cannot fire (the dispatch), and a broken
  compiled evaluator is caught by the cross-check, sampled or not.

benchmarks/soak_differential.py runs the first check on 1,000,000 and more.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Any, Mapping

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from golden_decisions import partner_requests  # noqa: E402
from strategies import deterministic_request_dicts  # noqa: E402

from sharelaw import Engine  # noqa: E402
from sharelaw.engine.compiled import CompiledEvaluator, compile_segment, specialise  # noqa: E402
from sharelaw.engine.durable import DurableEvaluator  # noqa: E402
from sharelaw.engine.stages import cross_check_rate, sampled  # noqa: E402
from sharelaw.errors import EngineError, RequestError  # noqa: E402
from sharelaw.request import parse_request  # noqa: E402
from sharelaw.rules.bundle import Bundle, Segment  # noqa: E402
from sharelaw.rules.facts import FACTS, request_facts  # noqa: E402
from sharelaw.rules.model import facts_in  # noqa: E402
from sharelaw.rules.reference import holds  # noqa: E402

BUNDLE = Bundle.load()
#: 100,000 in CI (issue 11); SHARELAW_DIFFERENTIAL_REQUESTS overrides it for a quick local run.
DIFFERENTIAL_REQUESTS = int(os.environ.get("SHARELAW_DIFFERENTIAL_REQUESTS", "100000"))
FULL_SAMPLE = 2_000


class Pair:
    """Fires each segment through durable-rules and the compiled evaluator; records every
    disagreement and returns durable-rules' firing (so the run goes on as the default would)."""

    name = "durable"

    def __init__(self, bundle: Bundle) -> None:
        self.durable = DurableEvaluator()
        self.durable.prepare(bundle)
        self.compiled = CompiledEvaluator()
        self.compiled.prepare(bundle)
        self.fired = 0
        self.disagreements: list[tuple[str, list[str], list[str], dict[str, object]]] = []

    def fire(self, segment: Segment, facts: Mapping[str, object]) -> list[str]:
        expected = self.durable.fire(segment, dict(facts))
        got = self.compiled.fire(segment, facts)
        self.fired += 1
        if got != expected:
            self.disagreements.append((segment.key, expected, got, dict(facts)))
        return expected

    def close(self) -> None:
        self.durable.close()


def differential_requests(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` requests: 90% from the shared generator, 10% between the example protocol's partners."""
    partnered = n // 10
    return deterministic_request_dicts(n - partnered, seed=seed) + partner_requests(partnered, seed + 1, BUNDLE)


def run_differential(bundle: Bundle, requests: list[dict[str, Any]]) -> Pair:
    engine = Engine(bundle, evaluator="reference")  # the engine's stages, with the pair firing
    pair = Pair(bundle)
    engine._primary = pair
    try:
        for data in requests:
            try:
                req = parse_request(data)
            except RequestError:
                continue
            engine._run(req)
            if len(pair.disagreements) > 20:
                break
    finally:
        engine.close()
    return pair


def test_compiled_fires_as_durable_rules_on_100000_requests() -> None:
    requests = differential_requests(DIFFERENTIAL_REQUESTS, seed=20261204)
    pair = run_differential(BUNDLE, requests)
    assert not pair.disagreements, "\n".join(
        f"{key}: durable-rules fired {want}, compiled fired {got}" for key, want, got, _ in pair.disagreements[:5])
    assert pair.fired > 2 * DIFFERENTIAL_REQUESTS  # every stage evaluated, protocol segments too


def test_compiled_and_durable_decisions_are_identical_on_a_sample() -> None:
    durable = Engine(BUNDLE, evaluator="durable", cross_check=False)
    compiled = Engine(BUNDLE, evaluator="compiled", cross_check=False)
    try:
        for data in differential_requests(FULL_SAMPLE, seed=20261205):
            try:
                want = durable.decide(data)
            except RequestError:
                with pytest.raises(RequestError):
                    compiled.decide(data)
                continue
            got = compiled.decide(data)
            assert got.evaluator == "compiled" and want.evaluator == "durable"
            assert got.model_dump_json(exclude={"evaluator"}) == want.model_dump_json(exclude={"evaluator"})
    finally:
        durable.close()
        compiled.close()


def test_a_pair_that_disagrees_is_reported() -> None:
    """The differential can fail: a compiled evaluator that drops a rule is caught."""
    pair = Pair(BUNDLE)
    real = pair.compiled.fire
    pair.compiled.fire = lambda segment, facts: real(segment, facts)[1:]  # type: ignore[method-assign]
    engine = Engine(BUNDLE, evaluator="reference")
    engine._primary = pair
    try:
        for data in deterministic_request_dicts(50, seed=3):
            engine._run(parse_request(data))
    finally:
        engine.close()
    assert pair.disagreements


# ---------------------------------------------------------------------- the compiled functions


def test_specialising_a_condition_keeps_its_truth() -> None:
    """Partial evaluation on the dispatch fact is exact: for every rule, every fact it reads
    and every value of that fact, on random facts."""
    rng = random.Random(7)
    facts_pool = [request_facts(parse_request(d)) for d in deterministic_request_dicts(40, seed=11)]
    established = {name: spec for name, spec in FACTS.items() if name not in facts_pool[0]}
    checked = 0
    for rule in BUNDLE.rules.values():
        for fact in sorted(facts_in(rule.when)):
            spec = FACTS.get(fact)
            if spec is None:
                continue
            for value in (True, False) if spec.values is None else spec.values:
                facts = dict(rng.choice(facts_pool))
                for name, other in established.items():
                    facts[name] = rng.choice((True, False) if other.values is None else other.values)
                for name in facts_in(rule.when) - set(facts):
                    facts[name] = "unknown-partner"
                facts[fact] = value
                assert holds(specialise(rule.when, fact, value), facts) == holds(rule.when, facts), (rule.id, fact, value)
                checked += 1
    assert checked > 1000


def test_rules_that_cannot_fire_are_not_tested() -> None:
    """Each big national segment dispatches on a fact, and on average tests fewer rules than it has."""
    big = [s for s in BUNDLE.all_segments() if s.scope is None and len(s.rules) >= 10]
    assert big
    for seg in big:
        compiled = compile_segment(seg)
        assert compiled.dispatch is not None, seg.key
        assert compiled.tested < len(seg.rules), (seg.key, compiled.tested, len(seg.rules))
        assert "def fire(f):" in compiled.source


# ---------------------------------------------------------------------- cross-check as a rate


EXAMPLE = deterministic_request_dicts(1, seed=5)[0]


@pytest.mark.parametrize("value, rate", [(True, 1.0), (False, 0.0), (0.25, 0.25), (1, 1.0), (0, 0.0)])
def test_cross_check_takes_a_bool_or_a_rate(value: Any, rate: float) -> None:
    assert cross_check_rate(value) == rate


@pytest.mark.parametrize("value", [1.5, -0.1, "0.5", None, float("nan")])
def test_cross_check_refuses_anything_else(value: Any) -> None:
    with pytest.raises(ValueError):
        Engine(BUNDLE, evaluator="compiled", cross_check=value)


@pytest.mark.parametrize("evaluator", ["durable", "compiled"])
def test_the_decision_records_whether_it_was_cross_checked(evaluator: str) -> None:
    on = Engine(BUNDLE, evaluator=evaluator, cross_check=True)  # type: ignore[arg-type]
    off = Engine(BUNDLE, evaluator=evaluator, cross_check=False)  # type: ignore[arg-type]
    try:
        a, b = on.decide(EXAMPLE), off.decide(EXAMPLE)
        assert (a.cross_checked, b.cross_checked) == (True, False)
        assert a.evaluator == b.evaluator == evaluator
        assert a.model_dump_json(exclude={"cross_checked"}) == b.model_dump_json(exclude={"cross_checked"})
    finally:
        on.close()
        off.close()
    assert Engine(BUNDLE, evaluator="reference").decide(EXAMPLE).cross_checked is False


def test_a_sampling_rate_checks_that_fraction_the_same_way_every_time() -> None:
    requests = deterministic_request_dicts(1000, seed=9)
    first = Engine(BUNDLE, evaluator="compiled", cross_check=0.3)
    second = Engine(Bundle.load(), evaluator="compiled", cross_check=0.3)
    chosen = [first.decide(r).cross_checked for r in requests]
    assert chosen == [second.decide(r).cross_checked for r in requests]  # deterministic: replay agrees
    assert 0.24 < sum(chosen) / len(chosen) < 0.36
    # A request's choice depends on what the rules see, not on the order it came in.
    assert [first.decide(r).cross_checked for r in reversed(requests)] == chosen[::-1]


def test_the_sample_is_chosen_by_the_request_not_by_chance() -> None:
    req = parse_request(EXAMPLE)
    facts = request_facts(req)
    assert len({sampled(facts, req, 0.5) for _ in range(50)}) == 1
    assert sampled(facts, req, 1.0) and not sampled(facts, req, 0.0)


def test_a_sampled_disagreement_refuses_to_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A compiled evaluator that goes wrong is caught on every decision the rate checks,
    and nothing is decided for them."""
    requests = deterministic_request_dicts(300, seed=13)
    engine = Engine(BUNDLE, evaluator="compiled", cross_check=0.5)
    real = CompiledEvaluator.fire
    monkeypatch.setattr(CompiledEvaluator, "fire", lambda self, seg, facts: real(self, seg, facts)[:-1])
    refused = decided = 0
    for r in requests:
        try:
            d = engine.decide(r)
        except EngineError as exc:
            assert "evaluators disagree" in str(exc)
            refused += 1
        except RequestError:
            continue
        else:
            assert not d.cross_checked  # only an unchecked decision gets past (decided on a dropped rule)
            decided += 1
    assert refused and decided


def test_replay_cross_checks_the_decisions_a_sampling_rate_left_unchecked(tmp_path: Path, monkeypatch: Any) -> None:
    # Production decides unchecked (cross_check=0); an auditor's replay still checks each one
    # against the reference evaluator, so a misfire on an unsampled decision shows there.
    from sharelaw.audit import AuditLog
    from sharelaw.audit.replay import reproduce
    from sharelaw.rules.reference import ReferenceEvaluator

    engine = Engine(BUNDLE, evaluator="compiled", cross_check=0.0)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    with AuditLog.open(url, create=True) as log:
        for r in deterministic_request_dicts(20, seed=4):
            decision = engine.decide(r)
            assert decision.cross_checked is False
            log.record(decision, r, actor={"agency": "a", "role": "r"}, bundle=BUNDLE)
        report = reproduce(log)
        assert report.ok and report.reproduced == 20  # the flag is compared as recorded
        monkeypatch.setattr(ReferenceEvaluator, "fire", lambda self, segment, facts: ["not.a.rule"])
        broken = reproduce(log)
    assert not broken.ok and len(broken.mismatches) == 20
    assert all("disagree" in m.problem for m in broken.mismatches)


def test_a_decision_recorded_before_cross_checked_existed_replays_identically(tmp_path: Path, monkeypatch: Any) -> None:
    # 0.3.0 logs written before issue 11 hold decisions without the field; replaying them under
    # the same version must not call that a difference
    from sharelaw.audit import AuditLog
    from sharelaw.audit.replay import reproduce
    from sharelaw.decision import Decision

    real = Decision.model_dump

    def without_field(self: Decision, *args: Any, **kwargs: Any) -> dict[str, Any]:
        data = real(self, *args, **kwargs)
        data.pop("cross_checked", None)
        return data

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    with AuditLog.open(url, create=True) as log:
        monkeypatch.setattr(Decision, "model_dump", without_field)
        engine = Engine(BUNDLE)
        for r in deterministic_request_dicts(5, seed=5):
            log.record(engine.decide(r), r, actor={"agency": "a", "role": "r"}, bundle=BUNDLE)
        monkeypatch.setattr(Decision, "model_dump", real)
        assert all("cross_checked" not in rec.body["decision"] for rec in log.records())
        report = reproduce(log)
    assert report.ok and report.reproduced == 5, report.to_dict()
