"""The engine computes a decision's substance once per distinct set of stage results
(engine/skeleton.py) and reuses it: that must never change a decision.

The golden requests (tests/test_golden_decisions.py) are decided a second time in reverse
order on the same engine, so each is made from a skeleton that another request may have
built, and a memo of three entries, which starts again all the time, must decide them
the same; hypothesis then decides random pairs of requests one after the other and holds
the second to what an engine without the memo decides.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import golden_decisions  # noqa: E402
from strategies import request_dicts  # noqa: E402

from sharelaw import Engine  # noqa: E402
from sharelaw._json import decision_json  # noqa: E402
from sharelaw.engine.memo import ADMIT_EVERY, Memo  # noqa: E402
from sharelaw.errors import SharelawError  # noqa: E402
from sharelaw.rules.bundle import Bundle  # noqa: E402

GOLDEN = golden_decisions.load()
BUNDLE = Bundle.load()
UNMEMOISED = Engine(BUNDLE, evaluator="compiled", cross_check=False, memo_size=0)
MEMOISED = Engine(BUNDLE, evaluator="compiled", cross_check=False)


def _outcome(engine: Engine, request: dict) -> str:
    try:
        return decision_json(engine.decide(request).model_dump(mode="json"))
    except SharelawError as exc:
        return f"{type(exc).__name__}: {exc}"


def test_every_golden_request_decides_the_same_from_a_reused_skeleton() -> None:
    engine = Engine(BUNDLE, evaluator="compiled", cross_check=False)
    assert golden_decisions.mismatches(engine, GOLDEN) == []
    built = engine._skeleton_memo.misses
    reversed_golden = {**GOLDEN, "entries": GOLDEN["entries"][::-1]}
    assert golden_decisions.mismatches(engine, reversed_golden) == []
    # the second pass reused what the first built (the memo holds more than there are skeletons)
    assert engine._skeleton_memo.misses == built
    assert engine._skeleton_memo.hits >= len(GOLDEN["entries"])


def test_a_tiny_memo_stays_bounded_and_decides_the_same() -> None:
    engine = Engine(BUNDLE, evaluator="compiled", cross_check=False, memo_size=3)
    some = {**GOLDEN, "entries": GOLDEN["entries"][:: 8]}
    assert golden_decisions.mismatches(engine, some) == []
    assert golden_decisions.mismatches(engine, some) == []
    assert len(engine._stage_memo) <= 3 and len(engine._skeleton_memo) <= 3 and len(engine._established) <= 3


def test_the_durable_engine_decides_the_same_from_a_reused_skeleton() -> None:
    """The default engine, cross-checked: every firing checked, then the substance reused."""
    engine = Engine(BUNDLE)
    some = {**GOLDEN, "entries": GOLDEN["entries"][::6]}
    assert golden_decisions.mismatches(engine, some) == []
    assert golden_decisions.mismatches(engine, {**some, "entries": some["entries"][::-1]}) == []
    assert engine._skeleton_memo.hits >= len(some["entries"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=request_dicts(), second=request_dicts())
def test_a_decision_does_not_depend_on_what_was_decided_before(first: dict, second: dict) -> None:
    _outcome(MEMOISED, first)
    assert _outcome(MEMOISED, second) == _outcome(UNMEMOISED, second)
    assert _outcome(MEMOISED, first) == _outcome(UNMEMOISED, first)


def test_a_full_memo_takes_one_new_entry_in_admit_every() -> None:
    memo: Memo[int, int] = Memo(2)
    memo.put(1, 1)
    memo.put(2, 2)
    assert memo.get(1) == 1 and len(memo) == 2
    for k in range(3, 3 + ADMIT_EVERY):
        memo.put(k, k)  # full: declined, but one in ADMIT_EVERY replaces the oldest
    assert len(memo) == 2
    kept = [k for k in range(1, 3 + ADMIT_EVERY) if memo.get(k) is not None]
    assert kept == [2, 2 + ADMIT_EVERY]
    off: Memo[str, int] = Memo(0)
    off.put("a", 1)
    assert len(off) == 0 and off.get("a") is None
    with pytest.raises(ValueError):
        Memo(-1)


def test_a_memo_never_holds_more_than_its_size_whatever_the_threads_do() -> None:
    """Stores from many threads at once (the service decides on several): the bound holds
    at every moment a reader looks, and an entry stored again is replaced, not doubled."""
    import sys
    import threading

    memo: Memo[tuple[int, int], int] = Memo(8)
    seen: list[int] = []
    stop = threading.Event()

    def writer(t: int) -> None:
        for k in range(20_000):
            memo.put((t, k % 500), k)

    def reader() -> None:
        while not stop.is_set():
            seen.append(len(memo))

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        watch = threading.Thread(target=reader)
        watch.start()
        threads = [threading.Thread(target=writer, args=(t,)) for t in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        stop.set()
        watch.join()
    finally:
        sys.setswitchinterval(old)
    assert seen and max(seen) <= 8 and len(memo) == 8
    memo.put(next(iter(memo._data)), -1)  # stored again: replaced in place, nothing evicted
    assert len(memo) == 8 and -1 in memo._data.values()


def test_what_decisions_share_cannot_be_changed_through_one_of_them() -> None:
    """Decisions made from one skeleton share its models; a caller changing a list inside one
    decision must neither change the others nor the memo: the shared lists refuse it."""
    import copy
    import json as _json
    import pickle

    request = _json.loads(next((ROOT / "examples").glob("05-*.json")).read_text())
    engine = Engine(BUNDLE, evaluator="compiled", cross_check=False)
    first = engine.decide(request)
    expected = first.model_dump(mode="json")
    second = engine.decide(request)
    assert engine._skeleton_memo.hits == 1
    shared = [rq.satisfied_by for st in second.stages for rq in st.requirements] + [
        c.rule_ids for c in second.conditions] + [st.requirements for st in second.stages]
    assert shared
    for lst in shared:
        with pytest.raises(TypeError):
            lst.append("forged")
        with pytest.raises(TypeError):
            lst[:] = []
    second.decided_by.append("mine")  # the decision's own lists stay the caller's
    assert engine.decide(request).model_dump(mode="json") == expected
    assert first.model_dump(mode="json") == expected
    for clone in (copy.deepcopy(first), pickle.loads(pickle.dumps(first)), first.model_copy(deep=True)):
        assert clone.model_dump(mode="json") == expected
    assert type(first).model_validate(expected).model_dump(mode="json") == expected
