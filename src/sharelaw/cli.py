"""The ``sharelaw`` command line.

    sharelaw decide REQUEST.json [--format text|json|markdown] [--rules PATH ...]
    sharelaw schema request|decision|ruleset
    sharelaw rules list [--as-at YYYY-MM-DD] [--stage STAGE] [--format text|json] [--rules PATH ...]
    sharelaw rules diff --from YYYY-MM-DD --to YYYY-MM-DD [--format text|json] [--rules PATH ...]
    sharelaw check [PATH ...] [--format text|json] [--strict]
    sharelaw prove [PATH ...] [--as-at YYYY-MM-DD ...] [--budget S] [--examples N] [--max-classes N] [--format text|json]
    sharelaw test PATH... [--require-full-coverage]
    sharelaw audit record REQUEST.json --log LOG --agency AGENCY --role ROLE [--person ID] [--rules PATH ...]
    sharelaw audit act LOG DECISION_ID ACTION.json --agency AGENCY --role ROLE [--person ID]
    sharelaw audit verify LOG [--format text|json] [--expect-head FILE|HASH [--public-key PUB]]
    sharelaw audit show LOG DECISION_ID
    sharelaw audit export LOG [--format jsonl|csv] [--output FILE]
    sharelaw audit head LOG [--sign KEY]
    sharelaw audit keygen KEY [--public PUB]
    sharelaw replay LOG [--against current|sha256:HASH] [--rules PATH ...] [--format text|json] [--progress|--no-progress]
    sharelaw --version

Exit codes: 0 done; 2 invalid input (request, JSON, rule or scenario files, or usage),
with every problem listed on stderr; 1 internal error, or for ``test``, a scenario that
failed (or, with --require-full-coverage, a rule left uncovered), for ``audit verify`` a
damaged log, for ``replay`` a decision not reproduced (or not decidable under the rules
compared against). A decision is printed only with exit code 0. LOG is an audit log URL:
``sqlite:///PATH``, a plain path to a SQLite file, or ``postgresql://...`` (docs/audit.md).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import date
from pathlib import Path
from typing import Any

from dateutil.parser import isoparse

from . import default_engine
from ._version import __version__
from .decision import Decision
from .engine.pipeline import Engine, plain_text, validate_request
from .errors import MAX_LISTED_ERRORS, EngineError, FieldError, RequestError, RulesetError
from .law.eras import SCOPE_START
from .request import SharingRequest
from .rules.bundle import Bundle
from .rules.model import Rule, RulesetFile
from .vocab import Stage

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2

SCHEMAS = {
    "request": lambda: SharingRequest.model_json_schema(mode="validation"),
    "decision": lambda: Decision.model_json_schema(mode="serialization"),
    "ruleset": lambda: RulesetFile.model_json_schema(mode="validation"),
}


class InputError(Exception):
    """Bad input other than the request itself: every line is printed on stderr."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


# ---------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_INPUT
    try:
        output = args.run(args)
        code = EXIT_OK
        if isinstance(output, tuple):  # (output, exit code): commands whose result sets the status
            output, code = output
    except RequestError as exc:
        report_request_error(exc, json_output=getattr(args, "format", None) == "json")
        return EXIT_INPUT
    except InputError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return EXIT_INPUT
    except RulesetError as exc:
        if getattr(args, "rules", None) or getattr(args, "paths", None):
            # the user's rule files (e.g. an engine limit found when the engine starts)
            print("error: the rules given are invalid:", file=sys.stderr)
            print(exc.render(), file=sys.stderr)
            return EXIT_INPUT
        print("internal error: the shipped rules are invalid:", file=sys.stderr)
        print(exc.render(), file=sys.stderr)
        return EXIT_INTERNAL
    except EngineError as exc:
        print(f"internal error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except Exception as exc:  # noqa: BLE001 - never a decision after a fault
        print(f"internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    # Printed only once everything has succeeded, so a failure never leaves partial output.
    sys.stdout.write(output)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sharelaw",
        description="Decide whether a public agency in England may, must or must not share a person's "
        "information, stage by stage, citing the law. Supports a decision; it is not legal advice.",
    )
    parser.add_argument("--version", action="version", version=f"sharelaw {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    decide = commands.add_parser("decide", help="decide a sharing request")
    decide.add_argument("request", metavar="REQUEST.json", help="the request as JSON; '-' reads standard input")
    decide.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    add_rules_option(decide)
    decide.set_defaults(run=run_decide)

    schema = commands.add_parser("schema", help="print a JSON Schema")
    schema.add_argument("which", choices=sorted(SCHEMAS))
    schema.set_defaults(run=run_schema)

    rules = commands.add_parser("rules", help="inspect the rules")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    listing = rules_commands.add_parser("list", help="list the rules, optionally only those in force on a day")
    listing.add_argument("--as-at", type=iso_date, metavar="YYYY-MM-DD", help="only rules in force on this day")
    listing.add_argument("--stage", choices=[s.value for s in Stage])
    listing.add_argument("--format", choices=["text", "json"], default="text")
    add_rules_option(listing)
    listing.set_defaults(run=run_rules_list)
    changes = rules_commands.add_parser("diff", help="what came into force, ended or changed between two dates")
    changes.add_argument("--from", dest="start", type=scope_date, required=True, metavar="YYYY-MM-DD")
    changes.add_argument("--to", dest="end", type=scope_date, required=True, metavar="YYYY-MM-DD")
    changes.add_argument("--format", choices=["text", "json"], default="text")
    add_rules_option(changes)
    changes.set_defaults(run=run_rules_diff)

    test = commands.add_parser(
        "test", help="run scenario files against rule files and report rule coverage",
        description="PATHs are rule files, scenario files or directories of either (told apart by their "
        "'format:'). Without rule files the shipped rules are used.",
    )
    test.add_argument("paths", nargs="+", metavar="PATH")
    test.add_argument("--require-full-coverage", action="store_true",
                      help="fail unless every rule fires in some scenario and is at its limit in another")
    test.set_defaults(run=run_test)

    checker = commands.add_parser(
        "check", help="check rule and protocol files: schema, facts, ids, citations, powers, shadowing, gaps",
        description="Every static check, with stable codes and file:line. Protocol files are checked against "
        "the national rules among the PATHs, or the shipped national rules if there are none. Exit 0 when there "
        "is no error (1 otherwise; with --strict, warnings count too).",
    )
    checker.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: the shipped rules)")
    checker.add_argument("--format", choices=["text", "json"], default="text")
    checker.add_argument("--strict", action="store_true", help="fail on warnings as well as errors")
    checker.set_defaults(run=run_check)

    prover = commands.add_parser(
        "prove", help="establish the invariants over the whole space of requests, or give a counterexample",
        description="On each date segment, enumerates the classes of requests the rules tell apart and checks "
        "the invariants on each; a segment too large to exhaust within the bounds is also searched with "
        "hypothesis, and the report says which. Prints a counterexample request for any invariant that fails "
        "(docs/writing-a-protocol.md). Exit 0 when all hold, 1 otherwise.",
    )
    prover.add_argument("paths", nargs="*", metavar="PATH", help="rule and protocol files (default: the shipped rules)")
    prover.add_argument("--as-at", type=scope_date, action="append", metavar="YYYY-MM-DD",
                        help="prove only the date segment containing this day (repeatable); default: every segment")
    prover.add_argument("--max-classes", type=whole_number(1, MAX_CLASSES), default=200_000, metavar="N",
                        help=f"per segment, enumerate at most N request classes (default 200,000; 1 to {MAX_CLASSES:,})")
    prover.add_argument("--budget", type=seconds, default=2.0, metavar="SECONDS",
                        help=f"per segment, enumerate for at most this long (default 2; more than 0, at most {MAX_BUDGET:g})")
    prover.add_argument("--examples", type=whole_number(1, MAX_EXAMPLES), default=300, metavar="N",
                        help=f"hypothesis examples per segment that could not be exhausted (default 300; 1 to {MAX_EXAMPLES:,})")
    prover.add_argument("--format", choices=["text", "json"], default="text")
    prover.set_defaults(run=run_prove)

    audit = commands.add_parser("audit", help="record decisions in an audit log, verify and export it")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    record = audit_commands.add_parser("record", help="decide a request and record the decision in a log")
    record.add_argument("request", metavar="REQUEST.json", help="the request as JSON; '-' reads standard input")
    record.add_argument("--log", required=True, metavar="LOG", help="the audit log (created if absent)")
    add_actor_options(record)
    record.add_argument("--format", choices=["text", "json"], default="text")
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
    verify.add_argument("--format", choices=["text", "json"], default="text")
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
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
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

    replay = commands.add_parser(
        "replay", help="re-run the decisions of an audit log",
        description="Without --against: re-run every decision with the rules archived for it and confirm the "
        "result is byte-identical. With --against current (the shipped rules, or those given with --rules) or "
        "--against sha256:HASH (a bundle archived in the log): list the decisions whose outcome or basis would "
        "differ, stage by stage.",
    )
    replay.add_argument("log", metavar="LOG")
    replay.add_argument("--against", metavar="current|sha256:HASH")
    replay.add_argument("--format", choices=["text", "json"], default="text")
    replay.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show progress on stderr (default: when stderr is a terminal)")
    add_rules_option(replay)
    replay.set_defaults(run=run_replay)
    return parser


def add_actor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agency", required=True, help="the acting agency")
    parser.add_argument("--role", required=True, help="the practitioner's role")
    parser.add_argument("--person", help="an identifier of the practitioner, if recorded")


def add_rules_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules",
        nargs="+",
        action="extend",
        metavar="PATH",
        help="rule files or directories to use instead of the shipped rules",
    )


def iso_date(text: str) -> date:
    try:
        return isoparse(text).date()
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"'{text}' is not a date written YYYY-MM-DD") from None


def scope_date(text: str) -> date:
    """A date on which sharelaw decides: from 1 March 2000 (a usage error before, not a traceback)."""
    day = iso_date(text)
    if day < SCOPE_START:
        raise argparse.ArgumentTypeError(
            f"'{text}' is before {SCOPE_START.isoformat()}: the law before the Data Protection Act 1998 "
            "came into force is out of scope"
        )
    return day


#: Bounds on ``sharelaw prove``'s budgets (issue 10, item 9): large enough for any real use,
#: small enough that a typo cannot ask for a run that never ends.
MAX_BUDGET = 3600.0
MAX_EXAMPLES = 100_000
MAX_CLASSES = 100_000_000


def whole_number(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low:,} and {high:,}")
        return value

    return parse


def seconds(text: str) -> float:
    """A finite number of seconds in (0, MAX_BUDGET]: 'nan' and 'inf' parse as floats, and are refused."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not math.isfinite(value) or not 0 < value <= MAX_BUDGET:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds more than 0 and at most {MAX_BUDGET:g}")
    return value


# ---------------------------------------------------------------------- commands


def run_decide(args: argparse.Namespace) -> str:
    request = validate_request(read_request(args.request))
    if args.rules:
        engine = Engine(load_bundle(args.rules))
        try:
            decision = engine.decide(request)
        finally:
            engine.close()
    else:
        decision = default_engine().decide(request)
    if args.format == "json":
        return to_json(decision.model_dump(mode="json"))
    if args.format == "markdown":
        return decision.explain()
    return render_text(decision)


def run_schema(args: argparse.Namespace) -> str:
    return to_json(SCHEMAS[args.which]())


def run_rules_list(args: argparse.Namespace) -> str:
    bundle = load_bundle(args.rules) if args.rules else default_engine().bundle
    stages = [Stage(args.stage)] if args.stage else list(Stage)
    rules: list[Rule] = []
    for stage in stages:
        if args.as_at is None:
            rules.extend(bundle.by_stage[stage])
            rules.extend(r for p in bundle.protocols.values() for r in p.rules if r.stage is stage)
        else:
            rules.extend(bundle.segment(stage, args.as_at).rules)
            for pid in bundle.protocols:
                rules.extend(bundle.protocol_segment(pid, stage, args.as_at).rules)
    rows = [
        {
            "id": r.id,
            "stage": r.stage.value,
            "protocol": r.protocol,
            "from": r.in_force.start.isoformat(),
            "to": r.in_force.end.isoformat() if r.in_force.end else None,
            "verification": r.verification,
            "title": r.title,
        }
        for r in rules
    ]
    if args.format == "json":
        as_at = args.as_at.isoformat() if args.as_at else None
        return to_json({"as_at": as_at, "bundle_hash": bundle.content_hash, "rules": rows})
    return render_rule_table(rows)


# ---------------------------------------------------------------------- input


def run_rules_diff(args: argparse.Namespace) -> str:
    from .rules.timeline import diff

    if args.end < args.start:
        raise InputError(["error: --to is before --from"])
    bundle = load_bundle(args.rules) if args.rules else default_engine().bundle
    changes = diff(bundle, args.start, args.end)

    def cite(rule: Rule, day: date) -> dict[str, Any]:
        sources = [c.resolve(day) for c in rule.citations if c.applies_on(day)] or [rule.citations[0].resolve(day)]
        return {"label": sources[0].label, "url": sources[0].url}

    rows = []
    for c in changes:
        if c.rule is not None:
            day = args.start if c.kind == "ended" else args.end
            rows.append({
                "change": c.kind, "id": c.rule.id, "stage": c.rule.stage.value, "title": c.rule.title,
                "from": c.rule.in_force.start.isoformat(),
                "to": c.rule.in_force.end.isoformat() if c.rule.in_force.end else None,
                "verification": c.rule.verification, "citation": cite(c.rule, day),
                "citations_before": c.before or None, "citations_after": c.after or None,
            })
        else:
            rows.append({"change": c.kind, "id": c.id, "stage": c.requirement.stage.value,
                         "title": f"requirement: {c.requirement.title}"})
    if args.format == "json":
        return to_json({"from": args.start.isoformat(), "to": args.end.isoformat(),
                        "bundle_hash": bundle.content_hash, "changes": rows})
    from .law.eras import era_on

    out = [f"The law from {args.start.isoformat()} ({era_on(args.start).label}) "
           f"to {args.end.isoformat()} ({era_on(args.end).label}):"]
    for kind, mark, heading in (("started", "+", "Came into force"), ("ended", "-", "Ended"), ("changed", "~", "Changed")):
        group = [r for r in rows if r["change"] == kind]
        out.append("")
        out.append(f"{heading} ({len(group)}):")
        for r in group:
            out.append(f"  {mark} {r['id']} [{r['stage']}]: {r['title']}")
            if "citation" in r:
                dates = f"in force {r['from']} to {r['to'] or 'now'}"
                tag = "" if r["verification"] == "verified" else f" [{r['verification'].upper()}]"
                out.append(f"      {dates}{tag}; {r['citation']['label']} <{r['citation']['url']}>")
            if r.get("citations_before"):
                out.append(f"      cited before: {'; '.join(r['citations_before'])}")
                out.append(f"      cited after:  {'; '.join(r['citations_after'])}")
    out.append("")
    out.append(f"rules {bundle.content_hash}")
    return "\n".join(out) + "\n"


def run_test(args: argparse.Namespace) -> tuple[str, int]:
    from . import scenarios

    try:
        rule_files, scenario_files = scenarios.split_paths(args.paths)
    except RulesetError as exc:
        raise InputError([getattr(exc, "render")()]) from None
    if not scenario_files:
        raise InputError(["error: no scenario files (format: sharelaw/scenarios@1) among the paths given"])
    if rule_files:
        from .analysis.check import rule_files_under, with_national

        roots = [Path(p) for p in args.paths if any(_under(f, Path(p)) for f in rule_files)]
        protocols_alone = not rule_files_under(roots)[1]
        if protocols_alone:  # protocols alone: test them against the shipped national law
            roots, rule_files = with_national(roots, rule_files)
        bundle = load_bundle([str(r) for r in roots], only=set(rule_files))
    else:
        protocols_alone = False
        bundle = default_engine().bundle
    engine = Engine(bundle) if rule_files else default_engine()
    try:
        loaded = scenarios.load(scenario_files)
    except RulesetError as exc:
        raise InputError(exc.render().splitlines()) from None
    results = [scenarios.run(engine, s) for s in loaded]
    out: list[str] = []
    for r in results:
        if r.passed:
            continue
        out.append(f"FAIL {r.scenario.id}  ({r.scenario.file}:{r.scenario.line})")
        if r.scenario.description:
            out.append(f"     {r.scenario.description}")
        for m in r.failures:
            out.append(f"  {m.what}")
            out.append(f"    - expected: {m.expected}")
            out.append(f"    + got:      {m.got}")
    cov = scenarios.coverage(bundle, loaded, results)
    counted = len(bundle.rules)
    if protocols_alone:  # the national law was added to test the protocols: count the protocols' rules
        own = {r.id for p in bundle.protocols.values() for r in p.rules}
        cov = scenarios.Coverage([i for i in cov.never_fired if i in own], [i for i in cov.no_limit if i in own])
        counted = len(own)
    failed = sum(not r.passed for r in results)
    out.append(f"rules: {len(bundle.rules)} in {bundle.content_hash}"
               + (f" (the shipped national law, and {counted} protocol practice(s) under test)" if protocols_alone else ""))
    out.append(f"coverage: {counted - len(cov.never_fired)} of {counted} rules fired as expected; "
               f"{counted - len(cov.no_limit)} of {counted} tested at their limit")
    for rid in cov.never_fired:
        out.append(f"  never fired: {rid}")
    for rid in cov.no_limit:
        out.append(f"  no scenario at its limit: {rid}")
    out.append(f"{len(results) - failed} passed, {failed} failed")
    code = EXIT_INTERNAL if failed or (args.require_full_coverage and not cov.complete) else EXIT_OK
    return "\n".join(out) + "\n", code


def run_check(args: argparse.Namespace) -> tuple[str, int]:
    from .analysis.check import check

    report = check(args.paths)
    ok = report.ok(strict=args.strict)
    if args.format == "json":
        data = report.as_dict()
        data["ok"] = ok
        return to_json(data), EXIT_OK if ok else EXIT_INTERNAL
    return report.text(strict=args.strict), EXIT_OK if ok else EXIT_INTERNAL


def run_prove(args: argparse.Namespace) -> tuple[str, int]:
    from .analysis.prove import prove

    try:
        result = prove(args.paths, days=args.as_at, max_classes=args.max_classes, budget=args.budget,
                       examples=args.examples)
    except RulesetError as exc:
        raise InputError(exc.render().splitlines()) from None
    if args.format == "json":
        return to_json(result.as_dict()), EXIT_OK if result.ok else EXIT_INTERNAL
    return result.text(), EXIT_OK if result.ok else EXIT_INTERNAL


# ---------------------------------------------------------------------- audit


def open_log(url: str, *, create: bool = False, read_only: bool = False):
    """The log at ``url``; ``read_only`` for the commands that only read it (verify, head,
    show, export, replay), so that an auditor with read access alone can run them."""
    from .audit import AuditError, AuditLog, LogDamaged

    try:
        return AuditLog.open(url, create=create, read_only=read_only)
    except LogDamaged:
        raise
    except AuditError as exc:
        raise InputError([f"error: {exc}"]) from None


def damaged_log_verdict(run):
    """A log whose store is damaged (not a database, truncated, corrupt) gives the verdict
    DAMAGED with the reason and exit 1, as any other damage: on stdout for verify and
    replay (as JSON with --format json), on stderr for the other audit commands."""
    import functools

    @functools.wraps(run)
    def guarded(args: argparse.Namespace):
        from .audit import LogDamaged, damaged_report

        try:
            return run(args)
        except LogDamaged as exc:
            report = damaged_report(str(exc))
        if run.__name__ in ("run_audit_verify", "run_replay"):
            if getattr(args, "format", None) == "json":
                data = report.to_dict()
                return to_json(data if run.__name__ == "run_audit_verify" else {"verify": data}), EXIT_INTERNAL
            return report.render(), EXIT_INTERNAL
        sys.stderr.write(report.render())
        return "", EXIT_INTERNAL

    return guarded


def actor_of(args: argparse.Namespace) -> dict[str, Any]:
    """The actor of an audit record, checked here so that an empty --agency or --role is a
    usage error naming the option (issue 10, item 8), never a traceback."""
    from pydantic import ValidationError

    from .audit.record import Actor

    actor = {"agency": args.agency, "role": args.role, "person": args.person}
    try:
        Actor.model_validate(actor)
    except ValidationError as exc:
        raise InputError([f"error: actor_invalid: {len(exc.errors())} error(s) in the actor"] + [
            f"  --{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]) from None
    return actor


@damaged_log_verdict
def run_audit_record(args: argparse.Namespace) -> str:
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

    from .audit import Action, AuditError, LogDamaged

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
    from .audit import AuditError
    from .audit.anchor import expected_head

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

    from .audit.export import write_csv, write_jsonl

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
    from .audit import AuditError
    from .audit.anchor import load_private_key, sign_head

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
    from .audit import AuditError
    from .audit.anchor import generate_key

    public = args.public or args.key + ".pub"
    try:
        kid = generate_key(args.key, public)
    except AuditError as exc:
        raise InputError([f"error: {exc}"]) from None
    return f"wrote the signing key {args.key} (keep it secret) and its public key {public}\nkey {kid}\n"


@damaged_log_verdict
def run_replay(args: argparse.Namespace) -> tuple[str, int]:
    from .audit import AuditError
    from .audit.replay import compare, render, reproduce

    show = args.progress if args.progress is not None else sys.stderr.isatty()
    progress = Progress("replayed") if show else None
    with open_log(args.log, read_only=True) as log:
        check = log.verify()
        if not check.ok:
            out = to_json({"verify": check.to_dict()}) if args.format == "json" else check.render()
            return out, EXIT_INTERNAL
        if args.against is None:
            if args.rules:
                raise InputError(["error: --rules is for --against current"])
            report = reproduce(log, progress)
        else:
            if args.against == "current":
                bundle = load_bundle(args.rules) if args.rules else default_engine().bundle
            elif args.against.startswith("sha256:"):
                if args.rules:
                    raise InputError(["error: --rules is for --against current"])
                try:
                    bundle = log.bundle(args.against)
                except AuditError as exc:
                    raise InputError([f"error: {exc}"]) from None
            else:
                raise InputError([f"error: --against takes 'current' or sha256:HASH, not {args.against!r}"])
            report = compare(log, bundle, progress)
    if progress is not None:
        progress.finish()
    out = to_json(report.to_dict()) if args.format == "json" else render(report)
    return out, EXIT_OK if report.ok else EXIT_INTERNAL


class Progress:
    """'replayed N/M' on stderr, at most a few times a second, for long runs."""

    def __init__(self, verb: str) -> None:
        import time

        self._time = time.monotonic
        self._verb = verb
        self._last = 0.0
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        now = self._time()
        if now - self._last >= 0.25 or done == total:
            self._last = now
            self._shown = True
            print(f"\r{self._verb} {done}/{total} record(s)", end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self._shown:
            print(file=sys.stderr, flush=True)


def _under(path: Path, root: Path) -> bool:
    return path.resolve() == root.resolve() or root.resolve() in path.resolve().parents


def read_request(name: str) -> Any:
    """The request file (or stdin for '-') parsed as JSON; RequestError if it cannot be."""
    label = "standard input" if name == "-" else name
    try:
        if name == "-":
            raw = _stdin_bytes(MAX_REQUEST_BYTES + 1)
        else:
            with open(name, "rb") as fh:
                raw = fh.read(MAX_REQUEST_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        error = FieldError("<request>", f"cannot read {label}: {message}", "file_unreadable")
        raise RequestError([error], code="request_unreadable") from None
    if len(raw) > MAX_REQUEST_BYTES:
        # Validating a request of millions of entries would take gigabytes; no real request is near this.
        error = FieldError("<request>", f"{label} is larger than {MAX_REQUEST_BYTES} bytes; no sharing request is", "too_large")
        raise RequestError([error], code="request_too_large")
    # One decoding for a file and for stdin (bytes, whatever the locale): UTF-8, UTF-16 or
    # UTF-32 as RFC 8259 section 8.1 and json.detect_encoding tell them apart, a BOM dropped.
    encoding = json.detect_encoding(raw)
    try:
        text = raw.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        error = FieldError("<request>", f"{label} is not valid JSON: not {encoding} text: {exc.reason} at byte {exc.start}", "json_invalid")
        raise RequestError([error], code="request_not_json") from None
    try:
        data = json.loads(text, object_pairs_hook=_json_object)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad encoding, nested too deeply
        error = FieldError("<request>", f"{label} is not valid JSON: {exc}", "json_invalid")
        raise RequestError([error], code="request_not_json") from None
    duplicates = list(_duplicate_keys(data))
    if duplicates:
        raise RequestError(duplicates, code="request_duplicate_key")
    return data


#: The largest request read (issue 10, item 5): a request is a few kilobytes, and pydantic needs
#: about 600 bytes of memory per invalid entry, so a bound on the input bounds the memory used.
MAX_REQUEST_BYTES = 1 << 20


def _stdin_bytes(limit: int) -> bytes:
    """At most ``limit`` bytes of standard input, as bytes, so that it decodes exactly as a file does."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        return buffer.read(limit)
    return sys.stdin.read(limit).encode("utf-8", errors="surrogatepass")  # a text stream (an embedding caller)


class _RepeatedKeys(dict):
    """A JSON object that repeats a key: ``repeated`` names each, so the error can say where."""

    repeated: list[str]


def _json_object(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    marked = _RepeatedKeys(obj)
    marked.repeated = []
    for key, _ in pairs:
        if key in seen and key not in marked.repeated:
            marked.repeated.append(key)
        seen.add(key)
    return marked


def _duplicate_keys(data: Any, loc: str = ""):
    """A FieldError for each key repeated in an object of ``data`` (JSON would keep only the last)."""
    stack = [(data, loc)]
    while stack:  # iterative: a deeply nested request must not exhaust the stack here
        node, where = stack.pop()
        if isinstance(node, dict):
            for key in getattr(node, "repeated", ()):
                yield FieldError(
                    f"{where}.{key}" if where else key,
                    f"the key '{key}' appears more than once in one object; JSON parsers disagree on which "
                    "value counts, so the request is refused rather than decided on one of them",
                    "duplicate_key",
                )
            stack.extend((v, f"{where}.{k}" if where else k) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((v, f"{where}[{i}]") for i, v in reversed(list(enumerate(node))))


def load_bundle(paths: list[str], only: set[Path] | None = None) -> Bundle:
    """A bundle from the user's rule files; InputError listing every problem if invalid."""
    from .analysis.check import rule_files_under, with_national

    try:
        if only is None:
            files, has_national = rule_files_under([Path(p) for p in paths])
            if files and not has_national:  # protocols alone: with the shipped national law
                roots, files = with_national([Path(p) for p in paths], files)
                paths, only = [str(r) for r in roots], set(files)
        bundle = Bundle.load(*paths, only=only)
    except RulesetError as exc:
        raise InputError(exc.render().splitlines()) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([f"error: cannot read the rule files: {exc}"]) from None
    if not bundle.files:
        raise InputError([f"error: no rule files (*.yaml) found in {', '.join(map(str, paths))}"])
    return bundle


def report_request_error(exc: RequestError, *, json_output: bool) -> None:
    """Every error up to ``MAX_LISTED_ERRORS``, then how many more: output stays bounded."""
    print(f"error: {exc.code}: {len(exc.errors)} error(s) in the request", file=sys.stderr)
    for error in exc.errors[:MAX_LISTED_ERRORS]:
        print(str(error), file=sys.stderr)
    if len(exc.errors) > MAX_LISTED_ERRORS:
        print(f"... and {len(exc.errors) - MAX_LISTED_ERRORS} more error(s) not listed", file=sys.stderr)
    if json_output:
        sys.stdout.write(to_json(exc.to_dict()))


# ---------------------------------------------------------------------- output


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_text(d: Decision) -> str:
    """A compact summary of a decision, for a terminal."""
    out = [f"{d.outcome.label} ({d.outcome.value})", d.summary, f"Law as at {d.as_at.isoformat()} ({d.legal_era})."]
    if d.request_id:
        out.append(f"Request: {plain_text(d.request_id)}")
    sections = [
        ("Basis", [f"{b.kind.label}: {b.title} [{b.rule_id}]" for b in d.basis]),
        ("Missing", [f"{m.item}: {m.question}" for m in d.missing]),
        ("Conditions", [c.text for c in d.conditions]),
        ("Ways forward", [w.text for w in d.ways_forward]),
    ]
    for heading, items in sections:
        if items:
            out.append("")
            out.append(f"{heading}:")
            out.extend(f"  - {item}" for item in items)
    for stage in d.stages:
        out.append("")
        out.append(f"{stage.title}: {stage.status.label}")
        for f in d.findings:
            if f.stage is not stage.stage:
                continue
            tag = "" if f.verification == "verified" else f" [{f.verification.upper()}]"
            out.append(f"  - {f.rule_id}{tag}: {f.reason}")
            if f.citations:
                cite = f.citations[0]
                where = f", {cite.paragraph}" if cite.paragraph else ""
                out.append(f"    {cite.label}{where}" + (f" <{cite.url}>" if cite.url else ""))
        for rq in stage.requirements:
            if rq.status == "unmet" and rq.reason:
                out.append(f"  - unmet: {rq.reason}")
                if rq.looked_for:
                    out.append(f"    looked for: {', '.join(rq.looked_for)}")
    if d.unverified:
        out.append("")
        out.append("Relied on but not verified against the primary text: " + ", ".join(d.unverified))
    out.append("")
    out.append(f"sharelaw {d.engine_version}, rules {d.bundle_hash}, evaluator {d.evaluator}. Not legal advice.")
    return "\n".join(out) + "\n"


def render_rule_table(rows: list[dict[str, Any]]) -> str:
    columns = ["id", "stage", "from", "to", "verification", "title"]
    table = [columns] + [[row[c] or "-" for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns) - 1)]
    lines = ["  ".join([cell.ljust(w) for cell, w in zip(line, widths)] + [line[-1]]) for line in table]
    return "\n".join(lines) + "\n" + f"{len(rows)} rule(s)\n"
