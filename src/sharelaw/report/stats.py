"""Rates with Wilson score intervals, and the quadrant a group falls in."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

QUADRANTS = ("ideal", "over-cautious", "over-open", "chaotic")


def z_for(confidence: float) -> float:
    if not 0.5 <= confidence < 1:
        raise ValueError("confidence must be in [0.5, 1)")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for ``k`` successes in ``n`` trials (Wilson 1927).

    Unlike the normal approximation it stays inside [0, 1] and behaves at k = 0 or k = n
    and for small n. ``n == 0`` gives the uninformative (0, 1)."""
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    z = z_for(confidence)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    if k == 0:
        low = 0.0
    if k == n:
        high = 1.0
    return (low, high)


@dataclass(frozen=True)
class Rate:
    k: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float | None:
        return self.k / self.n if self.n else None

    def as_dict(self) -> dict[str, object]:
        return {"k": self.k, "n": self.n, "rate": self.value, "low": self.low, "high": self.high}


def rate(k: int, n: int, confidence: float = 0.95) -> Rate:
    low, high = wilson(k, n, confidence)
    return Rate(k, n, low, high)


@dataclass(frozen=True)
class Thresholds:
    """A rate above ``sharing`` (``withholding``) is a tendency to share (withhold) inappropriately.
    A group with fewer than ``min_n`` interactions in either rate's denominator is not placed."""

    sharing: float = 0.10
    withholding: float = 0.10
    min_n: int = 30
    confidence: float = 0.95

    def __post_init__(self) -> None:
        for name in ("sharing", "withholding"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"the {name} threshold must be between 0 and 1")
        if self.min_n < 1:
            raise ValueError("min_n must be at least 1")
        z_for(self.confidence)


@dataclass(frozen=True)
class Placement:
    quadrant: str | None      # None when the group is too small to place
    certain: bool             # both intervals lie wholly on one side of their thresholds
    note: str


def place(sharing: Rate, withholding: Rate, t: Thresholds) -> Placement:
    """The quadrant of domain.md section 3, by the point estimates against the thresholds.
    ``certain`` says whether both intervals clear their thresholds; small groups are not placed."""
    small = [name for name, r in (("sharing", sharing), ("withholding", withholding)) if r.n < t.min_n]
    if small:
        return Placement(None, False, "too few interactions to place (" + ", ".join(
            f"{name}: {r.n} < {t.min_n}" for name, r in (("sharing", sharing), ("withholding", withholding))
            if name in small) + ")")
    assert sharing.value is not None and withholding.value is not None
    over_share = sharing.value > t.sharing
    over_withhold = withholding.value > t.withholding
    quadrant = {(False, False): "ideal", (False, True): "over-cautious",
                (True, False): "over-open", (True, True): "chaotic"}[(over_share, over_withhold)]
    unsure = [name for name, r, th in (("sharing", sharing, t.sharing), ("withholding", withholding, t.withholding))
              if r.low <= th <= r.high]
    if unsure:
        return Placement(quadrant, False, "interval crosses the " + " and ".join(unsure) + " threshold")
    return Placement(quadrant, True, "both intervals clear their thresholds")
