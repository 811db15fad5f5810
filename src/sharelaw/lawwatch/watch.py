"""Which rules rest on law that changed after it was checked.

For every Act and SI the rules cite, read its changes feed (every page); for every cited
provision, read its CLML (the current version, or the version as at ``as_at``). A
citation is flagged when an effect scoped to its provision

- came (or comes) into force after the citation's ``checked_on``;
- has no in-force date yet (prospective: commenced on a day to be appointed); or
- is not yet applied to the text on legislation.gov.uk (so the text checked may be stale);

or when the provision itself is prospective, repealed or not valid at the date read
(``Status``, ``Match="false"``), or came into force (``RestrictStartDate``) or ends
(``RestrictEndDate``) after ``checked_on``. Data that cannot be had is listed as not
checked: a missing feed is never read as "no changes".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..analysis.currency import CitedProvision, cited_provisions
from ..rules.bundle import Bundle
from .clml import ID_BASE, Effect, LegislationDataError, ProvisionVersion, parse_changes_feed, parse_provision, touches
from .sources import DataUnavailable, Source, site_path

MAX_PAGES = 500  # a feed longer than this is reported, not followed for ever


@dataclass(frozen=True)
class Finding:
    kind: str  # "in_force_after_check", "prospective", "unapplied", "status"
    message: str
    effect: Effect | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.effect is not None:
            out["effect"] = self.effect.as_dict()
        return out


@dataclass
class Watched:
    """One cited provision and the rules (or functions) citing it, with what was found."""

    legislation: str
    label: str
    checked_on: date | None
    owners: list[str]
    findings: list[Finding] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        return "changed" if self.findings else "not_checked" if self.unchecked else "unchanged"

    def as_dict(self) -> dict[str, Any]:
        return {
            "legislation": self.legislation, "label": self.label,
            "checked_on": self.checked_on.isoformat() if self.checked_on else None,
            "state": self.state, "rules": self.owners,
            "findings": [f.as_dict() for f in self.findings], "not_checked": self.unchecked,
        }


@dataclass
class WatchReport:
    source: str
    as_at: date | None
    watched: list[Watched]
    requests: int = 0

    @property
    def changed(self) -> list[Watched]:
        return [w for w in self.watched if w.state == "changed"]

    @property
    def not_checked(self) -> list[Watched]:
        return [w for w in self.watched if w.unchecked]

    @property
    def ok(self) -> bool:
        return not self.changed and not self.not_checked

    def flagged_rules(self) -> list[str]:
        return sorted({o for w in self.changed for o in w.owners})

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "source": self.source, "as_at": self.as_at.isoformat() if self.as_at else None,
            "flagged_rules": self.flagged_rules(),
            "counts": {s: sum(1 for w in self.watched if w.state == s) for s in ("changed", "unchanged", "not_checked")},
            "provisions": [w.as_dict() for w in self.watched],
        }


def item_of(legislation: str) -> tuple[str, str | None]:
    """``ukpga/2004/31/section/11`` -> (``ukpga/2004/31``, ``section/11``)."""
    parts = legislation.split("/")
    return "/".join(parts[:3]), ("/".join(parts[3:]) or None)


def _group(cited: list[CitedProvision], acts: set[str] | None) -> dict[tuple[str, date | None], Watched]:
    grouped: dict[tuple[str, date | None], Watched] = {}
    for cp in cited:
        leg = cp.citation.legislation or ""
        if acts and item_of(leg)[0] not in acts:
            continue
        key = (leg, cp.citation.checked_on)
        w = grouped.get(key)
        if w is None:
            w = grouped[key] = Watched(leg, cp.citation.label, cp.citation.checked_on, [])
        if cp.owner not in w.owners:
            w.owners.append(cp.owner)
    return grouped


def read_feed(source: Source, item: str) -> list[Effect]:
    path: str | None = f"/changes/affected/{item}/data.feed"
    effects: list[Effect] = []
    pages = 0
    while path:
        pages += 1
        if pages > MAX_PAGES:
            raise DataUnavailable(f"the changes feed for {item} has more than {MAX_PAGES} pages")
        page = parse_changes_feed(source.get(path))
        effects.extend(page.effects)
        path = site_path(page.next_url) if page.next_url else None
    return effects


def _judge(w: Watched, effects: list[Effect], version: ProvisionVersion | None, item_uri: str) -> None:
    provision_uri = ID_BASE + w.legislation
    checked = w.checked_on
    seen: set[str] = set()
    candidates = list(effects) + (version.unapplied if version else [])
    for e in candidates:
        if not touches(e, provision_uri, item_uri):
            continue
        if e.effect_id and e.effect_id in seen:
            continue
        if e.effect_id:
            seen.add(e.effect_id)
        what = f"{e.type} ({e.affected_provisions or 'provision'}) by {e.affecting_title or e.affecting_uri or 'unknown'}"
        if e.affecting_provisions:
            what += f" {e.affecting_provisions}"
        dates = e.in_force_dates
        if e.prospective:
            w.findings.append(Finding("prospective", f"{what}: no in-force date yet (prospective)", e))
        elif checked is None or any(d > checked for d in dates):
            shown = ", ".join(d.isoformat() for d in dates)
            w.findings.append(Finding("in_force_after_check", f"{what}: in force {shown}, after checked_on", e))
        elif e.source == "unapplied" or (e.applied is False and e.requires_applied is not False):
            w.findings.append(Finding("unapplied", f"{what}: not yet applied to the text on legislation.gov.uk", e))
    if version is None:
        return
    if not version.found:
        w.unchecked.append(f"the XML for {w.legislation} does not contain the provision ({provision_uri})")
        return
    if version.status:
        w.findings.append(Finding("status", f"the provision's status is {version.status}"))
    elif not version.match:
        w.findings.append(Finding("status", "the provision is not valid at the date read (Match=\"false\")"))
    if version.restrict_start and (checked is None or version.restrict_start > checked):
        w.findings.append(Finding("status", f"the provision came into force on {version.restrict_start.isoformat()}, "
                                            "after checked_on"))
    if version.restrict_end:
        w.findings.append(Finding("status", f"the provision ends on {version.restrict_end.isoformat()}"))


def watch(bundle: Bundle, source: Source, *, as_at: date | None = None, acts: set[str] | None = None) -> WatchReport:
    """Watch every legislation citation of ``bundle`` (only the items in ``acts`` if given)."""
    watched = sorted(_group(cited_provisions(bundle), acts).values(), key=lambda w: (w.legislation, w.checked_on or date.min))
    by_item: dict[str, list[Watched]] = defaultdict(list)
    for w in watched:
        by_item[item_of(w.legislation)[0]].append(w)
    versions: dict[str, ProvisionVersion | str] = {}
    for item, group in by_item.items():
        try:
            effects = read_feed(source, item)
        except (DataUnavailable, LegislationDataError) as exc:
            for w in group:
                w.unchecked.append(f"changes feed for {item}: {exc}")
            continue
        for w in group:
            provision = item_of(w.legislation)[1]
            version: ProvisionVersion | None = None
            if provision is not None:
                if w.legislation not in versions:
                    path = f"/{w.legislation}/{as_at.isoformat()}/data.xml" if as_at else f"/{w.legislation}/data.xml"
                    try:
                        versions[w.legislation] = parse_provision(source.get(path), ID_BASE + w.legislation)
                    except (DataUnavailable, LegislationDataError) as exc:
                        versions[w.legislation] = str(exc)
                got = versions[w.legislation]
                if isinstance(got, str):
                    w.unchecked.append(f"provision XML: {got}")
                else:
                    version = got
            _judge(w, effects, version, ID_BASE + item)
    return WatchReport(getattr(source, "label", "?"), as_at, watched, getattr(source, "requests", 0))


def render_text(report: WatchReport) -> str:
    lines = [f"Law watch: {len(report.watched)} cited provision(s) from {report.source}"
             + (f", as at {report.as_at.isoformat()}" if report.as_at else "")]
    changed, unchecked = report.changed, report.not_checked
    lines.append("")
    lines.append(f"Changed since checked_on ({len(changed)}):")
    for w in changed:
        lines.append(f"  ! {w.label} <{w.legislation}> checked_on {w.checked_on}")
        lines.append(f"    rules: {', '.join(w.owners)}")
        for f in w.findings:
            lines.append(f"    - {f.message}")
    unchanged = [w for w in report.watched if w.state == "unchanged"]
    lines.append("")
    lines.append(f"Unchanged since checked_on ({len(unchanged)}):")
    for w in unchanged:
        lines.append(f"  = {w.label} <{w.legislation}> checked_on {w.checked_on}")
    lines.append("")
    lines.append(f"Not checked ({len(unchecked)}):")
    for w in unchecked:
        lines.append(f"  ? {w.label} <{w.legislation}>: {'; '.join(w.unchecked)}")
    lines.append("")
    rules = report.flagged_rules()
    verdict = "OK" if report.ok else "CHANGED" if changed else "INCOMPLETE"
    lines.append(f"{verdict}: {len(rules)} rule(s) or function(s) flagged, {len(unchecked)} provision(s) not checked")
    return "\n".join(lines) + "\n"


__all__ = ["Finding", "Watched", "WatchReport", "item_of", "read_feed", "render_text", "watch"]
