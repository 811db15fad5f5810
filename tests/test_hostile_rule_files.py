"""Rule and protocol files that are not what they seem (issue 10, items 10 and 11).

Impossible dates (``2026-02-30``, month 13, year 0) used to escape PyYAML's constructor
as a raw ``ValueError``: ``check``, ``test``, ``prove`` and ``decide --rules`` all said
``internal error``. Each is now ``ruleset_bad_dates`` naming the file and line, from
``Bundle.load`` and from every command that loads rules.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from sharelaw.cli import main
from sharelaw.errors import RulesetErrors
from sharelaw.rules.bundle import Bundle, default_ruleset_dir

SHIPPED = default_ruleset_dir()
EXAMPLE = Path(__file__).parent.parent / "examples" / "05-hospital-assists-s47-enquiry.json"
PROTOCOL_SCENARIOS = Path(__file__).parent / "scenarios" / "protocol_exampleton.yaml"

IMPOSSIBLE = ["2026-02-30", "2026-13-01", "0000-01-01", "2026-02-29", "2026-00-10", "2026-02-30 10:00:00"]


def rule_file(rule_from: str = "2000-03-01", file_from: str = "2000-03-01") -> str:
    return textwrap.dedent(f"""\
        format: sharelaw/ruleset@1
        id: test.dates
        stage: vires
        title: Dates
        in_force: {{from: {file_from}}}
        requirements:
          - id: power
            title: A power
            unmet: No power.
        rules:
          - id: test.dates.rule
            title: A rule
            in_force: {{from: {rule_from}}}
            when: true
            effect: {{kind: satisfies, requirement: power, basis: implied_power}}
            citations:
              - case: "R v Somerset County Council, ex p Fewings [1995] 1 WLR 1037"
            verification: unverified
            reason: A reason.
        """)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load_errors(*paths: Path) -> list:
    with pytest.raises(RulesetErrors) as info:
        Bundle.load(*paths)
    return info.value.errors


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------- item 10: impossible dates


@pytest.mark.parametrize("day", IMPOSSIBLE)
def test_an_impossible_rule_date_is_bad_dates_at_its_line(tmp_path, day):
    path = write(tmp_path, "r.yaml", rule_file(rule_from=day))
    (err,) = load_errors(path)
    assert (err.code, err.file, err.line) == ("ruleset_bad_dates", str(path), 13)
    assert day in err.message


def test_an_impossible_file_date_and_rule_date_are_both_named(tmp_path):
    path = write(tmp_path, "r.yaml", rule_file(rule_from="1999-02-29", file_from="2000-13-01"))
    errors = load_errors(path)
    assert [(e.code, e.line) for e in errors] == [("ruleset_bad_dates", 5), ("ruleset_bad_dates", 13)]


def test_an_impossible_date_in_a_protocol_is_bad_dates_at_its_line(tmp_path):
    rules = tmp_path / "rulesets"
    shutil.copytree(SHIPPED, rules)
    protocol = rules / "protocols" / "exampleton_cyp.yaml"
    text = protocol.read_text(encoding="utf-8")
    lines = text.splitlines()
    signed = next(i for i, ln in enumerate(lines) if "signed: " in ln)
    review = next(i for i, ln in enumerate(lines) if ln.startswith("review_date: "))
    lines[signed] = lines[signed].split("signed: ")[0] + "signed: 2006-02-30"
    lines[review] = "review_date: 0000-04-01"
    protocol.write_text("\n".join(lines) + "\n", encoding="utf-8")
    errors = load_errors(rules)
    assert [(e.code, e.file, e.line) for e in errors] == [
        ("ruleset_bad_dates", str(protocol), review + 1), ("ruleset_bad_dates", str(protocol), signed + 1)]


def test_a_quoted_impossible_date_is_still_a_coded_error(tmp_path):
    path = write(tmp_path, "r.yaml", rule_file(rule_from='"2026-02-30"'))
    (err,) = load_errors(path)
    assert err.code == "ruleset_schema_error" and err.line == 13


def test_every_command_reports_an_impossible_date_with_file_and_line(tmp_path, capsys):
    path = write(tmp_path / "rules", "r.yaml", rule_file(rule_from="2026-02-30"))
    where = f"{path}:13"

    code, out, err = cli(capsys, "check", path.parent)
    assert code == 1 and f"{where}: error ruleset_bad_dates" in out and "internal error" not in out + err

    code, out, err = cli(capsys, "decide", EXAMPLE, "--rules", path.parent)
    assert (code, out) == (2, "") and f"{where}: ruleset_bad_dates" in err

    code, out, err = cli(capsys, "prove", path.parent, "--budget", "1")
    assert (code, out) == (2, "") and f"{where}: ruleset_bad_dates" in err

    protocol = tmp_path / "protocols" / "p.yaml"
    protocol.parent.mkdir()
    text = (SHIPPED / "protocols" / "exampleton_cyp.yaml").read_text(encoding="utf-8")
    protocol.write_text(text.replace("signed: 2006-03-27", "signed: 2006-13-27", 1), encoding="utf-8")
    line = next(i for i, ln in enumerate(protocol.read_text().splitlines(), 1) if "2006-13-27" in ln)
    code, out, err = cli(capsys, "test", protocol.parent, PROTOCOL_SCENARIOS)
    assert code == 2 and f"{protocol}:{line}: ruleset_bad_dates" in err and "internal error" not in err


def test_a_bundle_rebuilt_from_sources_refuses_an_impossible_date():
    with pytest.raises(RulesetErrors) as info:
        Bundle.from_sources({"r.yaml": rule_file(rule_from="2026-02-30")})
    assert [(e.code, e.line) for e in info.value.errors] == [("ruleset_bad_dates", 13)]


def test_the_impossible_date_is_documented():
    doc = (Path(__file__).parent.parent / "docs" / "rulesets.md").read_text(encoding="utf-8")
    row = next(ln for ln in doc.splitlines() if ln.startswith("| `ruleset_bad_dates`"))
    assert "2026-02-30" in row and "month 13" in row
