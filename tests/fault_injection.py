"""Fault injection for the engine (issue 10): raise at a call site of one of the engine's
dependencies and check that no decision to share comes out, nothing hangs, and the
failure is an ``EngineError``. Shared by tests/test_fault_injection.py (1,000 runs in CI)
and benchmarks/soak_faults.py (10,000 and more).

A *site* is an attribute of a module or class that the engine calls while deciding: the
durable-rules core, the reference evaluator, citations, the bundle's segments, the steps
of the engine's stages and rendering, the invariant check, the durable evaluator's lock. A run picks a site, a
call number and an exception type, patches the site to raise on that call, decides one
request known to share, and restores the site.
"""

from __future__ import annotations

import random
import signal
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import sharelaw.engine.durable as durable
import sharelaw.engine.invariants as invariants
import sharelaw.engine.render as render
import sharelaw.engine.skeleton as skeleton
import sharelaw.engine.stages as stages
from sharelaw.errors import EngineError
from sharelaw.law.citations import Citation
from sharelaw.rules.bundle import Bundle
from sharelaw.rules.reference import ReferenceEvaluator
from sharelaw.vocab import Outcome

SHARING = (Outcome.MAY_SHARE, Outcome.MUST_SHARE)
EXCEPTIONS = (RuntimeError, ValueError, KeyError, TypeError, AttributeError, IndexError, MemoryError,
              RecursionError, OSError, ZeroDivisionError)


class _Core:
    """A stand-in module for ``durable._core`` whose functions can be made to raise."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)


def sites() -> list[tuple[str, Any, str]]:
    """(label, owner, attribute) of every call site a run may fault."""
    out = [(f"durable-rules core: {name}", "core", name) for name in (
        "assert_fact", "start_action_for_state", "complete_and_start_action", "retract_fact", "delete_state")]
    out += [
        ("reference evaluator: fire", ReferenceEvaluator, "fire"),
        ("citations: resolve", Citation, "resolve"),
        ("bundle: segment", Bundle, "segment"),
        ("stages: request_facts", stages, "request_facts"),
        ("stages: covers", stages, "covers"),
        ("stages: combine_active", stages, "combine_active"),
        ("stages: establish", stages, "establish"),
        ("stages: build_skeleton", stages, "build_skeleton"),
        ("skeleton: bases", skeleton, "bases"),
        ("skeleton: conditions", skeleton, "conditions"),
        ("skeleton: decided_by", skeleton, "decided_by"),
        ("skeleton: missing", skeleton, "missing"),
        ("stages: summary", stages, "summary"),
        ("stages: check_decision", stages, "check_decision"),
        ("render: citations", render, "citations"),
        ("render: Output.render_findings", render.Output, "render_findings"),
        ("invariants: check_decision", invariants, "check_decision"),
        ("durable evaluator: lock", "lock", "__enter__"),
    ]
    return out


@dataclass
class Tally:
    runs: int = 0
    injected: int = 0
    engine_errors: int = 0
    decided_unfaulted: int = 0
    sharing_after_fault: list = field(default_factory=list)
    wrong_error: list = field(default_factory=list)
    hangs: list = field(default_factory=list)
    changed_without_fault: list = field(default_factory=list)


class _Raising:
    """A lock whose acquisition raises on the chosen call."""

    def __init__(self, real, should_raise: Callable[[], bool], exc: type[BaseException]):
        self._real, self._should_raise, self._exc = real, should_raise, exc

    def __enter__(self):
        if self._should_raise():
            raise self._exc("injected fault acquiring the lock")
        return self._real.__enter__()

    def __exit__(self, *args):
        return self._real.__exit__(*args)

    def acquire(self, *a, **k):
        return self._real.acquire(*a, **k)

    def release(self):
        return self._real.release()


class _Timeout(BaseException):
    pass


def _alarm(_signum, _frame):
    raise _Timeout()


def sharing_requests(bundle: Bundle, n: int, seed: int, pool: int) -> tuple[list[dict], list]:
    """The first ``n`` of ``pool`` reproducible requests that an unfaulted engine decides
    ``may_share`` or ``must_share``, with those outcomes (the baseline of ``run_faults``)."""
    from sharelaw.engine.stages import Engine
    from sharelaw.errors import RequestError

    try:
        from strategies import deterministic_request_dicts
    except ImportError:  # pragma: no cover
        from tests.strategies import deterministic_request_dicts  # type: ignore[no-redef]

    engine = Engine(bundle)
    requests, outcomes = [], []
    try:
        for data in deterministic_request_dicts(pool, seed=seed):
            try:
                outcome = engine.decide(data).outcome
            except RequestError:
                continue
            if outcome in SHARING:
                requests.append(data)
                outcomes.append(outcome)
            if len(requests) == n:
                break
    finally:
        engine.close()
    return requests, outcomes


def run_faults(engine_factory: Callable[[], Any], requests: list[dict], baseline: list, n: int, seed: int,
               timeout_s: int = 10) -> Tally:
    """``n`` faulted decisions. ``baseline[i]`` is the unfaulted outcome of ``requests[i]``."""
    rng = random.Random(seed)
    tally = Tally()
    engine = engine_factory()
    all_sites = sites()
    use_alarm = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGALRM, _alarm) if use_alarm else None
    try:
        for _ in range(n):
            label, owner, attr = rng.choice(all_sites)
            target_call = rng.randint(1, 4)
            exc_type = rng.choice(EXCEPTIONS)
            i = rng.randrange(len(requests))
            calls = {"n": 0, "raised": False}

            def should_raise() -> bool:
                calls["n"] += 1
                if calls["n"] == target_call:
                    calls["raised"] = True
                    return True
                return False

            restore: Callable[[], None]
            if owner == "lock":
                evaluator = getattr(engine, "_primary", None)
                real_lock = getattr(evaluator, "_lock", None)
                if real_lock is None:
                    continue
                evaluator._lock = _Raising(real_lock, should_raise, exc_type)

                def restore(ev=evaluator, lock=real_lock):
                    ev._lock = lock
            else:
                holder = durable if owner == "core" else owner
                name = "_core" if owner == "core" else attr
                original = getattr(holder, name)
                if owner == "core":
                    fake = _Core(original)
                    real_fn = getattr(original, attr)

                    def faulty_core(*a, _real=real_fn, **k):
                        if should_raise():
                            raise exc_type(f"injected fault in {label}")
                        return _real(*a, **k)

                    setattr(fake, attr, faulty_core)
                    setattr(durable, "_core", fake)
                else:
                    def faulty(*a, _real=original, **k):
                        if should_raise():
                            raise exc_type(f"injected fault in {label}")
                        return _real(*a, **k)

                    setattr(holder, name, faulty)

                def restore(holder=holder, name=name, original=original):
                    setattr(holder, name, original)

            tally.runs += 1
            outcome = None
            try:
                if use_alarm:
                    signal.alarm(timeout_s)
                try:
                    outcome = engine.decide(requests[i]).outcome
                except EngineError:
                    tally.engine_errors += 1
                except _Timeout:
                    tally.hangs.append(label)
                except BaseException as exc:  # noqa: BLE001 - anything else is a finding
                    tally.wrong_error.append(f"{label}: {type(exc).__name__}: {exc}")
                finally:
                    if use_alarm:
                        signal.alarm(0)
            finally:
                restore()
            if calls["raised"]:
                tally.injected += 1
                if outcome is not None:
                    tally.sharing_after_fault.append(f"{label} call {target_call}: {outcome.value}") \
                        if outcome in SHARING else tally.wrong_error.append(
                            f"{label}: a fault still gave a decision ({outcome.value})")
            elif outcome is not None:
                tally.decided_unfaulted += 1
                if outcome != baseline[i]:
                    tally.changed_without_fault.append(f"{label}: {baseline[i].value} -> {outcome.value}")
            if getattr(getattr(engine, "_primary", None), "_broken", None):
                engine.close()
                engine = engine_factory()  # the durable evaluator refuses work after a core fault
    finally:
        if use_alarm:
            signal.signal(signal.SIGALRM, previous)
        engine.close()
    return tally
