"""One streaming pass over an audit log's records: the appropriateness report's figures.

Memory does not grow with the log: a decision is held only until the period for acting on
it is over (then it is classified, counted and dropped), so what is held is bounded by the
decisions of one period, not by the log. Records are read in ``seq`` order through
``AuditLog.records()``; "now" is the latest ``recorded_at`` seen (the writer's clock).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable, Iterator

from .classify import (
    INAPPROPRIATE_SHARING,
    INAPPROPRIATE_WITHHOLDING,
    Klass,
    classify,
    effective_outcome,
    sharing_denominator,
    withholding_denominator,
)
from .stats import Placement, Rate, Thresholds, place, rate

GROUPINGS = ("agency", "role", "purpose", "kind", "interaction")

#: Time from first approach to decision: the histogram's named bins (hours, upper bounds).
TIME_BINS: tuple[tuple[str, float], ...] = (
    ("under 1 hour", 1), ("1-4 hours", 4), ("4-24 hours", 24), ("1-3 days", 72),
    ("3-7 days", 168), ("7-30 days", 720), ("over 30 days", math.inf),
)
_FINE = 8  # fine log2 buckets per doubling of minutes, for the quantiles


@dataclass
class Options:
    by: str = "agency"
    start: date | None = None
    end: date | None = None
    agency: str | None = None
    period: timedelta = timedelta(days=30)
    as_of: datetime | None = None     # judge non-action as of this time (default: the last record's time)
    thresholds: Thresholds = field(default_factory=Thresholds)

    def __post_init__(self) -> None:
        if self.by not in GROUPINGS:
            raise ValueError(f"--by must be one of {', '.join(GROUPINGS)}")
        if self.period <= timedelta(0):
            raise ValueError("the period must be positive")
        if self.start and self.end and self.end < self.start:
            raise ValueError("--to is before --from")


@dataclass
class _Decision:
    """What is held about one decision while its period runs."""

    __slots__ = ("outcome", "keys", "decided", "request_id", "missing", "action", "superseded_by",
                 "excluded", "has_action", "resolved")
    outcome: str
    keys: tuple[str, ...]
    decided: datetime
    request_id: str | None
    missing: tuple[str, ...]
    action: dict[str, Any] | None
    superseded_by: str | None
    excluded: bool
    has_action: bool
    resolved: str | None      # for a re-decision that resolved a referral: "refer"


class GroupStats:
    def __init__(self) -> None:
        self.classes: Counter[Klass] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.share_k = self.share_n = self.withhold_k = self.withhold_n = 0

    def add(self, outcome: str, effective: str, klass: Klass) -> None:
        self.classes[klass] += 1
        self.outcomes[outcome] += 1
        if sharing_denominator(effective, klass):
            self.share_n += 1
            self.share_k += klass in INAPPROPRIATE_SHARING
        if withholding_denominator(effective, klass):
            self.withhold_n += 1
            self.withhold_k += klass in INAPPROPRIATE_WITHHOLDING

    @property
    def interactions(self) -> int:
        return sum(self.classes.values())


class Aggregator:
    """Feed it records (``StoredRecord``s, or their bodies as dicts) in log order; then ``result()``."""

    def __init__(self, options: Options | None = None) -> None:
        self.o = options or Options()
        self.pending: dict[str, _Decision] = {}
        self.cases: dict[tuple[str, str], str] = {}
        self.now: datetime | None = None
        self.first: datetime | None = None
        self.groups: dict[str, GroupStats] = {}
        self.total = GroupStats()
        self.months: dict[str, Counter[str]] = {}
        self.records = self.decisions = self.actions = 0
        self.late_actions = 0
        self.superseded = 0
        self.resolved_referrals = 0
        self.excluded = 0
        self.time_bins: Counter[str] = Counter()
        self.time_fine: Counter[int] = Counter()
        self.consulted: dict[str, Counter[str]] = {"appropriate": Counter(), "inappropriate": Counter()}
        self.confidence: dict[str, Counter[str]] = {"appropriate": Counter(), "inappropriate": Counter()}
        self.unresolved: Counter[Klass] = Counter()
        self.unresolved_missing: Counter[str] = Counter()
        self.peak_pending = 0

    # --------------------------------------------------------------- feeding

    def feed(self, records: Iterable[Any]) -> "Aggregator":
        for rec in records:
            self.add(rec.body if hasattr(rec, "body") else rec)
        return self

    def add(self, body: dict[str, Any]) -> None:
        self.records += 1
        t = _utc(body["recorded_at"])
        if self.first is None:
            self.first = t
        if self.now is None or t > self.now:
            self.now = t
            self._evict(t - self.o.period)
        if body["kind"] == "decision":
            self._decision(body, t)
        elif body["kind"] == "action":
            self._action(body)
        if len(self.pending) > self.peak_pending:
            self.peak_pending = len(self.pending)

    def _decision(self, body: dict[str, Any], t: datetime) -> None:
        self.decisions += 1
        request = body["request"]
        decision = body["decision"]
        agency = body["actor"]["agency"]
        day = t.date()
        excluded = bool((self.o.start and day < self.o.start) or (self.o.end and day > self.o.end)
                        or (self.o.agency is not None and agency != self.o.agency))
        interaction = request["interaction"]
        acting = request["discloser"] if interaction in ("offer", "disclose_on_request") else request["recipient"]
        keys = (agency, body["actor"]["role"], request["purpose"], acting["kind"], interaction)
        request_id = request.get("request_id")
        did = body["decision_id"]
        dec = _Decision(decision["outcome"], keys, t, request_id,
                        tuple(m["item"] for m in decision.get("missing", ())), None, None, excluded, False, None)
        if excluded:
            self.excluded += 1
        elif request_id:
            case = (agency, request_id)
            earlier_id = self.cases.get(case)
            earlier = self.pending.get(earlier_id) if earlier_id else None
            if earlier is not None and not earlier.has_action and earlier.superseded_by is None and not earlier.excluded:
                earlier.superseded_by = did  # the same case decided again before anything was done
                self.superseded += 1
                if earlier.outcome == "refer" and dec.outcome != "refer":
                    self.resolved_referrals += 1
                    dec.resolved = "refer"
            self.cases[case] = did
        self.pending[did] = dec

    def _action(self, body: dict[str, Any]) -> None:
        self.actions += 1
        did = body["decision_id"]
        dec = self.pending.get(did)
        hops = 0
        while dec is not None and dec.superseded_by is not None and hops < 1000:
            did = dec.superseded_by
            dec = self.pending.get(did)
            hops += 1
        if dec is None:
            self.late_actions += 1  # recorded after the period (its decision is already counted)
            return
        dec.has_action = True
        dec.action = body["action"]

    # --------------------------------------------------------------- finishing

    def _evict(self, cutoff: datetime) -> None:
        if not self.pending:
            return
        # dicts keep insertion (log) order, and decisions arrive roughly in time order
        done: list[str] = []
        for did, dec in self.pending.items():
            if dec.decided >= cutoff:
                break
            done.append(did)
        for did in done:
            self._finish(self.pending.pop(did), period_over=True)
        if done:
            self.cases = {k: v for k, v in self.cases.items() if v in self.pending} if len(self.cases) > 2 * len(self.pending) + 1000 else self.cases

    def _finish(self, dec: _Decision, *, period_over: bool) -> None:
        if dec.excluded or dec.superseded_by is not None:
            return
        action = dec.action
        acted = action["outcome"] if action else None
        klass = classify(dec.outcome, acted, reasons=action.get("reasons", "") if action else "",
                         period_over=period_over)
        effective = effective_outcome(dec.outcome, None)
        key = dec.keys[GROUPINGS.index(self.o.by)]
        self.groups.setdefault(key, GroupStats()).add(dec.outcome, effective, klass)
        self.total.add(dec.outcome, effective, klass)
        month = self.months.setdefault(dec.decided.strftime("%Y-%m"), Counter())
        month["outcome:" + dec.outcome] += 1
        month["action:" + (acted or "none")] += 1
        month["class:" + klass.value] += 1
        if dec.outcome == "refer":
            self.unresolved[klass] += 1
            self.unresolved_missing.update(dec.missing)
        if action is not None:
            side = "inappropriate" if klass in INAPPROPRIATE_SHARING | INAPPROPRIATE_WITHHOLDING else "appropriate"
            self.consulted[side].update(action.get("consulted") or ["(not recorded)"])
            self.confidence[side][action.get("confidence") or "(not recorded)"] += 1
            first = action.get("first_approach_at")
            if first:
                hours = max(0.0, (_utc(action["at"]) - _utc(first)).total_seconds() / 3600)
                self.time_bins[next(name for name, top in TIME_BINS if hours < top)] += 1
                self.time_fine[int(math.floor(math.log2(max(hours * 60, 1.0)) * _FINE))] += 1

    def result(self) -> "Report":
        as_of = self.o.as_of or self.now
        for dec in list(self.pending.values()):
            over = as_of is not None and as_of - dec.decided >= self.o.period
            self._finish(dec, period_over=over)
        self.pending.clear()
        self.cases.clear()
        return Report(self, as_of)


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _quantile(fine: Counter[int], q: float) -> float | None:
    total = sum(fine.values())
    if not total:
        return None
    target = q * total
    seen = 0
    for bucket in sorted(fine):
        seen += fine[bucket]
        if seen >= target:
            return 2 ** ((bucket + 0.5) / _FINE) / 60  # hours, at the bucket's geometric middle
    return None  # pragma: no cover


@dataclass
class GroupRow:
    name: str
    interactions: int
    classes: dict[str, int]
    outcomes: dict[str, int]
    sharing: Rate
    withholding: Rate
    placement: Placement

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.name, "interactions": self.interactions, "classes": self.classes,
            "outcomes": self.outcomes, "inappropriate_sharing": self.sharing.as_dict(),
            "inappropriate_withholding": self.withholding.as_dict(),
            "quadrant": self.placement.quadrant, "certain": self.placement.certain, "note": self.placement.note,
        }


class Report:
    """The figures of one report (render them with ``render.py``)."""

    def __init__(self, agg: Aggregator, as_of: datetime | None) -> None:
        o = agg.o
        t = o.thresholds
        self.options = o
        self.as_of = as_of
        self.first = agg.first
        self.records, self.decisions, self.actions = agg.records, agg.decisions, agg.actions
        self.late_actions, self.superseded, self.resolved_referrals = agg.late_actions, agg.superseded, agg.resolved_referrals
        self.excluded = agg.excluded
        self.peak_pending = agg.peak_pending

        def row(name: str, g: GroupStats) -> GroupRow:
            s = rate(g.share_k, g.share_n, t.confidence)
            w = rate(g.withhold_k, g.withhold_n, t.confidence)
            return GroupRow(name, g.interactions, {k.value: v for k, v in sorted(g.classes.items())},
                            dict(sorted(g.outcomes.items())), s, w, place(s, w, t))

        self.groups = [row(name, agg.groups[name]) for name in sorted(agg.groups)]
        self.overall = row("all", agg.total)
        self.months = {m: dict(sorted(c.items())) for m, c in sorted(agg.months.items())}
        self.time_bins = {name: agg.time_bins.get(name, 0) for name, _ in TIME_BINS}
        self.time_quantiles = {f"p{int(q * 100)}": _quantile(agg.time_fine, q) for q in (0.5, 0.9)}
        self.time_count = sum(agg.time_bins.values())
        self.consulted = {side: dict(c.most_common()) for side, c in agg.consulted.items()}
        self.confidence = {side: dict(sorted(c.items())) for side, c in agg.confidence.items()}
        self.unresolved = {k.value: v for k, v in sorted(agg.unresolved.items())}
        self.unresolved_missing = dict(agg.unresolved_missing.most_common(10))

    def as_dict(self) -> dict[str, Any]:
        o, t = self.options, self.options.thresholds
        return {
            "format": "sharelaw/appropriateness-report@1",
            "by": o.by,
            "filters": {"from": o.start.isoformat() if o.start else None, "to": o.end.isoformat() if o.end else None,
                        "agency": o.agency},
            "period_days": o.period.total_seconds() / 86400,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "thresholds": {"sharing": t.sharing, "withholding": t.withholding, "min_n": t.min_n,
                           "confidence": t.confidence},
            "log": {"records": self.records, "decisions": self.decisions, "actions": self.actions,
                    "first_recorded_at": self.first.isoformat() if self.first else None,
                    "excluded_by_filters": self.excluded, "superseded_decisions": self.superseded,
                    "late_actions": self.late_actions, "peak_decisions_held": self.peak_pending},
            "groups": [g.as_dict() for g in self.groups],
            "overall": self.overall.as_dict(),
            "months": self.months,
            "time_to_decide": {"count": self.time_count, "bins": self.time_bins,
                               "median_hours": self.time_quantiles["p50"], "p90_hours": self.time_quantiles["p90"]},
            "consulted": self.consulted,
            "confidence": self.confidence,
            "referrals": {"resolved": self.resolved_referrals, "unresolved": self.unresolved,
                          "unresolved_missing_items": self.unresolved_missing},
        }


def build(records: Iterator[Any] | Iterable[Any], options: Options | None = None) -> Report:
    """The report over ``records`` (e.g. ``log.records()``), in one streaming pass."""
    return Aggregator(options).feed(records).result()
