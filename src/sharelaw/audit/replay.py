"""Replay: re-run recorded decisions, with the rules of their day or with other rules.

``reproduce(log)`` re-decides every recorded request with the rule bundle archived for
it (rebuilt with ``Bundle.from_sources`` and checked against its hash) and the evaluator
that made it, and compares the canonical JSON of the new decision with the stored one,
byte for byte.

``compare(log, bundle)`` re-decides every recorded request with another bundle (today's
rules, say) and lists the decisions whose outcome or stage-1 basis would differ, with the
stage-level difference: each stage whose status or requirement results changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from .._version import __version__
from ..engine.pipeline import Engine
from ..errors import SharelawError
from ..rules.bundle import Bundle
from . import AuditError, AuditLog
from .record import StoredRecord, canonical

Progress = Callable[[int, int], None]


@dataclass
class Mismatch:
    seq: int
    decision_id: str
    problem: str
    fields: list[str] = field(default_factory=list)  # top-level decision fields that differ


@dataclass
class StageChange:
    stage: str
    before: str | None
    after: str | None
    requirements: list[dict[str, Any]] = field(default_factory=list)  # {id, before, after}


@dataclass
class Change:
    seq: int
    decision_id: str
    as_at: str
    request_id: str | None
    outcome_before: str
    outcome_after: str
    basis_before: list[str]
    basis_after: list[str]
    stages: list[StageChange]


@dataclass
class ReplayReport:
    mode: str  # "reproduce" or "against"
    against: str | None
    decisions: int = 0
    reproduced: int = 0  # reproduce: byte-identical
    mismatches: list[Mismatch] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)  # against: outcome or basis differs
    other_differences: int = 0  # against: same outcome and basis, other parts differ
    unchanged: int = 0  # against: byte-identical apart from the bundle hash

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        if self.mode == "reproduce":
            for key in ("changed", "other_differences", "unchanged"):
                data.pop(key)
        else:
            data.pop("reproduced")
        return data


class _Engines:
    """One engine per (bundle, evaluator), built on first use and closed at the end."""

    def __init__(self, bundle_for: Callable[[str], Bundle]) -> None:
        self._bundle_for = bundle_for
        self._engines: dict[tuple[str, str], Engine] = {}

    def get(self, bundle_hash: str, evaluator: str) -> Engine:
        key = (bundle_hash, evaluator)
        if key not in self._engines:
            self._engines[key] = Engine(self._bundle_for(bundle_hash), evaluator=evaluator)  # type: ignore[arg-type]
        return self._engines[key]

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()


def _decisions(log: AuditLog, progress: Progress | None):
    total = len(log)
    done = 0
    for rec in log.records():
        done += 1
        if progress is not None:
            progress(done, total)
        if rec.kind == "decision":
            yield rec


def _evaluator(rec: StoredRecord) -> str:
    evaluator = rec.body["decision"].get("evaluator", "durable")
    return evaluator if evaluator in ("durable", "reference") else "durable"


def reproduce(log: AuditLog, progress: Progress | None = None) -> ReplayReport:
    report = ReplayReport(mode="reproduce", against=None)
    bundles: dict[str, Bundle] = {}

    def bundle_for(h: str) -> Bundle:
        if h not in bundles:
            bundles[h] = log.bundle(h)
        return bundles[h]

    engines = _Engines(bundle_for)
    try:
        for rec in _decisions(log, progress):
            report.decisions += 1
            stored = rec.body["decision"]
            try:
                engine = engines.get(rec.bundle_hash, _evaluator(rec))
                new = engine.decide(rec.request).model_dump(mode="json")
            except (SharelawError, AuditError) as exc:
                report.mismatches.append(Mismatch(rec.seq, rec.decision_id, f"cannot replay: {exc}"))
                continue
            if canonical(new) == canonical(stored):
                report.reproduced += 1
                continue
            fields = sorted(k for k in set(new) | set(stored) if new.get(k) != stored.get(k))
            problem = "the decision differs from the one recorded"
            if stored.get("engine_version") != __version__:
                problem += f" (recorded by sharelaw {stored.get('engine_version')}, replayed by {__version__})"
            report.mismatches.append(Mismatch(rec.seq, rec.decision_id, problem, fields))
    finally:
        engines.close()
    return report


def compare(log: AuditLog, bundle: Bundle, progress: Progress | None = None) -> ReplayReport:
    report = ReplayReport(mode="against", against=bundle.content_hash)
    engines = _Engines(lambda _h: bundle)
    try:
        for rec in _decisions(log, progress):
            report.decisions += 1
            before = rec.body["decision"]
            try:
                after = engines.get(bundle.content_hash, _evaluator(rec)).decide(rec.request).model_dump(mode="json")
            except SharelawError as exc:
                report.mismatches.append(Mismatch(rec.seq, rec.decision_id, f"cannot decide under these rules: {exc}"))
                continue
            basis_before = [b["rule_id"] for b in before["basis"]]
            basis_after = [b["rule_id"] for b in after["basis"]]
            if before["outcome"] != after["outcome"] or basis_before != basis_after:
                report.changed.append(Change(
                    seq=rec.seq, decision_id=rec.decision_id, as_at=before["as_at"],
                    request_id=before.get("request_id"),
                    outcome_before=before["outcome"], outcome_after=after["outcome"],
                    basis_before=basis_before, basis_after=basis_after,
                    stages=stage_changes(before, after)))
            elif canonical({**after, "bundle_hash": None}) == canonical({**before, "bundle_hash": None}):
                report.unchanged += 1
            else:
                report.other_differences += 1
    finally:
        engines.close()
    return report


def stage_changes(before: dict[str, Any], after: dict[str, Any]) -> list[StageChange]:
    """Each stage whose status or requirement results differ between two decisions, in legal order."""
    b = {s["stage"]: s for s in before["stages"]}
    a = {s["stage"]: s for s in after["stages"]}
    order = [s["stage"] for s in before["stages"]] + [s["stage"] for s in after["stages"] if s["stage"] not in b]
    out: list[StageChange] = []
    for stage in order:
        sb, sa = b.get(stage), a.get(stage)
        rb = {r["id"]: r for r in (sb or {}).get("requirements", [])}
        ra = {r["id"]: r for r in (sa or {}).get("requirements", [])}
        reqs = []
        for rid in list(rb) + [r for r in ra if r not in rb]:
            x, y = rb.get(rid), ra.get(rid)
            if x != y:
                reqs.append({
                    "id": rid,
                    "before": _req_summary(x),
                    "after": _req_summary(y),
                })
        status_b = sb["status"] if sb else None
        status_a = sa["status"] if sa else None
        if status_b != status_a or reqs:
            out.append(StageChange(stage, status_b, status_a, reqs))
    return out


def _req_summary(r: dict[str, Any] | None) -> str | None:
    if r is None:
        return None
    by = r.get("satisfied_by") or r.get("failed_by") or r.get("referred_by") or []
    return r["status"] + (f" by {', '.join(by)}" if by else "")


def render(report: ReplayReport) -> str:
    """The report as readable text (deterministic)."""
    out: list[str] = []
    if report.mode == "reproduce":
        out.append(f"Replayed {report.decisions} decision(s) with the rules archived for each: "
                   f"{report.reproduced} reproduced byte for byte, {len(report.mismatches)} not.")
        for m in report.mismatches:
            extra = f" (differs in: {', '.join(m.fields)})" if m.fields else ""
            out.append(f"  NOT REPRODUCED seq {m.seq} decision {m.decision_id}: {m.problem}{extra}")
        return "\n".join(out) + "\n"
    out.append(f"Replayed {report.decisions} decision(s) under rules {report.against}:")
    out.append(f"  {len(report.changed)} would now differ in outcome or basis; "
               f"{report.other_differences} keep their outcome and basis but differ in detail; "
               f"{report.unchanged} unchanged.")
    for m in report.mismatches:
        out.append(f"  CANNOT DECIDE seq {m.seq} decision {m.decision_id}: {m.problem}")
    for c in report.changed:
        out.append("")
        rid = f" request {c.request_id}" if c.request_id else ""
        out.append(f"seq {c.seq} decision {c.decision_id}{rid} (as at {c.as_at}):")
        if c.outcome_before != c.outcome_after:
            out.append(f"  outcome: {c.outcome_before} -> {c.outcome_after}")
        else:
            out.append(f"  outcome: {c.outcome_before} (unchanged)")
        if c.basis_before != c.basis_after:
            out.append(f"  basis: {', '.join(c.basis_before) or 'none'} -> {', '.join(c.basis_after) or 'none'}")
        for s in c.stages:
            out.append(f"  stage {s.stage}: {s.before} -> {s.after}")
            for r in s.requirements:
                out.append(f"    requirement {r['id']}: {r['before']} -> {r['after']}")
    return "\n".join(out) + "\n"
