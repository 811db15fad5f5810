"""``sharelaw audit``: record decisions and actions, verify, show, export, publish heads."""

from __future__ import annotations

import argparse
import json

from ..engine.stages import Engine, validate_request
from ..errors import RequestError
from ._common import (
    EXIT_INTERNAL,
    EXIT_OK,
    InputError,
    actor_of,
    add_actor_options,
    add_rules_option,
    damaged_log_verdict,
    default_engine,
    load_bundle,
    open_log,
    read_request,
    to_json,
)
from ._render import render_text


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="record decisions in an audit log, verify and export it")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    record = audit_commands.add_parser(
        "record", help="decide a request and record the decision in a log",
        usage="sharelaw audit record LOG REQUEST.json --agency AGENCY --role ROLE [options]",
        description="LOG first, as in every other audit command (the audit log, created if absent); "
        "REQUEST.json is the request ('-' reads standard input). The older form "
        "'audit record REQUEST.json --log LOG' is still accepted.")
    record.add_argument("positionals", nargs="+", metavar="LOG REQUEST.json")
    record.add_argument("--log", metavar="LOG", help=argparse.SUPPRESS)  # the 0.3.0 form, still accepted
    add_actor_options(record)
    record.add_argument("--format", choices=["text", "json"], default="text",
                        help="text (default) or json (the record's id, seq and hash, and the decision)")
    add_rules_option(record)
    record.set_defaults(run=run_audit_record)
    act = audit_commands.add_parser("act", help="record what was actually done about a recorded decision")
    act.add_argument("log", metavar="LOG")
    act.add_argument("decision_id", metavar="DECISION_ID")
    act.add_argument("action", metavar="ACTION.json", help="the action as JSON (docs/audit.md); '-' reads stdin")
    add_actor_options(act)
    act.set_defaults(run=run_audit_act)
    verify = audit_commands.add_parser("verify", help="check the whole chain and every hash of a log")
    verify.add_argument("log", metavar="LOG")
    verify.add_argument("--format", choices=["text", "json"], default="text",
                        help="text (default) or json (the verification report)")
    verify.add_argument("--expect-head", metavar="FILE|HASH",
                        help="a head published earlier (sha256:HASH, 'SEQ sha256:HASH', or a file from 'audit head', "
                        "signed or not) that the log must still hold")
    verify.add_argument("--public-key", metavar="PUB", help="the public key (PEM) that signed the --expect-head file")
    verify.set_defaults(run=run_audit_verify)
    show = audit_commands.add_parser("show", help="print a decision record and its actions as JSON")
    show.add_argument("log", metavar="LOG")
    show.add_argument("decision_id", metavar="DECISION_ID")
    show.set_defaults(run=run_audit_show)
    export = audit_commands.add_parser("export", help="export a log as JSON Lines or CSV")
    export.add_argument("log", metavar="LOG")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl",
                        help="jsonl (default: one record per line, as stored) or csv (one row per record)")
    export.add_argument("--output", metavar="FILE", help="write here instead of standard output")
    export.set_defaults(run=run_audit_export)
    head = audit_commands.add_parser("head", help="print the log's last sequence number and hash (to publish)")
    head.add_argument("log", metavar="LOG")
    head.add_argument("--sign", metavar="KEY", help="sign the head with this Ed25519 private key (PEM) and print "
                      "it as JSON, to publish")
    head.set_defaults(run=run_audit_head)
    keygen = audit_commands.add_parser("keygen", help="make an Ed25519 key pair for signing heads")
    keygen.add_argument("key", metavar="KEY", help="the private key file to write (PEM, mode 0600; never overwritten)")
    keygen.add_argument("--public", metavar="PUB", help="the public key file to write (default KEY.pub)")
    keygen.set_defaults(run=run_audit_keygen)


@damaged_log_verdict
def run_audit_record(args: argparse.Namespace) -> str:
    given = list(args.positionals)
    if args.log is not None and len(given) == 1:
        args.request = given[0]
    elif args.log is None and len(given) == 2:
        args.log, args.request = given
    else:
        raise InputError(["error: usage: sharelaw audit record LOG REQUEST.json --agency AGENCY --role ROLE"])
    actor = actor_of(args)
    request = validate_request(read_request(args.request))
    engine = Engine(load_bundle(args.rules)) if args.rules else default_engine()
    try:
        decision = engine.decide(request)
    finally:
        if args.rules:
            engine.close()
    with open_log(args.log, create=True) as log:
        rec = log.record(decision, request, actor=actor, bundle=engine.bundle)
    if args.format == "json":
        return to_json({"decision_id": rec.decision_id, "seq": rec.seq, "hash": rec.hash,
                        "decision": decision.model_dump(mode="json")})
    return f"recorded decision {rec.decision_id} (seq {rec.seq})\n" + render_text(decision)


@damaged_log_verdict
def run_audit_act(args: argparse.Namespace) -> str:
    from pydantic import ValidationError

    from ..audit import Action, AuditError, LogDamaged

    actor = actor_of(args)
    try:
        # Read as a request is read: bytes in any JSON encoding, size-bounded, duplicate keys
        # refused, nesting too deep for the parser an input error.
        data = read_request(args.action)
    except RequestError as exc:
        raise InputError([f"error: cannot read the action {args.action}: "
                          + "; ".join(e.message for e in exc.errors)]) from None
    try:
        action = Action.model_validate(data)
    except (ValueError, OverflowError) as exc:  # ValidationError is a ValueError
        if not isinstance(exc, ValidationError):
            raise InputError([f"error: action_invalid: {exc}"]) from None
        raise InputError([f"error: action_invalid: {len(exc.errors())} error(s) in the action"] + [
            f"  {'.'.join(str(p) for p in e['loc']) or '<action>'}: {e['msg']}" for e in exc.errors()]) from None
    with open_log(args.log) as log:
        try:
            rec = log.record_action(args.decision_id, action, actor=actor)
        except LogDamaged:
            raise
        except AuditError as exc:
            raise InputError([f"error: {exc}"]) from None
    return f"recorded action {rec.record_id} on decision {args.decision_id} (seq {rec.seq})\n"


@damaged_log_verdict
def run_audit_verify(args: argparse.Namespace) -> tuple[str, int]:
    from ..audit import AuditError
    from ..audit.anchor import expected_head

    expect = None
    if args.expect_head is not None:
        try:
            expect = expected_head(args.expect_head, args.public_key)
        except AuditError as exc:
            raise InputError([f"error: --expect-head: {exc}"]) from None
    elif args.public_key is not None:
        raise InputError(["error: --public-key checks the signed head given with --expect-head"])
    with open_log(args.log, read_only=True) as log:
        report = log.verify(expect=expect)
    out = to_json(report.to_dict()) if args.format == "json" else report.render()
    return out, EXIT_OK if report.ok else EXIT_INTERNAL


@damaged_log_verdict
def run_audit_show(args: argparse.Namespace) -> str:
    with open_log(args.log, read_only=True) as log:
        try:
            rec = log.get(args.decision_id)
        except KeyError:
            raise InputError([f"error: no decision {args.decision_id} in {args.log}"]) from None
        actions = log.actions(args.decision_id)
    return to_json({"record": rec.exported(), "actions": [a.exported() for a in actions]})


@damaged_log_verdict
def run_audit_export(args: argparse.Namespace) -> str:
    import io

    from ..audit.export import write_csv, write_jsonl

    writer = write_csv if args.format == "csv" else write_jsonl
    with open_log(args.log, read_only=True) as log:
        if args.output:
            try:
                with open(args.output, "w", encoding="utf-8", newline="") as fh:
                    n = writer(log.records(), fh)
            except OSError as exc:
                raise InputError([f"error: cannot write {args.output}: {exc.strerror or exc}"]) from None
            return f"exported {n} record(s) to {args.output}\n"
        buffer = io.StringIO()
        writer(log.records(), buffer)
        return buffer.getvalue()


@damaged_log_verdict
def run_audit_head(args: argparse.Namespace) -> str:
    from ..audit import AuditError
    from ..audit.anchor import load_private_key, sign_head

    key = None
    if args.sign is not None:
        try:
            key = load_private_key(args.sign)
        except AuditError as exc:
            raise InputError([f"error: --sign: {exc}"]) from None
    with open_log(args.log, read_only=True) as log:
        seq, digest = log.head()
    if key is not None:
        return json.dumps(sign_head(seq, digest, key), sort_keys=True, ensure_ascii=False) + "\n"
    return f"{seq} {digest}\n"


def run_audit_keygen(args: argparse.Namespace) -> str:
    from ..audit import AuditError
    from ..audit.anchor import generate_key

    public = args.public or args.key + ".pub"
    try:
        kid = generate_key(args.key, public)
    except AuditError as exc:
        raise InputError([f"error: {exc}"]) from None
    return f"wrote the signing key {args.key} (keep it secret) and its public key {public}\nkey {kid}\n"
