"""Request validation: what a caller may send, and how every problem is reported."""

from __future__ import annotations

import copy
import re
from datetime import date, datetime

import pytest
from pydantic import ValidationError

from sharelaw.errors import RequestError
from sharelaw.request import SharingRequest, parse_request
from sharelaw.vocab import PUBLIC_AUTHORITY_BY_DEFAULT, AgencyKind

VALID = {
    "as_at": "2020-06-01",
    "interaction": "disclose_on_request",
    "discloser": {"kind": "nhs_trust", "legal_entity": "trust-1"},
    "recipient": {"kind": "la_childrens_social_care", "legal_entity": "council-1"},
    "subject": {"age": 10},
    "purpose": "child_protection_enquiry",
    "data": {
        "categories": ["health"],
        "identifiability": "identifiable",
        "in_confidence": "yes",
        "already_public": "no",
    },
    "consent": {"state": "not_sought"},
    "risk_of_harm": {"level": "significant_harm", "to": "subject"},
}

#: A dotted path to the field, with [n] for list positions: ``data.categories[1]``.
DOTTED = re.compile(r"^[a-z_]+(\.[a-z_]+|\[\d+\])*$")


def make(**changes) -> dict:
    """VALID with ``changes`` applied; keys are paths joined by ``__``; a value of ... deletes the key."""
    data = copy.deepcopy(VALID)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = data
        for p in parents:
            node = node.setdefault(p, {})
        if value is ...:
            node.pop(last, None)
        else:
            node[last] = value
    return data


def errors_for(data) -> RequestError:
    with pytest.raises(RequestError) as info:
        parse_request(data)
    return info.value


def locs(data) -> dict[str, str]:
    """loc -> error code for an invalid request."""
    return {e.loc: e.code for e in errors_for(data).errors}


# ---------------------------------------------------------------------- the basics


def test_valid_request_parses():
    req = parse_request(VALID)
    assert isinstance(req, SharingRequest)
    assert req.as_at == date(2020, 6, 1)
    assert req.subject.age == 10
    assert req.discloser.kind is AgencyKind.NHS_TRUST
    # defaults
    assert req.statutory_request.value == "none"
    assert req.consent.given_by.value == "none"
    assert req.subject.adult_at_risk.value == "unknown"
    assert req.assessment.necessary.value.value == "not_assessed"
    assert req.request_id is None


def test_parse_request_returns_a_request_unchanged():
    req = parse_request(VALID)
    assert parse_request(req) is req


def test_request_error_is_a_value_error_with_a_stable_code():
    err = errors_for(make(purpose="flying"))
    assert isinstance(err, ValueError)
    assert err.code == "request_invalid"
    assert err.to_dict()["code"] == "request_invalid"
    assert err.to_dict()["errors"][0]["loc"] == "purpose"


def test_a_non_mapping_is_rejected():
    err = errors_for(["not", "a", "request"])
    assert [(e.loc, e.code) for e in err.errors] == [("<request>", "type_error")]


# ---------------------------------------------------------------------- all errors at once


def test_every_error_is_listed():
    data = make(subject__age=-1, purpose="flying", colour="red")
    err = errors_for(data)
    found = {e.loc: e.code for e in err.errors}
    assert found == {"subject.age": "age_range", "purpose": "enum", "colour": "extra_forbidden"}
    assert len(err.errors) == 3
    text = str(err)
    assert "3 error(s)" in text
    assert "subject.age" in text and "purpose" in text and "colour" in text


@pytest.mark.parametrize(
    "path",
    [
        "colour",
        "discloser__colour",
        "recipient__colour",
        "subject__colour",
        "data__colour",
        "consent__colour",
        "risk_of_harm__colour",
        "assessment__colour",
        "assessment__necessary__colour",
        "assessment__public_interest__colour",
    ],
)
def test_unknown_fields_are_rejected_at_every_level(path):
    found = locs(make(**{path: "red"}))
    assert found == {path.replace("__", "."): "extra_forbidden"}


def test_every_nested_model_forbids_extra_fields_in_the_schema():
    schema = SharingRequest.model_json_schema()
    objects = [schema] + [d for d in schema["$defs"].values() if d.get("type") == "object"]
    assert len(objects) == 8  # request, agency, subject, data, consent, risk, assessment, judgement
    for obj in objects:
        assert obj.get("additionalProperties") is False, obj.get("title")


def test_every_error_loc_is_a_dotted_path():
    data = make(
        as_at="yesterday",
        interaction="shout",
        discloser__kind="martians",
        discloser__acts_as_public_authority="yes",
        recipient__legal_entity="",
        subject__age="twelve",
        data__categories=["health", "astrology", "health"],
        consent={"state": "explicit_for_this"},
        risk_of_harm={"level": "none", "to": "subject"},
        assessment={"necessary": {"value": "yes"}, "proportionate": {"value": "maybe"}},
        statutory_request="please",
        request_id=5,
    )
    err = errors_for(data)
    assert len(err.errors) >= 12
    for e in err.errors:
        assert DOTTED.match(e.loc), e.loc
    found = {e.loc for e in err.errors}
    assert {
        "as_at",
        "interaction",
        "discloser.kind",
        "discloser.acts_as_public_authority",
        "recipient.legal_entity",
        "subject.age",
        "data.categories[1]",
        "consent",
        "risk_of_harm",
        "assessment.necessary",
        "assessment.proportionate.value",
        "statutory_request",
        "request_id",
    } <= found


def test_missing_required_fields_are_named():
    found = locs(make(data=..., subject__age=..., discloser__legal_entity=...))
    assert found == {"data": "missing", "subject.age": "missing", "discloser.legal_entity": "missing"}


# ---------------------------------------------------------------------- age


def test_age_unknown_is_accepted():
    assert parse_request(make(subject__age="unknown")).subject.age == "unknown"


@pytest.mark.parametrize("age", [0, 17, 18, 130])
def test_ages_in_range_are_accepted(age):
    assert parse_request(make(subject__age=age)).subject.age == age


@pytest.mark.parametrize(
    "age, code",
    [
        (True, "age_type"),
        (False, "age_type"),
        ("12", "age_type"),
        (12.0, "age_type"),
        (12.5, "age_type"),
        (None, "age_type"),
        ("Unknown", "age_type"),
        (-1, "age_range"),
        (131, "age_range"),
    ],
)
def test_bad_ages_are_rejected(age, code):
    assert locs(make(subject__age=age)) == {"subject.age": code}


# ---------------------------------------------------------------------- dates


def test_as_at_accepts_a_date_object():
    assert parse_request(make(as_at=date(2021, 1, 1))).as_at == date(2021, 1, 1)


@pytest.mark.parametrize(
    "value",
    [
        "2020-06-01T00:00:00",
        "2020-06-01 00:00",
        "2020-06-01Z",
        "20200601",
        "01/06/2020",
        "2020-6-1",
        20200601,
        datetime(2020, 6, 1, 12, 0),
        None,
    ],
)
def test_as_at_rejects_anything_but_yyyy_mm_dd(value):
    assert locs(make(as_at=value)) == {"as_at": "date_type"}


@pytest.mark.parametrize("value", ["2023-02-30", "2021-02-29", "2020-13-01", "2020-00-10"])
def test_as_at_rejects_impossible_calendar_dates(value):
    err = errors_for(make(as_at=value))
    assert [(e.loc, e.code) for e in err.errors] == [("as_at", "date_invalid")]
    assert value in err.errors[0].message


def test_leap_day_is_a_real_date():
    assert parse_request(make(as_at="2020-02-29")).as_at == date(2020, 2, 29)


@pytest.mark.parametrize("value", ["2000-02-29", "1999-12-31", date(1990, 1, 1)])
def test_dates_before_march_2000_are_out_of_scope(value):
    err = errors_for(make(as_at=value))
    assert err.code == "request_out_of_scope"
    assert [(e.loc, e.code) for e in err.errors] == [("as_at", "out_of_scope")]
    assert "out of scope" in err.errors[0].message
    assert "out of scope" in str(err)


def test_first_day_in_scope():
    assert parse_request(make(as_at="2000-03-01")).as_at == date(2000, 3, 1)


def test_out_of_scope_wins_the_code_even_with_other_errors():
    err = errors_for(make(as_at="1999-01-01", purpose="flying"))
    assert err.code == "request_out_of_scope"
    assert {e.loc for e in err.errors} == {"as_at", "purpose"}


# ---------------------------------------------------------------------- cross-field rules


@pytest.mark.parametrize("state", ["explicit_for_this", "earlier_covering", "implied_direct_care", "refused", "withdrawn"])
def test_consent_given_refused_or_withdrawn_needs_a_giver(state):
    err = errors_for(make(consent={"state": state}))
    assert [(e.loc, e.code) for e in err.errors] == [("consent", "value_error")]
    assert "given_by" in err.errors[0].message
    assert parse_request(make(consent={"state": state, "given_by": "subject"})).consent.given_by.value == "subject"


@pytest.mark.parametrize("state", ["not_sought", "cannot_be_given", "unsafe_to_seek"])
def test_consent_not_given_has_no_giver(state):
    assert parse_request(make(consent={"state": state})).consent.given_by.value == "none"
    assert locs(make(consent={"state": state, "given_by": "parent"})) == {"consent": "value_error"}


def test_no_risk_means_nobody_at_risk():
    assert parse_request(make(risk_of_harm={"level": "none"})).risk_of_harm.to.value == "not_applicable"
    assert locs(make(risk_of_harm={"level": "none", "to": "subject"})) == {"risk_of_harm": "value_error"}


@pytest.mark.parametrize("level", ["welfare_concern", "significant_harm", "risk_to_life"])
def test_a_risk_must_say_who_is_at_risk(level):
    assert locs(make(risk_of_harm={"level": level})) == {"risk_of_harm": "value_error"}
    assert parse_request(make(risk_of_harm={"level": level, "to": "another_person"})).risk_of_harm.level.value == level


def test_unknown_risk_may_leave_the_target_open():
    req = parse_request(make(risk_of_harm={"level": "unknown"}))
    assert req.risk_of_harm.to.value == "not_applicable"


@pytest.mark.parametrize("value", ["yes", "no"])
@pytest.mark.parametrize("which", ["necessary", "proportionate", "minimum_necessary", "public_interest"])
def test_a_yes_or_no_judgement_needs_a_reason(which, value):
    err = errors_for(make(assessment={which: {"value": value}}))
    assert [(e.loc, e.code) for e in err.errors] == [(f"assessment.{which}", "value_error")]
    assert "reason" in err.errors[0].message
    assert locs(make(assessment={which: {"value": value, "reason": "   "}})) == {f"assessment.{which}": "value_error"}
    req = parse_request(make(assessment={which: {"value": value, "reason": "Because the child is at risk."}}))
    assert getattr(req.assessment, which).value.value == value


def test_not_assessed_needs_no_reason():
    req = parse_request(make(assessment={"necessary": {"value": "not_assessed"}}))
    assert req.assessment.necessary.reason == ""


def test_data_categories_must_be_given_and_must_not_repeat():
    assert locs(make(data__categories=[])) == {"data.categories": "too_short"}
    assert locs(make(data__categories=["health", "health"])) == {"data.categories": "value_error"}


# ---------------------------------------------------------------------- immutability


def test_requests_are_frozen():
    req = parse_request(VALID)
    with pytest.raises(ValidationError):
        req.purpose = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        req.subject.age = 40  # type: ignore[misc]
    with pytest.raises(ValidationError):
        req.assessment.necessary.value = "yes"  # type: ignore[misc]
    assert isinstance(req.data.categories, tuple)
    assert req.subject.age == 10


def test_requests_are_hashable_and_compare_by_value():
    a, b = parse_request(VALID), parse_request(copy.deepcopy(VALID))
    assert a == b and hash(a) == hash(b)
    assert a != parse_request(make(purpose="early_help"))


# ---------------------------------------------------------------------- public authority


@pytest.mark.parametrize("kind", list(AgencyKind))
def test_public_authority_defaults_from_the_agency_kind(kind):
    req = parse_request(make(discloser__kind=kind.value))
    assert req.discloser.acts_as_public_authority is None
    assert req.discloser.public_authority is PUBLIC_AUTHORITY_BY_DEFAULT[kind]


def test_public_authority_default_examples():
    assert parse_request(make(discloser__kind="la_housing")).discloser.public_authority is True
    assert parse_request(make(discloser__kind="housing_association")).discloser.public_authority is False
    assert parse_request(make(discloser__kind="private_company")).discloser.public_authority is False


def test_public_authority_can_be_overridden():
    private = make(discloser__kind="housing_association", discloser__acts_as_public_authority=True)
    assert parse_request(private).discloser.public_authority is True
    council = make(recipient__kind="la_other", recipient__acts_as_public_authority=False)
    assert parse_request(council).recipient.public_authority is False


def test_public_authority_override_must_be_a_real_boolean():
    assert locs(make(discloser__acts_as_public_authority="yes")) == {"discloser.acts_as_public_authority": "bool_type"}
    assert locs(make(discloser__acts_as_public_authority=1)) == {"discloser.acts_as_public_authority": "bool_type"}


# ---------------------------------------------------------------------- schema and round trip


def test_json_schema_lists_every_top_level_field():
    schema = SharingRequest.model_json_schema()
    assert set(schema["properties"]) == set(SharingRequest.model_fields)
    assert set(schema["properties"]) == {
        "as_at",
        "interaction",
        "discloser",
        "recipient",
        "subject",
        "purpose",
        "data",
        "consent",
        "risk_of_harm",
        "statutory_request",
        "assessment",
        "protocols",
        "request_id",
    }
    assert set(schema["required"]) == {
        "as_at",
        "interaction",
        "discloser",
        "recipient",
        "subject",
        "purpose",
        "data",
        "consent",
        "risk_of_harm",
    }
    assert schema["additionalProperties"] is False
    assert schema["properties"]["as_at"]["type"] == "string"
    assert schema["properties"]["as_at"]["format"] == "date"
    age = schema["$defs"]["Subject"]["properties"]["age"]
    assert {"const": "unknown"} in age["anyOf"]
    purposes = schema["$defs"]["Purpose"]["enum"]
    assert "child_protection_enquiry" in purposes and "other" in purposes


RICH = make(
    as_at="2021-01-01",
    request_id="case-42",
    discloser={"kind": "housing_association", "legal_entity": "ha-1", "name": "Homes Ltd", "acts_as_public_authority": True},
    subject={"age": "unknown", "adult_at_risk": "yes", "capacity": "no"},
    data={
        "categories": ["health", "criminal_offence", "identity_contact"],
        "identifiability": "pseudonymised",
        "in_confidence": "unknown",
        "already_public": "no",
    },
    consent={"state": "refused", "given_by": "attorney_or_deputy"},
    risk_of_harm={"level": "risk_to_life", "to": "another_person"},
    statutory_request="police_request",
    assessment={
        "necessary": {"value": "yes", "reason": "No other way to protect the neighbour."},
        "public_interest": {"value": "no", "reason": "Not yet weighed."},
    },
)


@pytest.mark.parametrize("data", [VALID, RICH], ids=["minimal", "rich"])
def test_json_round_trip(data):
    req = parse_request(data)
    dumped = req.model_dump(mode="json")
    assert dumped["as_at"] == data["as_at"]
    again = parse_request(dumped)
    assert again == req
    assert again.model_dump(mode="json") == dumped


def test_json_round_trip_through_text():
    req = parse_request(RICH)
    assert SharingRequest.model_validate_json(req.model_dump_json()) == req


def test_every_bad_field_is_named_even_with_cross_field_checks():
    """Issue 10 item 4: a cross-part check (who may decide for whom) and a repeated category
    are reported alongside other bad fields, not only once those are fixed."""
    import json
    from pathlib import Path

    example = json.loads((Path(__file__).parent.parent / "examples" / "01-council-health-data-to-marketing-company.json").read_text("utf-8"))
    req = example.get("request", example)
    req = json.loads(json.dumps(req))
    req["purpose"] = "nonsense"
    req["subject"] = {"age": 10}
    req["consent"] = {"state": "explicit_for_this", "given_by": "welfare_attorney"}
    req["data"]["identifiability"] = "bad"
    req["data"]["categories"] = ["health", "health"]
    with pytest.raises(RequestError) as exc:
        parse_request(req)
    found = {(e.loc, e.code) for e in exc.value.errors}
    assert ("purpose", "enum") in found and ("data.identifiability", "enum") in found
    assert ("data.categories", "value_error") in found
    assert any(e.loc == "<request>" and "welfare_attorney" in e.message for e in exc.value.errors)
    # the cross-part check is not run on a field that is itself bad
    req["subject"] = {"age": "ten"}
    with pytest.raises(RequestError) as exc:
        parse_request(req)
    assert not any("welfare_attorney" in e.message for e in exc.value.errors)
