"""A signed, published head anchors the log outside itself (issue 10, item 18): a log
rewritten whole, its records and head recomputed, passes plain ``audit verify`` (the chain
uses no secret) but fails ``audit verify --expect-head`` with the head published before.
The head is signed with Ed25519 (``audit head --sign``, keys from ``audit keygen`` or
``openssl genpkey -algorithm ed25519``), and a signed head is checked against the
signer's public key."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess

import pytest

from test_audit_common import ACTION, ACTOR, decided, engine, log_url, pg_url  # noqa: F401 - fixtures

from sharelaw import AuditLog
from sharelaw.cli import main


def _fill(url: str, pairs, actor=ACTOR) -> list[str]:
    ids = []
    with AuditLog.open(url) as log:
        for req, dec in pairs:
            ids.append(log.record(dec, req, actor=actor, bundle=engine().bundle).decision_id)
        log.record_action(ids[0], ACTION, actor=actor)
    return ids


class Raw:
    """Full SQL access to a log's tables: what whoever rewrites a log has."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            self.conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
            self.ph = "?"
        else:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True)
            self.ph = "%s"

    def run(self, sql: str, params: tuple = ()) -> list:
        cur = self.conn.execute(sql.replace("?", self.ph), params)
        return cur.fetchall() if cur.description else []

    def close(self) -> None:
        self.conn.close()


def _rewrite_whole(target: str, forged: str) -> None:
    """Replace every record, bundle and the head of ``target`` with those of ``forged``:
    a consistent log, recomputed from the first record to the head."""
    src, dst = Raw(forged), Raw(target)
    try:
        dst.run("DELETE FROM audit_records")
        dst.run("DELETE FROM audit_bundles")
        for row in src.run("SELECT seq, record_id, kind, decision_id, body, hash FROM audit_records ORDER BY seq"):
            dst.run("INSERT INTO audit_records (seq, record_id, kind, decision_id, body, hash) VALUES (?, ?, ?, ?, ?, ?)",
                    tuple(row))
        for row in src.run("SELECT hash, sources FROM audit_bundles"):
            dst.run("INSERT INTO audit_bundles (hash, sources) VALUES (?, ?)", tuple(row))
        seq, digest = src.run("SELECT seq, hash FROM audit_head WHERE id = 1")[0]
        dst.run("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (seq, digest))
    finally:
        src.close()
        dst.close()


@pytest.fixture
def keys(tmp_path, capsys):
    key = tmp_path / "head.key"
    assert main(["audit", "keygen", str(key)]) == 0
    out = capsys.readouterr().out
    assert "key ed25519:" in out
    assert (key.stat().st_mode & 0o777) == 0o600
    return key, tmp_path / "head.key.pub"


def _verify(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["audit", "verify", *argv, "--format", "json"])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out else {"stderr": out.err})


def test_a_log_rewritten_whole_fails_only_against_the_published_head(log_url, tmp_path, keys, capsys):
    key, pub = keys
    pairs = decided(4, seed=181)
    _fill(log_url, pairs)
    assert main(["audit", "head", log_url, "--sign", str(key)]) == 0
    published = tmp_path / "published-head.json"
    published.write_text(capsys.readouterr().out)
    signed = json.loads(published.read_text())
    assert signed["seq"] == 5 and signed["key"].startswith("ed25519:")
    assert main(["audit", "head", log_url]) == 0
    plain_head = capsys.readouterr().out.strip()
    assert plain_head == f"{signed['seq']} {signed['hash']}"

    code, report = _verify(capsys, log_url, "--expect-head", str(published), "--public-key", str(pub))
    assert code == 0 and report["expected_head"]["signed_by"] == signed["key"]

    # The same decisions, one of them recorded as made by someone else, recomputed whole.
    forged = f"sqlite:///{tmp_path / 'forged.db'}"
    _fill(forged, pairs, actor={**ACTOR, "role": "someone else"})
    _rewrite_whole(log_url, forged)

    assert main(["audit", "verify", log_url]) == 0  # the rewritten log is self-consistent
    capsys.readouterr()
    code, report = _verify(capsys, log_url, "--expect-head", str(published), "--public-key", str(pub))
    assert code == 1 and report["problem"]["code"] == "published_head_mismatch" and report["problem"]["seq"] == 5
    assert main(["audit", "verify", log_url, "--expect-head", str(published), "--public-key", str(pub)]) == 1
    assert "DAMAGED: record seq 5" in capsys.readouterr().out
    code, report = _verify(capsys, log_url, "--expect-head", plain_head)
    assert code == 1 and report["problem"]["code"] == "published_head_mismatch"
    code, report = _verify(capsys, log_url, "--expect-head", signed["hash"])
    assert code == 1 and report["problem"]["code"] == "published_head_not_found"


def test_a_log_cut_back_with_its_head_does_not_reach_the_published_head(tmp_path, keys, capsys):
    key, pub = keys
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    pairs = decided(3, seed=191)
    _fill(url, pairs[:2])
    earlier = f"sqlite:///{tmp_path / 'earlier.db'}"
    shutil.copy(tmp_path / "audit.db", tmp_path / "earlier.db")
    with AuditLog.open(url) as log:
        log.record(pairs[2][1], pairs[2][0], actor=ACTOR)
    assert main(["audit", "head", url, "--sign", str(key)]) == 0
    published = tmp_path / "head.json"
    published.write_text(capsys.readouterr().out)
    _rewrite_whole(url, earlier)  # back to the earlier state, head and all
    assert main(["audit", "verify", url]) == 0
    capsys.readouterr()
    code, report = _verify(capsys, url, "--expect-head", str(published), "--public-key", str(pub))
    assert code == 1 and report["problem"]["code"] == "published_head_not_reached"


def test_a_log_that_grew_since_still_holds_the_published_head(tmp_path, keys, capsys):
    key, pub = keys
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    pairs = decided(3, seed=201)
    ids = _fill(url, pairs[:2])
    assert main(["audit", "head", url, "--sign", str(key)]) == 0
    published = tmp_path / "head.json"
    published.write_text(capsys.readouterr().out)
    with AuditLog.open(url) as log:
        log.record(pairs[2][1], pairs[2][0], actor=ACTOR)
        log.record_action(ids[1], ACTION, actor=ACTOR)
    code, report = _verify(capsys, url, "--expect-head", str(published), "--public-key", str(pub))
    assert code == 0 and report["head_seq"] == 5 and report["expected_head"]["seq"] == 3
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    AuditLog.open(empty).close()
    assert main(["audit", "head", empty, "--sign", str(key)]) == 0
    (tmp_path / "empty-head.json").write_text(capsys.readouterr().out)
    code, _ = _verify(capsys, url, "--expect-head", str(tmp_path / "empty-head.json"), "--public-key", str(pub))
    assert code == 0


def test_the_signature_is_checked_against_the_key_given(tmp_path, keys, capsys):
    key, pub = keys
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    _fill(url, decided(2, seed=211))
    assert main(["audit", "head", url, "--sign", str(key)]) == 0
    signed = json.loads(capsys.readouterr().out)

    def head_file(name: str, data: dict) -> str:
        path = tmp_path / name
        path.write_text(json.dumps(data))
        return str(path)

    # without the signer's key a signed head is refused: the key in the file proves nothing
    assert main(["audit", "verify", url, "--expect-head", head_file("h.json", signed)]) == 2
    assert "--public-key" in capsys.readouterr().err
    # altered after signing (pointing at an earlier record, to accept a cut-back log)
    assert main(["audit", "verify", url, "--expect-head", head_file("h1.json", {**signed, "seq": 1}),
                 "--public-key", str(pub)]) == 2
    assert "signature does not verify" in capsys.readouterr().err
    # signed by another key, carrying that key: refused against the pinned key
    other = tmp_path / "other.key"
    assert main(["audit", "keygen", str(other)]) == 0
    capsys.readouterr()
    assert main(["audit", "head", url, "--sign", str(other)]) == 0
    forged = capsys.readouterr().out
    assert main(["audit", "verify", url, "--expect-head", head_file("h2.json", json.loads(forged)),
                 "--public-key", str(pub)]) == 2
    assert "not by the key given" in capsys.readouterr().err
    # a signature that is not base64, a missing field, a key file that is not a key
    assert main(["audit", "verify", url, "--expect-head", head_file("h3.json", {**signed, "signature": "!!"}),
                 "--public-key", str(pub)]) == 2
    short = {k: v for k, v in signed.items() if k != "signed_at"}
    assert main(["audit", "verify", url, "--expect-head", head_file("h4.json", short), "--public-key", str(pub)]) == 2
    assert main(["audit", "verify", url, "--expect-head", head_file("h5.json", signed),
                 "--public-key", str(tmp_path / "h4.json")]) == 2
    assert main(["audit", "verify", url, "--expect-head", str(tmp_path / "absent")]) == 2
    assert main(["audit", "verify", url, "--public-key", str(pub)]) == 2
    assert main(["audit", "head", url, "--sign", str(tmp_path / "h4.json")]) == 2
    # keygen never overwrites a key
    assert main(["audit", "keygen", str(key)]) == 2
    out = capsys.readouterr()
    assert "internal error" not in out.err


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")
def test_keys_made_with_openssl(tmp_path, capsys):
    key, pub = tmp_path / "o.pem", tmp_path / "o.pub"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    _fill(url, decided(1, seed=221))
    assert main(["audit", "head", url, "--sign", str(key)]) == 0
    (tmp_path / "head.json").write_text(capsys.readouterr().out)
    assert main(["audit", "verify", url, "--expect-head", str(tmp_path / "head.json"), "--public-key", str(pub)]) == 0
