"""The legal timeline: which data protection regime applies on a date.

Dates come from the knowledge pack section 1 (all tagged [V] there): DPA 1998 in force
1 March 2000 (SI 2000/183); GDPR and DPA 2018 from 25 May 2018; UK GDPR from
1 January 2021 (end of the transition period); DUAA 2025 ss70-71 from 5 February 2026
(SI 2026/82). The engine never reads the clock: every function takes the date.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date

from ..vocab import Labelled

SCOPE_START = date(2000, 3, 1)
HRA_IN_FORCE = date(2000, 10, 2)


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


ERAS: tuple[EraSpan, ...] = (
    EraSpan(Era.DPA1998, SCOPE_START, date(2018, 5, 24)),
    EraSpan(Era.EU_GDPR, date(2018, 5, 25), date(2020, 12, 31)),
    EraSpan(Era.UK_GDPR, date(2021, 1, 1), date(2026, 2, 4)),
    EraSpan(Era.UK_GDPR_DUAA, date(2026, 2, 5), None),
)
_STARTS = [span.start for span in ERAS]


class OutOfScope(ValueError):
    """The date is before 1 March 2000, the earliest law sharelaw encodes."""


def era_on(as_at: date) -> Era:
    if as_at < SCOPE_START:
        raise OutOfScope(
            f"{as_at.isoformat()} is before 1 March 2000: the law before the Data Protection "
            "Act 1998 came into force is out of scope"
        )
    return ERAS[bisect.bisect_right(_STARTS, as_at) - 1].era
