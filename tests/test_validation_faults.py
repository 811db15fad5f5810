"""A fault inside request validation is an ``EngineError`` (issue 10, item 15): never a raw
exception, and never a "request invalid" verdict that blames the caller for the fault.

Faults are injected at the two places request validation calls out at run time: the
cross-field check a model validator calls (``_giver_age_problem``), and the translation of
pydantic's errors (``errors_from_validation``). A ``ValueError`` a validator raises itself
is the caller's bad input; one raised by something it called is a fault, which pydantic
would otherwise have turned into a field error.
"""

from __future__ import annotations

import copy
import json

import pytest

import sharelaw
import sharelaw.request as request_module
from sharelaw.cli import main
from sharelaw.engine.pipeline import Engine, validate_request
from sharelaw.errors import EngineError, RequestError

REQUEST = {
    "as_at": "2026-06-01",
    "interaction": "offer",
    "discloser": {"kind": "maintained_school", "legal_entity": "st-marys-primary"},
    "recipient": {"kind": "la_childrens_social_care", "legal_entity": "northshire-council"},
    "subject": {"age": 7, "capacity": "no"},
    "purpose": "child_protection_enquiry",
    "data": {"categories": ["education_record", "health"], "identifiability": "identifiable",
             "in_confidence": "yes", "already_public": "no"},
    "consent": {"state": "unsafe_to_seek"},
    "risk_of_harm": {"level": "significant_harm", "to": "subject"},
}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(evaluator="reference")


def boom(exc: BaseException):
    def fake(*args, **kwargs):
        raise exc

    return fake


FAULTS = [RuntimeError("boom"), TypeError("boom"), KeyError("boom"), ValueError("boom"), AssertionError("boom"),
          RecursionError("boom"), MemoryError()]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: type(f).__name__)
def test_a_fault_in_a_validator_is_an_engine_error(engine, monkeypatch, fault):
    monkeypatch.setattr(request_module, "_giver_age_problem", boom(fault))
    for call in (engine.decide, engine.fired, validate_request, sharelaw.decide):
        with pytest.raises(EngineError) as info:
            call(copy.deepcopy(REQUEST))
        assert not isinstance(info.value, RequestError)
        assert "validating the request" in str(info.value)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: type(f).__name__)
def test_a_fault_while_reporting_bad_input_is_an_engine_error(engine, monkeypatch, fault):
    monkeypatch.setattr(request_module, "errors_from_validation", boom(fault))
    bad = dict(REQUEST, purpose="flying_a_kite")
    with pytest.raises(EngineError):
        engine.decide(bad)


def test_a_validator_saying_the_input_is_bad_is_still_a_request_error(engine):
    # given_by must be 'none' when consent was not sought: request.py's own ValueError
    bad = copy.deepcopy(REQUEST)
    bad["consent"] = {"state": "unsafe_to_seek", "given_by": "parent"}
    with pytest.raises(RequestError) as info:
        engine.decide(bad)
    assert "given_by" in str(info.value)
    with pytest.raises(RequestError):
        engine.decide(dict(REQUEST, purpose="flying_a_kite"))
    with pytest.raises(RequestError):
        engine.decide(dict(REQUEST, as_at="2026-02-30"))
    with pytest.raises(RequestError):
        engine.decide(["not", "a", "mapping"])


def test_the_cli_says_internal_error_exit_1_and_prints_no_decision(tmp_path, capsys, monkeypatch):
    path = tmp_path / "request.json"
    path.write_text(json.dumps(REQUEST), encoding="utf-8")
    monkeypatch.setattr(request_module, "_giver_age_problem", boom(ValueError("boom")))
    assert main(["decide", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "internal error" in err and "validating the request" in err
    assert "request_invalid" not in err
