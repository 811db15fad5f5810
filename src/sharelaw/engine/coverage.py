"""Protocol coverage: which local protocols a request considers, and whether each covers it.

docs/decision-semantics.md §18. A protocol covers a request when it is in force, both
parties are signed partners of the kinds named, and the purpose and action are among
those it lists (``cover``); after stage 1, also only if the power relied on is one the
protocol relies on (``check_powers``). Only then do its practices fire. A protocol that
does not cover the request is reported with every gap and the clause that says so
(rendered as findings by ``engine/render.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ..errors import FieldError, RequestError
from ..request import Agency, SharingRequest
from ..rules.bundle import Bundle
from ..rules.model import Protocol
from .combine import StageRun, bases

__all__ = ["Cover", "check_powers", "cover", "covers", "signed_as"]


@dataclass
class Cover:
    """One protocol considered for a request, and why it does (not) cover the sharing."""

    protocol: Protocol
    named: bool
    facts: dict[str, object]
    gaps: list[tuple[str, str, str]] = field(default_factory=list)  # (code, clause, text)

    @property
    def covers(self) -> bool:
        return not self.gaps


def signed_as(p: Protocol, agency: Agency, day: date) -> bool:
    partner = p.partner_for(agency.legal_entity)
    return partner is not None and partner.signed_on(day) and agency.kind in partner.kinds


def covers(bundle: Bundle, req: SharingRequest) -> list[Cover]:
    """The protocols to consider: those the request names, else those either party signed."""
    protocols = bundle.protocols
    if not protocols and req.protocols is None:
        return []
    if req.protocols is None:
        # Every protocol in force that either party has signed: it covers the sharing, or
        # the decision says why not (e.g. the other party has not signed).
        chosen = [
            (p, False) for p in protocols.values()
            if p.in_force.covers(req.as_at)
            and any(signed_as(p, a, req.as_at) for a in (req.discloser, req.recipient))
        ]
    else:
        unknown = [
            FieldError(f"protocols[{i}]", f"no protocol '{pid}' in the rules (known: {', '.join(sorted(protocols)) or 'none'})", "unknown_protocol")
            for i, pid in enumerate(req.protocols) if pid not in protocols
        ]
        if unknown:
            raise RequestError(unknown)
        chosen = [(protocols[pid], True) for pid in dict.fromkeys(req.protocols)]
    return [cover(p, named, req) for p, named in chosen]


def cover(p: Protocol, named: bool, req: SharingRequest) -> Cover:
    """Whether ``p`` covers the request before stage 1 is known: dates, partners, purpose, action."""
    c = Cover(p, named, {})
    day = req.as_at
    if not p.in_force.covers(day):
        until = f" to {p.in_force.end.isoformat()}" if p.in_force.end else ""
        c.gaps.append(("not_in_force", p.purpose_clause, f"{p.label} is in force from {p.in_force.start.isoformat()}{until}, not on {day.isoformat()}."))
    for role, agency in (("discloser", req.discloser), ("recipient", req.recipient)):
        who = agency.name or f"the {agency.kind.label}"
        partner = p.partner_for(agency.legal_entity)
        if partner is None:
            c.gaps.append((f"{role}_not_partner", p.partners_clause, f"{who} ({agency.legal_entity}) is not a partner to the protocol."))
            continue
        clause = partner.clause or p.partners_clause
        c.facts[f"partner.{role}"] = partner.id
        if agency.kind.value not in [k.value for k in partner.kinds]:
            kinds = ", ".join(k.label for k in partner.kinds)
            c.gaps.append((f"{role}_kind", clause, f"{partner.name} is a partner only as {kinds}, not as {agency.kind.label}."))
        if partner.signed is None or partner.signed > day:
            when = f" by {day.isoformat()} (it signed on {partner.signed.isoformat()})" if partner.signed else ""
            c.gaps.append((f"{role}_not_signed", clause, f"{partner.name} had not signed the protocol{when}." if when else f"{partner.name} has not signed the protocol."))
        elif partner.withdrawn is not None and partner.withdrawn <= day:
            c.gaps.append((f"{role}_withdrawn", clause, f"{partner.name} withdrew from the protocol on {partner.withdrawn.isoformat()}."))
    if req.purpose.value not in p.purposes:
        c.gaps.append(("purpose", p.purpose_clause, f"the protocol does not cover sharing for {req.purpose.label}."))
    if req.interaction.value not in p.interactions:
        c.gaps.append(("interaction", p.purpose_clause, f"the protocol does not cover {req.interaction.label}."))
    return c


def check_powers(bundle: Bundle, found_covers: list[Cover], vires: StageRun) -> None:
    """After stage 1: a protocol covers only sharing on a power it relies on."""
    found = {b.rule_id for b in bases(vires)}
    for c in found_covers:
        if not c.covers:
            continue
        listed = {ref.rule for ref in c.protocol.powers}
        if not found:
            c.gaps.append((
                "powers", c.protocol.powers_clause,
                "no power to share was found, and the protocol covers only sharing on the powers it lists.",
            ))
        elif not found & listed:
            names = ", ".join(bundle.rules[r].title for r in sorted(found))
            c.gaps.append((
                "powers", c.protocol.powers_clause,
                f"the power relied on ({names}) is not one the protocol relies on.",
            ))
