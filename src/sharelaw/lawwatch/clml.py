"""Parse legislation.gov.uk's changes feed (Atom + ``ukm:Effect``) and a provision's CLML.

Element and attribute names follow the published data documentation
(github.com/legislation/data-documentation: formats/atom.md "Changes to legislation
feeds", formats/xml.md "Unapplied effects", "Entire items" and "Sections"). Elements are
matched by namespace and local name, never by prefix, as that documentation requires.
The XML comes from the network, so it is parsed with defusedxml (no entity expansion, no
external entities, no DTD retrieval).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml.ElementTree import fromstring

ATOM = "{http://www.w3.org/2005/Atom}"
UKM = "{http://www.legislation.gov.uk/namespaces/metadata}"
LEG_NS = "{http://www.legislation.gov.uk/namespaces/legislation}"
ID_BASE = "http://www.legislation.gov.uk/id/"


class LegislationDataError(ValueError):
    """A response that is not the changes feed or CLML we expected."""


@dataclass(frozen=True)
class InForce:
    date: date | None  # None: no date yet (a day to be appointed)
    qualification: str | None
    prospective: bool
    applied: bool | None


@dataclass(frozen=True)
class Effect:
    """One effect (amendment, repeal, commencement...) on the affected legislation."""

    effect_id: str | None
    type: str
    affected_uri: str | None  # the affected item's identifier URI
    affected_provisions: str  # as legislation.gov.uk writes it: "s. 16H(2)"
    affected_uris: tuple[str, ...]  # provision identifier URIs the effect names
    affected_ranges: tuple[tuple[str, str], ...]  # (first, last) provision URIs of ranges
    affecting_uri: str | None
    affecting_title: str | None
    affecting_provisions: str | None
    affecting_provision_uris: tuple[str, ...]
    in_force: tuple[InForce, ...]
    applied: bool | None
    requires_applied: bool | None
    notes: str | None = None
    row: str | None = None
    modified: str | None = None
    source: str = "feed"  # "feed" (changes feed) or "unapplied" (a provision's UnappliedEffects)

    @property
    def in_force_dates(self) -> list[date]:
        return [f.date for f in self.in_force if f.date is not None]

    @property
    def prospective(self) -> bool:
        """No in-force date yet: commenced on a day to be appointed (or never)."""
        return not self.in_force or all(f.date is None or f.prospective for f in self.in_force)

    def as_dict(self) -> dict[str, Any]:
        return {
            "effect_id": self.effect_id,
            "type": self.type,
            "affected_provisions": self.affected_provisions,
            "affecting": {
                "title": self.affecting_title,
                "provisions": self.affecting_provisions,
                "uri": (self.affecting_provision_uris[-1] if self.affecting_provision_uris else self.affecting_uri),
            },
            "in_force": [
                {"date": f.date.isoformat() if f.date else None, "qualification": f.qualification,
                 "prospective": f.prospective}
                for f in self.in_force
            ],
            "applied": self.applied,
            "requires_applied": self.requires_applied,
            "notes": self.notes,
            "source": self.source,
        }


@dataclass(frozen=True)
class FeedPage:
    effects: list[Effect]
    next_url: str | None


@dataclass(frozen=True)
class ProvisionVersion:
    """A provision's point-in-time CLML: its status and the effects not yet applied to it."""

    id_uri: str
    valid: date | None  # dct:valid, the version's date
    found: bool  # the response contains the provision's element
    status: str | None  # "Prospective", "Repealed", "Discarded" or None (in force)
    match: bool  # Match="false": not valid at the date requested
    restrict_start: date | None
    restrict_end: date | None
    unapplied: list[Effect] = field(default_factory=list)


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() == "true"


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _parse(data: bytes, what: str) -> Element:
    try:
        root: Element = fromstring(data)
    except Exception as exc:  # defusedxml raises its own errors for forbidden constructs
        raise LegislationDataError(f"{what} is not well-formed XML: {exc}") from None
    return root


def _in_force(el: Element) -> tuple[InForce, ...]:
    out = []
    for f in el.iter(f"{UKM}InForce"):
        out.append(InForce(
            date=_date(f.get("Date")), qualification=f.get("Qualification"),
            prospective=_bool(f.get("Prospective")) is True, applied=_bool(f.get("Applied")),
        ))
    return tuple(out)


def _uris(container: Element | None) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    if container is None:
        return (), ()
    single: list[str] = []
    ranges: list[tuple[str, str]] = []
    for el in container.iter():
        if el is container:
            continue
        if el.tag == f"{UKM}SectionRange":
            start, end = el.get("URI"), el.get("UpTo")
            if start and end:
                ranges.append((start, end))
            elif start:
                single.append(start)
        elif el.tag == f"{UKM}Section" and el.get("URI"):
            single.append(el.get("URI", ""))
    return tuple(single), tuple(ranges)


def _effect(el: Element, source: str) -> Effect:
    affected, ranges = _uris(el.find(f"{UKM}AffectedProvisions"))
    affecting, _ = _uris(el.find(f"{UKM}AffectingProvisions"))
    title = el.find(f"{UKM}AffectingTitle")
    if source == "unapplied":  # attributes only (formats/xml.md "Unapplied effects")
        uri, upto = el.get("AffectedURI"), el.get("AffectedUpTo")
        if uri and upto:
            ranges = ((uri, upto),)
        elif uri:
            affected = (uri,)
    return Effect(
        effect_id=el.get("EffectId"),
        type=el.get("Type", "").strip() or "(no type)",
        affected_uri=el.get("AffectedURI"),
        affected_provisions=el.get("AffectedProvisions") or el.get("AffectedProvision") or "",
        affected_uris=affected,
        affected_ranges=ranges,
        affecting_uri=el.get("AffectingURI"),
        affecting_title=title.text.strip() if title is not None and title.text else None,
        affecting_provisions=el.get("AffectingProvisions") or el.get("AffectingSectionRef"),
        affecting_provision_uris=affecting,
        in_force=_in_force(el),
        applied=_bool(el.get("Applied")),
        requires_applied=_bool(el.get("RequiresApplied")),
        notes=el.get("Notes"),
        row=el.get("Row"),
        modified=el.get("Modified"),
        source=source,
    )


def parse_changes_feed(data: bytes) -> FeedPage:
    """One page of ``/changes/affected/{type}/{year}/{number}/data.feed``."""
    root = _parse(data, "the changes feed")
    if root.tag != f"{ATOM}feed":
        raise LegislationDataError(f"the changes feed's root is {root.tag}, not an Atom feed")
    effects = []
    for entry in root.findall(f"{ATOM}entry"):
        for el in entry.iter(f"{UKM}Effect"):
            effects.append(_effect(el, "feed"))
    next_url = None
    for link in root.findall(f"{ATOM}link"):
        if link.get("rel") == "next" and link.get("href"):
            next_url = link.get("href")
    return FeedPage(effects, next_url)


def parse_provision(data: bytes, id_uri: str) -> ProvisionVersion:
    """A provision's CLML (``/{type}/{year}/{number}/section/N[/{date}]/data.xml``)."""
    root = _parse(data, f"the XML for {id_uri}")
    if root.tag != f"{LEG_NS}Legislation":
        raise LegislationDataError(f"the XML for {id_uri} is not CLML (root {root.tag})")
    valid = None
    for el in root.iter("{http://purl.org/dc/terms/}valid"):
        valid = _date(el.text)
        break
    # the provision's own element in the body (the root repeats its IdURI for a section request)
    target = next((el for el in root.iter() if el is not root and el.get("IdURI") == id_uri), None)
    if target is None and root.get("IdURI") == id_uri:
        target = root
    unapplied = [_effect(el, "unapplied") for el in root.iter(f"{UKM}UnappliedEffect")]
    if target is None:
        return ProvisionVersion(id_uri, valid, False, None, True, None, None, unapplied)
    return ProvisionVersion(
        id_uri=id_uri, valid=valid, found=True, status=target.get("Status"),
        match=_bool(target.get("Match")) is not False,
        restrict_start=_date(target.get("RestrictStartDate")), restrict_end=_date(target.get("RestrictEndDate")),
        unapplied=unapplied,
    )


# ------------------------------------------------------------------ which effects touch a provision

_PART = re.compile(r"^([0-9]+)([A-Z]*)$")


def _key(part: str) -> tuple[int, str] | None:
    m = _PART.match(part)
    return (int(m.group(1)), m.group(2)) if m else None


def _within(uri: str, scope: str) -> bool:
    """``uri`` is ``scope`` or a provision inside it (section/16H/2 is inside section/16H)."""
    return uri == scope or uri.startswith(scope + "/")


def _in_range(uri: str, first: str, last: str) -> bool:
    """``uri`` (or what contains it) lies between two sibling provisions, inclusive."""
    a, b = first.rsplit("/", 1), last.rsplit("/", 1)
    if len(a) != 2 or len(b) != 2 or a[0] != b[0]:
        return _within(uri, first) or _within(uri, last)
    parent = a[0] + "/"
    if not uri.startswith(parent):
        return False
    own = uri[len(parent):].split("/", 1)[0]
    lo, hi, mid = _key(a[1]), _key(b[1]), _key(own)
    if lo is None or hi is None or mid is None:
        return own in (a[1], b[1])
    return lo <= mid <= hi


def touches(effect: Effect, provision_uri: str, item_uri: str) -> bool:
    """Whether ``effect`` is scoped to the cited provision: names it, a provision inside it,
    or a provision (or range) containing it; or repeals or revokes the whole item."""
    for uri in effect.affected_uris:
        if uri == item_uri:
            continue
        if _within(uri, provision_uri) or _within(provision_uri, uri):
            return True
    for first, last in effect.affected_ranges:
        if _in_range(provision_uri, first, last):
            return True
    whole_item = not effect.affected_uris and not effect.affected_ranges or item_uri in effect.affected_uris
    if whole_item and effect.affected_provisions.strip().lower() in ("act", "instrument", "regulation", "whole"):
        return any(w in effect.type.lower() for w in ("repeal", "revoke", "revocation"))
    return False


__all__ = [
    "Effect", "FeedPage", "InForce", "LegislationDataError", "ProvisionVersion",
    "parse_changes_feed", "parse_provision", "touches", "ID_BASE",
]
