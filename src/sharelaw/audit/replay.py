"""Replay: re-run recorded decisions, with the rules of their day or with other rules.

``reproduce(log)`` re-decides every recorded request with the rule bundle archived for
it (rebuilt with ``Bundle.from_sources`` and checked against its hash) and the evaluator
that made it, and compares the canonical JSON of the new decision with the stored one,
byte for byte. A decision recorded by another engine or decision-schema version cannot
be expected to come back byte for byte, so one that does not is classified (``classify``):

- **identical**: byte for byte;
- **representation**: the versions differ and so does the JSON, but not the substance:
  the outcome, the stage-1 basis, ``decided_by``, the rules that fired (stage, id and
  effect), the status of every stage both versions have, the missing items and the
  attached conditions. Wording, citations, titles, field layout and the versions
  themselves are representation;
- **substance**: any of those differs.

A version change is reported as such, never as a failure; a decision recorded by this
very version that does not come back byte for byte, or one that cannot be replayed, is a
``Mismatch`` and makes the report fail.

``compare(log, bundle)`` re-decides every recorded request with another bundle (today's
rules, say) and lists the decisions whose outcome or stage-1 basis would differ, with the
reason: the rules that now fire or no longer fire, and each stage whose status or
requirement results changed. It lists, more briefly, the decisions that keep their
outcome and basis but differ in other substance, and counts those that differ only in
representation and those unchanged.

A recorded request is replayed as stored: a request of an older schema lacks the fields
added since, which take their defaults (every field added to the request has one).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator

from .._version import __version__
from ..decision import SCHEMA_VERSION
from ..engine.stages import Engine
from ..errors import RequestError, RulesetError, SharelawError
from ..rules.bundle import Bundle
from . import AuditError, AuditLog
from .record import StoredRecord, canonical_fast

Progress = Callable[[int, int], None]

#: The parts of a decision that are its substance (see the module docstring).
SUBSTANCE = ("outcome", "basis", "decided_by", "findings", "stages", "missing", "conditions")
#: Fields that name where a decision came from, not what it decided.
PROVENANCE = ("bundle_hash", "engine_version", "schema_version")


def versions(decision: dict[str, Any]) -> str:
    """``sharelaw 0.2.0 schema 2``: the engine and decision-schema versions a decision was made by."""
    return f"sharelaw {decision.get('engine_version', '?')} schema {decision.get('schema_version', '?')}"


THIS_VERSION = f"sharelaw {__version__} schema {SCHEMA_VERSION}"


def _substance(d: dict[str, Any], stages: set[str] | None) -> dict[str, Any]:
    return {
        "outcome": d.get("outcome"),
        "basis": [(b.get("kind"), b.get("rule_id")) for b in d.get("basis", [])],
        "decided_by": sorted(d.get("decided_by", [])),
        "findings": sorted((f.get("stage"), f.get("rule_id"), f.get("effect")) for f in d.get("findings", [])),
        "stages": {s["stage"]: s.get("status") for s in d.get("stages", []) if stages is None or s["stage"] in stages},
        "missing": sorted(m.get("item") for m in d.get("missing", [])),
        "conditions": sorted(c.get("code") for c in d.get("conditions", [])),
    }


def _fired(d: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(f["rule_id"] for f in d.get("findings", [])))


def _text(items: list[Any]) -> str:
    return ", ".join(str(i) for i in items) or "none"


def substance_differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """How two decisions differ in substance, one readable line per part; [] when they do not.

    Stages only one of the two decisions has (a stage added by a later schema, such as the
    protocol stage of schema 2) are left out: their absence is a matter of schema."""
    both = {s["stage"] for s in before.get("stages", [])} & {s["stage"] for s in after.get("stages", [])}
    b, a = _substance(before, both), _substance(after, both)
    out: list[str] = []
    if b["outcome"] != a["outcome"]:
        out.append(f"outcome: {b['outcome']} -> {a['outcome']}")
    if b["basis"] != a["basis"]:
        out.append(f"basis: {_text([r for _, r in b['basis']])} -> {_text([r for _, r in a['basis']])}")
    if b["decided_by"] != a["decided_by"]:
        added = [r for r in after.get("decided_by", []) if r not in b["decided_by"]]
        dropped = [r for r in before.get("decided_by", []) if r not in a["decided_by"]]
        out.append("decided by: " + "; ".join(
            part for part in (f"now also {_text(added)}" if added else "",
                              f"no longer {_text(dropped)}" if dropped else "") if part))
    if b["findings"] != a["findings"]:
        fb, fa = set(b["findings"]), set(a["findings"])
        now = [f"{r} ({e}, {s})" for s, r, e in sorted(fa - fb)]
        gone = [f"{r} ({e}, {s})" for s, r, e in sorted(fb - fa)]
        if now:
            out.append(f"rules that now fire: {_text(now)}")
        if gone:
            out.append(f"rules that no longer fire: {_text(gone)}")
    for stage in [s["stage"] for s in before.get("stages", []) if s["stage"] in both]:
        if b["stages"][stage] != a["stages"][stage]:
            out.append(f"stage {stage}: {b['stages'][stage]} -> {a['stages'][stage]}")
    if b["missing"] != a["missing"]:
        out.append(f"missing: {_text(b['missing'])} -> {_text(a['missing'])}")
    if b["conditions"] != a["conditions"]:
        out.append(f"conditions: {_text(b['conditions'])} -> {_text(a['conditions'])}")
    return out


def classify(before: dict[str, Any], after: dict[str, Any]) -> tuple[str, list[str], list[str]]:
    """``(kind, fields, substance)`` for two decisions (stored, replayed) as JSON dicts.

    kind is ``identical`` (the same canonical bytes), ``representation`` (the JSON differs
    but not the substance) or ``substance``; fields are the top-level fields that differ;
    substance the readable substance differences (``substance_differences``)."""
    if canonical_fast(before) == canonical_fast(after):  # the same bytes as canonical's (records hold no floats)
        return "identical", [], []
    fields = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    subst = substance_differences(before, after)
    return ("substance" if subst else "representation"), fields, subst


@dataclass
class Mismatch:
    seq: int
    decision_id: str
    problem: str
    fields: list[str] = field(default_factory=list)  # top-level decision fields that differ


@dataclass
class VersionDifference:
    """A decision recorded by another engine or schema version that did not come back byte
    for byte: ``kind`` is ``representation`` (same substance), ``substance``, or
    ``not_replayable`` (this version cannot decide it at all; ``substance`` says why)."""

    seq: int
    decision_id: str
    request_id: str | None
    recorded_by: str  # "sharelaw 0.2.0 schema 2"
    replayed_by: str
    kind: str
    fields: list[str]  # top-level decision fields that differ
    substance: list[str] = field(default_factory=list)  # how the substance differs, one line each


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
    recorded_by: str = ""
    now_fired: list[str] = field(default_factory=list)  # rules that fire now and did not then
    no_longer_fired: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)  # every substance difference, one line each


@dataclass
class ReplayReport:
    mode: str  # "reproduce" or "against"
    against: str | None
    decisions: int = 0
    replayed_by: str = THIS_VERSION
    reproduced: int = 0  # reproduce: byte-identical
    version_changes: list[VersionDifference] = field(default_factory=list)  # reproduce: explained by a version change
    mismatches: list[Mismatch] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)  # against: outcome or basis differs
    other_substance: list[Change] = field(default_factory=list)  # against: same outcome and basis, other substance differs
    representation_only: int = 0  # against: same substance, other parts differ (wording, citations, versions)
    other_differences: int = 0  # against: same outcome and basis, other parts differ (other_substance + representation_only)
    unchanged: int = 0  # against: byte-identical apart from the bundle hash and versions
    recorded_by: dict[str, int] = field(default_factory=dict)  # decisions per "sharelaw X schema N"

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        if self.mode == "reproduce":
            for key in ("changed", "other_substance", "representation_only", "other_differences", "unchanged"):
                data.pop(key)
        else:
            data.pop("reproduced")
            data.pop("version_changes")
        return data


class _Engines:
    """One engine per (bundle, evaluator, cross-checked), built on first use and closed at the end.

    Replay cross-checks every decision, including those a production sampling rate left
    unchecked (``reproduce_one`` then compares ``cross_checked`` as recorded)."""

    def __init__(self, bundle_for: Callable[[str], Bundle]) -> None:
        self._bundle_for = bundle_for
        self._engines: dict[tuple[str, str, bool], Engine] = {}

    def get(self, bundle_hash: str, evaluator: str, cross_check: bool = True) -> Engine:
        key = (bundle_hash, evaluator, cross_check)
        if key not in self._engines:
            self._engines[key] = Engine(self._bundle_for(bundle_hash), evaluator=evaluator,  # type: ignore[arg-type]
                                        cross_check=cross_check)
        return self._engines[key]

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()


def _decisions(log: AuditLog, progress: Progress | None) -> Iterator[StoredRecord]:
    total = len(log)
    done = 0
    for rec in log.records():
        done += 1
        if progress is not None:
            progress(done, total)
        if rec.kind == "decision":
            yield rec


#: Evaluators a replay may be asked to use (the engine says which it has).
EVALUATORS = ("recorded", "durable", "compiled", "reference")


def _evaluator(rec: StoredRecord, chosen: str | None = None) -> str:
    """The evaluator to re-decide a record with: ``chosen`` (any but ``recorded``), else the one
    that made it."""
    if chosen not in (None, "recorded"):
        return str(chosen)
    evaluator = rec.body["decision"].get("evaluator", "durable")
    return evaluator if evaluator in ("durable", "compiled", "reference") else "durable"


def _evaluation_blanked(decision: dict[str, Any]) -> dict[str, Any]:
    """A decision without the fields that name how it was evaluated (the evaluator, and
    whether it was cross-checked): left out of the comparison when replay was told to use
    another evaluator than the recorded one, which must decide the same."""
    return {k: v for k, v in decision.items() if k != "evaluator" and not k.startswith("cross_check")}


def _why_not(exc: Exception, stored: dict[str, Any], what: str) -> str:
    """Why a record could not be re-decided, naming the version that recorded it when it is not this one."""
    if isinstance(exc, RequestError):
        reason = f"the recorded request is not valid under this version: {exc}"
    elif isinstance(exc, RulesetError):
        reason = f"the rules do not load under this version: {exc}"
    elif isinstance(exc, (SharelawError, AuditError)):
        reason = str(exc)
    else:  # a fault of this engine on an old record: reported, not raised, so the rest is replayed
        reason = f"internal error: {type(exc).__name__}: {exc}"
    other = versions(stored)
    return f"{what}: {reason}" + (f" (recorded by {other}, replayed by {THIS_VERSION})" if other != THIS_VERSION else "")


def _bundles_of(log: AuditLog) -> Callable[[str], Bundle]:
    bundles: dict[str, Bundle] = {}

    def bundle_for(h: str) -> Bundle:
        if h not in bundles:
            bundles[h] = log.bundle(h)
        return bundles[h]

    return bundle_for


def reproduce(log: AuditLog, progress: Progress | None = None, *, evaluator: str | None = None) -> ReplayReport:
    """Re-decide every recorded decision with its archived rules; ``evaluator`` (default: the
    one that made each decision) chooses the evaluator."""
    report = ReplayReport(mode="reproduce", against=None)
    engines = _Engines(_bundles_of(log))
    try:
        for rec in _decisions(log, progress):
            reproduce_one(report, rec, engines, evaluator)
    finally:
        engines.close()
    return report


def reproduce_one(report: ReplayReport, rec: StoredRecord, engines: "_Engines", evaluator: str | None) -> None:
    """Re-decide one decision record into ``report`` (see ``reproduce``)."""
    report.decisions += 1
    stored = rec.body["decision"]
    recorded_by = versions(stored)
    report.recorded_by[recorded_by] = report.recorded_by.get(recorded_by, 0) + 1
    chosen = _evaluator(rec, evaluator)
    try:
        # Always cross-checked, whatever the production sampling rate left out: a replay is where
        # an evaluator's misfire on an unsampled decision must show (as a decision that cannot
        # be replayed). The flag itself is then compared as recorded.
        engine = engines.get(rec.bundle_hash, chosen, True)
        new = engine.decide(rec.request).model_dump(mode="json", warnings=False)
        if "cross_checked" in stored:
            new["cross_checked"] = stored["cross_checked"]
        elif recorded_by == THIS_VERSION:  # this version, before the field existed: nothing to compare
            new.pop("cross_checked", None)  # (another version's record shows it as a representation change)
    except Exception as exc:  # noqa: BLE001 - each record is reported, none stops the replay
        if recorded_by != THIS_VERSION:
            # A record of another version that this version cannot decide (its request or its
            # archived rules no longer load) is a change of version: the log verified, so the
            # record is what that version decided. Only this version's own records must replay.
            report.version_changes.append(VersionDifference(
                rec.seq, rec.decision_id, stored.get("request_id"), recorded_by, THIS_VERSION,
                "not_replayable", [], [_why_not(exc, stored, "cannot be decided by this version")]))
        else:
            report.mismatches.append(Mismatch(rec.seq, rec.decision_id, _why_not(exc, stored, "cannot replay")))
        return
    if chosen != _evaluator(rec):
        stored, new = _evaluation_blanked(stored), _evaluation_blanked(new)
    kind, fields, subst = classify(stored, new)
    if kind == "identical":
        report.reproduced += 1
    elif recorded_by != THIS_VERSION:
        report.version_changes.append(VersionDifference(
            rec.seq, rec.decision_id, stored.get("request_id"), recorded_by, THIS_VERSION, kind, fields, subst))
    else:
        report.mismatches.append(Mismatch(
            rec.seq, rec.decision_id,
            f"the decision differs from the one recorded by this same version ({THIS_VERSION})"
            + (f": {'; '.join(subst)}" if subst else ""), fields))


def compare(log: AuditLog, bundle: Bundle, progress: Progress | None = None, *,
            evaluator: str | None = None) -> ReplayReport:
    report = ReplayReport(mode="against", against=bundle.content_hash)
    engines = _Engines(lambda _h: bundle)
    try:
        for rec in _decisions(log, progress):
            compare_one(report, rec, engines, bundle, evaluator)
    finally:
        engines.close()
    return report


def compare_one(report: ReplayReport, rec: StoredRecord, engines: "_Engines", bundle: Bundle,
                evaluator: str | None) -> None:
    """Re-decide one decision record under ``bundle`` into ``report`` (see ``compare``)."""
    report.decisions += 1
    before = rec.body["decision"]
    recorded_by = versions(before)
    report.recorded_by[recorded_by] = report.recorded_by.get(recorded_by, 0) + 1
    try:
        after = engines.get(bundle.content_hash, _evaluator(rec, evaluator)).decide(rec.request).model_dump(
            mode="json", warnings=False)
    except Exception as exc:  # noqa: BLE001 - each record is reported, none stops the replay
        report.mismatches.append(Mismatch(rec.seq, rec.decision_id,
                                          _why_not(exc, before, "cannot decide under these rules")))
        return
    basis_before = [b["rule_id"] for b in before.get("basis", [])]
    basis_after = [b["rule_id"] for b in after.get("basis", [])]
    subst = substance_differences(before, after)
    if before.get("outcome") != after["outcome"] or basis_before != basis_after or subst:
        fired_b, fired_a = _fired(before), _fired(after)
        change = Change(
            seq=rec.seq, decision_id=rec.decision_id, as_at=before.get("as_at", rec.body.get("as_at")),
            request_id=before.get("request_id"),
            outcome_before=before.get("outcome"), outcome_after=after["outcome"],
            basis_before=basis_before, basis_after=basis_after,
            stages=stage_changes(before, after), recorded_by=recorded_by,
            now_fired=[r for r in fired_a if r not in fired_b],
            no_longer_fired=[r for r in fired_b if r not in fired_a],
            differences=subst)
        if before.get("outcome") != after["outcome"] or basis_before != basis_after:
            report.changed.append(change)
        else:
            report.other_substance.append(change)
            report.other_differences += 1
        return
    blank = dict.fromkeys(PROVENANCE)
    if evaluator not in (None, "recorded"):
        before, after = _evaluation_blanked(before), _evaluation_blanked(after)
    if canonical_fast({**after, **blank}) == canonical_fast({**before, **blank}):
        report.unchanged += 1
    else:
        report.representation_only += 1
        report.other_differences += 1


def merge(parts: list[ReplayReport]) -> ReplayReport:
    """The report of a serial replay from the reports of its partitions, in seq order."""
    first = parts[0]
    out = ReplayReport(mode=first.mode, against=first.against)
    for part in parts:
        out.decisions += part.decisions
        out.reproduced += part.reproduced
        out.version_changes += part.version_changes
        out.mismatches += part.mismatches
        out.changed += part.changed
        out.other_substance += part.other_substance
        out.representation_only += part.representation_only
        out.other_differences += part.other_differences
        out.unchanged += part.unchanged
        for version, n in part.recorded_by.items():
            out.recorded_by[version] = out.recorded_by.get(version, 0) + n
    return out


def stage_changes(before: dict[str, Any], after: dict[str, Any]) -> list[StageChange]:
    """Each stage whose status or requirement results differ between two decisions, in legal order."""
    b = {s["stage"]: s for s in before.get("stages", [])}
    a = {s["stage"]: s for s in after.get("stages", [])}
    order = [s["stage"] for s in before.get("stages", [])] + [s["stage"] for s in after.get("stages", []) if s["stage"] not in b]
    out: list[StageChange] = []
    for stage in order:
        sb, sa = b.get(stage), a.get(stage)
        rb = {r["id"]: r for r in (sb or {}).get("requirements", [])}
        ra = {r["id"]: r for r in (sa or {}).get("requirements", [])}
        reqs = []
        for rid in list(rb) + [r for r in ra if r not in rb]:
            x, y = rb.get(rid), ra.get(rid)
            if _req_summary(x) != _req_summary(y):
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
    status: str = r["status"]
    return status + (f" by {', '.join(by)}" if by else "")


def _other_versions(report: ReplayReport) -> dict[str, int]:
    return {v: n for v, n in sorted(report.recorded_by.items()) if v != report.replayed_by}


def render(report: ReplayReport) -> str:
    """The report as readable text (deterministic)."""
    out: list[str] = []
    if report.mode == "reproduce":
        explained = len(report.version_changes)
        middle = (f"{explained} differ because the engine or schema version changed, " if explained else "")
        out.append(f"Replayed {report.decisions} decision(s) with the rules archived for each: "
                   f"{report.reproduced} reproduced byte for byte, {middle}{len(report.mismatches)} not"
                   f"{' reproduced' if explained else ''}.")
        groups: dict[tuple[str, str, tuple[str, ...]], list[int]] = {}
        for v in report.version_changes:
            if v.kind == "representation":
                groups.setdefault((v.recorded_by, v.replayed_by, tuple(v.fields)), []).append(v.seq)
        for (rec_by, rep_by, fields), seqs in groups.items():
            out.append(f"  {len(seqs)} recorded by {rec_by}, replayed by {rep_by}: the same outcome, basis, "
                       f"rules fired, stage results, missing items and conditions; only the representation "
                       f"differs ({', '.join(fields)}): seq {', '.join(map(str, seqs))}")
        for v in report.version_changes:
            if v.kind == "not_replayable":
                rid = f" request {v.request_id}" if v.request_id else ""
                out.append(f"  NOT REPLAYABLE BY THIS VERSION seq {v.seq} decision {v.decision_id}{rid} "
                           f"(recorded by {v.recorded_by}, replayed by {v.replayed_by}): {'; '.join(v.substance)}")
        for v in report.version_changes:
            if v.kind == "substance":
                rid = f" request {v.request_id}" if v.request_id else ""
                out.append(f"  DECIDED DIFFERENTLY BY THIS VERSION seq {v.seq} decision {v.decision_id}{rid} "
                           f"(recorded by {v.recorded_by}, replayed by {v.replayed_by}; the archived rules are "
                           f"the same, the engine is not): {'; '.join(v.substance)}")
        for m in report.mismatches:
            extra = f" (differs in: {', '.join(m.fields)})" if m.fields else ""
            out.append(f"  NOT REPRODUCED seq {m.seq} decision {m.decision_id}: {m.problem}{extra}")
        return "\n".join(out) + "\n"
    out.append(f"Replayed {report.decisions} decision(s) under rules {report.against}:")
    out.append(f"  {len(report.changed)} would now differ in outcome or basis; "
               f"{report.other_differences} keep their outcome and basis but differ in detail "
               f"({len(report.other_substance)} in the rules fired, stage results, missing items or conditions, "
               f"{report.representation_only} only in representation); "
               f"{report.unchanged} unchanged.")
    for version, n in _other_versions(report).items():
        out.append(f"  {n} recorded by {version}, replayed by {report.replayed_by}: a change of version alone is "
                   "not a change (unchanged: the same but for the versions and the bundle hash).")
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
        _render_reason(out, c)
    if report.other_substance:
        out.append("")
        out.append("Same outcome and basis, other substance changed:")
        for c in report.other_substance:
            rid = f" request {c.request_id}" if c.request_id else ""
            out.append(f"  seq {c.seq} decision {c.decision_id}{rid} ({c.outcome_after}): {'; '.join(c.differences)}")
    return "\n".join(out) + "\n"


def _render_reason(out: list[str], c: Change) -> None:
    if c.now_fired:
        out.append(f"  rules that now fire: {', '.join(c.now_fired)}")
    if c.no_longer_fired:
        out.append(f"  rules that no longer fire: {', '.join(c.no_longer_fired)}")
    for s in c.stages:
        out.append(f"  stage {s.stage}: {s.before} -> {s.after}")
        for r in s.requirements:
            out.append(f"    requirement {r['id']}: {r['before']} -> {r['after']}")
