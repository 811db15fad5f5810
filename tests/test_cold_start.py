"""Cold start (issue 11): libyaml's C parser with the pure-Python one as an equal fallback,
the cache of parsed rule files, and ``import sharelaw`` importing nothing heavy.

The cache is an optimisation a user must never be able to notice except in time: a bundle
loaded through it is the same bundle (same rules, same ``content_hash``) as one loaded
without it; any change to a file's bytes is a miss; a damaged entry is ignored and
rewritten; a cache that cannot be written is skipped without an error; two processes
writing at once leave only whole entries.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings

from sharelaw.errors import RulesetErrors
from sharelaw.rules import cache as cache_module
from sharelaw.rules import loader
from sharelaw.rules.bundle import Bundle, default_ruleset_dir
from sharelaw.rules.cache import ParseCache, cache_dir, decode_entry, encode_entry, entry_key

from strategies import parsed_yaml_values

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = default_ruleset_dir()
FIXTURES = Path(__file__).parent / "fixtures"
SRC = str(ROOT / "src")

needs_libyaml = pytest.mark.skipif(len(loader._LOADERS) < 2, reason="PyYAML was built without libyaml")


@pytest.fixture
def cache_home(tmp_path, monkeypatch) -> Path:
    """An empty cache folder of this test's own, used by every load in the test."""
    home = tmp_path / "cache"
    monkeypatch.setenv("SHARELAW_CACHE_DIR", str(home))
    monkeypatch.delenv("SHARELAW_NO_CACHE", raising=False)
    return home / "rules"


@pytest.fixture
def rules(tmp_path) -> Path:
    """A copy of part of the shipped rules (three files, a definitions file among them):
    small enough that loading it many times stays quick."""
    folder = tmp_path / "rulesets"
    folder.mkdir()
    for name in ("00_definitions.yaml", "00_functions.yaml", "02_hra.yaml"):
        shutil.copy(SHIPPED / "national" / name, folder / name)
    return folder


@pytest.fixture
def shipped(tmp_path) -> Path:
    folder = tmp_path / "rulesets"
    shutil.copytree(SHIPPED, folder)
    return folder


def entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json")) if folder.is_dir() else []


def same_bundle(a: Bundle, b: Bundle) -> None:
    """Everything a decision or an audit record depends on is equal."""
    assert a.content_hash == b.content_hash
    assert a.rules == b.rules
    assert a.requirements == b.requirements
    assert a.sources == b.sources
    assert [f.model for f in a.files] == [f.model for f in b.files]
    assert [(d.model, sorted(d.shared)) for d in a.definitions] == [(d.model, sorted(d.shared)) for d in b.definitions]
    assert {k: (p.requirement, p.rules, p.in_force) for k, p in a.protocols.items()} == \
        {k: (p.requirement, p.rules, p.in_force) for k, p in b.protocols.items()}
    assert [s.key for s in a.all_segments()] == [s.key for s in b.all_segments()]


# ---------------------------------------------------------------------- the cache


def test_a_hit_gives_the_same_bundle_as_no_cache(cache_home, shipped):
    rules = shipped  # every shipped file: national law, definitions, a protocol
    fresh = Bundle.load(rules, cache=False)
    first = Bundle.load(rules)
    files = len(fresh.files) + len(fresh.definitions) + len(fresh.protocol_files)
    assert (first.parse_cache.hits, first.parse_cache.misses, first.parse_cache.writes) == (0, files, files)
    assert len(entries(cache_home)) == files
    second = Bundle.load(rules)
    assert (second.parse_cache.hits, second.parse_cache.misses, second.parse_cache.writes) == (files, 0, 0)
    same_bundle(second, fresh)
    same_bundle(first, fresh)
    assert fresh.parse_cache is None


def test_the_cache_folder_and_entries_are_private(cache_home, rules):
    Bundle.load(rules)
    assert stat.S_IMODE(os.stat(cache_home).st_mode) == 0o700
    assert {stat.S_IMODE(os.stat(p).st_mode) for p in entries(cache_home)} == {0o600}
    assert not list(cache_home.glob(".tmp-*"))


def test_any_byte_changed_in_a_rule_file_is_a_miss(cache_home, rules):
    files = len(entries(Bundle.load(rules).parse_cache.folder))
    target = rules / "02_hra.yaml"
    text = target.read_text(encoding="utf-8")
    assert "Human Rights Act" in text
    target.write_text(text.replace("Human Rights Act", "Human Rights  Act", 1), encoding="utf-8")
    changed = Bundle.load(rules)
    assert (changed.parse_cache.hits, changed.parse_cache.misses) == (files - 1, 1)
    assert len(entries(cache_home)) == files + 1  # the old entry stays (another checkout may have the old file)
    same_bundle(changed, Bundle.load(rules, cache=False))
    # a change that leaves the parsed data the same (a comment) is still a new entry: the
    # key is the bytes, and the content hash follows them
    before = Bundle.load(rules).content_hash
    target.write_bytes(target.read_bytes() + b"# a comment\n")
    again = Bundle.load(rules)
    assert again.parse_cache.misses == 1 and again.content_hash != before
    assert again.content_hash == Bundle.load(rules, cache=False).content_hash


def test_an_entry_is_keyed_by_the_sharelaw_version(cache_home, rules, monkeypatch):
    Bundle.load(rules)
    monkeypatch.setattr(cache_module, "__version__", "9.9.9")
    other = Bundle.load(rules)
    assert other.parse_cache.hits == 0 and other.parse_cache.misses > 0


DAMAGE = {
    "truncated": lambda b: b[: len(b) // 2],
    "empty": lambda b: b"",
    "one byte flipped in the payload": lambda b: b[:-10] + bytes([b[-10] ^ 0x01]) + b[-9:],
    "garbage": lambda b: os.urandom(64),
    "no header": lambda b: b.partition(b"\n")[2],
    "another version in the header": lambda b: b.replace(b'"version":"', b'"version":"0.', 1),
    "another file's hash in the header": lambda b: b.replace(b'"source_sha256":"', b'"source_sha256":"0', 1),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_entry_is_ignored_and_rewritten(cache_home, rules, damage):
    fresh = Bundle.load(rules, cache=False)
    Bundle.load(rules)
    for entry in entries(cache_home):
        entry.write_bytes(DAMAGE[damage](entry.read_bytes()))
    loaded = Bundle.load(rules)
    assert loaded.parse_cache.hits == 0 and loaded.parse_cache.writes == len(entries(cache_home))
    same_bundle(loaded, fresh)
    assert Bundle.load(rules).parse_cache.misses == 0  # rewritten whole


def test_an_entry_that_checks_out_but_is_not_data_is_refused(cache_home):
    sha = "0" * 64
    blob = encode_entry(sha, {"a": [1]}, {(): 1, ("a",): 1})
    header, _, _ = blob.partition(b"\n")
    for payload in (b'{"data": 1}', b'{"data": 1, "lines": [["x"]]}', b'{"data": 1, "lines": [[1.5]]}',
                    b'{"data": {"\\u0000": "exec", "v": "x"}, "lines": []}', b"[1, 2]"):
        forged = json.loads(header)
        forged["payload_sha256"] = __import__("hashlib").sha256(payload).hexdigest()
        with pytest.raises(ValueError):
            decode_entry(json.dumps(forged, separators=(",", ":")).encode() + b"\n" + payload, sha)


@pytest.mark.parametrize("how", ["a file where the folder would be", "under a file", "group-writable"])
def test_a_cache_that_cannot_be_used_is_skipped_without_an_error(tmp_path, monkeypatch, rules, how):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder\n")
    if how == "a file where the folder would be":
        base = tmp_path / "c"
        (base).mkdir()
        (base / "rules").write_text("not a folder\n")
    elif how == "under a file":
        base = blocker / "cache"
    else:
        base = tmp_path / "shared"
        (base / "rules").mkdir(parents=True)
        os.chmod(base / "rules", 0o777)
    monkeypatch.setenv("SHARELAW_CACHE_DIR", str(base))
    loaded = Bundle.load(rules)
    assert loaded.parse_cache.writes == 0 and loaded.parse_cache.hits == 0
    same_bundle(loaded, Bundle.load(rules, cache=False))
    if how == "group-writable":
        assert not entries(base / "rules")  # nothing written where others could write


def test_an_entry_not_owned_by_the_user_or_not_a_file_is_not_read(cache_home, rules):
    Bundle.load(rules)
    victim = entries(cache_home)[0]
    victim.unlink()
    victim.mkdir()  # a folder where an entry would be
    loaded = Bundle.load(rules)
    assert loaded.parse_cache.misses == 1
    same_bundle(loaded, Bundle.load(rules, cache=False))


def test_the_cache_can_be_turned_off(cache_home, rules, monkeypatch):
    Bundle.load(rules, cache=False)
    assert not entries(cache_home)
    monkeypatch.setenv("SHARELAW_NO_CACHE", "1")
    assert cache_dir() is None
    assert Bundle.load(rules).parse_cache is None
    assert not entries(cache_home)


def test_where_the_cache_lives(monkeypatch, tmp_path):
    for name in ("SHARELAW_CACHE_DIR", "XDG_CACHE_HOME", "SHARELAW_NO_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "sharelaw" / "rules"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "sharelaw" / "rules"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # the XDG spec: ignored if not absolute
    assert cache_dir() == tmp_path / "home" / ".cache" / "sharelaw" / "rules"
    monkeypatch.setenv("SHARELAW_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine" / "rules"


def test_a_file_with_errors_is_never_cached(cache_home, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "r.yaml").write_text((FIXTURES / "good" / "minimal.yaml").read_text() + "x: 1\nx: 2\n")
    for _ in range(2):
        with pytest.raises(RulesetErrors) as info:
            Bundle.load(bad)
        assert [e.code for e in info.value.errors] == ["ruleset_duplicate_key"]
    assert not entries(cache_home)


def test_a_bundle_rebuilt_from_sources_goes_through_the_cache_too(cache_home):
    shipped = Bundle.load(cache=False)
    rebuilt = Bundle.from_sources(shipped.sources)
    again = Bundle.from_sources(shipped.sources)
    assert rebuilt.parse_cache.writes > 0 and again.parse_cache.misses == 0
    assert again.content_hash == rebuilt.content_hash == Bundle.from_sources(shipped.sources, cache=False).content_hash


_WRITER = """
import sys
from sharelaw.rules.bundle import Bundle
for _ in range(int(sys.argv[2])):
    b = Bundle.load(sys.argv[1])
    print(b.content_hash, b.parse_cache.hits, b.parse_cache.writes, flush=True)
"""


def test_two_processes_writing_at_once_leave_only_whole_entries(cache_home, rules):
    """Both start on an empty cache, so both write every entry, racing each other's renames;
    every load gives the right bundle, and what is left is one whole entry per file."""
    expected = Bundle.load(rules, cache=False).content_hash
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for _round in range(2):
        shutil.rmtree(cache_home, ignore_errors=True)
        procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(rules), "2"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
        lines = [ln.split() for out, _ in outs for ln in out.splitlines()]
        assert len(lines) == 4 and {ln[0] for ln in lines} == {expected}
        assert not list(cache_home.glob(".tmp-*"))
        for entry in entries(cache_home):
            header = json.loads(entry.read_bytes().partition(b"\n")[0])
            decode_entry(entry.read_bytes(), header["source_sha256"])  # whole: raises if not
        assert Bundle.load(rules).parse_cache.misses == 0


def test_a_reader_racing_a_writer_sees_a_whole_entry_or_none(cache_home):
    """One process rewrites an entry over and over while this one reads it."""
    sha = "ab" * 32
    data = {"rules": [{"id": f"r{i}", "title": "x" * 200} for i in range(300)]}
    lines = {("rules", i): i + 1 for i in range(300)}
    ParseCache(cache_home).put(sha, data, lines)
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys\nfrom pathlib import Path\nfrom sharelaw.rules.cache import ParseCache\n"
        f"data = {data!r}\nlines = {lines!r}\nc = ParseCache(Path(sys.argv[1]))\n"
        f"for _ in range(300): c.put({sha!r}, data, lines)\n"), str(cache_home)], env=env)
    reader = ParseCache(cache_home)
    seen = 0
    while writer.poll() is None:
        found = reader.get(sha)
        if found is not None:
            assert found == (data, lines)
            seen += 1
    assert writer.returncode == 0 and seen > 0 and reader.misses == 0


@settings(max_examples=60, deadline=None)
@given(parsed_yaml_values())
def test_what_is_cached_decodes_to_what_was_parsed(value):
    lines = {(): 1, ("a", 0): 2}
    blob = encode_entry("f" * 64, value, lines)
    got, got_lines = decode_entry(blob, "f" * 64)
    assert got_lines == lines
    assert _typed(got) == _typed(value)


def _typed(v):
    """``v`` with the type of every part, so that 1 == 1.0 == True do not hide a change."""
    if isinstance(v, dict):
        return ("dict", sorted(((_typed(k), _typed(x)) for k, x in v.items()), key=repr))
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, [_typed(x) for x in v])
    if isinstance(v, (set, frozenset)):
        return ("set", sorted((_typed(x) for x in v), key=repr))
    return (type(v).__name__, repr(v))


def test_every_kind_of_yaml_value_round_trips_through_the_cache():
    text = ("a: 2006-04-01\nb: 2006-04-01 10:00:00+01:00\nc: !!binary aGVsbG8=\nd: !!set {x, y}\n"
            "e: !!omap [{k: 1}, {j: 2}]\nf: .inf\ng: -.inf\nh: 1.5\n1: int key\n2006-04-01: date key\n"
            "~: null key\ntrue: bool key\n\"\\0tag\": a key like the tag\nj: [yes, no, on, off]\n")
    node, data, problems = loader.parse_yaml(text)
    lines, _ = loader._line_index(node)
    got, got_lines = decode_entry(encode_entry("e" * 64, data, lines), "e" * 64)
    assert _typed(got) == _typed(data) and got_lines == lines and not problems


# ---------------------------------------------------------------------- the two YAML parsers


def _outcome(text: str, cls: type) -> object:
    """What the loader makes of ``text`` with this parser: the data and lines, or the error."""
    saved = loader._Loader
    loader._Loader = cls
    try:
        return loader.read_yaml(text, "f.yaml")
    except RulesetErrors as exc:
        return [(e.code, e.line) for e in exc.errors]
    finally:
        loader._Loader = saved


def _cases() -> list[Path]:
    return sorted(SHIPPED.rglob("*.yaml")) + sorted(FIXTURES.rglob("*.yaml"))


@needs_libyaml
@pytest.mark.parametrize("path", _cases(), ids=lambda p: str(p.relative_to(ROOT)))
def test_libyaml_and_the_python_parser_read_every_file_the_same(path):
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: refused before either parser sees it")
    c, py = _outcome(text, loader._CLoader), _outcome(text, loader._PyLoader)
    if isinstance(py, tuple):
        assert isinstance(c, tuple), c
        assert _typed(c[0]) == _typed(py[0]) and c[1].lines == py[1].lines
    else:
        assert c == py


HOSTILE = {
    "alias": "a: &x 1\nb: *x\n",
    "undefined alias": "a: *nowhere\n",
    "deep flow": "x: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep block": "x:\n" + "".join(" " * (i + 2) + "a:\n" for i in range(300)),
    "duplicate key": "a: 1\nb: 2\na: 3\n",
    "bad date": "a: 2026-02-30\n",
    "long number": "a: 1" + "0" * 5000 + "\n",
    "control character": "a: 1\nb: x\x07y\n",
    "tab": "a:\n\t- 1\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "unclosed quote": "a: 1\nb: 'open\nc: 2\n",
    "byte order mark": "\ufeffa: 1\n",
    "unknown tag": "a: !!python/object:os.system 1\n",
    "merge key": "a: {<<: {b: 1}, c: 2}\n",
    "lone surrogate": "a: \ud800\n",
}


@needs_libyaml
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_libyaml_and_the_python_parser_refuse_the_same_things(name):
    text = HOSTILE[name]
    c, py = _outcome(text, loader._CLoader), _outcome(text, loader._PyLoader)
    if isinstance(py, tuple):
        assert isinstance(c, tuple) and _typed(c[0]) == _typed(py[0]) and c[1].lines == py[1].lines
    else:
        assert c == py


def test_the_c_parser_is_used_when_pyyaml_has_it():
    assert loader.YAML_PARSER == ("libyaml" if yaml.__with_libyaml__ else "python")


# ---------------------------------------------------------------------- imports


def _modules_after(code: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=True).stdout
    return set(out.split())


HEAVY = {"pydantic", "yaml", "durable_rules_engine", "hypothesis", "sqlite3", "sharelaw.audit", "sharelaw.analysis",
         "sharelaw.engine.pipeline", "sharelaw.engine.stages", "sharelaw.rules.bundle", "sharelaw.scenarios", "sharelaw.decision"}


def test_import_sharelaw_imports_nothing_heavy():
    assert not _modules_after("import sharelaw") & HEAVY


def test_every_public_name_is_there_on_first_use():
    mods = _modules_after(
        "import sharelaw\nfrom sharelaw import AuditLog, Engine, Bundle, Decision, scenarios\n"
        "assert all(hasattr(sharelaw, n) for n in sharelaw.__all__), sharelaw.__all__\n"
        "assert sharelaw.AuditLog is AuditLog and callable(sharelaw.decide)\n"
        "assert set(sharelaw.__all__) <= set(dir(sharelaw))\n"
        "try:\n    sharelaw.no_such_name\nexcept AttributeError:\n    pass\nelse:\n    raise SystemExit('no error')\n")
    assert {"sharelaw.audit", "sharelaw.engine.stages", "sharelaw.scenarios"} <= mods


def test_decide_on_the_command_line_imports_only_what_it_needs():
    mods = _modules_after(
        "import contextlib, io\nfrom sharelaw.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['decide', 'examples/01-council-health-data-to-marketing-company.json']) == 0\n")
    assert "sharelaw.engine.durable" in mods
    assert not mods & {"hypothesis", "sqlite3", "sharelaw.audit", "sharelaw.analysis", "sharelaw.scenarios"}
