"""Write an audit log of interactions by agencies with planted tendencies (issue 13).

Used by tests/test_report.py (a small log, in CI) and benchmarks/bench_report.py (50,000
records and more). Everything goes through the real ``AuditLog`` API (``record`` and
``record_action``); to be fast, a few hundred distinct requests are decided once by the
real engine and each decision is recorded many times. Each recorded interaction gets its
own caller's reference (``request_id``), set on the request and on the decision alike: the
engine only echoes ``request_id`` back, so the recorded decision is exactly the one the
engine gives that request (``sharelaw replay`` reproduces it).

The tendencies are planted as exact proportions, not coin flips: of an agency's
``must_share`` interactions, ``round(withhold * n)`` are withheld or never acted on; of
the interactions where sharing was not cleared (``must_not_share``, unresolved ``refer``),
``round(share * n)`` are shared. So the rates the report must find are known exactly.

Times come from a simulated clock (``AuditLog.open(clock=...)``): interactions spread
evenly from ``start`` over ``days``, each action recorded an hour after its decision.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

try:  # tests/ is not a package: pytest puts it on sys.path
    from strategies import deterministic_request_dicts
except ImportError:  # pragma: no cover
    from tests.strategies import deterministic_request_dicts  # type: ignore[no-redef]

from sharelaw.audit import AuditLog
from sharelaw.decision import Decision
from sharelaw.engine.pipeline import Engine


@dataclass(frozen=True)
class Planted:
    agency: str
    role: str
    quadrant: str          # the quadrant the report must place it in
    share: float           # planted inappropriate-sharing rate (sharing when not cleared)
    withhold: float        # planted inappropriate-withholding rate (must_share not shared)


AGENCIES: tuple[Planted, ...] = (
    Planted("northshire-health", "caldicott guardian", "over-cautious", share=0.02, withhold=0.40),
    Planted("eastborough-police", "beat officer", "over-open", share=0.35, withhold=0.03),
    Planted("st-marys-primary", "designated safeguarding lead", "ideal", share=0.02, withhold=0.03),
    Planted("westmoor-council", "social worker", "chaotic", share=0.40, withhold=0.35),
)

#: The case mix each agency meets: (kind of case, share of its interactions).
MIX = (("must_share", 0.30), ("must_not_share", 0.30), ("may_share", 0.25), ("refer", 0.15))


class Pool:
    """Distinct requests decided once, by outcome; plus may_share requests that resolve a referral."""

    def __init__(self, engine: Engine, size: int = 2500, seed: int = 20261202) -> None:
        self.by_outcome: dict[str, list[tuple[dict[str, Any], Decision]]] = {}
        for request in deterministic_request_dicts(size, seed=seed):
            decision = engine.decide(request)
            self.by_outcome.setdefault(decision.outcome.value, []).append((request, decision))
        missing = {"must_share", "must_not_share", "may_share", "refer"} - set(self.by_outcome)
        if missing:
            raise RuntimeError(f"the request pool has no {sorted(missing)} decision: enlarge it")
        self.bundle = engine.bundle

    def pick(self, outcome: str, i: int) -> tuple[dict[str, Any], Decision]:
        items = self.by_outcome[outcome]
        return items[i % len(items)]


def _as(request: dict[str, Any], decision: Decision, request_id: str) -> tuple[dict[str, Any], Decision]:
    return {**request, "request_id": request_id}, decision.model_copy(update={"request_id": request_id})


class SimClock:
    """The writer's clock, simulated so that a log spans months in seconds."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def plan(agency: Planted, n: int, seed: int) -> list[tuple[str, str]]:
    """The interactions of one agency: (case, what is done), in a shuffled but fixed order.

    What is done: ``shared``, ``withheld``, ``none`` (no action ever recorded) and, for
    referrals, ``resolved`` (re-decided as may_share, then shared)."""
    counts = {case: round(n * frac) for case, frac in MIX}
    out: list[tuple[str, str]] = []
    ms = counts["must_share"]
    bad_w = round(agency.withhold * ms)
    out += [("must_share", "withheld")] * (bad_w - bad_w // 2) + [("must_share", "none")] * (bad_w // 2)
    out += [("must_share", "shared")] * (ms - bad_w)
    refer = counts["refer"]
    resolved = refer // 3
    uncleared = counts["must_not_share"] + (refer - resolved)
    bad_s = round(agency.share * uncleared)
    bad_refer = round(bad_s * (refer - resolved) / uncleared)
    bad_mns = bad_s - bad_refer
    out += [("must_not_share", "shared")] * bad_mns + [("must_not_share", "withheld")] * (counts["must_not_share"] - bad_mns)
    out += [("refer", "shared")] * bad_refer + [("refer", "withheld")] * (refer - resolved - bad_refer)
    out += [("refer", "resolved")] * resolved
    mays = counts["may_share"]
    out += [("may_share", "shared")] * (mays - mays // 3) + [("may_share", "withheld")] * (mays // 3)
    random.Random(seed).shuffle(out)
    return out


def expected_rates(agency: Planted, n: int) -> tuple[float, float]:
    """The exact (sharing, withholding) rates planted for ``n`` interactions."""
    steps = plan(agency, n, 0)
    ms = [s for s in steps if s[0] == "must_share"]
    uncleared = [s for s in steps if s[0] == "must_not_share" or (s[0] == "refer" and s[1] != "resolved")]
    return (sum(s[1] == "shared" for s in uncleared) / len(uncleared),
            sum(s[1] != "shared" for s in ms) / len(ms))


def action(done: str, at: datetime, i: int) -> dict[str, Any]:
    consulted = (["none"], ["caldicott_guardian"], ["local_protocol", "manager"], ["legal_adviser"],
                 ["colleague"], ["data_protection_officer", "national_guidance"])[i % 6]
    base: dict[str, Any] = {
        "outcome": done, "at": at.isoformat(), "consent": "not_obtained", "consulted": consulted,
        "reasons": "Recorded by the generator.", "first_approach_at": (at - timedelta(hours=1 + i % 47)).isoformat(),
        "confidence": ("low", "medium", "high")[i % 3], "formal": i % 4 != 0,
    }
    if done == "shared":
        base["form"] = ("telephone", "written", "electronic", "face_to_face")[i % 4]
    return base


def generate(
    url: str,
    per_agency: int,
    *,
    engine: Engine | None = None,
    pool: Pool | None = None,
    agencies: tuple[Planted, ...] = AGENCIES,
    start: datetime = datetime(2025, 1, 1, tzinfo=timezone.utc),
    days: int = 365,
    seed: int = 13,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write ``per_agency`` interactions for each agency to the log at ``url``; return a summary."""
    if pool is None:
        pool = Pool(engine or Engine())
    plans = [plan(a, per_agency, seed + k) for k, a in enumerate(agencies)]
    # interleave the agencies, as a shared log would hold them
    steps = [(agencies[k], plans[k][j], j) for j in range(per_agency) for k in range(len(agencies)) if j < len(plans[k])]
    clock = SimClock(start)
    dt = timedelta(days=days) / max(1, len(steps))
    records = 0
    counter = itertools.count()
    with AuditLog.open(url, clock=clock) as log:
        log.archive(pool.bundle)
        for n, (agency, (case, done), j) in enumerate(steps):
            i = next(counter)
            clock.now = start + n * dt
            actor = {"agency": agency.agency, "role": agency.role}
            request_id = f"{agency.agency}-{seed}-{j}"
            request, decision = _as(*pool.pick(case, i), request_id)
            rec = log.record(decision, request, actor=actor)
            records += 1
            if done == "resolved":  # the missing facts supplied: decided again, may_share, then shared
                clock.now += dt / 4
                request, decision = _as(*pool.pick("may_share", i), request_id)
                rec = log.record(decision, request, actor=actor)
                records += 1
                done = "shared"
            if done != "none":
                clock.now += dt / 2
                log.record_action(rec.decision_id, action(done, clock.now, i), actor=actor)
                records += 1
            if progress is not None:
                progress(records)
    return {"records": records, "interactions": len(steps), "end": clock.now}
