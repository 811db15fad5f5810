"""The only module that touches durable-rules. Read shared/engine-notes.md before changing it.

How it stays safe (each point was measured on durable-rules 2.0.28):
- the C binding is called directly; the ``durable.lang``/``Host`` layer is never used
  (its timer threads race the core and have been seen to segfault);
- the request is asserted as a *fact*, so every matching rule fires, and fired rules
  are read back without Python callbacks;
- a catch-all rule always fires, so no session is deleted without a fired rule;
- one lock serialises every call into the core (which has no locks of its own), so at
  most one session is live per ruleset, with a unique sid, and it is always deleted;
- every value reaching the core is a validated string or bool (see rules/facts.py);
- the core allows at most 31 expressions in one rule's condition (MAX_SEQUENCE_EXPRESSIONS,
  error 113): a larger condition is split into pieces that fire under the rule's one name
  (``rules/compile.py``, ``pieces``); every segment is compiled when the engine starts,
  and a rule the core still refuses is reported as a RulesetError naming it, never met at
  decision time;
- a rule whose condition has an ``$or`` with several matching branches is activated
  once per branch (found by the runtime cross-check): a rule fires if any branch
  matches, so repeated activations are collapsed, keeping the first.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid

import durable_rules_engine as _core  # type: ignore[import-not-found]  # a C extension without stubs

from ..errors import EngineError, RulesetError, RulesetErrors
from ..rules.bundle import Bundle, Segment
from ..rules.compile import CATCH_ALL, compile_rules, engine_fact, engine_key


class DurableEvaluator:
    """Fires the rules of a stage segment through the durable-rules C core."""

    name = "durable"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._compiled: dict[str, tuple[int, list[str], tuple[tuple[str, str], ...]]] = {}
        self._sids = itertools.count(1)
        self._prefix = f"sharelaw_{uuid.uuid4().hex[:12]}"
        self._broken: str | None = None

    def _handle(self, segment: Segment) -> tuple[int, list[str], tuple[tuple[str, str], ...]]:
        key = segment.key
        found = self._compiled.get(key)
        if found is None:
            definition, ids = compile_rules(segment.rules)
            name = f"{self._prefix}_{len(self._compiled)}"
            try:
                handle = _core.create_ruleset(name, json.dumps(definition))
            except Exception as exc:  # noqa: BLE001 - the core raises its own error type
                raise EngineError(f"durable-rules refused the compiled {segment.key} ruleset: {exc}") from exc
            found = (handle, ids, tuple((name, engine_key(name)) for name in segment.facts_read))
            self._compiled[key] = found
        return found

    def prepare(self, bundle: Bundle) -> None:
        """Compile every date segment of every stage (and of every protocol) now, so faults
        surface at start-up.

        If the core refuses a segment, each of its rules is compiled alone to find the
        one it cannot take, which is reported with its file and line.
        """
        for segment in bundle.all_segments():
            if not segment.rules:
                continue  # nothing to fire: the pipeline does not call the core for it
            try:
                self._handle(segment)
            except EngineError as exc:
                raise self._culprit(segment) or self._segment_error(segment, exc) from exc

    @staticmethod
    def _segment_error(segment: Segment, exc: Exception) -> RulesetErrors:
        """The core refused a segment although it takes each of its rules alone: too many
        rules with the same condition (error 108), too many sibling tests (303), ... The
        rules are the rule author's to split, so this is a rule-file error, not a fault."""
        files = sorted({r.file for r in segment.rules})
        first = min(segment.rules, key=lambda r: (r.file, r.line or 0))
        return RulesetErrors([RulesetError(
            "ruleset_engine_limit",
            f"durable-rules cannot compile the {len(segment.rules)} rules of {segment.key} together ({exc}); "
            f"it takes each alone. It allows at most about 256 rules with the same condition and 64 sibling "
            f"tests in one stage: split or narrow them (files: {', '.join(files)})",
            file=first.file, line=first.line, rule_id=first.id)])

    def _culprit(self, segment: Segment) -> RulesetError | None:
        for rule in segment.rules:
            definition, _ = compile_rules([rule])
            try:
                handle = _core.create_ruleset(f"{self._prefix}_probe", json.dumps(definition))
            except Exception as exc:  # noqa: BLE001
                return RulesetErrors([RulesetError(
                    "ruleset_engine_limit",
                    f"durable-rules cannot compile this rule's condition ({exc}); it allows at most 31 "
                    "expressions per rule: simplify it or split it into several rules",
                    file=rule.file, line=rule.line, rule_id=rule.id)])
            _core.delete_ruleset(handle)
        return None

    def fire(self, segment: Segment, facts: dict[str, object]) -> list[str]:
        if self._broken:
            raise EngineError(f"durable-rules is in an unknown state after an earlier fault ({self._broken}); "
                              "create a new Engine")
        with self._lock:
            handle, ids, read = self._handle(segment)
            fact = engine_fact(facts, read)
            sid = str(next(self._sids))
            fact["sid"] = sid
            fact["id"] = "request"
            payload = json.dumps(fact)
            names: list[str] = []
            started = False
            try:
                result = _core.assert_fact(handle, payload)
                if result[0] != 0:
                    raise EngineError(f"durable-rules did not accept the request fact (status {result[0]})")
                state = result[1]
                first = _core.start_action_for_state(handle, state)
                started = bool(first)
                message = first[1] if first else None
                while message:
                    names.append(message[2 : message.index('"', 2)])
                    message = _core.complete_and_start_action(handle, state)
            except EngineError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise EngineError(f"durable-rules failed while evaluating {segment.key}: {exc}") from exc
            finally:
                # Deleting a session in which no action ever started can segfault the core
                # (engine-notes.md). The catch-all rule means a healthy core always starts
                # one; if it did not, leave the session and refuse all further work.
                if started:
                    try:
                        _core.delete_state(handle, sid)
                    except Exception as exc:  # noqa: BLE001
                        self._broken = f"could not delete session {sid}"
                        raise EngineError(f"durable-rules could not delete session {sid}: {exc}") from exc
                else:
                    self._broken = f"no rule started for session {sid} of {segment.key}"
        if not names or names[-1] != CATCH_ALL or names.count(CATCH_ALL) != 1:
            raise EngineError(f"durable-rules returned an incomplete firing for {segment.key}: {names}")
        try:
            positions = [int(n[1:].partition("_")[0]) for n in names[:-1]]
            return [ids[p] for p in dict.fromkeys(positions)]
        except (ValueError, IndexError) as exc:
            raise EngineError(f"durable-rules returned an unknown rule name in {names}") from exc

    def close(self) -> None:
        with self._lock:
            for handle, *_ in self._compiled.values():
                try:
                    _core.delete_ruleset(handle)
                except Exception:  # noqa: BLE001 - best effort at shutdown
                    pass
            self._compiled.clear()
