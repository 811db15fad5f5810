"""The only module that touches durable-rules. Read shared/engine-notes.md before changing it.

How it stays safe (each point was measured on durable-rules 2.0.28):
- the C binding is called directly; the ``durable.lang``/``Host`` layer is never used
  (its timer threads race the core and have been seen to segfault);
- the request is asserted as a *fact*, so every matching rule fires, and fired rules
  are read back without Python callbacks;
- a catch-all rule always fires, so no session is deleted without a fired rule;
- one lock serialises every call into the core (which has no locks of its own), so at
  most one session is live per ruleset, with a unique sid; it is kept between requests
  (the request's fact is retracted after its firing is read) and deleted after a fault;
- every value reaching the core is a validated string or bool (see rules/facts.py);
- the core's limits (15 $and/$or per rule, 64 nodes on its matching stack, 256 rules on one
  node, ...) are kept by the layout ``rules/compile.py`` plans for each segment: an index
  on the facts that partition the rules (a request is asserted only into the ruleset for
  its value), shards where a route is still too large, pieces for a rule too large. Every
  segment is compiled when the engine starts, and a rule the core still refuses is
  reported as a RulesetError naming it, never met at decision time;
- a rule whose condition has an ``$or`` with several matching branches is activated
  once per branch (found by the runtime cross-check): a rule fires if any branch
  matches, so repeated activations are collapsed, keeping the first.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

import durable_rules_engine as _core  # type: ignore[import-not-found]

from ..errors import EngineError, RulesetError, RulesetErrors
from ..rules.bundle import Segment
from ..rules.compile import CATCH_ALL, Plan, Route, ShardCache, compile_rules, engine_fact, engine_key, plan


@dataclass(frozen=True)
class _Ruleset:
    handle: int
    read: tuple[tuple[str, str], ...]  # (fact name, engine key) of the facts it reads


@dataclass(frozen=True)
class _Compiled:
    ids: tuple[str, ...]
    route: Route
    plan: Plan


class DurableEvaluator:
    """Fires the rules of a stage segment through the durable-rules C core."""

    name = "durable"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._compiled: dict[str, _Compiled] = {}
        self._shards: ShardCache = {}  # the same rules in several date segments compile once
        self._rulesets: dict[tuple[str, ...], _Ruleset] = {}
        self._sids = itertools.count(1)
        self._prefix = f"sharelaw_{uuid.uuid4().hex[:12]}"
        self._broken: str | None = None
        self._count = 0
        self._sessions: dict[int, str] = {}  # the one live session of each ruleset, by handle

    def _handle(self, segment: Segment) -> _Compiled:
        key = segment.key
        found = self._compiled.get(key)
        if found is None:
            layout = plan(segment.rules, self._shards)
            made: list[tuple[str, ...]] = []
            try:
                for shard in layout.shards():
                    if shard.key in self._rulesets:
                        continue
                    name = f"{self._prefix}_{self._count}"
                    self._count += 1
                    try:
                        handle = _core.create_ruleset(name, json.dumps(shard.definition))
                    except Exception as exc:  # noqa: BLE001 - the core raises its own error type
                        self._shards.pop(shard.key, None)
                        raise EngineError(f"durable-rules refused the compiled {segment.key} ruleset: {exc}") from exc
                    self._rulesets[shard.key] = _Ruleset(handle, tuple((n, engine_key(n)) for n in shard.facts))
                    made.append(shard.key)
            except BaseException:
                for k in made:
                    _core.delete_ruleset(self._rulesets.pop(k).handle)
                    self._shards.pop(k, None)
                raise
            found = _Compiled(tuple(layout.ids), layout.route, layout)
            self._compiled[key] = found
        return found

    def layout(self, segment: Segment) -> Plan:
        """The plan a segment is compiled to (what `sharelaw check` reports as headroom)."""
        return self._handle(segment).plan

    def prepare(self, bundle: Any, *, lazy: bool = False) -> None:
        """Compile every date segment of every stage (and of every protocol) now, so faults
        surface at start-up; with ``lazy``, each segment is compiled when a request first
        reaches it instead (a one-shot command decides on one segment a stage, and compiling
        all of them is most of its cost).

        If the core refuses a segment, each of its rules is compiled alone to find the
        one it cannot take, which is reported with its file and line (at start-up, or, lazily,
        when the segment is first used: a ``RulesetErrors``, never a decision).
        """
        if lazy:
            return
        for segment in bundle.all_segments():
            if not segment.rules:
                continue  # nothing to fire: the pipeline does not call the core for it
            self._compile(segment)

    def _compile(self, segment: Segment) -> _Compiled:
        try:
            return self._handle(segment)
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

    def _culprit(self, segment: Segment) -> RulesetErrors | None:
        for rule in segment.rules:
            definition, _ = compile_rules([rule])
            try:
                handle = _core.create_ruleset(f"{self._prefix}_probe", json.dumps(definition))
            except Exception as exc:  # noqa: BLE001
                return RulesetErrors([RulesetError(
                    "ruleset_engine_limit",
                    f"durable-rules cannot compile this rule's condition ({exc}); it allows at most 15 "
                    "nested any/all (and/or) operators per rule: simplify it or split it into several rules",
                    file=rule.file, line=rule.line, rule_id=rule.id)])
            _core.delete_ruleset(handle)
        return None

    def fire(self, segment: Segment, facts: dict[str, object]) -> list[str]:
        if self._broken:
            raise EngineError(f"durable-rules is in an unknown state after an earlier fault ({self._broken}); "
                              "create a new Engine")
        with self._lock:
            compiled = self._compiled.get(segment.key) or self._compile(segment)
            shards = compiled.route.select(facts)  # the index: only the rulesets whose rules can fire
            positions: list[int] = []
            for shard in shards:
                positions.extend(self._fire_one(self._rulesets[shard.key], shard.positions, facts, segment))
        if len(shards) > 1:
            positions = sorted(set(positions))
        try:
            return [compiled.ids[p] for p in dict.fromkeys(positions)]
        except IndexError as exc:
            raise EngineError(f"durable-rules returned an unknown rule position in {positions}") from exc

    def _fire_one(self, ruleset: _Ruleset, where: tuple[int, ...], facts: Mapping[str, object],
                  segment: Segment) -> list[int]:
        """Assert the request into one ruleset, read back what fired, and take the fact back
        (the lock is held).

        The session is kept from one request to the next: the core allocates state for every
        rule of a ruleset when it creates a session, which cost more than the matching itself.
        Retracting the fact leaves the session empty (no fact, no pending action). After any
        fault the session is deleted instead and the next request gets a new one."""
        handle = ruleset.handle
        fact = engine_fact(facts, ruleset.read)
        sid = self._sessions.get(handle)
        if sid is None:
            sid = self._sessions[handle] = str(next(self._sids))
        fact["sid"] = sid
        fact["id"] = "request"
        payload = json.dumps(fact)
        names: list[str] = []
        started = False
        read = False
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
            read = started
        except EngineError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise EngineError(f"durable-rules failed while evaluating {segment.key}: {exc}") from exc
        finally:
            if read:
                try:
                    status = _core.retract_fact(handle, payload)
                    if status[0] != 0:
                        raise EngineError(f"status {status[0]}")
                except BaseException as exc:
                    self._broken = f"could not retract the request from session {sid}"
                    raise EngineError(f"durable-rules could not retract the request from session {sid}: {exc}") from exc
            elif started:
                # a fault while reading: drop the session, the next request starts a new one
                del self._sessions[handle]
                try:
                    _core.delete_state(handle, sid)
                except Exception as exc:  # noqa: BLE001
                    self._broken = f"could not delete session {sid}"
                    raise EngineError(f"durable-rules could not delete session {sid}: {exc}") from exc
            else:
                # Deleting a session in which no action ever started can segfault the core
                # (engine-notes.md). The catch-all rule means a healthy core always starts
                # one; if it did not, leave the session and refuse all further work.
                self._broken = f"no rule started for session {sid} of {segment.key}"
        if not names or names[-1] != CATCH_ALL or names.count(CATCH_ALL) != 1:
            raise EngineError(f"durable-rules returned an incomplete firing for {segment.key}: {names}")
        try:
            return [where[int(n[1:].partition("_")[0])] for n in names[:-1]]
        except (ValueError, IndexError) as exc:
            raise EngineError(f"durable-rules returned an unknown rule name in {names}") from exc

    def close(self) -> None:
        with self._lock:
            for ruleset in self._rulesets.values():
                try:
                    _core.delete_ruleset(ruleset.handle)
                except Exception:  # noqa: BLE001 - best effort at shutdown
                    pass
            self._rulesets.clear()
            self._shards.clear()
            self._compiled.clear()
            self._sessions.clear()
