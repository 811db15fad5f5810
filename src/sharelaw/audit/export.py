"""Export a log for the tools auditors already use: JSON Lines and CSV.

JSON Lines: one record a line, in sequence order: the record's body with its ``hash``
added, as canonical JSON. Anyone can check a line without sharelaw: remove ``hash``,
write the rest as canonical JSON (docs/audit.md), and its SHA-256 is the hash; each
line's ``prev_hash`` is the previous line's ``hash``.

CSV: one row a record, the fields an auditor filters on (the full request and decision
are in the JSON Lines export).
"""

from __future__ import annotations

import csv
from typing import Any, Iterable, TextIO

from .record import StoredRecord, canonical

CSV_COLUMNS = [
    "seq", "kind", "record_id", "decision_id", "recorded_at", "actor_agency", "actor_role", "actor_person",
    "as_at", "request_id", "interaction", "discloser", "recipient", "purpose", "outcome", "basis", "decided_by",
    "missing", "summary", "bundle_hash", "engine_version", "schema_version",
    "action_outcome", "action_at", "action_form", "action_consent", "action_consulted", "action_reasons",
    "action_what", "action_with_whom", "action_formal", "action_first_approach_at", "action_confidence",
    "action_trust_in_other", "prev_hash", "hash",
]


def write_jsonl(records: Iterable[StoredRecord], out: TextIO) -> int:
    n = 0
    for rec in records:
        out.write(canonical(rec.exported()).decode("utf-8"))
        out.write("\n")
        n += 1
    return n


def _agency(a: dict[str, Any] | None) -> str:
    if not a:
        return ""
    return f"{a.get('legal_entity') or ''} ({a.get('kind') or ''})"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def csv_row(rec: StoredRecord) -> dict[str, str]:
    b = rec.body
    actor = b.get("actor", {})
    row: dict[str, Any] = {
        "seq": rec.seq, "kind": b["kind"], "record_id": b["record_id"], "decision_id": b["decision_id"],
        "recorded_at": b["recorded_at"], "actor_agency": actor.get("agency"), "actor_role": actor.get("role"),
        "actor_person": actor.get("person"), "prev_hash": b["prev_hash"], "hash": rec.hash,
    }
    if b["kind"] == "decision":
        req, d = b["request"], b["decision"]
        row.update({
            "as_at": b["as_at"], "request_id": req.get("request_id"), "interaction": req.get("interaction"),
            "discloser": _agency(req.get("discloser")), "recipient": _agency(req.get("recipient")),
            "purpose": req.get("purpose"), "outcome": d["outcome"], "basis": [x["rule_id"] for x in d["basis"]],
            "decided_by": d["decided_by"], "missing": [m["item"] for m in d["missing"]], "summary": d["summary"],
            "bundle_hash": b["bundle_hash"], "engine_version": b["engine_version"],
            "schema_version": b["schema_version"],
        })
    else:
        for key, value in b["action"].items():
            row[f"action_{key}"] = value
    return {c: _cell(row.get(c)) for c in CSV_COLUMNS}


def write_csv(records: Iterable[StoredRecord], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for rec in records:
        writer.writerow(csv_row(rec))
        n += 1
    return n
