"""The embedded default store: one SQLite file, in WAL mode, ``synchronous=FULL``.

Each append is one ``BEGIN IMMEDIATE`` transaction, which takes SQLite's write lock
before reading the head, so several processes (or threads) appending to one file
produce one chain; with ``synchronous=FULL`` a commit is on disk when ``record()``
returns, so a record whose append returned survives the process being killed (and,
with a disk that honours fsync, the machine losing power).

Opened ``read_only`` (for verify, head, show, export and replay), the file is opened with
the URI ``mode=ro``, so nothing can be written through the connection and a reader with
read access only (file permissions, a read-only mount) can use it. A WAL database opened
read-only still needs its ``-shm`` index: when that cannot be created (the directory is
read-only and the log is not open elsewhere) and there is no write-ahead file holding
records not yet copied into the database, the file is opened ``immutable=1`` instead;
with a non-empty ``-wal`` file it is refused rather than read without those records.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from urllib.parse import quote

from .store import SCHEMA, AuditError, LogDamaged, LogNotFound, Store, initial_rows

BUSY_TIMEOUT_S = 60.0


class SQLiteStore(Store):
    _ph = "?"
    _snapshot_sql = "BEGIN"

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, read_only: bool = False) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self.read_only = read_only
        self.immutable = False
        self._lock = threading.RLock()
        self._init_group_commit()
        if not self.path.exists():
            if not create or read_only:
                raise LogNotFound(f"no audit log at {self.path}")
            if not self.path.parent.is_dir():
                raise LogNotFound(f"cannot create an audit log at {self.path}: no such directory {self.path.parent}")
        if read_only:
            self._conn = self._connect_read_only()
            return
        self._conn = self._connect(str(self.path))
        try:
            self._one("PRAGMA journal_mode=WAL")
            self._execute("PRAGMA synchronous=FULL")
            self._execute("PRAGMA foreign_keys=ON")
            self._ensure_schema(create)
        except BaseException:
            self._conn.close()
            raise

    @staticmethod
    def _connect(target: str, uri: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False,
                               uri=uri)
        # Bytes that are not UTF-8 (a damaged file) are read back as they are, so that
        # verification reports them as a bad record instead of failing to read.
        conn.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
        return conn

    def _uri(self, query: str) -> str:
        return "file:" + quote(str(self.path.absolute())) + "?" + query

    def _connect_read_only(self) -> sqlite3.Connection:
        if not os.access(self.path, os.R_OK):
            raise LogNotFound(f"cannot read the audit log {self.path}: permission denied")
        self._conn = self._connect(self._uri("mode=ro"), uri=True)
        try:
            self._ensure_schema(False)
            conn: sqlite3.Connection = self._conn
            return conn
        except sqlite3.OperationalError as exc:
            self._conn.close()
            if getattr(exc, "sqlite_errorname", "") not in ("SQLITE_READONLY_DIRECTORY", "SQLITE_CANTOPEN",
                                                            "SQLITE_READONLY"):
                raise
        except BaseException:
            self._conn.close()
            raise
        # A WAL database whose -shm index cannot be created (a read-only directory). Only a
        # log with nothing in its write-ahead file can be read without it.
        wal = self.path.with_name(self.path.name + "-wal")
        try:
            pending = wal.stat().st_size
        except FileNotFoundError:
            pending = 0
        except OSError as exc:
            raise AuditError(f"cannot open the audit log {self.path} read-only: cannot read {wal}: "
                             f"{exc.strerror or exc}") from None
        if pending:
            raise AuditError(
                f"cannot open the audit log {self.path} read-only: its write-ahead file {wal} holds records not yet "
                "in the database, and they cannot be read without write access to the directory "
                f"{self.path.parent} (copy the log with its -wal file to a writable directory, or have its "
                "operator checkpoint it)")
        self.immutable = True
        self._conn = self._connect(self._uri("mode=ro&immutable=1"), uri=True)
        try:
            self._ensure_schema(False)
        except BaseException:
            self._conn.close()
            raise
        opened: sqlite3.Connection = self._conn
        return opened

    def _ensure_schema(self, create: bool) -> None:
        exists = self._one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_records'")
        if exists:
            return
        if not create:
            raise LogNotFound(f"{self.path} is not a sharelaw audit log")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            if not self._one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_records'"):
                for statement in SCHEMA:
                    self._conn.execute(statement)
                for statement, params in initial_rows():
                    self._conn.execute(statement, params)
            self._conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _begin_append(self) -> None:
        self._execute("BEGIN IMMEDIATE")

    def _damage(self, exc: Exception) -> str | None:
        if not isinstance(exc, sqlite3.DatabaseError):
            return None
        name = getattr(exc, "sqlite_errorname", "") or ""
        if name == "SQLITE_NOTADB":
            return (f"{self.path} is not a SQLite database ({exc}): not an audit log, or a log whose file was "
                    "overwritten")
        if name.startswith("SQLITE_CORRUPT"):
            return (f"the database file {self.path} is damaged ({exc}): truncated, or its pages overwritten")
        if isinstance(exc, sqlite3.OperationalError) and str(exc).startswith(("no such table", "no such column")):
            return f"the log's tables are not as a sharelaw audit log's ({exc}): its structure was altered"
        return None

    def structure_problem(self) -> str | None:
        rows = self._all("PRAGMA quick_check(20)")
        found = [str(r[0]) for r in rows]
        if found == ["ok"]:
            return None
        detail = "; ".join(line for text in found for line in text.splitlines() if not line.startswith("***"))
        return f"the database file {self.path} is structurally damaged (SQLite quick_check: {detail})"

    def close(self) -> None:
        with self._lock:
            self._conn.close()
