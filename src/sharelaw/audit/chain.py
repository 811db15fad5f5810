"""The hash chain: how a record's hash is made, and verification of a whole log.

A record's hash is ``sha256:`` + the SHA-256 of its canonical JSON body (``record.canonical``).
The body includes the record's sequence number (1, 2, 3, ...) and ``prev_hash``, the
hash of the record before it (``GENESIS_HASH`` for the first). So editing any record
changes its hash and breaks the link from the next one; deleting or reordering records
breaks the sequence and the links; and the log's head (the last sequence number and hash,
kept in the store and updated in the same transaction as each append) shows records cut
from the end. Nothing here reads the clock.

``verify`` checks every record in order and stops at the first problem, naming the record
and what is wrong with it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Iterator

from .record import GENESIS_HASH, RECORD_FORMAT, canonical, parse_json, recanonical, sha256

DECISION_KEYS = frozenset({
    "format", "kind", "seq", "prev_hash", "record_id", "decision_id", "recorded_at", "actor",
    "as_at", "request", "decision", "bundle_hash", "engine_version", "schema_version",
})
ACTION_KEYS = frozenset({
    "format", "kind", "seq", "prev_hash", "record_id", "decision_id", "recorded_at", "actor", "action",
})


def record_hash(body: dict[str, Any]) -> str:
    return sha256(canonical(body))


def sources_hash(sources: dict[str, str]) -> str:
    """The content hash of archived rule files: the same definition as ``Bundle.content_hash``
    (sha256 over the canonical manifest of sorted (relative path, sha256 of the file's bytes))."""
    manifest = [{"path": p, "sha256": hashlib.sha256(t.encode("utf-8")).hexdigest()} for p, t in sorted(sources.items())]
    blob = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class Row:
    """A record row as stored: the indexed columns and the canonical body text."""

    seq: int
    record_id: str
    kind: str
    decision_id: str
    body: str
    hash: str


@dataclass(frozen=True)
class Problem:
    """The first thing wrong with a log."""

    code: str
    message: str
    seq: int | None = None  # the position (sequence number) of the first bad record
    record_id: str | None = None


@dataclass
class VerifyReport:
    records: int = 0
    decisions: int = 0
    actions: int = 0
    bundles: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    problem: Problem | None = None
    expected_head: dict[str, Any] | None = None  # the published head found in the log, if one was expected

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data

    def render(self) -> str:
        if self.ok:
            out = (f"OK: {self.records} record(s) ({self.decisions} decision(s), {self.actions} action(s)), "
                   f"{self.bundles} rule bundle(s); the chain and every hash check out.\n"
                   f"head: seq {self.head_seq} {self.head_hash}\n")
            if self.expected_head is not None:
                e = self.expected_head
                signed = f" (signed by {e['signed_by']} at {e['signed_at']})" if e.get("signed_by") else ""
                out += f"published head: seq {e['seq']} {e['hash']}{signed} is in the log\n"
            return out
        p = self.problem
        assert p is not None
        where = f"record seq {p.seq}" if p.seq is not None else "the log"
        if p.record_id:
            where += f" (id {p.record_id})"
        if p.code == "store_damaged":  # below the records: none of them could be checked
            return f"DAMAGED: {where}: {p.code}: {p.message}\n"
        return (f"DAMAGED: {where}: {p.code}: {p.message}\n"
                f"{self.records} record(s) before it checked out.\n")


class _Damage(Exception):
    def __init__(self, code: str, message: str, seq: int | None = None, record_id: str | None = None) -> None:
        super().__init__(message)
        self.problem = Problem(code, message, seq, record_id)


def verify(
    rows: Iterable[Row],
    head: tuple[int, str] | None,
    bundle_text: Callable[[str], str | None],
    bundle_count: int,
    progress: Callable[[int], None] | None = None,
    expect: Any = None,
) -> VerifyReport:
    """Check every record of a log, in order, and its head and archived bundles.

    ``rows`` are the stored rows in ascending ``seq`` order; ``head`` the stored
    (seq, hash) of the last record, or None if the head row is missing; ``bundle_text``
    returns an archived bundle's stored sources (canonical JSON) by hash. ``expect`` (an
    ``anchor.ExpectedHead``) is a head published earlier, which the log must still hold:
    the record at its seq has its hash (or, with no seq, some record has its hash).
    """
    report = VerifyReport(bundles=bundle_count)
    prev_hash = GENESIS_HASH
    expected = 1
    decisions: set[str] = set()
    bundles_ok: set[str] = set()
    found = expect is not None and expect.seq == 0 and expect.hash == GENESIS_HASH
    try:
        for row in rows:
            _check_row(row, expected, prev_hash, decisions, bundles_ok, bundle_text)
            if expect is not None and not found and (expect.seq == row.seq or (expect.seq is None
                                                                              and expect.hash == row.hash)):
                if row.hash != expect.hash:
                    raise _Damage(
                        "published_head_mismatch",
                        f"the published head says record seq {row.seq} has hash {expect.hash}, but the log's has "
                        f"{row.hash}: the log was rewritten from there on, or replaced (or the head is not this "
                        "log's)", row.seq, row.record_id)
                found = True
            if row.kind == "decision":
                report.decisions += 1
            else:
                report.actions += 1
            report.records += 1
            prev_hash = row.hash
            expected += 1
            if progress is not None:
                progress(report.records)
        last = expected - 1
        check_head(head, last, prev_hash)
        if expect is not None and not found:
            if expect.seq is None:
                raise _Damage("published_head_not_found",
                              f"no record of the log has the published hash {expect.hash}: the log was rewritten "
                              "or replaced (or the hash is not this log's)")
            raise _Damage("published_head_not_reached",
                          f"the published head is seq {expect.seq} {expect.hash}, but the log ends at seq {last}: "
                          "records were cut from the end together with the head, or the log was replaced",
                          seq=last + 1)
        if expect is not None:
            report.expected_head = expect.to_dict()
        report.head_seq, report.head_hash = last, prev_hash
    except _Damage as damage:
        report.problem = damage.problem
    return report


def check_head(head: tuple[int, str] | None, last: int, prev_hash: str) -> None:
    """The head must be the last record (seq ``last``, hash ``prev_hash``)."""
    if head is None:
        if last:
            raise _Damage("head_missing", "the log's head row (last sequence number and hash) is missing")
    elif head != (last, prev_hash):
        if head[0] > last:
            raise _Damage(
                "records_missing_at_end",
                f"the head says the log ends at seq {head[0]} ({head[1]}), but the last record is seq {last}: "
                f"{head[0] - last} record(s) were removed from the end", seq=last + 1)
        raise _Damage(
            "head_mismatch",
            f"the head says seq {head[0]} {head[1]}, but the last record is seq {last} {prev_hash}",
            seq=head[0] if head[0] >= 1 else None)


def chain_broken(seq: int, claimed: Any, prev_hash: str, rid: str | None) -> "_Damage":
    what = "the first record" if seq == 1 else f"record seq {seq - 1}"
    return _Damage("chain_broken",
                   f"its prev_hash {claimed} is not the hash of {what} ({prev_hash}): "
                   "a record before it was altered, inserted, removed or reordered", seq, rid)


def duplicate_id(seq: int, decision_id: str) -> "_Damage":
    return _Damage("duplicate_id", f"decision id {decision_id} is recorded twice", seq, decision_id)


def unknown_decision(seq: int, record_id: str, decision_id: str) -> "_Damage":
    return _Damage("unknown_decision",
                   f"an action on decision {decision_id}, which is not recorded before it", seq, record_id)


def _check_row(row: Row, expected: int, prev_hash: str | None, decisions: set[str], bundles_ok: set[str],
               bundle_text: Callable[[str], str | None],
               unresolved: list[tuple[int, str, str]] | None = None) -> dict[str, Any]:
    """Check one row; return its body. ``prev_hash`` None: the row opens a partition, whose
    link to the record before is checked by the driver (``merge_parts``). ``unresolved``
    given: an action on a decision not in ``decisions`` is listed there for the driver
    instead of failing (the decision may be in an earlier partition)."""
    seq = expected
    rid = row.record_id
    if row.seq != expected:
        if row.seq > expected:
            raise _Damage("record_missing",
                          f"expected seq {expected} next, found seq {row.seq}: "
                          f"{row.seq - expected} record(s) deleted", seq=expected)
        raise _Damage("sequence_broken", f"expected seq {expected} next, found seq {row.seq}", seq=expected, record_id=rid)
    raw = row.body.encode("utf-8", "surrogateescape")
    computed = sha256(raw)
    try:
        body, has_float = parse_json(row.body)
    except ValueError as exc:
        raise _Damage("body_not_json", f"the stored body is not valid JSON ({exc})", seq, rid) from None
    if not isinstance(body, dict):
        raise _Damage("body_not_json", "the stored body is not a JSON object", seq, rid)
    rid = body["record_id"] if isinstance(body.get("record_id"), str) else rid
    try:
        again: bytes | None = recanonical(body, has_float)
    except (UnicodeError, ValueError):
        again = None
    if again != raw:
        raise _Damage("body_not_canonical", "the stored body is not in canonical JSON (it was rewritten)", seq, rid)
    if computed != row.hash:
        raise _Damage("hash_mismatch",
                      f"the record's content does not match its stored hash (stored {row.hash}, computed {computed}): "
                      "the record or its hash was altered", seq, rid)
    if body.get("seq") != row.seq:
        raise _Damage("sequence_mismatch",
                      f"stored at seq {row.seq} but its body says seq {body.get('seq')}: records were moved or swapped",
                      seq, rid)
    if prev_hash is not None and body.get("prev_hash") != prev_hash:
        raise chain_broken(seq, body.get("prev_hash"), prev_hash, rid)
    if body.get("format") != RECORD_FORMAT:
        raise _Damage("format_unknown", f"unknown record format {body.get('format')!r}", seq, rid)
    kind = body.get("kind")
    keys = DECISION_KEYS if kind == "decision" else ACTION_KEYS if kind == "action" else None
    if keys is None:
        raise _Damage("kind_unknown", f"unknown record kind {kind!r}", seq, rid)
    if set(body) != keys:
        raise _Damage("fields_wrong", f"a {kind} record has fields {sorted(set(body) ^ keys)} wrong", seq, rid)
    if (row.record_id, row.kind, row.decision_id) != (body["record_id"], kind, body["decision_id"]):
        raise _Damage("index_mismatch",
                      "the record's indexed columns (record_id, kind, decision_id) do not match its body", seq, rid)
    if kind == "decision":
        d = body["decision"]
        if not isinstance(d, dict) or body["decision_id"] != body["record_id"] or any(
            d.get(k) != body[k] for k in ("as_at", "bundle_hash", "engine_version", "schema_version")
        ):
            raise _Damage("decision_inconsistent",
                          "the record's as_at, bundle hash or versions disagree with its decision", seq, rid)
        if body["record_id"] in decisions:
            raise duplicate_id(seq, body["record_id"])
        decisions.add(body["record_id"])
        bh = body["bundle_hash"]
        if bh not in bundles_ok:
            text = bundle_text(bh)
            if text is None:
                raise _Damage("bundle_missing", f"the rule bundle {bh} it was decided under is not archived in the log",
                              seq, rid)
            try:
                sources, floats = parse_json(text)
                valid = recanonical(sources, floats) == text.encode("utf-8") and sources_hash(sources) == bh
            except (ValueError, AttributeError, TypeError, UnicodeError):
                valid = False
            if not valid:
                raise _Damage("bundle_altered", f"the archived rule bundle {bh} does not match its hash", seq, rid)
            bundles_ok.add(bh)
    elif body["decision_id"] not in decisions:
        if unresolved is None:
            raise unknown_decision(seq, body["record_id"], body["decision_id"])
        unresolved.append((seq, body["record_id"], body["decision_id"]))
    return body


def iter_batches(fetch: Callable[[int], list[Row]]) -> Iterator[Row]:
    """Rows in seq order, fetched in batches by keyset (``fetch(after_seq)``)."""
    after = 0
    while True:
        batch = fetch(after)
        if not batch:
            return
        yield from batch
        after = batch[-1].seq
