"""The DPV mapping table (``mapping.yaml`` beside this module), loaded once.

Depends on nothing in sharelaw but the vocabulary, so that ``vocab`` can ask it (lazily)
whether an IRI in a request spells one of its values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

RELATIONS = ("exact", "close", "broad", "narrow", "none")
SKOS = "http://www.w3.org/2004/02/skos/core#"
SKOS_LINK = {"close": SKOS + "closeMatch", "broad": SKOS + "broadMatch", "narrow": SKOS + "narrowMatch"}

#: The table's kinds whose values a request may spell as an IRI, and the enum of each.
REQUEST_KINDS = {
    "purpose": "Purpose",
    "consent_state": "ConsentState",
    "data_category": "DataCategory",
    "identifiability": "Identifiability",
    "agency_kind": "AgencyKind",
}


@dataclass(frozen=True)
class Row:
    kind: str
    code: str
    relation: str
    dpv: tuple[str, ...]  # full IRIs
    own: str | None  # full IRI
    note: str | None

    @property
    def iri(self) -> str:
        """The IRI sharelaw uses for this value: DPV's own when exact, else sharelaw's."""
        if self.relation == "exact":
            return self.dpv[0]
        assert self.own is not None
        return self.own


@dataclass(frozen=True)
class Table:
    dpv_version: str
    dpv_release: str
    prefixes: dict[str, str]
    rows: tuple[Row, ...]

    def row(self, kind: str, code: str) -> Row:
        for r in self.rows:
            if r.kind == kind and r.code == code:
                return r
        raise KeyError(f"the DPV table has no row for {kind} {code!r}")

    def find(self, kind: str, code: str) -> Row | None:
        try:
            return self.row(kind, code)
        except KeyError:
            return None

    def compact(self, iri: str) -> str:
        for prefix, ns in self.prefixes.items():
            if iri.startswith(ns):
                return f"{prefix}:{iri[len(ns):]}"
        return iri

    def declared(self) -> set[str]:
        """Every IRI the table declares (DPV's and sharelaw's)."""
        out: set[str] = set()
        for r in self.rows:
            out.update(r.dpv)
            if r.own:
                out.add(r.own)
        return out


def _expand(value: str, prefixes: dict[str, str]) -> str:
    prefix, _, rest = value.partition(":")
    if prefix in prefixes:
        return prefixes[prefix] + rest
    raise ValueError(f"DPV table: {value!r} uses an undeclared prefix")


def _build(data: dict[str, Any]) -> Table:
    prefixes = {str(k): str(v) for k, v in data["prefixes"].items()}
    rows = []
    for raw in data["rows"]:
        relation = raw["relation"]
        if relation not in RELATIONS:
            raise ValueError(f"DPV table: {raw['code']}: relation {relation!r}")
        dpv = raw.get("dpv") or []
        dpv = [dpv] if isinstance(dpv, str) else dpv
        own = raw.get("own")
        if (relation == "none") != (not dpv) or (relation != "exact") != bool(own):
            raise ValueError(f"DPV table: {raw['kind']} {raw['code']}: 'dpv' and 'own' do not fit relation {relation}")
        rows.append(Row(raw["kind"], str(raw["code"]), relation, tuple(_expand(d, prefixes) for d in dpv),
                        _expand(own, prefixes) if own else None, raw.get("note")))
    return Table(str(data["dpv_version"]), str(data["dpv_release"]), prefixes, tuple(rows))


@cache
def table() -> Table:
    text = resources.files("sharelaw.dpv").joinpath("mapping.yaml").read_text(encoding="utf-8")
    return _build(yaml.safe_load(text))


@cache
def _aliases() -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for r in table().rows:
        enum = REQUEST_KINDS.get(r.kind)
        if enum is None:
            continue
        for iri in (r.iri, *((r.own,) if r.own else ())):
            key = (enum, iri)
            if key in out and out[key] != r.code:
                raise ValueError(f"DPV table: {iri} spells both {out[key]!r} and {r.code!r}")
            out[key] = r.code
    return out


def code_for_iri(enum_name: str, iri: str) -> str | None:
    """The vocabulary code a request's IRI spells (exact DPV terms and sharelaw's own IRIs)."""
    return _aliases().get((enum_name, iri))


__all__ = ["REQUEST_KINDS", "Row", "Table", "code_for_iri", "table"]
