"""A decision in the W3C Data Privacy Vocabulary, as JSON-LD.

``decision_jsonld(decision)`` describes the sharing asked about as a
``dpv:PersonalDataHandling`` whose processing is ``dpv:Share``, with the outcome, the date
the law was applied as at, and, where sharing is allowed, the data protection legal bases
found (``dpv:hasLegalBasis``: the eu-gdpr extension's IRIs, or sharelaw's own for UK-only
bases, linked to DPV by ``skos:closeMatch``/``broadMatch``). Given the request too, it adds
the purpose, the data categories (``dpv-pd``), the consent state and the parties' roles.

Every IRI comes from the mapping table (``mapping.yaml``); a value the table lacks is an
error, never a guess. sharelaw's own terms used are described in the same graph.
"""

from __future__ import annotations

from typing import Any

from ..decision import Decision
from ..request import SharingRequest
from ..vocab import EffectKind, Outcome, Stage, YesNoUnknown
from .table import SKOS_LINK, Row, Table, table

STANDARD_PREFIXES = {
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
ALLOWED_OUTCOMES = (Outcome.MAY_SHARE, Outcome.MUST_SHARE)


class _Builder:
    def __init__(self, t: Table) -> None:
        self.t = t
        self.own_used: dict[str, Row] = {}

    def ref(self, kind: str, code: str) -> dict[str, str]:
        row = self.t.row(kind, code)
        if row.own:
            self.own_used[row.own] = row
        return {"@id": self.t.compact(row.iri)}

    def prop(self, code: str) -> str:
        row = self.t.row("term", code)
        if row.own:
            self.own_used[row.own] = row
        return self.t.compact(row.iri)

    def described(self) -> list[dict[str, Any]]:
        out = []
        for iri, row in sorted(self.own_used.items()):
            node: dict[str, Any] = {"@id": self.t.compact(iri), "rdfs:label": f"sharelaw {row.kind} {row.code}"}
            if row.relation in SKOS_LINK:
                link = "skos:" + SKOS_LINK[row.relation].rsplit("#", 1)[1]
                node[link] = [{"@id": self.t.compact(d)} for d in row.dpv]
            if row.note:
                node["rdfs:comment"] = row.note
            out.append(node)
        return out


def legal_bases(decision: Decision) -> list[str]:
    """The stage-4 rules that gave a legal basis, in the decision's order (each once)."""
    seen: list[str] = []
    for f in decision.findings:
        if f.stage is Stage.DATA_PROTECTION and f.effect is EffectKind.SATISFIES and f.rule_id not in seen:
            if table().find("legal_basis", f.rule_id) is not None:
                seen.append(f.rule_id)
    return seen


def decision_jsonld(decision: Decision, request: SharingRequest | None = None) -> dict[str, Any]:
    """The decision (and, if given, the request it answers) as a JSON-LD document."""
    t = table()
    b = _Builder(t)
    node: dict[str, Any] = {
        "@id": "_:decision",
        "@type": [t.compact(t.row("term", "decision_class").iri)],
        b.prop("hasProcessing"): {"@id": t.compact(t.row("term", "share").iri)},
        b.prop("outcome"): b.ref("outcome", decision.outcome.value),
        b.prop("as_at"): {"@value": decision.as_at.isoformat(), "@type": "xsd:date"},
    }
    if decision.request_id is not None:
        node[b.prop("request_id")] = decision.request_id
    if decision.outcome in ALLOWED_OUTCOMES:
        bases = [b.ref("legal_basis", rid) for rid in legal_bases(decision)]
        unique = list({x["@id"]: x for x in bases}.values())
        if unique:
            node[b.prop("hasLegalBasis")] = unique
    node[b.prop("rule")] = list(decision.decided_by)
    node[b.prop("bundle_hash")] = decision.bundle_hash
    node[b.prop("engine_version")] = decision.engine_version
    node[b.prop("dpv_version")] = t.dpv_version
    graph: list[dict[str, Any]] = [node]
    if request is not None:
        node[b.prop("hasPurpose")] = b.ref("purpose", request.purpose.value)
        node[b.prop("hasPersonalData")] = [b.ref("data_category", c.value) for c in request.data.categories]
        node[b.prop("identifiability")] = b.ref("identifiability", request.data.identifiability.value)
        node[b.prop("hasConsentStatus")] = b.ref("consent_state", request.consent.state.value)
        for role, agency in (("discloser", request.discloser), ("recipient", request.recipient)):
            party: dict[str, Any] = {"@id": f"_:{role}", "@type": [b.ref("role", role)["@id"]],
                                     b.prop("agency_kind"): b.ref("agency_kind", agency.kind.value)}
            if agency.name:
                party["rdfs:label"] = agency.name
            graph.append(party)
            node[b.prop("hasDataController" if role == "discloser" else "hasRecipient")] = {"@id": f"_:{role}"}
        subject_types = [b.ref("role", "subject")["@id"]]
        age = request.subject.age
        if isinstance(age, int) and age < 18:
            subject_types.append(b.ref("role", "child")["@id"])
        if request.subject.adult_at_risk is YesNoUnknown.YES:
            subject_types.append(b.ref("role", "adult_at_risk")["@id"])
        graph.append({"@id": "_:subject", "@type": subject_types})
        node[b.prop("hasDataSubject")] = {"@id": "_:subject"}
    graph.extend(b.described())
    context: dict[str, Any] = {**t.prefixes, **STANDARD_PREFIXES}
    return {"@context": context, "@graph": graph}


__all__ = ["decision_jsonld", "legal_bases"]
