"""Tampering with a stored log is detected by `audit verify`, on SQLite and PostgreSQL:
changing a byte of any stored record (its body, its hash, or any indexed column),
deleting any one record, swapping any two, and altering or removing an archived bundle
or the head. Each damaged log is checked, then restored and checked again."""

from __future__ import annotations

import random
import sqlite3
from itertools import combinations

import pytest

from test_audit_common import ACTION, ACTOR, decided, engine, log_url, pg_url  # noqa: F401 - fixtures

from sharelaw import AuditLog
from sharelaw.audit.chain import Row, verify
from sharelaw.cli import main

COLUMNS = ["body", "hash", "record_id", "kind", "decision_id"]


class Raw:
    """Direct SQL on the log's tables, as an attacker (or a faulty tool) would have."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            self.conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
            self.conn.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
            self.ph = "?"
        else:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True)
            self.ph = "%s"

    def run(self, sql: str, params: tuple = ()) -> list:
        cur = self.conn.execute(sql.replace("?", self.ph), params)
        return cur.fetchall() if cur.description else []

    def rows(self) -> list[tuple]:
        return self.run("SELECT seq, body, hash, record_id, kind, decision_id FROM audit_records ORDER BY seq")

    def set(self, seq: int, column: str, value) -> None:
        self.run(f"UPDATE audit_records SET {column} = ? WHERE seq = ?", (value, seq))

    def close(self) -> None:
        self.conn.close()


def _flip(text: str, i: int) -> str:
    c = text[i]
    new = chr(ord(c) ^ 1) if ord(c) > 1 else "x"
    return text[:i] + new + text[i + 1:]


@pytest.fixture
def damaged(log_url):
    """A log of 4 decisions and 2 actions, with raw access to its tables."""
    pairs = decided(4, seed=77)
    log = AuditLog.open(log_url)
    recs = [log.record(d, r, actor=ACTOR, bundle=engine().bundle) for r, d in pairs]
    log.record_action(recs[1].decision_id, ACTION, actor=ACTOR)
    log.record_action(recs[3].decision_id, {**ACTION, "outcome": "withheld", "form": None, "what": None},
                      actor=ACTOR)
    assert log.verify().ok
    raw = Raw(log_url)
    yield log, raw
    raw.close()
    log.close()


def _bad_at(log: AuditLog, seq: int) -> str:
    report = log.verify()
    assert not report.ok, f"damage at seq {seq} not detected"
    assert report.problem.seq == seq, report.render()
    return report.problem.code


def test_changing_a_byte_of_any_record_is_detected(damaged):
    log, raw = damaged
    rng = random.Random(1)
    codes = set()
    for row in raw.rows():
        seq = row[0]
        for column, value in zip(COLUMNS, row[1:]):
            positions = {0, len(value) - 1} | {rng.randrange(len(value)) for _ in range(10 if column == "body" else 3)}
            if column == "body":  # the chained fields themselves
                for key in ('"seq":', '"prev_hash":"sha256:', '"record_id":"', '"decision_id":"'):
                    positions.add(value.index(key) + len(key))
            for i in sorted(positions):
                raw.set(seq, column, _flip(value, i))
                codes.add(_bad_at(log, seq))
                raw.set(seq, column, value)
        raw.run("UPDATE audit_records SET seq = ? WHERE seq = ?", (seq + 1000, seq))
        codes.add(_bad_at(log, seq))
        raw.run("UPDATE audit_records SET seq = ? WHERE seq = ?", (seq, seq + 1000))
    assert log.verify().ok
    assert {"hash_mismatch", "index_mismatch", "record_missing"} <= codes


def test_deleting_any_one_record_is_detected(damaged):
    log, raw = damaged
    rows = raw.rows()
    for row in rows:
        raw.run("DELETE FROM audit_records WHERE seq = ?", (row[0],))
        code = _bad_at(log, row[0])
        assert code == ("records_missing_at_end" if row is rows[-1] else "record_missing")
        raw.run("INSERT INTO audit_records (seq, body, hash, record_id, kind, decision_id) VALUES (?, ?, ?, ?, ?, ?)",
                row)
        assert log.verify().ok


def test_swapping_any_two_records_is_detected(damaged):
    log, raw = damaged
    rows = {r[0]: r for r in raw.rows()}

    def put(seq: int, values: tuple) -> None:
        raw.run("UPDATE audit_records SET body = ?, hash = ?, record_id = ?, kind = ?, decision_id = ? WHERE seq = ?",
                (*values, seq))

    for a, b in combinations(sorted(rows), 2):
        put(a, ("x", "x", "swap-tmp", "x", "x"))
        put(b, rows[a][1:])
        put(a, rows[b][1:])
        _bad_at(log, a)
        put(a, ("x", "x", "swap-tmp", "x", "x"))
        put(b, rows[b][1:])
        put(a, rows[a][1:])
        assert log.verify().ok


def test_damage_to_bundles_and_head_is_detected(damaged):
    log, raw = damaged
    (bundle_hash, sources), = raw.run("SELECT hash, sources FROM audit_bundles")
    i = sources.index("requirement")
    raw.run("UPDATE audit_bundles SET sources = ? WHERE hash = ?", (_flip(sources, i), bundle_hash))
    assert _bad_at(log, 1) == "bundle_altered"
    raw.run("DELETE FROM audit_bundles")
    assert _bad_at(log, 1) == "bundle_missing"
    raw.run("INSERT INTO audit_bundles (hash, sources) VALUES (?, ?)", (bundle_hash, sources))
    assert log.verify().ok
    (seq, head_hash), = raw.run("SELECT seq, hash FROM audit_head")
    raw.run("DELETE FROM audit_head")
    report = log.verify()
    assert not report.ok and report.problem.code == "head_missing"
    raw.run("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)", (seq, head_hash))
    assert log.verify().ok


def test_cli_verify_names_the_first_bad_record(damaged, capsys):
    log, raw = damaged
    url = log.url
    row = raw.rows()[2]
    raw.set(row[0], "body", row[1].replace('"kind":"decision"', '"kind":"decisioN"'))
    raw.set(row[0] + 1, "body", raw.rows()[3][1].replace("sha256:", "sha256:0", 1))
    assert main(["audit", "verify", url]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"DAMAGED: record seq {row[0]} (id {row[3]}): hash_mismatch:")
    assert main(["audit", "verify", url, "--format", "json"]) == 1
    import json

    problem = json.loads(capsys.readouterr().out)["problem"]
    assert problem["seq"] == row[0] and problem["code"] == "hash_mismatch"
    assert main(["replay", url]) == 1


def test_invalid_utf8_in_a_sqlite_record_is_detected(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with AuditLog.open(url) as log:
        for req, dec in decided(2, seed=5):
            log.record(dec, req, actor=ACTOR)
        conn = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
        body = conn.execute("SELECT CAST(body AS BLOB) FROM audit_records WHERE seq = 2").fetchone()[0]
        for i in (0, 17, len(body) // 2, len(body) - 1):
            conn.execute("UPDATE audit_records SET body = CAST(? AS TEXT) WHERE seq = 2",
                         (body[:i] + b"\xff" + body[i + 1:],))
            assert _bad_at(log, 2) in {"hash_mismatch", "body_not_json", "body_not_canonical"}
        conn.execute("UPDATE audit_records SET body = CAST(? AS TEXT) WHERE seq = 2", (body,))
        assert log.verify().ok
        conn.close()


def test_every_byte_of_a_record_in_memory():
    """The chain check on its own, exhaustively: every byte of an action record and of the
    chained fields and columns of every record, replaced by another byte."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        with AuditLog.open(str(Path(tmp) / "a.db")) as log:
            (req, dec), = decided(1, seed=9)
            rec = log.record(dec, req, actor=ACTOR)
            log.record_action(rec.decision_id, ACTION, actor=ACTOR)
            rows = list(log.store.rows())
            bundle = log.store.bundle_text
            head = log.store.head()
            assert verify(rows, head, bundle, 1).ok

            def check(i: int, row: Row) -> None:
                damaged_rows = rows[:i] + [row] + rows[i + 1:]
                report = verify(damaged_rows, head, bundle, 1)
                assert not report.ok and report.problem.seq == rows[i].seq

            action = rows[1]
            raw_body = action.body.encode("utf-8")
            for j in range(len(raw_body)):
                for new in {raw_body[j] ^ 1, raw_body[j] ^ 0x80}:
                    changed = raw_body[:j] + bytes([new]) + raw_body[j + 1:]
                    check(1, Row(action.seq, action.record_id, action.kind, action.decision_id,
                                 changed.decode("utf-8", "surrogateescape"), action.hash))
            for i, row in enumerate(rows):
                for j in range(len(row.hash)):
                    check(i, Row(row.seq, row.record_id, row.kind, row.decision_id, row.body, _flip(row.hash, j)))
                for j in range(len(row.record_id)):
                    check(i, Row(row.seq, _flip(row.record_id, j), row.kind, row.decision_id, row.body, row.hash))
