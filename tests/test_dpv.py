"""DPV JSON-LD (issue 15 part 2): the six examples parse as RDF (rdflib, offline), every IRI
they use is declared by the mapping table, every DPV IRI in the table exists in the vendored
DPV release the table names, and requests may spell values as the same IRIs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rdflib import RDF, BNode, Graph, Literal, URIRef

from sharelaw import default_engine
from sharelaw.cli import main
from sharelaw.dpv import decision_jsonld, table
from sharelaw.dpv.jsonld import STANDARD_PREFIXES
from sharelaw.errors import RequestError
from sharelaw.request import SharingRequest
from sharelaw.rules.bundle import Bundle
from sharelaw.vocab import ConsentState, DataCategory, EffectKind, Purpose, Stage

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("0*.json"))
RELEASE = ROOT / "tests" / "fixtures" / "dpv" / table().dpv_version


@pytest.fixture(scope="module")
def release() -> Graph:
    g = Graph()
    for name in ("dpv.ttl", "eu-gdpr.ttl", "pd.ttl"):
        g.parse(RELEASE / name, format="turtle")
    return g


@pytest.fixture(scope="module")
def documents() -> list[tuple[str, dict]]:
    engine = default_engine()
    out = []
    for path in EXAMPLES:
        request = SharingRequest.model_validate_json(path.read_text())
        out.append((path.name, decision_jsonld(engine.decide(request), request)))
    return out


def test_there_are_six_examples():
    assert len(EXAMPLES) == 6


def test_every_dpv_iri_in_the_table_exists_in_the_release_it_names(release):
    t = table()
    assert t.dpv_release.endswith(t.dpv_version)
    dpv_namespaces = [ns for p, ns in t.prefixes.items() if p != "sl"]
    dpv_iris = {i for i in t.declared() if any(i.startswith(ns) for ns in dpv_namespaces)}
    assert len(dpv_iris) > 40
    missing = sorted(i for i in dpv_iris if (URIRef(i), RDF.type, None) not in release)
    assert missing == []


def test_the_table_covers_the_vocabulary_and_every_stage4_legal_basis():
    t = table()
    for kind, enum in (("purpose", Purpose), ("consent_state", ConsentState), ("data_category", DataCategory)):
        assert {r.code for r in t.rows if r.kind == kind} == {m.value for m in enum}, kind
    bundle = Bundle.load(ROOT / "rulesets")
    bases = {r.id for r in bundle.by_stage[Stage.DATA_PROTECTION] if r.effect.kind is EffectKind.SATISFIES
             and set(r.requirements) & {"art6_basis", "art9_condition", "art10_condition", "part3_lawful",
                                        "part3_sensitive", "sch2_condition", "sch3_condition"}}
    assert bases == {r.code for r in t.rows if r.kind == "legal_basis"}
    none = [r for r in t.rows if r.relation == "none"]
    assert none and all(not r.dpv for r in none)  # "no DPV term" is said, not forced


def test_the_jsonld_of_every_example_parses_and_uses_only_declared_iris(documents, release):
    declared = table().declared() | set(STANDARD_PREFIXES.values())
    standard = tuple(STANDARD_PREFIXES.values()) + (str(RDF),)
    for name, doc in documents:
        g = Graph().parse(data=json.dumps(doc), format="json-ld")
        assert len(g) > 10, name
        used = {n for triple in g for n in triple if isinstance(n, URIRef)}
        unknown = sorted(str(u) for u in used if str(u) not in declared and not str(u).startswith(standard))
        assert unknown == [], name
        decision = next(g.subjects(RDF.type, URIRef("https://w3id.org/dpv#PersonalDataHandling")))
        assert isinstance(decision, BNode)
        assert (decision, URIRef("https://w3id.org/dpv#hasProcessing"), URIRef("https://w3id.org/dpv#Share")) in g
        # every DPV term used, directly or through a skos link, is in the release
        for u in used:
            if str(u).startswith(("https://w3id.org/dpv#", "https://w3id.org/dpv/")):
                assert (u, RDF.type, None) in release, (name, u)


def _by_id(doc: dict) -> dict[str, dict]:
    return {n["@id"]: n for n in doc["@graph"]}


def test_legal_bases_consent_and_data_categories_come_out_as_dpv_terms(documents):
    docs = dict(documents)
    hospital = _by_id(docs["05-hospital-assists-s47-enquiry.json"])["_:decision"]
    bases = [b["@id"] for b in hospital["dpv:hasLegalBasis"]]
    assert bases == ["eu-gdpr:A6-1-c", "eu-gdpr:A6-1-e", "sl:DPA2018-Sch1-P6", "sl:DPA2018-Sch1-P18"]
    p18 = _by_id(docs["05-hospital-assists-s47-enquiry.json"])["sl:DPA2018-Sch1-P18"]
    assert p18["skos:broadMatch"] == [{"@id": "eu-gdpr:A9-2-g"}]  # a UK-only basis, linked
    withdrawn = _by_id(docs["03-withdrawn-consent-was-the-only-basis.json"])["_:decision"]
    assert withdrawn["dpv:hasConsentStatus"] == {"@id": "dpv:ConsentWithdrawn"}
    assert "dpv:hasLegalBasis" not in withdrawn  # must not share: no basis is claimed
    assert {"@id": "pd:MentalHealth"} in withdrawn["dpv:hasPersonalData"]
    assert {"@id": "pd:Financial"} in withdrawn["dpv:hasPersonalData"]


def test_decide_format_jsonld_prints_the_document(capsys):
    code = main(["decide", "--format", "jsonld", str(EXAMPLES[2])])
    out = capsys.readouterr().out
    assert code == 0
    doc = json.loads(out)
    assert _by_id(doc)["_:decision"]["sl:outcome"] == {"@id": "sl:outcome-must_not_share"}
    assert Graph().parse(data=out, format="json-ld")


def test_a_request_may_spell_values_as_the_same_iris():
    plain = json.loads(EXAMPLES[2].read_text())
    spelled = json.loads(json.dumps(plain))
    spelled["consent"]["state"] = "https://w3id.org/dpv#ConsentWithdrawn"
    spelled["data"]["categories"] = ["urn:sharelaw:ns:data-identity_contact", "https://w3id.org/dpv/pd#Financial",
                                     "https://w3id.org/dpv/pd#MentalHealth"]
    spelled["purpose"] = "urn:sharelaw:ns:purpose-early_help"
    spelled["discloser"]["kind"] = "urn:sharelaw:ns:agency-voluntary_organisation"
    a, b = SharingRequest.model_validate(plain), SharingRequest.model_validate(spelled)
    assert a == b
    engine = default_engine()
    assert engine.decide(a).model_dump() == engine.decide(b).model_dump()


def test_an_iri_that_is_not_an_exact_spelling_is_refused_naming_the_field():
    from sharelaw.engine.pipeline import validate_request

    bad = json.loads(EXAMPLES[2].read_text())
    bad["data"]["categories"] = ["https://w3id.org/dpv/pd#Health", "https://w3id.org/dpv/pd#Sexual"]  # broad only
    bad["consent"]["state"] = "https://w3id.org/dpv#ConsentGiven"  # broader than any one state
    with pytest.raises(RequestError) as caught:
        validate_request(bad)
    errors = {e.loc: e for e in caught.value.errors}
    assert set(errors) == {"data.categories[1]", "consent.state"}, errors  # pd:Health is exact: accepted
    assert all(e.code == "enum" for e in errors.values())
