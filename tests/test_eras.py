"""The legal timeline: eras by date, their boundaries, and the citations each era brings."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

import sharelaw
from sharelaw.law.eras import ERAS, SCOPE_START, Era, OutOfScope, era_on

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "05-hospital-assists-s47-enquiry.json"


@pytest.mark.parametrize(
    "day, era",
    [
        ("2000-03-01", Era.DPA1998),
        ("2018-05-24", Era.DPA1998),
        ("2018-05-25", Era.EU_GDPR),
        ("2020-12-31", Era.EU_GDPR),
        ("2021-01-01", Era.UK_GDPR),
        ("2026-02-04", Era.UK_GDPR),
        ("2026-02-05", Era.UK_GDPR_DUAA),
    ],
)
def test_era_on_the_day_before_and_the_day_of_each_change(day: str, era: Era) -> None:
    assert era_on(date.fromisoformat(day)) is era


def test_eras_are_contiguous_and_cited() -> None:
    assert ERAS[0].start == SCOPE_START == date(2000, 3, 1)
    for before, after in zip(ERAS, ERAS[1:]):
        assert before.end + timedelta(days=1) == after.start
    assert all(span.citation.get("legislation") and span.verification for span in ERAS)


def test_before_scope_is_refused_not_guessed() -> None:
    with pytest.raises(OutOfScope):
        era_on(date(1999, 12, 31))
    request = json.loads(EXAMPLE.read_text()) | {"as_at": "1999-12-31"}
    with pytest.raises(sharelaw.RequestError) as info:
        sharelaw.decide(request)
    assert info.value.code == "request_out_of_scope"
    assert "out of scope" in str(info.value)


@pytest.mark.parametrize(
    "day, era_label, cited, not_cited",
    [
        ("2010-06-01", "Data Protection Act 1998", "ukpga/1998/29/schedule/2/2010-06-01", "eur/2016/679"),
        ("2019-06-01", "EU GDPR and Data Protection Act 2018", "eur-lex.europa.eu/eli/reg/2016/679", "ukpga/1998/29/schedule"),
        ("2022-06-01", "UK GDPR and Data Protection Act 2018", "eur/2016/679/article/6/2022-06-01", "ukpga/1998/29/schedule"),
        ("2026-06-01", "UK GDPR and DPA 2018 as amended by the Data (Use and Access) Act 2025",
         "eur/2016/679/article/5/2026-06-01", "ukpga/1998/29/schedule"),
    ],
)
def test_the_same_request_cites_each_eras_data_protection_law(day, era_label, cited, not_cited) -> None:
    """Issue 3 acceptance: one request dated in each era cites that era's provisions, point in time."""
    decision = sharelaw.decide(json.loads(EXAMPLE.read_text()) | {"as_at": day})
    assert decision.legal_era == era_label
    urls = [c.url for f in decision.findings if f.stage.value == "data_protection" for c in f.citations]
    assert any(cited in (u or "") for u in urls), urls
    assert not any(not_cited in (u or "") for u in urls), urls
    legislation = [c for f in decision.findings for c in f.citations if c.kind == "legislation"]
    # every legislation.gov.uk link is the version as it stood on the day
    for c in legislation:
        if c.url.startswith("https://www.legislation.gov.uk/"):
            assert c.url.endswith("/" + day), c.url


def test_docs_law_is_generated_from_the_current_rules() -> None:
    """docs/law/ must be regenerated whenever the rules change (python -m sharelaw.lawdoc docs/law)."""
    from sharelaw import lawdoc

    docs = Path(__file__).resolve().parent.parent / "docs" / "law"
    assert lawdoc.main(["--check", str(docs)]) == 0, "docs/law is out of date: run python -m sharelaw.lawdoc docs/law"
