"""The legal timeline: which data protection regime applies on a date.

The eras and their dates are data, in timeline.yaml beside this module, each with its
citation and verification tag (from the knowledge pack section 1): DPA 1998 in force
1 March 2000 (SI 2000/183); GDPR and DPA 2018 from 25 May 2018; UK GDPR from
1 January 2021 (end of the transition period); DUAA 2025 ss70-71 from 5 February 2026
(SI 2026/82). The engine never reads the clock: every function takes the date.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from ..vocab import Labelled

# libyaml's loader where PyYAML has it (the file is ours; ~20x faster than the pure-Python one at import)
_TIMELINE = yaml.load((Path(__file__).with_name("timeline.yaml")).read_text("utf-8"),
                      Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))

SCOPE_START: date = _TIMELINE["scope_start"]


class Era(Labelled):
    DPA1998 = "dpa1998", "Data Protection Act 1998"
    EU_GDPR = "eu_gdpr_dpa2018", "EU GDPR and Data Protection Act 2018"
    UK_GDPR = "uk_gdpr_dpa2018", "UK GDPR and Data Protection Act 2018"
    UK_GDPR_DUAA = "uk_gdpr_duaa2025", "UK GDPR and DPA 2018 as amended by the Data (Use and Access) Act 2025"


@dataclass(frozen=True)
class EraSpan:
    era: Era
    start: date
    end: date | None  # inclusive last day; None while still current
    citation: dict[str, Any]
    verification: str


ERAS: tuple[EraSpan, ...] = tuple(
    EraSpan(Era(e["id"]), e["from"], e.get("to"), e["citation"], e["verification"]) for e in _TIMELINE["eras"]
)
_STARTS = [span.start for span in ERAS]


def _check() -> None:
    """The eras must be contiguous from the scope start, with labels matching the enum."""
    problems = []
    if ERAS[0].start != SCOPE_START:
        problems.append("the first era must start on the scope start")
    for before, after in zip(ERAS, ERAS[1:]):
        if before.end is None or (after.start - before.end).days != 1:
            problems.append(f"gap or overlap before {after.start}")
    if ERAS[-1].end is not None:
        problems.append("the last era must be current (no 'to')")
    for span in ERAS:
        label = next(e["label"] for e in _TIMELINE["eras"] if e["id"] == span.era.value)
        if label != span.era.label:
            problems.append(f"timeline.yaml label differs from Era.{span.era.name}")
    if problems:
        raise RuntimeError("sharelaw/law/timeline.yaml is inconsistent: " + "; ".join(problems))


_check()


class OutOfScope(ValueError):
    """The date is before 1 March 2000, the earliest law sharelaw encodes."""


def era_on(as_at: date) -> Era:
    if as_at < SCOPE_START:
        raise OutOfScope(
            f"{as_at.isoformat()} is before 1 March 2000: the law before the Data Protection "
            "Act 1998 came into force is out of scope"
        )
    return ERAS[bisect.bisect_right(_STARTS, as_at) - 1].era
