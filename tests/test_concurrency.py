"""One Engine shared by many threads decides exactly as one thread does.

The durable-rules core has no locks of its own (shared/engine-notes.md): the engine
serialises every call into it. These tests hammer one shared engine from 8 threads,
starting cold (no ruleset compiled, no date segment built) so that lazy compilation
races too, and compare every decision with the serial result from a separate engine.
The requests are a fixed, seeded list (tests/strategies.py), the same on every run.
"""

from __future__ import annotations

import random
import sys
import threading

import pytest

try:  # tests/ is not a package: pytest puts it on sys.path
    from strategies import deterministic_request_dicts
except ImportError:  # pragma: no cover - if tests/ becomes a package
    from tests.strategies import deterministic_request_dicts  # type: ignore[no-redef]

from sharelaw.engine.pipeline import Engine

THREADS = 8
PER_THREAD = 1_000
REQUESTS = deterministic_request_dicts(PER_THREAD, seed=8_000)


def _dump(decision) -> dict:
    # Whether a decision was cross-checked depends on the engine, not on the threads.
    return decision.model_dump(mode="json", exclude={"cross_checked"})


@pytest.fixture(scope="module")
def serial() -> list[dict]:
    engine = Engine(cross_check=True)
    try:
        return [_dump(engine.decide(r)) for r in REQUESTS]
    finally:
        engine.close()


def _hammer(engine_for_thread) -> tuple[list[dict | None], list[BaseException]]:
    """Each thread decides every request, in its own shuffled order, all starting at once."""
    results: list[list[dict | None]] = [[None] * len(REQUESTS) for _ in range(THREADS)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def work(t: int) -> None:
        engine = engine_for_thread(t)
        order = list(range(len(REQUESTS)))
        random.Random(t).shuffle(order)
        try:
            barrier.wait()
            for i in order:
                results[t][i] = _dump(engine.decide(REQUESTS[i]))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,), name=f"decider-{t}") for t in range(THREADS)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads every 10 µs, not 5 ms: interleave inside decisions
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=600)
    finally:
        sys.setswitchinterval(interval)
    assert not any(th.is_alive() for th in threads), "a decider thread hung"
    return results, errors


def _assert_all_equal_serial(results, errors, serial) -> None:
    assert not errors, f"{len(errors)} thread(s) failed; first: {errors[0]!r}"
    assert len(REQUESTS) == PER_THREAD
    for t, per_thread in enumerate(results):
        wrong = [i for i, got in enumerate(per_thread) if got != serial[i]]
        assert not wrong, f"thread {t}: {len(wrong)} decisions differ from serial, first request index {wrong[0]}"


@pytest.mark.parametrize("cross_check", [True, False], ids=["cross_check", "durable_only"])
def test_one_shared_engine_in_8_threads_decides_as_serial(serial, cross_check):
    shared = Engine(cross_check=cross_check)  # cold: nothing compiled yet
    try:
        results, errors = _hammer(lambda t: shared)
    finally:
        shared.close()
    # The evaluator field names the engine kind, which is the same (durable) either way.
    _assert_all_equal_serial(results, errors, serial)


def test_one_engine_per_thread_decides_as_serial(serial):
    # Engines in different threads share the durable-rules core (but not a lock): each has
    # its own rulesets, and sessions on different rulesets interleave.
    engines = [Engine(cross_check=False) for _ in range(THREADS)]
    try:
        results, errors = _hammer(lambda t: engines[t])
    finally:
        for e in engines:
            e.close()
    _assert_all_equal_serial(results, errors, serial)
