"""Rule and protocol files that are not what they seem (issue 10, items 10 and 11).

Item 11: a "billion laughs" file, a cyclic alias, nesting 100,000 deep, a 5,000-digit
priority used to hang the loader, or end in ``RecursionError`` / ``ValueError`` (``internal
error``). Anchors and aliases are now refused outright (``ruleset_yaml_alias``: rule files
never need them), nesting deeper than 256 is ``ruleset_too_deep``, an unreadable number is
``ruleset_schema_error``, and bytes that are not UTF-8 are named by line.

Impossible dates (``2026-02-30``, month 13, year 0) used to escape PyYAML's constructor
as a raw ``ValueError``: ``check``, ``test``, ``prove`` and ``decide --rules`` all said
``internal error``. Each is now ``ruleset_bad_dates`` naming the file and line, from
``Bundle.load`` and from every command that loads rules.
"""

from __future__ import annotations

import re

import shutil
import signal
import time
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


@pytest.fixture(autouse=True)
def no_hang():
    """A bomb that is expanded after all fails the test instead of hanging the suite."""

    def timeout(signum, frame):
        raise TimeoutError("still loading after 30 s: the file was expanded, not refused")

    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


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


def _at(where: str, code: str, text: str) -> bool:
    """``file:line:col: code`` (the one error format: issue 14) is in ``text``."""
    return re.search(rf"{re.escape(where)}:\d+: {code}: ", text) is not None


def test_every_command_reports_an_impossible_date_with_file_and_line(tmp_path, capsys):
    path = write(tmp_path / "rules", "r.yaml", rule_file(rule_from="2026-02-30"))
    where = f"{path}:13"

    code, out, err = cli(capsys, "check", path.parent)
    assert code == 1 and _at(f"{where}", "ruleset_bad_dates", out) and "internal error" not in out + err

    code, out, err = cli(capsys, "decide", EXAMPLE, "--rules", path.parent)
    assert (code, out) == (2, "") and _at(f"{where}", "ruleset_bad_dates", err)

    code, out, err = cli(capsys, "prove", path.parent, "--budget", "1")
    assert (code, out) == (2, "") and _at(f"{where}", "ruleset_bad_dates", err)

    protocol = tmp_path / "protocols" / "p.yaml"
    protocol.parent.mkdir()
    text = (SHIPPED / "protocols" / "exampleton_cyp.yaml").read_text(encoding="utf-8")
    protocol.write_text(text.replace("signed: 2006-03-27", "signed: 2006-13-27", 1), encoding="utf-8")
    line = next(i for i, ln in enumerate(protocol.read_text().splitlines(), 1) if "2006-13-27" in ln)
    code, out, err = cli(capsys, "test", protocol.parent, PROTOCOL_SCENARIOS)
    assert code == 2 and _at(f"{protocol}:{line}", "ruleset_bad_dates", err) and "internal error" not in err


def test_a_bundle_rebuilt_from_sources_refuses_an_impossible_date():
    with pytest.raises(RulesetErrors) as info:
        Bundle.from_sources({"r.yaml": rule_file(rule_from="2026-02-30")})
    assert [(e.code, e.line) for e in info.value.errors] == [("ruleset_bad_dates", 13)]


def test_the_impossible_date_is_documented():
    doc = (Path(__file__).parent.parent / "docs" / "rulesets.md").read_text(encoding="utf-8")
    row = next(ln for ln in doc.splitlines() if ln.startswith("| `ruleset_bad_dates`"))
    assert "2026-02-30" in row and "month 13" in row


# ---------------------------------------------------------------------- item 11: YAML bombs

MINIMAL = (Path(__file__).parent / "fixtures" / "good" / "minimal.yaml").read_text(encoding="utf-8")
MINIMAL_LINES = len(MINIMAL.splitlines())


def billion_laughs(levels: int = 9, fan: int = 10) -> str:
    out = ['lol0: &a0 "lol"']
    for i in range(1, levels + 1):
        out.append(f"lol{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fan) + "]")
    return "\n".join(out) + "\n"


def timed_errors(path: Path) -> tuple[list, float]:
    started = time.perf_counter()
    with pytest.raises(RulesetErrors) as info:
        Bundle.load(path)
    return info.value.errors, time.perf_counter() - started


def test_a_billion_laughs_file_is_refused_at_once(tmp_path):
    # expanded, this is 10**9 strings; PyYAML would build it (or exhaust memory) before
    # pydantic ever saw it
    path = write(tmp_path, "lol.yaml", billion_laughs())
    errors, seconds = timed_errors(path)
    assert [(e.code, e.line) for e in errors] == [("ruleset_yaml_alias", 1)]
    assert "&a0" in errors[0].message
    assert seconds < 0.5


def test_a_billion_laughs_inside_a_rule_file_is_refused_at_its_line(tmp_path):
    text = MINIMAL + "x:\n" + textwrap.indent(billion_laughs(), "  ")
    path = write(tmp_path, "r.yaml", text)
    errors, seconds = timed_errors(path)
    assert [(e.code, e.file, e.line) for e in errors] == [("ruleset_yaml_alias", str(path), MINIMAL_LINES + 2)]
    assert seconds < 0.5


@pytest.mark.parametrize("cycle", ["x: &a [*a]\n", "x: &a {b: *a}\n", "x: *undefined\n"])
def test_cyclic_and_undefined_aliases_are_coded_errors(tmp_path, cycle):
    path = write(tmp_path, "r.yaml", MINIMAL + cycle)
    (err,) = load_errors(path)
    assert (err.code, err.line) == ("ruleset_yaml_alias", MINIMAL_LINES + 1)


def test_an_alias_in_a_protocol_is_refused(tmp_path):
    rules = tmp_path / "rulesets"
    shutil.copytree(SHIPPED, rules)
    protocol = rules / "protocols" / "exampleton_cyp.yaml"
    text = protocol.read_text(encoding="utf-8").replace("in_force: {from: 2006-04-01}", "in_force: &d {from: 2006-04-01}", 1)
    protocol.write_text(text, encoding="utf-8")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "&d" in ln)
    (err,) = load_errors(rules)
    assert (err.code, err.file, err.line) == ("ruleset_yaml_alias", str(protocol), line)


@pytest.mark.parametrize("bomb", [
    "x: " + "[" * 100_000 + "]" * 100_000,
    "x: " + "{a: " * 100_000 + "}" * 100_000,
    "x:\n" + "".join(" " * (2 * i + 2) + "- \n" for i in range(400)),
    "x:\n" + "".join(" " * (i + 2) + "a:\n" for i in range(400)),
])
def test_a_depth_bomb_is_a_coded_error_not_recursion_error(tmp_path, bomb):
    path = write(tmp_path, "r.yaml", MINIMAL + bomb + "\n")
    errors, seconds = timed_errors(path)
    assert [e.code for e in errors] == ["ruleset_too_deep"]
    assert errors[0].line is not None and errors[0].line > MINIMAL_LINES
    assert seconds < 3


def test_the_shipped_rules_nest_well_within_the_limit():
    from sharelaw.rules.loader import MAX_DEPTH

    assert MAX_DEPTH >= 256  # a 250-deep condition still reaches check's engine-limit test (item 13)
    Bundle.load()


def test_a_five_thousand_digit_priority_is_a_range_error_at_its_line(tmp_path):
    text = rule_file().replace("    in_force: {from: 2000-03-01}\n    when", "    priority: 1" + "0" * 5000 + "\n"
                               "    in_force: {from: 2000-03-01}\n    when")
    path = write(tmp_path, "r.yaml", text)
    (err,) = load_errors(path)
    assert (err.code, err.line) == ("ruleset_schema_error", 13)
    assert "out of range" in err.message and len(err.message) < 200


def test_a_large_but_readable_priority_is_the_ordinary_range_error(tmp_path):
    text = rule_file().replace("    in_force: {from: 2000-03-01}\n    when", "    priority: 1" + "0" * 4000 + "\n"
                               "    in_force: {from: 2000-03-01}\n    when")
    (err,) = load_errors(write(tmp_path, "r.yaml", text))
    assert (err.code, err.line) == ("ruleset_schema_error", 13) and "60000" in err.message


def test_non_utf8_names_the_line_of_the_first_bad_byte(tmp_path):
    lines = rule_file().splitlines(keepends=True)
    lines[11] = lines[11].replace("A rule", "Caf\xe9 rule")  # line 12: Latin-1, not UTF-8
    path = tmp_path / "r.yaml"
    path.write_bytes("".join(lines).encode("latin-1"))
    (err,) = load_errors(path)
    assert (err.code, err.line) == ("ruleset_parse_error", 12) and "UTF-8" in err.message


def test_a_control_character_names_its_line(tmp_path):
    path = write(tmp_path, "r.yaml", rule_file().replace("title: A rule", "title: A \x07rule"))
    (err,) = load_errors(path)
    assert (err.code, err.line) == ("ruleset_parse_error", 12)


def test_every_command_refuses_a_bomb_with_a_coded_error(tmp_path, capsys):
    path = write(tmp_path / "rules", "r.yaml", rule_file() + "x:\n" + textwrap.indent(billion_laughs(), "  "))
    code, out, err = cli(capsys, "check", path.parent)
    assert code == 1 and _at(f"{path}:21", "ruleset_yaml_alias", out)
    for argv in (["decide", EXAMPLE, "--rules", path.parent], ["prove", path.parent, "--budget", "1"]):
        code, out, err = cli(capsys, *argv)
        assert (code, out) == (2, "") and _at(f"{path}:21", "ruleset_yaml_alias", err), argv


def test_the_new_codes_are_documented():
    doc = (Path(__file__).parent.parent / "docs" / "rulesets.md").read_text(encoding="utf-8")
    for code in ("ruleset_yaml_alias", "ruleset_too_deep"):
        assert f"| `{code}` |" in doc
    assert "anchors" in doc and "billion laughs" in doc
