"""Fuzzing the command line with hostile input (issue 10): requests (duplicate keys, other
encodings, wrong shapes), action records, rule files, protocol files and scenario files.
Whatever the input, the command ends with a documented exit code (0 decided or OK, 1 a
finding such as an invalid rule file, 2 invalid input), prints no traceback and never
reports an internal error. Bounded for CI; benchmarks/soak_faults.py is the long soak."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

try:  # tests/ is not a package
    from strategies import invalid_request_dicts, request_dicts
except ImportError:  # pragma: no cover
    from tests.strategies import invalid_request_dicts, request_dicts  # type: ignore[no-redef]

from sharelaw.cli import main
from sharelaw.rules.bundle import default_ruleset_dir

ROOT = Path(__file__).resolve().parent.parent
FUZZ = settings(max_examples=120, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1"]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _sane(code: int, out: str, err: str, allowed=(0, 1, 2)) -> None:
    assert code in allowed, (code, err[-2000:])
    assert "Traceback" not in err and "internal error" not in err, err[-2000:]


def _duplicate_a_key(text: str, rng: random.Random) -> str:
    """Repeat one key of a JSON object text (JSON parsers disagree on which value counts)."""
    keys = [k for k in ("as_at", "purpose", "interaction", "kind", "age", "state") if f'"{k}":' in text]
    if not keys:
        return text
    key = rng.choice(keys)
    return text.replace(f'"{key}":', f'"{key}": "x", "{key}":', 1)


@FUZZ
@given(data=st.one_of(request_dicts(), invalid_request_dicts()), enc=st.sampled_from(ENCODINGS),
       dup=st.booleans(), seed=st.integers(0, 2**16))
def test_any_request_file_is_decided_or_refused_with_reasons(data, enc, dup, seed, tmp_path_factory, capsys):
    text = json.dumps(data, ensure_ascii=False)
    if dup:
        text = _duplicate_a_key(text, random.Random(seed))
    path = tmp_path_factory.mktemp("req") / "request.json"
    try:
        path.write_bytes(text.encode(enc))
    except UnicodeEncodeError:
        path.write_bytes(text.encode("utf-8"))
    code, out, err = _run(capsys, "decide", str(path), "--format", "json")
    _sane(code, out, err, allowed=(0, 2))
    if code == 0:
        assert json.loads(out)["outcome"]
    else:
        assert json.loads(out)["errors"] if out.strip() else err.strip()


_JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=False), st.text(max_size=30)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def log_with_a_decision(tmp_path_factory):
    path = tmp_path_factory.mktemp("log") / "log.db"
    example = ROOT / "examples" / "05-hospital-assists-s47-enquiry.json"
    assert main(["audit", "record", "--log", str(path), "--agency", "city-hospital", "--role", "nurse",
                 str(example)]) == 0
    from sharelaw.audit import AuditLog

    with AuditLog.open(str(path), create=False) as log:
        decision_id = next(r.decision_id for r in log if r.kind == "decision")
    return path, decision_id


_TIMES = st.one_of(st.text(max_size=30), st.sampled_from([
    "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2026-06-01T10:00:00", "2026-06-01T10:00:00+01:00",
    "2026-13-01T10:00:00Z", "99999-01-01T00:00:00Z"]))
_ACTIONS = st.fixed_dictionaries(
    {"outcome": st.sampled_from(["shared", "withheld", "maybe"]), "at": _TIMES,
     "consent": st.sampled_from(["not_obtained", "obtained_for_this", "x"]), "reasons": st.text(max_size=20)},
    optional={"form": st.sampled_from(["electronic", "telephone", ""]), "first_approach_at": _TIMES,
              "consulted": st.lists(st.text(max_size=8), max_size=3)})


@FUZZ
@given(action=st.one_of(_JSONISH, _ACTIONS), depth=st.sampled_from([0, 0, 1, 100_000]),
       agency=st.sampled_from(["city-hospital", "", "  "]))
def test_any_action_record_is_recorded_or_refused(action, depth, agency, log_with_a_decision, tmp_path_factory,
                                                 capsys):
    path, decision_id = log_with_a_decision
    text = json.dumps(action)
    text = "[" * depth + text + "]" * depth  # deep nesting, as a hostile client would send
    file = tmp_path_factory.mktemp("act") / "action.json"
    file.write_text(text, "utf-8")
    code, out, err = _run(capsys, "audit", "act", str(path), decision_id, str(file),
                          "--agency", agency, "--role", "nurse")
    _sane(code, out, err, allowed=(0, 2))
    if depth or not agency.strip():
        assert code == 2, err


def _mutations(text: str, rng: random.Random, n: int) -> str:
    """Damage a YAML text: delete, duplicate or swap lines, change a value, insert junk."""
    lines = text.split("\n")
    junk = ["  - id:", ": :", "{{", "- [", "when: {purpose: nope}", "in_force: {from: 2026-02-30}",
            "priority: " + "9" * 50, "&a [*a, *a]", "\t", "reason: {x}", "effect: {kind: satisfies}", "]]"]
    for _ in range(n):
        if not lines:
            break
        i = rng.randrange(len(lines))
        op = rng.randrange(5)
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[i])
        elif op == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 3 and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {rng.choice(['yes', '0', 'null', '[]', '{}', 'sometimes', '-1'])}"
        else:
            lines.insert(i, rng.choice(junk))
    return "\n".join(lines)


NATIONAL = default_ruleset_dir() / "national"
PROTOCOL = default_ruleset_dir() / "protocols" / "exampleton_cyp.yaml"
SCENARIO = ROOT / "tests" / "scenarios" / "hra.yaml"


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), n=st.integers(1, 6),
       target=st.sampled_from(["02_hra.yaml", "00_definitions.yaml", "protocol"]))
def test_any_damaged_rule_or_protocol_file_is_checked_not_crashed(seed, n, target, tmp_path_factory, capsys):
    root = tmp_path_factory.mktemp("rules")
    shutil.copytree(NATIONAL, root / "national")
    rng = random.Random(seed)
    if target == "protocol":
        dest = root / "protocols" / PROTOCOL.name
        dest.parent.mkdir()
        dest.write_text(_mutations(PROTOCOL.read_text("utf-8"), rng, n), "utf-8")
    else:
        dest = root / "national" / target
        dest.write_text(_mutations(dest.read_text("utf-8"), rng, n), "utf-8")
    code, out, err = _run(capsys, "check", str(root), "--format", "json")
    _sane(code, out, err, allowed=(0, 1))
    report = json.loads(out)
    assert ("diagnostics" in report) and (code == 0) == (not [d for d in report["diagnostics"] if d["severity"] == "error"])


@FUZZ
@given(seed=st.integers(0, 2**32), n=st.integers(1, 6))
def test_any_damaged_scenario_file_is_reported_not_crashed(seed, n, tmp_path_factory, capsys):
    root = tmp_path_factory.mktemp("scen")
    shutil.copy(ROOT / "tests" / "scenarios" / "bases.yaml", root / "bases.yaml")
    (root / "hra.yaml").write_text(_mutations(SCENARIO.read_text("utf-8"), random.Random(seed), n), "utf-8")
    code, out, err = _run(capsys, "test", str(default_ruleset_dir()), str(root))
    _sane(code, out, err)
