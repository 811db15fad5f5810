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

Any other key (``requst:``), any other shape, a key repeated in one mapping, a date not on
the calendar, a YAML anchor or alias: each is a coded error with file and line (see ``load``).

Coverage: a rule is *covered* when some scenario expects it to fire and some scenario
expects it not to fire (the scenario at its limit). A request refused as invalid or out
of scope fires no rule, so it is the limit of a rule that applies to every request.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import RequestError, RulesetError, RulesetErrors, did_you_mean
from .rules.facts import MISSING_ITEMS
from .vocab import Outcome, Stage, StageStatus

if TYPE_CHECKING:
    from .engine.pipeline import Engine
    from .rules.bundle import Bundle
from .rules.loader import (
    _line_index, _Source, decode_error, discover, file_format, parse_yaml, problem_errors, read_rule_file, yaml_error,
)

FORMAT = "sharelaw/scenarios@1"
#: Each expectation and the shape of its value.
_EXPECT_KEYS = {"outcome": "text", "fires": "list", "not_fires": "list", "basis": "text", "missing": "list",
                "stages": "stages", "error": "text"}
_SCENARIO_KEYS = {"id", "description", "base", "request", "expect", "source", "reasoning"}
_FILE_KEYS = {"format", "bases", "scenarios"}


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


def split_paths(paths: Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """Sort the YAML files under ``paths`` into rule files and scenario files by their ``format``."""
    rules: list[Path] = []
    scenario_files: list[Path] = []
    for path in discover([Path(p) for p in paths]):
        (scenario_files if file_format(path) == FORMAT else rules).append(path)
    return rules, scenario_files


def _read(path: Path, errors: list[RulesetError]) -> tuple[dict[str, Any], _Source] | None:
    """One scenario file's data and lines, or None with its errors appended."""
    file = str(path)
    try:
        raw = read_rule_file(path)
    except RulesetErrors as exc:  # ruleset_unreadable: never skipped, never a raw OSError
        errors.extend(exc.errors)
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        errors.append(decode_error(exc, raw, file, prefix="scenario"))
        return None
    try:
        node, data, problems = parse_yaml(text)
    except yaml.YAMLError as exc:
        errors.append(yaml_error(exc, text, file, prefix="scenario"))
        return None
    lines, dupes = _line_index(node) if node is not None else ({}, [])
    found = [RulesetError("scenario_duplicate_key", f"key '{k}' appears twice in one mapping", file=file, line=ln)
             for k, ln in dupes]
    found += problem_errors(problems, file, prefix="scenario")
    if found:
        errors.extend(sorted(found, key=lambda e: e.line or 0))
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        errors.append(RulesetError("scenario_schema_error", f"not a scenario file (format: {FORMAT})", file=file, line=1))
        return None
    return data, _Source(file, lines)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExpectModel(_Strict):
    """What a scenario expects of the decision (every key optional, at least one given)."""

    outcome: Outcome | None = Field(None, description="the outcome")
    fires: list[str] = Field(default_factory=list, description="rule ids that must fire")
    not_fires: list[str] = Field(default_factory=list, description="rule ids that must not fire")
    basis: str | None = Field(None, description="a rule id among the decision's basis")
    missing: list[Literal[tuple(MISSING_ITEMS)]] = Field(  # type: ignore[valid-type]
        default_factory=list, description="the missing items the decision names")
    stages: dict[Stage, StageStatus] = Field(default_factory=dict, description="stage statuses")
    error: str | None = Field(None, description="the request is refused with this error code")


class ScenarioModel(_Strict):
    id: str = Field(min_length=1)
    description: str | None = None
    base: str | None = Field(None, description="a name under bases: the request starts from it")
    request: dict[str, Any] | None = Field(None, description="a request, or overrides deep-merged into the base")
    expect: ExpectModel
    source: str | None = None
    reasoning: str | None = None


class ScenarioFileModel(_Strict):
    """A scenario file (format: sharelaw/scenarios@1): ``sharelaw schema scenario``."""

    format: Literal["sharelaw/scenarios@1"]
    bases: dict[str, dict[str, Any]] = Field(default_factory=dict, description="named complete requests")
    scenarios: list[ScenarioModel] = Field(default_factory=list)


def _value_errors(data: dict[str, Any], src: _Source) -> list[RulesetError]:
    """Values the shape check lets through that no decision can have (an outcome, stage,
    status or missing item misspelt): coded errors at their line, never a mere mismatch."""
    try:
        ScenarioFileModel.model_validate(data)
    except ValidationError as exc:
        out = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            hint = ""
            if err["type"] in ("enum", "literal_error"):
                import re

                hint = did_you_mean(err.get("input"), re.findall(r"'([^']+)'", str(err.get("ctx", {}).get("expected", ""))))
            where = ".".join(str(p) for p in loc if p != "[key]")
            line = src.line(tuple(p for p in loc if p != "[key]"))
            out.append(RulesetError("scenario_schema_error", f"{where}: {err['msg']}{hint}", file=src.file, line=line))
        return out
    return []


def _shape_errors(data: dict[str, Any], src: _Source) -> list[RulesetError]:
    """Every part of a scenario file that is not of the documented shape, at its line."""
    errors: list[RulesetError] = []

    def bad(path: tuple[Any, ...], message: str) -> None:
        errors.append(RulesetError("scenario_schema_error", message, file=src.file, line=src.line(path)))

    for key in data:
        if key not in _FILE_KEYS:
            bad((key,), f"unknown key {key!r}; a scenario file has {', '.join(sorted(_FILE_KEYS))}")
    bases = data.get("bases")
    if bases is not None and not isinstance(bases, dict):
        bad(("bases",), "'bases' is a mapping of names to requests")
    elif bases:
        for name, base in bases.items():
            if not isinstance(name, str) or not name:
                bad(("bases", name), f"a base's name is text, not {name!r}")
            elif not isinstance(base, dict):
                bad(("bases", name), f"base '{name}' is a request (a mapping), not {type(base).__name__}")
    items = data.get("scenarios")
    if items is not None and not isinstance(items, list):
        bad(("scenarios",), "'scenarios' is a list")
        return errors
    for i, raw in enumerate(items or []):
        at = ("scenarios", i)
        if not isinstance(raw, dict):
            bad(at, f"a scenario is a mapping with an id, not {type(raw).__name__}")
            continue
        for key in raw:
            if key not in _SCENARIO_KEYS:
                bad(at + (key,), f"unknown key {key!r} in a scenario; expected {', '.join(sorted(_SCENARIO_KEYS))}")
        if not isinstance(raw.get("id"), str) or not raw.get("id"):
            bad(at + ("id",) if "id" in raw else at, "a scenario needs an id (text)")
        for key in ("description", "source", "reasoning", "base"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                bad(at + (key,), f"'{key}' is text, not {type(raw[key]).__name__}")
        if raw.get("request") is not None and not isinstance(raw["request"], dict):
            bad(at + ("request",), f"'request' is a mapping, not {type(raw['request']).__name__}")
        expect = raw.get("expect")
        if not isinstance(expect, dict) or not expect:
            bad(at + ("expect",) if "expect" in raw else at,
                f"a scenario needs 'expect', a mapping of some of {', '.join(sorted(_EXPECT_KEYS))}")
            continue
        for key, value in expect.items():
            where = at + ("expect", key)
            kind = _EXPECT_KEYS.get(key)
            if kind is None:
                bad(where, f"unknown expectation {key!r}; expected some of {', '.join(sorted(_EXPECT_KEYS))}")
            elif kind == "text" and not isinstance(value, str):
                bad(where, f"'{key}' is text, not {value!r}")
            elif kind == "list" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                bad(where, f"'{key}' is a list of text")
            elif kind == "stages" and not (isinstance(value, dict)
                                           and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
                bad(where, "'stages' maps stage names to statuses (text)")
    return errors


def load(paths: Sequence[str | Path]) -> list[Scenario]:
    """Load scenario files (directories are searched for *.yaml).

    Every problem is a coded error with file and line, raised together as ``RulesetErrors``:
    ``scenario_parse_error`` (not YAML, not UTF-8), ``scenario_duplicate_key``,
    ``scenario_yaml_alias``, ``scenario_too_deep``, ``scenario_bad_dates`` (a date not on the
    calendar), ``scenario_schema_error`` (a shape other than the documented one, an unknown
    key, a number out of range), ``scenario_duplicate_id``; ``ruleset_unreadable`` for a path
    that is not a readable regular file."""
    docs = []
    errors: list[RulesetError] = []
    for path in discover([Path(p) for p in paths]):
        read = _read(path, errors)
        if read is None:
            continue
        data, src = read
        shape = _shape_errors(data, src) or _value_errors(data, src)
        if shape:
            errors.extend(shape)
            continue
        docs.append((path, data, src))
    bases: dict[str, dict[str, Any]] = {}
    for path, data, src in docs:
        for name, base in (data.get("bases") or {}).items():
            if name in bases:
                errors.append(RulesetError("scenario_duplicate_id", f"base '{name}' defined twice", file=str(path),
                                           line=src.line(("bases", name))))
            bases[name] = _dates_to_text(base)
    scenarios: list[Scenario] = []
    seen: set[str] = set()
    for path, data, src in docs:
        for i, raw in enumerate(data.get("scenarios") or []):
            line = src.line(("scenarios", i))
            sid = raw["id"]
            if sid in seen:
                errors.append(RulesetError("scenario_duplicate_id", f"scenario '{sid}' defined twice", file=str(path), line=line))
            seen.add(sid)
            base_name = raw.get("base")
            if base_name is not None and base_name not in bases:
                errors.append(RulesetError("scenario_schema_error", f"unknown base '{base_name}'", file=str(path),
                                           line=src.line(("scenarios", i, "base"))))
                continue
            request = _merge(bases.get(base_name, {}), _dates_to_text(raw.get("request") or {}))
            scenarios.append(Scenario(
                sid, raw.get("description") or "", request, raw["expect"], str(path), line,
                source=raw.get("source") or "", reasoning=raw.get("reasoning") or ""))
    if errors:
        raise RulesetErrors(errors)
    return scenarios


def run(engine: Engine, scenario: Scenario) -> Result:
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
        items = sorted(m.item for m in decision.missing)
        if items != sorted(exp["missing"]):
            result.fail("missing", sorted(exp["missing"]), items)
    for stage, status in (exp.get("stages") or {}).items():
        status_got = next((s.status.value for s in decision.stages if s.stage.value == stage), None)
        if status_got != status:
            result.fail(f"stage {stage}", status, status_got)
    return result


@dataclass
class Coverage:
    never_fired: list[str]
    no_limit: list[str]

    @property
    def complete(self) -> bool:
        return not self.never_fired and not self.no_limit


def coverage(bundle: Bundle, scenarios: list[Scenario], results: list[Result]) -> Coverage:
    """Rules no passing scenario fired (as expected), and rules with no scenario at their limit."""
    fired_ok = {rid for s, r in zip(scenarios, results) if r.passed for rid in s.expect.get("fires", [])}
    limit_ok = {rid for s, r in zip(scenarios, results) if r.passed for rid in s.expect.get("not_fires", [])}
    ids = sorted(bundle.rules)
    return Coverage([i for i in ids if i not in fired_ok], [i for i in ids if i not in limit_ok])
