"""Decision records that auditors can trust and replay: an append-only, hash-chained log.

    >>> from sharelaw import AuditLog, Engine                       # doctest: +SKIP
    >>> engine = Engine()                                           # doctest: +SKIP
    >>> with AuditLog.open("sqlite:///decisions.db") as log:        # doctest: +SKIP
    ...     decision = engine.decide(request)
    ...     rec = log.record(decision, request, actor={"agency": "st-marys-primary", "role": "DSL"},
    ...                      bundle=engine.bundle)
    ...     log.record_action(rec.decision_id, {"outcome": "shared", "at": "2026-06-01T10:00:00Z",
    ...                       "form": "telephone", "consent": "not_obtained", "reasons": "..."},
    ...                       actor={"agency": "st-marys-primary", "role": "DSL"})
    ...     log.verify().ok

Backends, chosen by the URL: ``sqlite:///path/to/file.db`` or a plain path (the embedded
default), ``postgresql://...`` (several service instances writing one log). See
docs/audit.md for the record format, the chain, and what the log cannot prove.
"""

from __future__ import annotations

import re
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping

from ..decision import Decision
from ..engine.stages import Engine, validate_request
from ..request import SharingRequest
from ..rules.bundle import Bundle
from .chain import Problem, VerifyReport, sources_hash, verify
from .record import (
    GENESIS_HASH,
    RECORD_FORMAT,
    Action,
    Actor,
    Prepared,
    StoredRecord,
    action_fields,
    canonical,
    canonical_fast,
    decision_fields,
    utc_iso,
)
from .store import AuditError, DuplicateRecord, LogDamaged, LogNotFound, Store

_RECORD_ID = re.compile(r"[0-9a-f]{32}")

__all__ = [
    "GENESIS_HASH",
    "RECORD_FORMAT",
    "Action",
    "Actor",
    "AuditError",
    "AuditLog",
    "DuplicateRecord",
    "LogDamaged",
    "LogNotFound",
    "Problem",
    "StoredRecord",
    "VerifyReport",
    "canonical",
    "canonical_fast",
    "open_store",
]


def open_store(url: str, *, create: bool = True, read_only: bool = False) -> Store:
    """The store for ``url``: ``postgresql://`` or ``postgres://`` URIs, ``sqlite:///PATH``, or a plain path.
    ``read_only`` opens an existing log so that nothing can be written through it (never created)."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(text, create=create, read_only=read_only)
    if text.startswith("sqlite:"):
        if not text.startswith("sqlite:///") or len(text) == len("sqlite:///"):
            raise LogNotFound(f"write a SQLite log as sqlite:///relative/path.db or sqlite:////absolute/path.db, not {text!r}")
        path = text[len("sqlite:///"):]
    elif "://" in text:
        raise LogNotFound(f"unknown audit log URL scheme in {text!r}: use sqlite:///PATH, a path, or postgresql://...")
    else:
        path = text
    from .sqlite import SQLiteStore

    return SQLiteStore(path, create=create, read_only=read_only)


class AuditLog:
    """An append-only, hash-chained log of decisions and of what practitioners then did.

    Thread-safe; appends from several processes to one log are serialised by the store.
    ``record`` and ``record_action`` return once the record is durable.
    """

    def __init__(self, store: Store, *, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._archived: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url: str, *, create: bool = True, read_only: bool = False,
             clock: Callable[[], datetime] | None = None) -> "AuditLog":
        """Open (by default creating) the log at ``url``. ``LogNotFound`` if it is absent and
        ``create`` is false, or cannot be reached. ``read_only`` opens an existing log for
        reading only (SQLite ``mode=ro``, PostgreSQL read-only transactions): what an auditor
        with read access alone can verify, show, export and replay."""
        return cls(open_store(url, create=create and not read_only, read_only=read_only), clock=clock)

    @property
    def url(self) -> str:
        return self.store.url

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "AuditLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ append

    def record(
        self,
        decision: Decision,
        request: SharingRequest | Mapping[str, Any],
        *,
        actor: Actor | Mapping[str, Any],
        bundle: Bundle | None = None,
        record_id: str | None = None,
    ) -> StoredRecord:
        """Append a decision with the request it answered. The rule bundle it was decided
        under is archived in the log the first time it is seen: pass ``bundle`` (the
        engine's ``engine.bundle``) unless the log already holds it or it is the shipped
        rules. Returns the stored record; its ``decision_id`` names the decision.

        ``record_id`` (32 lower-case hex digits; default: a new random one) fixes the
        record's id, so that a caller retrying after an unknown outcome can find out
        whether the first attempt was appended (the service's ``Idempotency-Key``): a second
        record with the same id is refused by the store (``AuditError``), never appended."""
        if not isinstance(decision, Decision):
            raise TypeError("record() takes the Decision returned by Engine.decide()")
        if record_id is not None and not (isinstance(record_id, str) and _RECORD_ID.fullmatch(record_id)):
            raise ValueError(f"record_id must be 32 lower-case hex digits, not {record_id!r}")
        # What the caller hands in is validated (a SharingRequest already is); the Decision
        # the engine built is trusted as it is and dumped without pydantic's serialisation checks.
        req = validate_request(request)
        actor_model = actor if isinstance(actor, Actor) else Actor.model_validate(dict(actor))
        if req.as_at != decision.as_at or req.request_id != decision.request_id:
            raise AuditError("the decision does not answer this request (its as_at or request_id differs)")
        archive = self._bundle_to_archive(decision.bundle_hash, bundle)
        decided = decision.model_dump(mode="json", warnings=False)
        prepared = Prepared(decision_fields(
            record_id=record_id or uuid.uuid4().hex, recorded_at=utc_iso(self._clock()), actor=actor_model,
            request=req.model_dump(mode="json", warnings=False), decision=decided))
        rec = self.store.append(prepared, bundle=archive, unique_id=record_id)
        if archive is not None:
            self._archived.add(archive[0])
        return rec

    def decide_and_record(
        self,
        engine: Engine,
        request: SharingRequest | Mapping[str, Any],
        *,
        actor: Actor | Mapping[str, Any],
    ) -> tuple[Decision, StoredRecord]:
        """Decide ``request`` with ``engine`` and append the decision: ``engine.decide`` then
        ``record``, with the request validated once. ``record(decision, d)`` with a dict ``d``
        must validate ``d`` itself (it cannot know that ``d`` is what the engine was given, or
        that it has not changed since): a caller holding a dict saves that second validation
        (~38 µs a record) here, or by passing ``parse_request(d)`` to both."""
        req = validate_request(request)
        decision = engine.decide(req)
        return decision, self.record(decision, req, actor=actor, bundle=engine.bundle)

    def record_action(
        self,
        decision_id: str,
        action: Action | Mapping[str, Any],
        *,
        actor: Actor | Mapping[str, Any],
    ) -> StoredRecord:
        """Append what the practitioner actually did about a recorded decision, as its own record."""
        action_model = action if isinstance(action, Action) else Action.model_validate(dict(action))
        actor_model = actor if isinstance(actor, Actor) else Actor.model_validate(dict(actor))
        prepared = Prepared(action_fields(record_id=uuid.uuid4().hex, recorded_at=utc_iso(self._clock()),
                                          actor=actor_model, decision_id=decision_id, action=action_model))
        return self.store.append(prepared, needs_decision=decision_id)

    def archive(self, bundle: Bundle) -> str:
        """Archive a rule bundle by its content hash (a no-op if the log holds it). Returns the hash."""
        if not self.store.has_bundle(bundle.content_hash):
            self.store.archive_bundle(bundle.content_hash, self._checked_sources(bundle))
        self._archived.add(bundle.content_hash)
        return bundle.content_hash

    def _bundle_to_archive(self, bundle_hash: str, bundle: Bundle | None) -> tuple[str, dict[str, str]] | None:
        if bundle_hash in self._archived:
            return None
        if bundle is not None:
            if bundle.content_hash != bundle_hash:
                raise AuditError(f"the bundle given ({bundle.content_hash}) is not the one the decision was made "
                                 f"under ({bundle_hash})")
            return bundle_hash, self._checked_sources(bundle)
        if self.store.has_bundle(bundle_hash):
            self._archived.add(bundle_hash)
            return None
        from .. import default_engine

        shipped = default_engine().bundle
        if shipped.content_hash == bundle_hash:
            return bundle_hash, self._checked_sources(shipped)
        raise AuditError(f"the rule bundle {bundle_hash} is not archived in this log: pass bundle=engine.bundle")

    @staticmethod
    def _checked_sources(bundle: Bundle) -> dict[str, str]:
        sources = dict(bundle.sources)
        if sources_hash(sources) != bundle.content_hash:
            raise AuditError(f"the bundle's archived texts do not reproduce its hash {bundle.content_hash}")
        return sources

    # ------------------------------------------------------------------ read

    def __iter__(self) -> Iterator[StoredRecord]:
        """Every record, decisions and actions, in the order appended."""
        return self.store.records()

    def records(self, *, after: int = 0) -> Iterator[StoredRecord]:
        return self.store.records(after)

    def decisions(self) -> Iterator[StoredRecord]:
        return (r for r in self.store.records() if r.kind == "decision")

    def __len__(self) -> int:
        return self.store.count()

    def get(self, decision_id: str) -> StoredRecord:
        """The decision record with this id; ``KeyError`` if there is none."""
        for rec in self.store.by_decision(decision_id):
            if rec.kind == "decision":
                return rec
        raise KeyError(decision_id)

    def __getitem__(self, decision_id: str) -> StoredRecord:
        return self.get(decision_id)

    def __contains__(self, decision_id: object) -> bool:
        return isinstance(decision_id, str) and any(r.kind == "decision" for r in self.store.by_decision(decision_id))

    def actions(self, decision_id: str) -> list[StoredRecord]:
        """The action records attached to a decision, in the order appended."""
        return [r for r in self.store.by_decision(decision_id) if r.kind == "action"]

    def head(self) -> tuple[int, str]:
        """The last record's sequence number and hash: publish it to anchor the log."""
        return self.store.head() or (0, GENESIS_HASH)

    def bundle(self, bundle_hash: str) -> Bundle:
        """An archived rule bundle, rebuilt; ``AuditError`` if absent or not reproducing its hash."""
        sources = self.store.bundle_sources(bundle_hash)
        if sources is None:
            raise AuditError(f"the rule bundle {bundle_hash} is not archived in this log")
        rebuilt = Bundle.from_sources(sources)
        if rebuilt.content_hash != bundle_hash:
            raise AuditError(f"the archived rule bundle {bundle_hash} rebuilds as {rebuilt.content_hash}")
        return rebuilt

    def bundle_hashes(self) -> list[str]:
        return self.store.bundle_hashes()

    # ------------------------------------------------------------------ verify

    def verify(self, progress: Callable[[int], None] | None = None, *, expect: Any = None) -> VerifyReport:
        """Check the whole chain, every hash and the archived bundles, on one consistent snapshot.
        A store that is itself damaged (not a database, truncated, structurally corrupt, its
        tables altered) is reported as the problem ``store_damaged``. ``expect``, an
        ``anchor.ExpectedHead`` (see ``anchor.expected_head``), is a head published earlier
        that the log must still hold: a log rewritten whole, head and all, fails here."""
        try:
            with self.store.snapshot():
                structure = self.store.structure_problem()
                if structure is not None:
                    return damaged_report(structure)
                return verify(self.store.rows(), self.store.head(), self.store.bundle_text,
                              len(self.store.bundle_hashes()), progress, expect)
        except LogDamaged as exc:
            return damaged_report(str(exc))


def damaged_report(reason: str) -> VerifyReport:
    """The verdict on a log whose store is damaged below the records."""
    return VerifyReport(problem=Problem("store_damaged", reason))
