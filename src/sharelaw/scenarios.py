"""Scenario files: requests with their expected results, run against an engine, with rule coverage.

A scenario file (YAML)::

    format: sharelaw/scenarios@1
    bases:                       # named complete requests, shared by every file loaded together
      cp_referral: {...}
    scenarios:
      - id: s47-9-duty-fires
        description: ...
        base: cp_referral        # optional; start from a named base
        request: {...}           # deep-merged over the base; a null value deletes the key
        source: ...              # optional: the judgment, provision or guidance the case is from
        reasoning: ...           # optional: why the law gives the expected result
        expect:
          outcome: must_share    # optional
          fires: [rule ids]      # each must fire (in any stage)
          not_fires: [rule ids]  # none may fire: the limit of a rule
          basis: duty            # optional: kind of the strongest stage-1 basis ("none" for none)
          missing: [items]       # optional: exactly these missing items
          stages: {vires: pass}  # optional: stage statuses
          error: request_out_of_scope   # optional: the request must be refused with this code

Coverage: a rule is *covered* when some scenario expects it to fire and some scenario
expects it not to fire (the scenario at its limit). A request refused as invalid or out
of scope fires no rule, so it is the limit of a rule that applies to every request.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import RequestError, RulesetError, RulesetErrors
from .rules.loader import _Loader, discover, file_format, read_rule_file

FORMAT = "sharelaw/scenarios@1"
_EXPECT_KEYS = {"outcome", "fires", "not_fires", "basis", "missing", "stages", "error"}


@dataclass
class Scenario:
    id: str
    description: str
    request: dict[str, Any]
    expect: dict[str, Any]
    file: str
    line: int | None
    source: str = ""  # where the case comes from (a judgment, a provision, guidance)
    reasoning: str = ""  # why the law gives the expected result


@dataclass(frozen=True)
class Mismatch:
    """One unmet expectation: what was expected and what happened."""

    what: str
    expected: str
    got: str

    def __str__(self) -> str:
        return f"{self.what}: expected {self.expected}, got {self.got}"


@dataclass
class Result:
    scenario: Scenario
    failures: list[Mismatch] = field(default_factory=list)
    fired: set[str] = field(default_factory=set)

    @property
    def passed(self) -> bool:
        return not self.failures

    def fail(self, what: str, expected: object, got: object) -> None:
        self.failures.append(Mismatch(what, str(expected), str(got)))


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = copy.deepcopy(base)
        for k, v in over.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = _merge(out.get(k), v)
        return out
    return copy.deepcopy(over)


def _dates_to_text(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _dates_to_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_to_text(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def split_paths(paths: list[str | Path]) -> tuple[list[Path], list[Path]]:
    """Sort the YAML files under ``paths`` into rule files and scenario files by their ``format``."""
    rules: list[Path] = []
    scenario_files: list[Path] = []
    for path in discover([Path(p) for p in paths]):
        (scenario_files if file_format(path) == FORMAT else rules).append(path)
    return rules, scenario_files


def load(paths: list[str | Path]) -> list[Scenario]:
    """Load scenario files (directories are searched for *.yaml)."""
    docs = []
    errors: list[RulesetError] = []
    for path in discover([Path(p) for p in paths]):
        try:
            text = read_rule_file(path).decode("utf-8")
        except RulesetErrors as exc:  # ruleset_unreadable: never skipped, never a raw OSError
            errors.extend(exc.errors)
            continue
        except UnicodeDecodeError as exc:
            errors.append(RulesetError("scenario_parse_error", f"not UTF-8 text: {exc.reason} at byte {exc.start}", file=str(path)))
            continue
        try:
            node = yaml.compose(text, Loader=_Loader)
            data = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            errors.append(RulesetError("scenario_parse_error", str(exc), file=str(path), line=mark.line + 1 if mark else None))
            continue
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            errors.append(RulesetError("scenario_schema_error", f"not a scenario file (format: {FORMAT})", file=str(path), line=1))
            continue
        lines = {}
        for key_node, value_node in node.value:
            if key_node.value == "scenarios":
                lines = {i: item.start_mark.line + 1 for i, item in enumerate(value_node.value)}
        docs.append((path, data, lines))
    bases: dict[str, dict] = {}
    for path, data, _ in docs:
        for name, base in (data.get("bases") or {}).items():
            if name in bases:
                errors.append(RulesetError("scenario_duplicate_id", f"base '{name}' defined twice", file=str(path)))
            bases[name] = _dates_to_text(base)
    scenarios: list[Scenario] = []
    seen: set[str] = set()
    for path, data, lines in docs:
        for i, raw in enumerate(data.get("scenarios") or []):
            line = lines.get(i)
            sid = raw.get("id") if isinstance(raw, dict) else None
            if not sid:
                errors.append(RulesetError("scenario_schema_error", "a scenario needs an id", file=str(path), line=line))
                continue
            if sid in seen:
                errors.append(RulesetError("scenario_duplicate_id", f"scenario '{sid}' defined twice", file=str(path), line=line))
            seen.add(sid)
            expect = raw.get("expect") or {}
            unknown = set(expect) - _EXPECT_KEYS
            if unknown or not expect:
                errors.append(RulesetError("scenario_schema_error", f"expect needs some of {sorted(_EXPECT_KEYS)}; unknown: {sorted(unknown)}", file=str(path), line=line))
            base_name = raw.get("base")
            if base_name is not None and base_name not in bases:
                errors.append(RulesetError("scenario_schema_error", f"unknown base '{base_name}'", file=str(path), line=line))
                continue
            request = _merge(bases.get(base_name, {}), _dates_to_text(raw.get("request") or {}))
            scenarios.append(Scenario(
                sid, raw.get("description", ""), request, expect, str(path), line,
                source=str(raw.get("source") or ""), reasoning=str(raw.get("reasoning") or "")))
    if errors:
        raise RulesetErrors(errors)
    return scenarios


def run(engine, scenario: Scenario) -> Result:
    """Run one scenario; the result lists every unmet expectation."""
    result = Result(scenario)
    exp = scenario.expect
    try:
        decision = engine.decide(scenario.request)
    except RequestError as exc:
        # A refused request is decided by no rule: every not_fires expectation holds. This
        # is the limit of a rule that applies to every request in scope (a practice).
        if exp.get("error") == exc.code and not exp.get("fires"):
            return result
        result.fail("request", exp.get("error", "a decision"), f"refused ({exc.code}): " + "; ".join(str(e) for e in exc.errors))
        return result
    if "error" in exp:
        result.fail("request", f"refused with {exp['error']}", f"decided {decision.outcome.value}")
    fired = {rid for ids in engine.fired(scenario.request).values() for rid in ids}
    result.fired = fired
    if "outcome" in exp and decision.outcome.value != exp["outcome"]:
        result.fail("outcome", exp["outcome"], decision.outcome.value)
    for rid in exp.get("fires", []):
        if rid not in engine.bundle.rules:
            result.fail(f"fires {rid}", "a rule in the bundle", "no such rule")
        elif rid not in fired:
            result.fail(f"fires {rid}", "fired", "did not fire")
    for rid in exp.get("not_fires", []):
        if rid not in engine.bundle.rules:
            result.fail(f"not_fires {rid}", "a rule in the bundle", "no such rule")
        elif rid in fired:
            result.fail(f"not_fires {rid}", "did not fire", "fired")
    if "basis" in exp:
        got = decision.basis[0].kind.value if decision.basis else "none"
        if got != exp["basis"]:
            result.fail("basis", exp["basis"], got)
    if "missing" in exp:
        got = sorted(m.item for m in decision.missing)
        if got != sorted(exp["missing"]):
            result.fail("missing", sorted(exp["missing"]), got)
    for stage, status in (exp.get("stages") or {}).items():
        got = next((s.status.value for s in decision.stages if s.stage.value == stage), None)
        if got != status:
            result.fail(f"stage {stage}", status, got)
    return result


@dataclass
class Coverage:
    never_fired: list[str]
    no_limit: list[str]

    @property
    def complete(self) -> bool:
        return not self.never_fired and not self.no_limit


def coverage(bundle, scenarios: list[Scenario], results: list[Result]) -> Coverage:
    """Rules no passing scenario fired (as expected), and rules with no scenario at their limit."""
    fired_ok = {rid for s, r in zip(scenarios, results) if r.passed for rid in s.expect.get("fires", [])}
    limit_ok = {rid for s, r in zip(scenarios, results) if r.passed for rid in s.expect.get("not_fires", [])}
    ids = sorted(bundle.rules)
    return Coverage([i for i in ids if i not in fired_ok], [i for i in ids if i not in limit_ok])
