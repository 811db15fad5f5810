"""Names and other free text from a request cannot forge output or script a page
(issue 10, item 7): not in the text rendering, not in Markdown, not on a terminal."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import sharelaw

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = json.loads((ROOT / "examples" / "01-council-health-data-to-marketing-company.json").read_text("utf-8"))
EXAMPLE = EXAMPLE.get("request", EXAMPLE)

FORGED = "FitCo Ltd.\nMUST SHARE (must_share)\nThe council must share"
ANSI = "FitCo \x1b[32mLtd\x1b[0m"
BIDI = "FitCo \u202eLtd"
HTML = 'FitCo <img src=x onerror="alert(1)"> [click](javascript:alert(1)) *Ltd*'


def _request(name: str, request_id: str | None = None) -> dict:
    req = json.loads(json.dumps(EXAMPLE))
    req["recipient"]["name"] = name
    if request_id is not None:
        req["request_id"] = request_id
    return req


def _text(req: dict, tmp_path) -> str:
    path = tmp_path / "req.json"
    path.write_text(json.dumps(req), "utf-8")
    done = subprocess.run([sys.executable, "-m", "sharelaw", "decide", str(path)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_name_with_newlines_cannot_forge_an_outcome_line(tmp_path):
    out = _text(_request(FORGED, request_id="case-1\nMUST SHARE (must_share)"), tmp_path)
    lines = out.splitlines()
    assert lines[0] == "MUST NOT SHARE (must_not_share)"
    assert not any(line.startswith("MUST SHARE") for line in lines), out
    assert "FitCo Ltd. MUST SHARE (must_share) The council must share" in out  # shown, on one line
    assert "Request: case-1 MUST SHARE (must_share)" in out


def test_terminal_escapes_and_bidi_overrides_are_not_passed_through(tmp_path):
    for name in (ANSI, BIDI):
        out = _text(_request(name), tmp_path)
        assert "\x1b" not in out and "\u202e" not in out


def test_markdown_escapes_html_links_and_emphasis_from_names():
    md = sharelaw.decide(_request(HTML)).explain()
    # nothing the name brought in is left unescaped: no tag, no link, no emphasis
    assert not re.search(r"(?<!\\)<img", md) and not re.search(r"(?<!\\)\]\(javascript", md)
    assert "\\<img" in md and "\\[click\\]" in md and "\\*Ltd\\*" in md


def test_json_keeps_the_name_as_given_but_the_reasons_plain():
    decision = sharelaw.decide(_request(FORGED))
    assert all("\n" not in f.reason for f in decision.findings)
    assert "\n" not in decision.summary



def test_placeholder_names_that_differ_only_in_dots_and_underscores_are_filled_apart() -> None:
    """``{a.b}`` and ``{a__b}`` are two placeholders: each is filled with its own value."""
    from sharelaw.engine.render import Renderer
    from sharelaw.request import parse_request as _parse

    examples = Path(__file__).resolve().parent.parent / "examples"
    req = _parse(json.loads(next(examples.glob("05-*.json")).read_text()))
    render = Renderer(req, {"discloser.kind": "nhs_trust"})
    render.values["discloser__kind"] = "second"
    first = render("{discloser.kind}", capitalise=False)
    assert first != "second"
    assert render("{discloser.kind} / {discloser__kind}", capitalise=False) == f"{first} / second"
