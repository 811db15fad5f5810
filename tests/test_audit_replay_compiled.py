"""Replay on the compiled path: the compiled evaluator, with the engine's memo of decision
substance (engine/skeleton.py), and every check kept (a changed decision is reported)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from strategies import deterministic_request_dicts  # noqa: E402

from sharelaw import AuditLog, Engine  # noqa: E402
from sharelaw.audit import replay  # noqa: E402

ACTOR = {"agency": "st-marys-primary", "role": "DSL"}


def _spy(monkeypatch) -> list[Engine]:
    built: list[Engine] = []

    class Spied(Engine):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(replay, "Engine", Spied)
    return built


def test_compiled_replay_uses_the_compiled_evaluator_and_its_memo(tmp_path, monkeypatch) -> None:
    requests = deterministic_request_dicts(30, seed=7)
    engine = Engine(evaluator="compiled")
    try:
        with AuditLog.open(f"sqlite:///{tmp_path / 'log.db'}") as log:
            for request in requests + requests:  # each twice: the second decides from the memo
                log.decide_and_record(engine, request, actor=ACTOR)
            built = _spy(monkeypatch)
            report = replay.reproduce(log, evaluator="compiled")
    finally:
        engine.close()
    assert report.ok and report.reproduced == report.decisions == 60
    assert [e.evaluator for e in built] == ["compiled"]
    memo = built[0]._skeleton_memo
    assert memo.size > 0 and memo.hits >= 30  # every repeated request's substance came from the memo


def test_compiled_replay_still_reports_a_changed_decision(tmp_path) -> None:
    request = deterministic_request_dicts(1, seed=8)[0]
    engine = Engine(evaluator="compiled")
    try:
        decision = engine.decide(request)
        with AuditLog.open(f"sqlite:///{tmp_path / 'log.db'}") as log:
            log.record(decision, request, actor=ACTOR, bundle=engine.bundle)
            log.record(decision.model_copy(update={"outcome": "must_not_share" if decision.outcome.value != "must_not_share"
                                                   else "may_share"}),
                       request, actor=ACTOR, bundle=engine.bundle)
            assert log.verify().ok  # recorded honestly: only replay can catch it
            report = replay.reproduce(log, evaluator="compiled")
    finally:
        engine.close()
    assert not report.ok and report.reproduced == 1
    assert [m.seq for m in report.mismatches] == [2] and "outcome" in report.mismatches[0].fields
