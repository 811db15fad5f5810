"""Issue 14: the toolchain a rule author and an integrator expect. Each test reproduces one
point a new user tripped over (they failed before the fix)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sharelaw.cli import main
from sharelaw.rules.bundle import default_ruleset_dir

REQUEST = {
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
    "request_id": "case-42",
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def request_file(tmp_path: Path) -> Path:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(REQUEST), encoding="utf-8")
    return path


@pytest.fixture
def national_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(default_ruleset_dir() / "national", target)
    return target


# --- item 1: --rules no longer swallows the request file ------------------------------------

def test_rules_before_the_request_file_decides(capsys, request_file, national_copy):
    code, out, err = run(capsys, "decide", "--rules", str(national_copy), str(request_file), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["outcome"] in {"must_share", "may_share", "must_not_share", "refer"}


def test_rules_is_repeatable(capsys, request_file, national_copy, tmp_path):
    files = sorted(national_copy.glob("*.yaml"))
    argv = ["decide", str(request_file), "--format", "json"]
    for f in files:
        argv += ["--rules", str(f)]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    from sharelaw import Bundle

    assert json.loads(out)["bundle_hash"] == Bundle.load(national_copy).content_hash


def test_rules_list_still_takes_several_paths_after_one_option(capsys, national_copy):
    files = sorted(str(f) for f in national_copy.glob("*.yaml"))
    code, out, err = run(capsys, "rules", "list", "--format", "json", "--rules", *files)
    assert code == 0, err
    assert json.loads(out)["rules"]


# --- item 3: dates on the command line are as strict as the request's as_at --------------------

@pytest.mark.parametrize("text", ["2012", "2012-06", "20120601", "2012-06-01T00:00:00+01:00",
                                  "2012-06-01T10:00", "2012-W22-5", "2012-02-30", " 2012-06-01"])
def test_a_date_that_is_not_yyyy_mm_dd_is_a_usage_error(capsys, text):
    for argv in (["rules", "list", "--as-at", text], ["rules", "diff", "--from", text, "--to", "2020-01-01"],
                 ["prove", "--as-at", text]):
        code, out, err = run(capsys, *argv)
        assert code == 2, (argv, out)
        assert out == ""
        assert "YYYY-MM-DD" in err


def test_a_yyyy_mm_dd_date_is_accepted(capsys):
    code, out, err = run(capsys, "rules", "list", "--as-at", "2012-06-01", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["as_at"] == "2012-06-01"
