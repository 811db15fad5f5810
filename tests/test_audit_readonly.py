"""An auditor with read access alone can verify, head, show, export and replay a log
(issue 10, item 16): SQLite is opened with the URI ``mode=ro`` (``immutable=1`` when the
directory is read-only and nothing is in the write-ahead file), PostgreSQL with read-only
transactions, and a PostgreSQL role granted only SELECT is enough.

The tests run as root in CI, where file permissions do not bind: the commands are then
run in a child process as the unprivileged user ``nobody`` (uid 65534), for whom a
directory of mode 0555 and a file of mode 0444 are really read-only."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from test_audit_common import ACTION, ACTOR, decided, engine, pg_admin, pg_url  # noqa: F401 - fixtures

from sharelaw import AuditLog
from sharelaw.audit import AuditError
from sharelaw.cli import main

NOBODY = 65534
READ_COMMANDS = ["verify", "head", "show", "export", "replay"]


def _fill(url: str, n: int = 3) -> list[str]:
    ids = []
    with AuditLog.open(url) as log:
        for req, dec in decided(n, seed=161):
            ids.append(log.record(dec, req, actor=ACTOR, bundle=engine().bundle).decision_id)
        log.record_action(ids[0], ACTION, actor=ACTOR)
    return ids


def _argv(command: str, url: str, decision_id: str) -> list[str]:
    if command == "show":
        return ["audit", "show", url, decision_id]
    if command == "replay":
        return ["replay", url]
    return ["audit", command, url]


@pytest.fixture
def ro_dir():
    """A directory that the unprivileged user can enter (tmp_path's parents are 0700)."""
    path = Path(tempfile.mkdtemp(prefix="sharelaw-ro-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for p in [path, *path.iterdir()]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        shutil.rmtree(path)


def _run_as_reader(argv: list[str]) -> subprocess.CompletedProcess:
    """Run ``sharelaw ARGV`` as a user for whom 0555/0444 mean read-only."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        # setpriv (util-linux) rather than subprocess's user=: the interpreter may live
        # under a directory that only root can enter, which setpriv's exec still reaches.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot drop to an unprivileged user")
        prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    env = dict(os.environ, HOME="/nonexistent", PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([*prefix, sys.executable, "-m", "sharelaw", *argv], capture_output=True, text=True,
                          timeout=300, env=env, cwd="/")


def _make_read_only(directory: Path) -> dict[str, bytes]:
    for p in directory.iterdir():
        p.chmod(0o444)
    directory.chmod(0o555)
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def test_a_read_only_connection_cannot_write(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    ids = _fill(url, 2)
    with AuditLog.open(url, read_only=True) as log:
        assert log.store.read_only
        with pytest.raises(sqlite3.OperationalError, match="attempt to write a readonly database"):
            log.store._conn.execute("INSERT INTO audit_meta (key, value) VALUES ('x', 'y')")
        req, dec = decided(1, seed=5)[0]
        with pytest.raises(AuditError, match="read-only"):
            log.record(dec, req, actor=ACTOR, bundle=engine().bundle)
        with pytest.raises(AuditError, match="read-only"):
            log.record_action(ids[0], ACTION, actor=ACTOR)
        assert log.verify().ok and len(log) == 3
    with pytest.raises(AuditError):  # never created
        AuditLog.open(str(tmp_path / "absent.db"), read_only=True)
    assert not (tmp_path / "absent.db").exists()


def test_every_read_command_on_a_read_only_directory(ro_dir):
    """A log closed cleanly (no -wal, no -shm) in a directory the reader cannot write:
    opened immutable, every read command works and nothing on disk changes."""
    db = ro_dir / "audit.db"
    ids = _fill(str(db))
    assert sorted(p.name for p in ro_dir.iterdir()) == ["audit.db"]
    before = _make_read_only(ro_dir)
    for command in READ_COMMANDS:
        done = _run_as_reader(_argv(command, str(db), ids[0]))
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert "internal error" not in done.stderr
        if command == "verify":
            assert done.stdout.startswith("OK: 4 record(s)")
        if command == "export":
            assert len(done.stdout.splitlines()) == 4
    assert {p.name: p.read_bytes() for p in ro_dir.iterdir()} == before


def test_read_only_while_the_writer_has_the_log_open(ro_dir):
    """With the service running (its -wal and -shm present, records still in the WAL), a
    reader without write access reads them all through mode=ro."""
    db = ro_dir / "audit.db"
    ids = _fill(str(db), 2)
    with AuditLog.open(str(db)) as writer:
        req, dec = decided(1, seed=9)[0]
        writer.record(dec, req, actor=ACTOR, bundle=engine().bundle)
        assert (ro_dir / "audit.db-wal").stat().st_size > 0
        for p in ro_dir.iterdir():
            p.chmod(0o644)  # readable by all; writable by the writer only
        ro_dir.chmod(0o555)
        done = _run_as_reader(["audit", "verify", str(db), "--format", "json"])
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["records"] == 4
        done = _run_as_reader(["audit", "head", str(db)])
        assert done.stdout == f"{writer.head()[0]} {writer.head()[1]}\n"
        ro_dir.chmod(0o755)


def test_records_only_in_the_wal_are_never_skipped(ro_dir):
    """A -wal file holding records, no -shm, and a read-only directory: refused (exit 2,
    saying why), never read as the shorter log in the main file."""
    db = ro_dir / "audit.db"
    _fill(str(db), 2)
    script = (
        "import sqlite3, os, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA wal_autocheckpoint=0')\n"
        "c.execute(\"INSERT INTO audit_meta (key, value) VALUES ('note', 'in the wal only')\")\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(db)], check=True)
    (ro_dir / "audit.db-shm").unlink()
    assert (ro_dir / "audit.db-wal").stat().st_size > 0
    _make_read_only(ro_dir)
    done = _run_as_reader(["audit", "verify", str(db)])
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "write-ahead file" in done.stderr and "internal error" not in done.stderr


# ---------------------------------------------------------------------- PostgreSQL


def _role_url(base: str, role: str, password: str) -> str:
    parts = urlsplit(base)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(role)}:{quote(password)}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _schema_of(url: str) -> str:
    return url.rsplit("search_path%3D", 1)[1]


@pytest.fixture
def pg_role(pg_url):
    """Make roles on the test server (needs CREATEROLE); each dropped afterwards."""
    admin = pg_admin()
    if not admin.execute("SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
        admin.close()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the PostgreSQL test role needs CREATEROLE in CI (.ci/run grants it)")
        pytest.skip("the PostgreSQL test role cannot create roles (grant it CREATEROLE)")
    made: list[str] = []
    schema = _schema_of(pg_url)

    def make(grants: list[str]) -> str:
        role = "audit_r_" + uuid.uuid4().hex[:10]
        password = uuid.uuid4().hex
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        made.append(role)
        for grant in grants:
            admin.execute(grant.format(role=role, schema=schema))
        return _role_url(pg_url, role, password)

    try:
        yield make
    finally:
        for role in made:
            admin.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}")
            admin.execute(f"REVOKE ALL ON SCHEMA {schema} FROM {role}")
            admin.execute(f"DROP ROLE {role}")
        admin.close()


AUDITOR_GRANTS = [
    "GRANT USAGE ON SCHEMA {schema} TO {role}",
    "GRANT SELECT ON {schema}.audit_records, {schema}.audit_head, {schema}.audit_bundles, {schema}.audit_meta TO {role}",
]


def test_postgres_read_only_session_cannot_write(pg_url):
    ids = _fill(pg_url, 2)
    import psycopg

    with AuditLog.open(pg_url, read_only=True) as log:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            log.store._conn.execute("INSERT INTO audit_meta (key, value) VALUES ('x', 'y')")
        with pytest.raises(AuditError, match="read-only"):
            log.record_action(ids[0], ACTION, actor=ACTOR)
        assert log.verify().ok


def test_postgres_auditor_role_with_select_only(pg_url, pg_role, capsys):
    ids = _fill(pg_url)
    auditor = pg_role(AUDITOR_GRANTS)
    for command in READ_COMMANDS:
        assert main(_argv(command, auditor, ids[0])) == 0, (command, capsys.readouterr())
        out = capsys.readouterr()
        assert "internal error" not in out.err
        if command == "verify":
            assert out.out.startswith("OK: 4 record(s)")
    # and the role itself cannot append, opened for writing or not
    with AuditLog.open(auditor, create=False) as log:
        with pytest.raises(Exception, match="permission denied"):
            log.record_action(ids[0], ACTION, actor=ACTOR)


# The grants of docs/security.md ("Deploying the log"), for a log in schema {schema}.
WRITER_GRANTS = [
    "GRANT USAGE ON SCHEMA {schema} TO {role}",
    "GRANT SELECT, INSERT ON {schema}.audit_records, {schema}.audit_bundles TO {role}",
    "GRANT SELECT, UPDATE (seq, hash) ON {schema}.audit_head TO {role}",
    "GRANT SELECT ON {schema}.audit_meta TO {role}",
]


def test_postgres_insert_only_writer_role(pg_url, pg_role, capsys):
    """The writer role of docs/security.md appends and nothing else: it cannot update,
    delete or truncate a record, nor touch the bundles or meta; the auditor verifies."""
    import psycopg

    ids = _fill(pg_url, 1)  # the owner creates the tables
    writer = pg_role(WRITER_GRANTS)
    auditor = pg_role(AUDITOR_GRANTS)
    with AuditLog.open(writer, create=False) as log:
        req, dec = decided(1, seed=13)[0]
        rec = log.record(dec, req, actor=ACTOR, bundle=engine().bundle)
        log.record_action(rec.decision_id, ACTION, actor=ACTOR)
        conn = log.store._conn
        for sql in ["UPDATE audit_records SET body = 'x' WHERE seq = 1",
                    "DELETE FROM audit_records WHERE seq = 1",
                    "TRUNCATE audit_records",
                    "UPDATE audit_bundles SET sources = '{}'",
                    "DELETE FROM audit_bundles",
                    "UPDATE audit_meta SET value = 'x'",
                    "DELETE FROM audit_head"]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
    assert main(["audit", "verify", auditor]) == 0
    assert capsys.readouterr().out.startswith("OK: 4 record(s)")
    assert ids
