"""No exception, KeyboardInterrupt included, can leave a lock held (issue 10, item 14).

Every ``threading`` lock in src/ is taken with ``with`` (checked below, statically), and an
exception is injected inside each locked section: the next call must then complete, run
under a timeout so that a lock left held fails the test instead of hanging the suite.

The audit stores' database transactions are locks too: SQLite's ``BEGIN IMMEDIATE`` holds
the write lock of the log for every process until the transaction ends. An interrupt
landing just after ``BEGIN`` returned, before the ``try`` whose ``except`` rolls back, used
to leave the transaction open: this connection could append no more ("cannot start a
transaction within a transaction") and every other writer waited for the busy timeout
and failed. The ``BEGIN`` is now inside the ``try``.
"""

from __future__ import annotations

import ast
import threading
import uuid
from datetime import date
from pathlib import Path
from typing import Any, Callable

import pytest

import sharelaw
import sharelaw.engine.durable as durable
from sharelaw.audit.sqlite import SQLiteStore
from sharelaw.engine.pipeline import Engine
from sharelaw.rules.bundle import Bundle, default_ruleset_dir
from sharelaw.vocab import Outcome, Stage

SRC = Path(sharelaw.__file__).parent
TIMEOUT = 30.0

REQUEST = {
    "as_at": "2026-06-01",
    "interaction": "offer",
    "discloser": {"kind": "maintained_school", "legal_entity": "st-marys-primary"},
    "recipient": {"kind": "la_childrens_social_care", "legal_entity": "northshire-council"},
    "subject": {"age": 7, "capacity": "no"},
    "purpose": "child_protection_enquiry",
    "data": {"categories": ["education_record", "health"], "identifiability": "identifiable",
             "in_confidence": "yes", "already_public": "no"},
    "consent": {"state": "unsafe_to_seek"},
    "risk_of_harm": {"level": "significant_harm", "to": "subject"},
}


def within_timeout(fn: Callable[[], Any], seconds: float = TIMEOUT) -> Any:
    """``fn()`` in a thread; fails the test if it has not returned in ``seconds`` (a lock held)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s: a lock was left held"
    if "error" in out:
        raise out["error"]
    return out.get("value")


def raise_once(exc: type[BaseException], real: Callable) -> Callable:
    """A stand-in for ``real`` that raises ``exc`` on its first call and then calls through."""
    calls = {"n": 0}

    def fake(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise exc("injected")
        return real(*args, **kwargs)

    return fake


# ---------------------------------------------------------------------- every lock is a `with`


def _lock_names(tree: ast.AST) -> set[str]:
    """Names (``_lock``, ``_default_lock``) bound to a threading lock in a module."""
    names = set()
    for node in ast.walk(tree):
        value = getattr(node, "value", None)
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(value, ast.Call):
            func = value.func
            if isinstance(func, ast.Attribute) and func.attr in {"Lock", "RLock", "Condition", "Semaphore",
                                                                 "BoundedSemaphore"}:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    names.add(t.attr if isinstance(t, ast.Attribute) else getattr(t, "id", ""))
    return names


def test_every_lock_in_src_is_taken_with_with_and_never_acquired_by_hand():
    found = 0
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = _lock_names(tree)
        found += len(names)
        with_items = {id(item.context_expr) for node in ast.walk(tree) if isinstance(node, ast.With)
                      for item in node.items}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {"acquire", "release"}:
                pytest.fail(f"{path}:{node.lineno}: a lock taken by hand ({node.attr}); use 'with'")
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if name in names and isinstance(getattr(node, "ctx", None), ast.Load) and id(node) not in with_items:
                pytest.fail(f"{path}:{node.lineno}: lock {name} used other than in a 'with' statement")
    assert found >= 4  # the durable evaluator's, the bundle's, the default engine's, the stores'


# ---------------------------------------------------------------------- the durable evaluator


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return Bundle.load()


@pytest.fixture(scope="module")
def expected(bundle) -> Outcome:
    return Engine(bundle, evaluator="reference").decide(REQUEST).outcome


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError, MemoryError])
def test_an_exception_inside_the_durable_lock_before_the_core_is_called_leaves_it_free(
        bundle, expected, monkeypatch, exc):
    engine = Engine(bundle)
    monkeypatch.setattr(durable, "engine_fact", raise_once(exc, durable.engine_fact))
    with pytest.raises((exc, sharelaw.EngineError)):
        engine.decide(REQUEST)
    assert within_timeout(lambda: engine.decide(REQUEST)).outcome is expected


def test_an_interrupt_inside_a_core_call_fails_closed_at_once_never_hangs(bundle, monkeypatch):
    """A session the core may have opened cannot be deleted safely (engine-notes.md): the
    evaluator refuses further work, promptly, with an EngineError. It never waits."""
    engine = Engine(bundle)
    monkeypatch.setattr(durable._core, "assert_fact", raise_once(KeyboardInterrupt, durable._core.assert_fact))
    with pytest.raises(KeyboardInterrupt):
        engine.decide(REQUEST)
    with pytest.raises(sharelaw.EngineError, match="create a new Engine"):
        within_timeout(lambda: engine.decide(REQUEST))
    assert within_timeout(lambda: Engine(bundle).decide(REQUEST)).outcome is not None


# ---------------------------------------------------------------------- the bundle's segments


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_an_exception_while_a_segment_is_built_leaves_the_bundle_lock_free(monkeypatch, exc):
    fresh = Bundle.load()
    monkeypatch.setattr(Bundle, "_build_segment", raise_once(exc, Bundle._build_segment))
    day = date(2026, 6, 1)
    with pytest.raises(exc):
        fresh.segment(Stage.VIRES, day)
    seg = within_timeout(lambda: fresh.segment(Stage.VIRES, day))
    assert seg.rules and seg is fresh.segment(Stage.VIRES, day)


def test_an_exception_while_a_protocol_segment_is_built_leaves_the_bundle_lock_free(monkeypatch):
    fresh = Bundle.load()
    pid = next(iter(fresh.protocols))
    monkeypatch.setattr(Bundle, "protocol_boundaries", raise_once(KeyboardInterrupt, Bundle.protocol_boundaries))
    with pytest.raises(KeyboardInterrupt):
        fresh.protocol_segment_at(pid, Stage.PROTOCOL, 1)
    assert within_timeout(lambda: fresh.protocol_segment_at(pid, Stage.PROTOCOL, 1)).rules


def test_an_exception_while_the_default_engine_is_built_leaves_its_lock_free(monkeypatch):
    monkeypatch.setattr(sharelaw, "_default", None)
    built = object()
    monkeypatch.setattr(sharelaw, "Engine", raise_once(KeyboardInterrupt, lambda: built))
    with pytest.raises(KeyboardInterrupt):
        sharelaw.default_engine()
    assert within_timeout(sharelaw.default_engine) is built


# ---------------------------------------------------------------------- the audit store


def _body(seq: int, prev: str) -> dict:
    return {"record_id": str(uuid.uuid4()), "kind": "decision", "decision_id": str(uuid.uuid4()),
            "seq": seq, "prev": prev}


def _interrupt_after(store: SQLiteStore, attr: str, when: Callable[..., bool] = lambda *a: True) -> None:
    """Make ``store.<attr>`` do its work and then raise KeyboardInterrupt, once: an interrupt
    landing just after the call returned."""
    real = getattr(store, attr)
    state = {"armed": True}

    def fake(*args, **kwargs):
        result = real(*args, **kwargs)
        if state["armed"] and when(*args):
            state["armed"] = False
            raise KeyboardInterrupt("injected")
        return result

    setattr(store, attr, fake)


def test_an_interrupt_just_after_begin_leaves_no_audit_transaction_open(tmp_path):
    path = tmp_path / "log.sqlite"
    store = SQLiteStore(path)
    other = SQLiteStore(path)
    try:
        store.append(_body)
        _interrupt_after(store, "_begin_append")
        with pytest.raises(KeyboardInterrupt):
            store.append(_body)
        # another writer (another process, in life) is not kept waiting for the busy timeout
        assert within_timeout(lambda: other.append(_body), 10).seq == 2
        # and this connection can still append
        assert within_timeout(lambda: store.append(_body), 10).seq == 3
    finally:
        store.close()
        other.close()


def test_an_interrupt_just_after_a_snapshot_begins_leaves_no_transaction_open(tmp_path):
    path = tmp_path / "log.sqlite"
    store = SQLiteStore(path)
    try:
        store.append(_body)
        _interrupt_after(store, "_execute", lambda query, *a: query == store._snapshot_sql)
        with pytest.raises(KeyboardInterrupt):
            with store.snapshot():
                pass
        assert within_timeout(lambda: store.append(_body), 10).seq == 2
    finally:
        store.close()


def test_an_interrupt_just_after_an_archive_begins_leaves_no_transaction_open(tmp_path):
    path = tmp_path / "log.sqlite"
    store = SQLiteStore(path)
    other = SQLiteStore(path)
    try:
        _interrupt_after(store, "_begin_append")
        with pytest.raises(KeyboardInterrupt):
            store.archive_bundle("sha256:" + "0" * 64, {"a.yaml": "x"})
        assert within_timeout(lambda: other.append(_body), 10).seq == 1
        assert within_timeout(lambda: store.append(_body), 10).seq == 2
    finally:
        store.close()
        other.close()


def test_an_interrupt_after_a_group_commit_leaves_the_others_acknowledged_once(tmp_path):
    # Group commit (issue 11): the leader is interrupted just after COMMIT. The records in its
    # group are durable: the other callers get their results, nothing is queued again (which
    # would append them twice), and a caller whose record failed on its own is told so and not
    # retried behind its back.
    from sharelaw.audit.store import _Pending

    path = tmp_path / "log.sqlite"
    store = SQLiteStore(path)
    try:
        own, other = _Pending(_body, None, None), _Pending(_body, None, None)
        orphan = _Pending(_body, None, "no-such-decision")
        store._queue[:] = [own, other, orphan]
        store._leading = own.lead = True
        _interrupt_after(store, "_commit")
        with pytest.raises(KeyboardInterrupt):
            store._lead(own)
        assert other.done.is_set() and other.result is not None and other.error is None
        assert orphan.done.is_set() and orphan.result is None and "no decision" in str(orphan.error)
        assert store._queue == [] and not store._leading
        assert within_timeout(lambda: store.append(_body), 10).seq == 3  # own's and other's, then this
    finally:
        store.close()
