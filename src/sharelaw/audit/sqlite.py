"""The embedded default store: one SQLite file, in WAL mode, ``synchronous=FULL``.

Each append is one ``BEGIN IMMEDIATE`` transaction, which takes SQLite's write lock
before reading the head, so several processes (or threads) appending to one file
produce one chain; with ``synchronous=FULL`` a commit is on disk when ``record()``
returns, so a record whose append returned survives the process being killed (and,
with a disk that honours fsync, the machine losing power).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from .store import SCHEMA, LogNotFound, Store, initial_rows

BUSY_TIMEOUT_S = 60.0


class SQLiteStore(Store):
    _ph = "?"
    _snapshot_sql = "BEGIN"

    def __init__(self, path: str | os.PathLike, *, create: bool = True) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._lock = threading.RLock()
        if not self.path.exists():
            if not create:
                raise LogNotFound(f"no audit log at {self.path}")
            if not self.path.parent.is_dir():
                raise LogNotFound(f"cannot create an audit log at {self.path}: no such directory {self.path.parent}")
        self._conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                     check_same_thread=False)
        # Bytes that are not UTF-8 (a damaged file) are read back as they are, so that
        # verification reports them as a bad record instead of failing to read.
        self._conn.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
        try:
            self._conn.execute("PRAGMA journal_mode=WAL").fetchone()
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._ensure_schema(create)
        except BaseException:
            self._conn.close()
            raise

    def _ensure_schema(self, create: bool) -> None:
        exists = self._one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_records'")
        if exists:
            return
        if not create:
            raise LogNotFound(f"{self.path} is not a sharelaw audit log")
        self._conn.execute("BEGIN IMMEDIATE")
        try:
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
        self._conn.execute("BEGIN IMMEDIATE")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
