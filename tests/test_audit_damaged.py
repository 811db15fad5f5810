"""A log whose store is damaged below the records (a truncated file, a file that is not a
database, corrupt pages, altered tables) gets the verdict DAMAGED with the reason and exit
1, like any other damage, from every audit command: never ``internal error: DatabaseError``
(issue 10, item 17)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from test_audit_common import ACTION, ACTOR, decided, engine, pg_url  # noqa: F401 - fixtures

from sharelaw import AuditLog
from sharelaw.audit import LogDamaged
from sharelaw.cli import main


def _log(path: Path) -> list[str]:
    ids = []
    with AuditLog.open(str(path)) as log:
        for req, dec in decided(3, seed=171):
            ids.append(log.record(dec, req, actor=ACTOR, bundle=engine().bundle).decision_id)
        log.record_action(ids[0], ACTION, actor=ACTOR)
    assert not path.with_name(path.name + "-wal").exists()  # all in the main file
    return ids


def _truncate_half(data: bytes, path: Path) -> bytes:
    return data[: len(data) // 2]


def _truncate_odd(data: bytes, path: Path) -> bytes:
    return data[: len(data) // 2 + 1234]


def _not_a_database(data: bytes, path: Path) -> bytes:
    return b'{"this": "is a JSON file, not a database"}\n' * 200


def _header_zeroed(data: bytes, path: Path) -> bytes:
    return data[:16] + bytes(84) + data[100:]


def _index_page_overwritten(data: bytes, path: Path) -> bytes:
    """Garbage over the root page of an index that reading the records in order never
    touches: only a structural check finds it."""
    conn = sqlite3.connect(str(path))
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'audit_records_decision'").fetchone()[0]
    conn.close()
    start = (root - 1) * page_size
    return data[:start] + b"\xa5" * 64 + data[start + 64:]


def _table_dropped(data: bytes, path: Path) -> bytes:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("DROP TABLE audit_bundles")
    conn.close()
    return path.read_bytes()


DAMAGE = [_truncate_half, _truncate_odd, _not_a_database, _header_zeroed, _index_page_overwritten, _table_dropped]


@pytest.fixture(params=DAMAGE, ids=lambda f: f.__name__.strip("_"))
def damaged_log(request, tmp_path):
    path = tmp_path / "audit.db"
    ids = _log(path)
    path.write_bytes(request.param(path.read_bytes(), path))
    return path, ids


def test_verify_says_damaged_with_the_reason(damaged_log, capsys):
    path, _ = damaged_log
    assert main(["audit", "verify", str(path)]) == 1
    out = capsys.readouterr()
    assert out.out.startswith("DAMAGED: the log: store_damaged: "), out
    assert "internal error" not in out.err and out.err == ""
    assert main(["audit", "verify", str(path), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["problem"]["code"] == "store_damaged"
    assert str(path) in report["problem"]["message"] or "structure" in report["problem"]["message"]
    try:  # the API: open raises LogDamaged when the damage is found at once, else verify reports it
        log = AuditLog.open(str(path), read_only=True)
    except LogDamaged:
        return
    with log:
        assert log.verify().problem.code == "store_damaged"


def test_every_audit_command_exits_1_with_damaged(damaged_log, capsys, tmp_path):
    path, ids = damaged_log
    request = tmp_path / "request.json"
    request.write_text(json.dumps(decided(1, seed=3)[0][0]))
    action = tmp_path / "action.json"
    action.write_text(json.dumps(ACTION))
    commands = [
        ["audit", "head", str(path)],
        ["audit", "show", str(path), ids[0]],
        ["audit", "export", str(path)],
        ["audit", "export", str(path), "--format", "csv"],
        ["replay", str(path)],
        ["replay", str(path), "--format", "json"],
        ["audit", "record", str(request), "--log", str(path), "--agency", "a", "--role", "r"],
        ["audit", "act", str(path), ids[0], str(action), "--agency", "a", "--role", "r"],
    ]
    for argv in commands:
        code = main(argv)
        out = capsys.readouterr()
        assert "internal error" not in out.err, (argv, out.err)
        if code == 0:
            # a command that never reads the damaged part may succeed (the header and
            # head row are intact when only an index page is damaged), but never replay
            assert argv[0] != "replay" and path.read_bytes(), argv
            continue
        assert code == 1, (argv, code, out)
        if argv[-1] == "json":
            assert json.loads(out.out)["verify"]["problem"]["code"] == "store_damaged"
        else:
            assert "DAMAGED: the log: store_damaged: " in out.out + out.err, (argv, out)


def test_postgres_table_dropped_is_damage(pg_url, capsys):
    with AuditLog.open(pg_url) as log:
        req, dec = decided(1, seed=2)[0]
        log.record(dec, req, actor=ACTOR, bundle=engine().bundle)
        log.store._conn.execute("DROP TABLE audit_bundles")
    for argv in (["audit", "verify", pg_url], ["replay", pg_url]):
        assert main(argv) == 1
        out = capsys.readouterr()
        assert out.out.startswith("DAMAGED: the log: store_damaged: "), out
        assert "audit_bundles" in out.out and "internal error" not in out.err
