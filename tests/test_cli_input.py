"""Request input at the command line fails closed (issue 10, inputs): whatever arrives on a
file or on standard input is either decided as written or refused with every problem named,
exit 2, and no decision on stdout."""

from __future__ import annotations

import io
import json
from pathlib import Path
import sys

import pytest

from sharelaw.cli import main

REQUEST_TEXT = """{
  "as_at": "2022-06-01",
  "interaction": "disclose_on_request",
  "discloser": {"kind": "nhs_trust", "legal_entity": "rh-trust"},
  "recipient": {"kind": "la_childrens_social_care", "legal_entity": "city-council"},
  "subject": {"age": 9, "capacity": "unknown"},
  "purpose": "child_protection_enquiry",
  "data": {"categories": ["health", "identity_contact"], "identifiability": "identifiable",
           "in_confidence": "yes", "already_public": "no"},
  "consent": {"state": "unsafe_to_seek"},
  "risk_of_harm": {"level": "significant_harm", "to": "subject"},
  "statutory_request": "s47_enquiry",
  "request_id": "case-42"
}"""
REQUEST = json.loads(REQUEST_TEXT)


class _Stdin(io.TextIOWrapper):
    """Standard input carrying exactly these bytes, as a real one does."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8")


def decide(capsys, monkeypatch, tmp_path, data: bytes, via: str, *extra: str) -> tuple[int, str, str]:
    if via == "stdin":
        monkeypatch.setattr(sys, "stdin", _Stdin(data))
        name = "-"
    else:
        path = tmp_path / "request.json"
        path.write_bytes(data)
        name = str(path)
    code = main(["decide", name, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def assert_no_decision(out: str) -> None:
    assert '"outcome"' not in out and "bundle_hash" not in out
    assert not any(o in out for o in ("MUST SHARE", "MAY SHARE", "MUST NOT SHARE", "REFER:"))


VIA = ["file", "stdin"]


# ---------------------------------------------------------------------- item 3: duplicate keys


@pytest.mark.parametrize("via", VIA)
def test_a_duplicated_as_at_is_refused_not_decided_under_the_second_date(capsys, monkeypatch, tmp_path, via):
    """Last-one-wins would decide under 1 January 2021 a request its author dated 2022."""
    text = REQUEST_TEXT.replace('"as_at": "2022-06-01",', '"as_at": "2022-06-01", "as_at": "2021-01-01",')
    code, out, err = decide(capsys, monkeypatch, tmp_path, text.encode(), via, "--format", "json")
    assert code == 2, err
    report = json.loads(out)
    assert report["code"] == "request_duplicate_key"
    assert [(e["loc"], e["code"]) for e in report["errors"]] == [("as_at", "duplicate_key")]
    assert "as_at" in err and "more than once" in err
    assert_no_decision(out)


@pytest.mark.parametrize("via", VIA)
def test_every_duplicated_key_is_named_where_it_is(capsys, monkeypatch, tmp_path, via):
    text = (
        REQUEST_TEXT
        .replace('"kind": "nhs_trust",', '"kind": "nhs_trust", "kind": "police",')
        .replace('"purpose": "child_protection_enquiry",', '"purpose": "child_protection_enquiry", "purpose": "early_help",')
        .replace('"in_confidence": "yes",', '"in_confidence": "yes", "in_confidence": "no", "in_confidence": "yes",')
    )
    code, out, err = decide(capsys, monkeypatch, tmp_path, text.encode(), via)
    assert code == 2
    assert out == ""
    lines = [line for line in err.splitlines() if "[duplicate_key]" in line]
    assert sorted(line.split(":")[0] for line in lines) == ["data.in_confidence", "discloser.kind", "purpose"]


def test_a_key_repeated_inside_a_list_is_named_with_its_index(capsys, monkeypatch, tmp_path):
    data = dict(REQUEST, protocols=["x"])
    text = json.dumps(data).replace('"protocols": ["x"]', '"protocols": [{"a": 1, "a": 2}]')
    code, out, err = decide(capsys, monkeypatch, tmp_path, text.encode(), "file")
    assert code == 2
    assert "protocols[0].a: " in err and "[duplicate_key]" in err


@pytest.mark.parametrize("via", VIA)
def test_the_same_request_without_the_duplicate_is_decided(capsys, monkeypatch, tmp_path, via):
    code, out, err = decide(capsys, monkeypatch, tmp_path, REQUEST_TEXT.encode(), via, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["outcome"] in {"must_share", "may_share", "must_not_share", "refer"}


# ---------------------------------------------------------------------- item 6: encodings

#: A name with letters outside ASCII, so that a wrong decoding shows in the decision.
NAMED_TEXT = REQUEST_TEXT.replace('"legal_entity": "rh-trust"', '"legal_entity": "rh-trust", "name": "Zoë’s Trust — Ålesund"')
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]


def _encoded(text: str, encoding: str, bom: bool = False) -> bytes:
    data = text.encode(encoding)
    if bom and encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        data = "\ufeff".encode(encoding) + data  # a BOM written by hand, in the stated byte order
    return data


@pytest.fixture(scope="module")
def expected_decision():
    from sharelaw import decide as decide_api

    return decide_api(json.loads(NAMED_TEXT)).model_dump(mode="json")


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("bom", [False, True], ids=["", "bom"])
def test_every_json_encoding_decides_the_same_from_a_file_and_from_stdin(
    capsys, monkeypatch, tmp_path, expected_decision, via, encoding, bom
):
    data = _encoded(NAMED_TEXT, encoding, bom)
    code, out, err = decide(capsys, monkeypatch, tmp_path, data, via, "--format", "json")
    assert code == 0, err
    assert json.loads(out) == expected_decision
    assert "Zoë’s Trust — Ålesund" in out


@pytest.mark.parametrize("via", VIA)
def test_bytes_that_are_not_text_are_the_same_error_from_a_file_and_from_stdin(capsys, monkeypatch, tmp_path, via):
    data = REQUEST_TEXT.replace("rh-trust", "rh-\xff-trust").encode("latin-1")  # not UTF-8
    code, out, err = decide(capsys, monkeypatch, tmp_path, data, via, "--format", "json")
    assert code == 2
    report = json.loads(out)
    assert report["code"] == "request_not_json"
    assert report["errors"][0]["code"] == "json_invalid"
    assert "not utf-8 text" in report["errors"][0]["message"]


def test_a_text_stream_on_stdin_with_a_bom_is_decided(capsys, monkeypatch, expected_decision):
    """An embedding caller that hands main() a text stream (no .buffer) gets the same."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("\ufeff" + NAMED_TEXT))
    code = main(["decide", "-", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out) == expected_decision


def test_utf16_on_the_real_stdin_of_the_command(expected_decision):
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "sharelaw", "decide", "-", "--format", "json"],
        input=NAMED_TEXT.encode("utf-16"), capture_output=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    assert json.loads(proc.stdout.decode("utf-8")) == expected_decision


# ---------------------------------------------------------------------- item 5: bounded error output


def _many_bad_categories(n: int) -> bytes:
    data = json.loads(REQUEST_TEXT)
    data["data"]["categories"] = ["x"] * n
    return json.dumps(data).encode()


@pytest.mark.parametrize("via", VIA)
def test_a_request_with_100000_bad_entries_lists_100_and_counts_the_rest(capsys, monkeypatch, tmp_path, via):
    code, out, err = decide(capsys, monkeypatch, tmp_path, _many_bad_categories(100_000), via, "--format", "json")
    assert code == 2
    report = json.loads(out)
    assert report["code"] == "request_invalid"
    count = report["count"]
    assert count >= 100_000  # one per bad entry, and any cross-field error
    assert len(report["errors"]) == 100
    assert report["errors"][0]["loc"] == "data.categories[0]"
    lines = err.splitlines()
    assert lines[0] == f"error: request_invalid: {count} error(s) in the request"
    assert lines[-1] == f"... and {count - 100} more error(s) not listed"
    assert len(lines) == 102 and len(err) < 60_000  # was 27 MB


@pytest.mark.parametrize("via", VIA)
def test_two_million_bad_entries_are_refused_before_validation(capsys, monkeypatch, tmp_path, via):
    """Validating them would take some 4 GB (pydantic); the input bound refuses them at once."""
    import time

    started = time.perf_counter()
    code, out, err = decide(capsys, monkeypatch, tmp_path, _many_bad_categories(2_000_000), via, "--format", "json")
    assert code == 2
    assert time.perf_counter() - started < 5
    report = json.loads(out)
    assert report["code"] == "request_too_large"
    assert [e["code"] for e in report["errors"]] == ["too_large"]
    assert len(err) < 1000


def test_an_endless_request_file_is_refused_not_read_for_ever(capsys):
    code = main(["decide", "/dev/zero"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "request_too_large" in err


def test_the_request_error_message_is_bounded_for_python_callers():
    import sharelaw
    from sharelaw.errors import RequestError

    data = json.loads(REQUEST_TEXT)
    data["data"]["categories"] = ["nope"] * 5000
    with pytest.raises(RequestError) as info:
        sharelaw.decide(data)
    total = len(info.value.errors)
    assert total >= 5000  # every error is still there for the caller
    message = str(info.value)
    assert message.count("\n") == 101 and message.endswith(f"... and {total - 100} more error(s) not listed")
    assert info.value.to_dict()["count"] == total and len(info.value.to_dict()["errors"]) == 100


# ---------------------------------------------------------------------- item 9: option values


@pytest.mark.parametrize(
    "argv, option",
    [
        (["rules", "diff", "--from", "0001-01-01", "--to", "2026-01-01"], "--from"),
        (["rules", "diff", "--from", "2026-01-01", "--to", "1999-12-31"], "--to"),
        (["prove", "--as-at", "1999-12-31"], "--as-at"),
        (["prove", "--examples", "-3"], "--examples"),
        (["prove", "--examples", "0"], "--examples"),
        (["prove", "--examples", "10000000000"], "--examples"),
        (["prove", "--max-classes", "-1"], "--max-classes"),
        (["prove", "--budget", "nan"], "--budget"),
        (["prove", "--budget", "inf"], "--budget"),
        (["prove", "--budget", "-inf"], "--budget"),
        (["prove", "--budget", "0"], "--budget"),
        (["prove", "--budget", "-1"], "--budget"),
        (["prove", "--budget", "1e308"], "--budget"),
    ],
)
def test_option_values_out_of_range_are_usage_errors(capsys, argv, option):
    """Exit 2 naming the option, never a traceback (internal error, exit 1) or a run without end."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    assert f"argument {option}:" in err
    assert "internal error" not in err and "Traceback" not in err


def test_the_first_day_in_scope_is_accepted(capsys):
    assert main(["rules", "diff", "--from", "2000-03-01", "--to", "2000-03-02"]) == 0
    capsys.readouterr()


# ---------------------------------------------------------------------- item 8: audit act and audit record

def _item8_log(tmp_path):
    from sharelaw.audit import AuditLog

    path = tmp_path / "log.db"
    example = Path(__file__).resolve().parent.parent / "examples" / "05-hospital-assists-s47-enquiry.json"
    assert main(["audit", "record", "--log", str(path), "--agency", "a", "--role", "r", str(example)]) == 0
    with AuditLog.open(str(path), create=False) as log:
        return path, example, next(r.decision_id for r in log if r.kind == "decision")


_GOOD_ACTION = {"outcome": "shared", "at": "2026-06-01T10:15:00+01:00", "form": "telephone",
                "consent": "not_obtained", "reasons": "Significant harm."}


@pytest.mark.parametrize("case", ["deep", "too_late", "too_early", "empty_agency", "blank_role", "duplicate_key"])
def test_audit_act_usage_errors_name_the_field(case, tmp_path, capsys):
    path, _example, decision_id = _item8_log(tmp_path)
    capsys.readouterr()
    action_file = tmp_path / "action.json"
    agency, role = "a", "r"
    text = json.dumps(_GOOD_ACTION)
    if case == "deep":
        text = "[" * 100_000 + "]" * 100_000
    elif case == "too_late":
        text = json.dumps({**_GOOD_ACTION, "at": "9999-12-31T23:59:59-14:00"})
    elif case == "too_early":
        text = json.dumps({**_GOOD_ACTION, "at": "0001-01-01T00:00:00+14:00"})
    elif case == "empty_agency":
        agency = ""
    elif case == "blank_role":
        role = "   "
    elif case == "duplicate_key":
        text = text.replace('"outcome": "shared"', '"outcome": "withheld", "outcome": "shared"')
    action_file.write_text(text, "utf-8")
    code = main(["audit", "act", str(path), decision_id, str(action_file), "--agency", agency, "--role", role])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "internal error" not in err and "Traceback" not in err
    named = {"deep": "not valid JSON", "too_late": "at:", "too_early": "at:", "empty_agency": "--agency",
             "blank_role": "--role", "duplicate_key": "outcome"}[case]
    assert named in err, err


def test_audit_record_with_an_empty_agency_is_a_usage_error(tmp_path, capsys):
    path, example, _ = _item8_log(tmp_path)
    capsys.readouterr()
    code = main(["audit", "record", "--log", str(path), "--agency", "", "--role", "r", str(example)])
    err = capsys.readouterr().err
    assert code == 2 and "--agency" in err and "internal error" not in err
