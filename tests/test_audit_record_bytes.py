"""A record appended today has the bytes and hash that the append path of 0.3/0.4 gave it.

The chain format is fixed: a log written before must verify, and a record written now must
be byte for byte what the earlier path wrote for the same decision, request, actor, time
and id. The earlier path is restated here as it was (validate the request, dump request and
decision with pydantic, the record's fields, the definition of canonical JSON over the
whole body, SHA-256), independently of ``Prepared``'s splicing and of orjson, and compared
on a sample of the golden requests (tests/fixtures/golden_decisions) through every way of
appending: a dict request, a ``SharingRequest``, and ``decide_and_record``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import golden_decisions  # noqa: E402

from sharelaw import AuditLog, Engine, parse_request  # noqa: E402
from sharelaw.audit import GENESIS_HASH, RECORD_FORMAT  # noqa: E402
from sharelaw.errors import RequestError  # noqa: E402
from sharelaw.request import SharingRequest  # noqa: E402

MOMENT = datetime(2026, 6, 1, 9, 30, 0, 123456, tzinfo=timezone.utc)
ACTOR = {"agency": "St Mary’s — école", "role": "DSL ✓", "person": "Zoë"}


def _sample() -> list[dict]:
    """Every 40th golden request that is decided (not refused): about 120, of every kind."""
    out = []
    for entry in golden_decisions.load()["entries"][::40]:
        try:
            parse_request(entry["request"])
        except RequestError:
            continue
        out.append(entry["request"])
    return out


SAMPLE = _sample()


def _earlier_bytes(decision, request: dict, record_id: str, seq: int, prev_hash: str) -> bytes:
    """The record's body as the append path before issue 11's audit work made it."""
    req = SharingRequest.model_validate(request)
    decided = decision.model_dump(mode="json")
    body = {
        "seq": seq,
        "prev_hash": prev_hash,
        "format": RECORD_FORMAT,
        "kind": "decision",
        "record_id": record_id,
        "decision_id": record_id,
        "recorded_at": MOMENT.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": {"agency": ACTOR["agency"], "role": ACTOR["role"], "person": ACTOR["person"]},
        "as_at": decided["as_at"],
        "request": req.model_dump(mode="json"),
        "decision": decided,
        "bundle_hash": decided["bundle_hash"],
        "engine_version": decided["engine_version"],
        "schema_version": decided["schema_version"],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


@pytest.mark.parametrize("way", ["dict", "SharingRequest", "decide_and_record"])
def test_records_are_byte_identical_to_the_earlier_append_path(tmp_path, monkeypatch, way) -> None:
    assert len(SAMPLE) > 100
    ids = (f"{n:032x}" for n in itertools.count(1))
    made: list[str] = []

    class _Id:
        def __init__(self) -> None:
            self.hex = next(ids)
            made.append(self.hex)

    import sharelaw.audit as audit_module

    monkeypatch.setattr(audit_module.uuid, "uuid4", _Id)
    engine = Engine(evaluator="compiled")
    try:
        with AuditLog.open(f"sqlite:///{tmp_path / 'log.db'}", clock=lambda: MOMENT) as log:
            prev = GENESIS_HASH
            for seq, request in enumerate(SAMPLE, start=1):
                if way == "decide_and_record":
                    decision, rec = log.decide_and_record(engine, request, actor=ACTOR)
                else:
                    decision = engine.decide(request)
                    given = request if way == "dict" else parse_request(request)
                    rec = log.record(decision, given, actor=ACTOR, bundle=engine.bundle)
                expected = _earlier_bytes(decision, request, made[-1], seq, prev)
                assert rec.text.encode("utf-8") == expected, f"record {seq} differs from the earlier path's bytes"
                assert rec.hash == "sha256:" + hashlib.sha256(expected).hexdigest()
                assert rec.seq == seq and rec.body == json.loads(expected)
                prev = rec.hash
            assert [r.text.encode("utf-8") for r in log.records()][-1] == expected  # as stored
            report = log.verify()
            assert report.ok and report.decisions == len(SAMPLE)
    finally:
        engine.close()


def test_decide_and_record_refuses_a_bad_request_and_records_nothing(tmp_path) -> None:
    engine = Engine(evaluator="compiled")
    try:
        with AuditLog.open(f"sqlite:///{tmp_path / 'log.db'}") as log:
            bad = dict(SAMPLE[0])
            bad["as_at"] = "not a date"
            with pytest.raises(RequestError):
                log.decide_and_record(engine, bad, actor=ACTOR)
            assert len(log) == 0
    finally:
        engine.close()
