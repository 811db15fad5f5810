"""``sharelaw check``: every static check of rule and protocol files, as one report.

Three layers, all reported with a stable code, ``file:line`` and a severity:

1. the loader (``rules/loader.py``, ``rules/protocol.py``): YAML, schema, facts and values,
   condition types, duplicate ids, citations, dates, effects, protocol powers;
2. the analysis (``analysis/static.py``): unreachable and shadowed rules, contradictions,
   gaps in in-force dates;
3. protocol narrowing (here): a practice that refers on a national requirement can only
   take effect where nothing meets that requirement, turning a failure into a referral,
   which widens national law (``protocol_may_widen``; ``sharelaw prove`` decides it).

Protocol files are checked against the national rules: if no national rule file is among
the paths, the shipped national rules are loaded with them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Any

from ..errors import EngineError, Problem, RulesetError, RulesetErrors, with_columns
from ..rules.compile import BETA_LIMIT, CHILD_LIMIT, FORWARD_LIMIT, OPERATOR_LIMIT, RULE_LIMIT, SIBLING_LIMIT
from ..rules.reference import predicate_error
from .currency import currency
from .static import Diagnostic, analyse
from ..rules.bundle import Bundle, Segment, default_ruleset_dir
from ..rules.loader import discover, file_format
from ..rules.model import PROTOCOL_FORMAT
from ..rules.protocol import partner_facts
from .solver import national_domains
from ..vocab import EffectKind, Stage

#: Codes raised here (the loader's and the analysis's are documented with them).
CHECK_CODES = ("protocol_may_widen",)

#: The durable-rules limits `check` reports headroom against (rules/compile.py explains each):
#: siblings on the matching stack, $and/$or operators in one rule, rules ending at one node,
#: $or ending at one node, distinct tests under one node, and rules in one ruleset.
ENGINE_LIMITS = {"siblings": SIBLING_LIMIT, "operators": OPERATOR_LIMIT, "betas": BETA_LIMIT,
                 "forwards": FORWARD_LIMIT, "children": CHILD_LIMIT, "rules_per_ruleset": RULE_LIMIT}


@dataclass
class Report:
    paths: list[str]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0
    rules: int = 0
    protocols: int = 0
    national_added: bool = False
    seconds: float = 0.0
    headroom: list[dict[str, Any]] = field(default_factory=list)  # per segment: the engine's limits

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    def ok(self, strict: bool = False) -> bool:
        return not self.errors and not (strict and self.warnings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok(),
            "files": self.files,
            "rules": self.rules,
            "protocols": self.protocols,
            "shipped_national_rules_added": self.national_added,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "diagnostics": [p.to_dict() for p in self.problems()],
            "engine_headroom": {"limits": dict(ENGINE_LIMITS), "segments": self.headroom},
        }

    def headroom_text(self) -> str:
        """The durable-rules layout of every segment, against the core's limits."""
        if not self.headroom:
            return "engine headroom: not computed (the rules did not load or compile)\n"
        cols = ("rules", "core_rules", "rulesets", "per_request", *ENGINE_LIMITS)
        width = max(len(h["segment"]) for h in self.headroom)
        out = [f"engine headroom (durable-rules limits: "
               + ", ".join(f"{k} {v}" for k, v in ENGINE_LIMITS.items()) + ")",
               f"{'segment':<{width}}  " + "  ".join(cols)]
        for h in self.headroom:
            out.append(f"{h['segment']:<{width}}  " + "  ".join(f"{h[c]:>{len(c)}}" for c in cols))
        worst = {k: max(self.headroom, key=lambda h: h[k] / v) for k, v in ENGINE_LIMITS.items()}
        out.append("tightest: " + "; ".join(
            f"{k} {w[k]}/{ENGINE_LIMITS[k]} ({w['segment']})" for k, w in worst.items()))
        return "\n".join(out) + "\n"

    def problems(self) -> list[Problem]:
        """The diagnostics in the one error format (``sharelaw.errors.Problem``), with columns."""
        return with_columns(
            Problem(d.code, d.message, file=d.file or "<rules>", line=d.line, rule_id=d.rule_id, severity=d.severity)
            for d in self.diagnostics)

    def text(self, strict: bool = False) -> str:
        lines = [p.render() for p in self.problems()]
        added = " (with the shipped national rules)" if self.national_added else ""
        verdict = "OK" if self.ok(strict) else "FAILED"
        lines.append(
            f"{verdict}: {self.files} file(s){added}, {self.rules} rule(s), {self.protocols} protocol(s); "
            f"{len(self.errors)} error(s), {len(self.warnings)} warning(s) in {self.seconds:.2f}s"
        )
        return "\n".join(lines) + "\n"


def rule_files_under(paths: list[Path]) -> tuple[list[Path], bool]:
    """The rule and protocol files under ``paths`` (scenario files skipped), and whether any is national."""
    from ..scenarios import split_paths

    found = split_paths(paths)[0]
    return found, any(file_format(p) != PROTOCOL_FORMAT for p in found)


def with_national(roots: list[Path], files: list[Path]) -> tuple[list[Path], list[Path]]:
    """Add the shipped national rules to protocol files given alone."""
    national_dir = default_ruleset_dir() / "national"
    return [national_dir, *roots], [*discover([national_dir]), *files]


def check(paths: list[str | Path], *, today: date | None = None) -> Report:
    """Check the files under ``paths``. Review dates are judged as at ``today`` (the clock's
    day if not given: the check tool, unlike the engine, may read the clock)."""
    started = time.perf_counter()
    roots = [Path(p) for p in paths] or [default_ruleset_dir()]
    report = Report([str(p) for p in roots])
    try:
        files, has_national = rule_files_under(roots)
    except RulesetErrors as exc:
        report.diagnostics = [_from_error(e) for e in exc.errors]
        report.seconds = time.perf_counter() - started
        return report
    if not has_national:
        roots, files = with_national(roots, files)
        report.national_added = True
    report.files = len(files)
    try:
        bundle = Bundle.load(*roots, only=set(files))
    except RulesetErrors as exc:
        report.diagnostics = sorted((_from_error(e) for e in exc.errors), key=_order)
        report.seconds = time.perf_counter() - started
        return report
    report.rules = len(bundle.rules)
    report.protocols = len(bundle.protocols)
    limits = engine_limits(bundle, report.headroom)
    if limits:  # rules the engine cannot compile: the analysis would only repeat the fault
        report.diagnostics = sorted((_from_error(e) for e in limits), key=_order)
        report.seconds = time.perf_counter() - started
        return report
    diagnostics = analyse(bundle, segments=list(bundle.all_segments()), domains=_domains_for(bundle))
    diagnostics.extend(_may_widen(bundle))
    diagnostics.extend(currency(bundle, today or date.today()))  # checked_on, review dates (law watch)
    report.diagnostics = sorted(diagnostics, key=_order)
    report.seconds = time.perf_counter() - started
    return report


def engine_limits(bundle: Bundle, headroom: list[dict[str, Any]] | None = None) -> list[RulesetError]:
    """What `check` passes, the engine accepts: compile every rule as both evaluators do
    (the reference evaluator's Python predicates, then every segment through durable-rules)
    and report each rule they cannot take, at its file and line (``ruleset_engine_limit``).

    With ``headroom``, append to it the layout of each segment: its rules, the core rules and
    durable-rules rulesets they compile to, the most rulesets one request is asserted into,
    and the worst ruleset's figure for each limit of the core (``ENGINE_LIMITS``)."""
    from ..engine.durable import DurableEvaluator

    errors = [e for r in bundle.rules.values() if (e := predicate_error(r)) is not None]
    if errors:
        return errors
    evaluator = DurableEvaluator()
    try:
        evaluator.prepare(bundle)
        if headroom is not None:
            for segment in bundle.all_segments():
                if segment.rules:
                    layout = evaluator.layout(segment)
                    worst = layout.headroom().as_dict()
                    worst["rules_per_ruleset"] = worst["rules"]
                    headroom.append({
                        "segment": segment.key, "rules": len(segment.rules), "core_rules": layout.core_rules(),
                        "rulesets": len(layout.shards()), "per_request": layout.max_shards_per_request(),
                        **{k: worst[k] for k in ENGINE_LIMITS},
                    })
    except RulesetErrors as exc:
        return list(exc.errors)
    except EngineError as exc:  # the core refused a segment but no single rule of it
        return [RulesetError("ruleset_engine_limit", f"durable-rules cannot compile these rules: {exc}")]
    finally:
        evaluator.close()
    return []


def _domains_for(bundle: Bundle) -> Callable[[Segment], dict[str, Any]]:
    national = national_domains()
    per_protocol = {
        pid: {**national, **{n: spec.values for n, spec in partner_facts(p.model).items()}}
        for pid, p in bundle.protocols.items()
    }

    def domains(segment: Segment) -> dict[str, Any]:
        return per_protocol.get(segment.scope, national) if segment.scope else national

    return domains


def _may_widen(bundle: Bundle) -> list[Diagnostic]:
    out = []
    for p in bundle.protocols.values():
        for r in p.rules:
            if r.stage is not Stage.PROTOCOL and r.effect.kind is EffectKind.REFERS:
                out.append(Diagnostic(
                    "protocol_may_widen", "warning",
                    f"this practice refers on the national requirement(s) {', '.join(r.requirements)} of stage "
                    f"{r.stage.value}: a referral there only takes effect when nothing meets the requirement, "
                    "turning a failure into a referral, which widens national law. Attach it to the protocol "
                    "stage instead; `sharelaw prove` shows whether it widens",
                    r.file, r.line, r.id,
                ))
    return out


def _from_error(e: RulesetError) -> Diagnostic:
    return Diagnostic(e.code, "error", e.message, e.file, e.line, e.rule_id)


def _order(d: Diagnostic) -> tuple[str, int, str]:
    return (d.file or "", d.line or 0, d.code)


__all__ = ["Report", "check", "CHECK_CODES"]
