"""Is the law under the rules kept current? The ``sharelaw check`` half of the law watch.

Every legislation citation must say when its text was last checked (``checked_on``), and
every rule must have a review date (its own ``review_by``, its file's ``review_by``, or, for
a protocol's practice, the protocol's ``review_date``). Codes:

- ``citation_not_checked``   a legislation citation has no ``checked_on`` (error)
- ``citation_checked_future`` a ``checked_on`` is after the day checked as at (error: a
  check that has not happened yet cannot vouch for the text)
- ``rule_no_review_date``    a rule has no review date, nor does its file (error)
- ``rule_review_due``        a rule's review date has passed (warning)

``sharelaw law watch`` (``sharelaw.lawwatch``) does the other half: it asks legislation.gov.uk
what changed after each ``checked_on``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..law.citations import Citation
from ..rules.bundle import Bundle
from ..rules.model import Rule
from .static import Diagnostic

CURRENCY_CODES = ("citation_not_checked", "citation_checked_future", "rule_no_review_date", "rule_review_due")


@dataclass(frozen=True)
class CitedProvision:
    """One legislation citation, and who relies on it (a rule, or a shared function)."""

    citation: Citation
    owner: str  # rule id, or "function.<id>"
    file: str
    line: int | None
    review_by: date | None


def review_date(bundle: Bundle, rule: Rule) -> date | None:
    """A rule's review date: its own, else its file's; a practice's is its protocol's."""
    if rule.protocol is not None:
        return bundle.protocols[rule.protocol].review_date
    own: date | None = getattr(rule.source, "review_by", None)
    if own is not None:
        return own
    for f in bundle.files:
        if f.path == rule.file:
            file_date: date | None = f.model.review_by
            return file_date
    return None


def _all_rules(bundle: Bundle) -> list[Rule]:
    """National rules and protocol practices, each once (practices are in ``bundle.rules`` too)."""
    seen: dict[str, Rule] = dict(bundle.rules)
    for p in bundle.protocols.values():
        for r in p.rules:
            seen.setdefault(r.id, r)
    return list(seen.values())


def cited_provisions(bundle: Bundle) -> list[CitedProvision]:
    """Every legislation citation of the bundle's rules, practices and shared functions."""
    out: list[CitedProvision] = []
    rules = _all_rules(bundle)
    for r in rules:
        review = review_date(bundle, r)
        for c in r.citations:
            if c.legislation:
                out.append(CitedProvision(c, r.id, r.file, r.line, review))
    for d in bundle.definitions:
        for fid, fn in d.model.functions.items():
            src = d.shared[f"function.{fid}"].src
            for i, c in enumerate(fn.citations):
                if c.legislation:
                    out.append(CitedProvision(c, f"function.{fid}", d.path, src.line(("functions", fid, "citations", i)), None))
    return out


def currency(bundle: Bundle, today: date) -> list[Diagnostic]:
    """The diagnostics above, as at ``today``."""
    out: list[Diagnostic] = []
    for cp in cited_provisions(bundle):
        c = cp.citation
        if c.checked_on is None:
            out.append(Diagnostic(
                "citation_not_checked", "error",
                f"the citation {c.label!r} ({c.legislation}) has no checked_on: say the day its text was last "
                "checked against legislation.gov.uk, so `sharelaw law watch` can tell what changed since",
                cp.file, cp.line, None if cp.owner.startswith("function.") else cp.owner))
        elif c.checked_on > today:
            out.append(Diagnostic(
                "citation_checked_future", "error",
                f"the citation {c.label!r} ({c.legislation}) says it was checked on {c.checked_on.isoformat()}, "
                f"after {today.isoformat()}",
                cp.file, cp.line, None if cp.owner.startswith("function.") else cp.owner))
    rules = _all_rules(bundle)
    for r in rules:
        review = review_date(bundle, r)
        if review is None:
            out.append(Diagnostic(
                "rule_no_review_date", "error",
                "the rule has no review date: give it review_by, or give its file one", r.file, r.line, r.id))
        elif review < today:
            out.append(Diagnostic(
                "rule_review_due", "warning",
                f"the rule was due for review on {review.isoformat()} (as at {today.isoformat()}): check its "
                "citations against the law in force, then move review_by (and checked_on) on",
                r.file, r.line, r.id))
    return out


__all__ = ["CURRENCY_CODES", "CitedProvision", "cited_provisions", "currency", "review_date"]
