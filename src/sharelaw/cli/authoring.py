"""For rule authors: ``sharelaw test``, ``sharelaw check`` and ``sharelaw prove``."""

from __future__ import annotations

import argparse
import fnmatch
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine.stages import Engine
from ..errors import RulesetError
from ._common import (
    EXIT_INTERNAL,
    EXIT_OK,
    MAX_BUDGET,
    MAX_CLASSES,
    MAX_EXAMPLES,
    InputError,
    Progress,
    _under,
    default_engine,
    iso_date,
    load_bundle,
    scope_date,
    seconds,
    to_json,
    whole_number,
)
from ._formats import github, junit, sarif

if TYPE_CHECKING:
    from ..scenarios import Scenario


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    test = commands.add_parser(
        "test", help="run scenario files against rule files and report rule coverage",
        description="PATHs are rule files, scenario files or directories of either (told apart by their "
        "'format:'). Without rule files the shipped rules are used.",
    )
    test.add_argument("paths", nargs="+", metavar="PATH")
    test.add_argument("--require-full-coverage", action="store_true",
                      help="fail unless every rule fires in some scenario and is at its limit in another")
    test.add_argument("--format", choices=["text", "json", "junit"], default="text",
                      help="text (default), json (one object: results, coverage), or junit (JUnit XML for CI)")
    test.add_argument("-k", dest="pattern", metavar="PATTERN",
                      help="run only the scenarios whose id (or file name) contains PATTERN, or matches it as a "
                      "glob ('cp-*'); case-insensitive")
    test.add_argument("-v", "--verbose", action="store_true", help="list every scenario run, passed or not")
    test.set_defaults(run=run_test)

    checker = commands.add_parser(
        "check", help="check rule and protocol files: schema, facts, ids, citations, powers, shadowing, gaps",
        description="Every static check, with stable codes and file:line. Protocol files are checked against "
        "the national rules among the PATHs, or the shipped national rules if there are none. Exit 0 when there "
        "is no error (1 otherwise; with --strict, warnings count too).",
    )
    checker.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: the shipped rules)")
    checker.add_argument("--format", choices=["text", "json", "sarif", "github"], default="text",
                         help="text (default); json; sarif (SARIF 2.1.0, for code scanning); github (GitHub "
                         "Actions annotations)")
    checker.add_argument("--strict", action="store_true", help="fail on warnings as well as errors")
    checker.add_argument("--today", type=iso_date, metavar="YYYY-MM-DD",
                         help="judge review dates as at this day (default: today)")
    checker.add_argument("--headroom", action="store_true",
                         help="also print each segment's durable-rules layout against the engine's limits "
                              "(always in --format json)")
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
    prover.add_argument("--format", choices=["text", "json"], default="text",
                        help="text (default) or json (the report; an error document if the rules are invalid)")
    prover.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="a progress bar on stderr (default: when stderr is a terminal)")
    prover.set_defaults(run=run_prove)


def run_test(args: argparse.Namespace) -> tuple[str, int]:
    from .. import scenarios

    try:
        rule_files, scenario_files = scenarios.split_paths(args.paths)
    except RulesetError as exc:
        raise InputError.of(exc) from None
    if not scenario_files:
        raise InputError(["error: no scenario files (format: sharelaw/scenarios@1) among the paths given"])
    if rule_files:
        from ..analysis.check import rule_files_under, with_national

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
        raise InputError.of(exc, "scenarios_invalid") from None
    if args.pattern:
        loaded = [s for s in loaded if _selected(s, args.pattern)]
        if not loaded:
            raise InputError([f"error: no scenario matches -k {args.pattern!r}"])
    started = time.perf_counter()
    results, times = [], []
    for s in loaded:
        t0 = time.perf_counter()
        results.append(scenarios.run(engine, s))
        times.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    out: list[str] = []
    for r in results:
        if r.passed:
            if args.verbose:
                out.append(f"PASS {r.scenario.id}  ({r.scenario.file}:{r.scenario.line})")
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
    if args.format == "text":
        return "\n".join(out) + "\n", code
    cases = [{"id": r.scenario.id, "file": r.scenario.file, "line": r.scenario.line, "passed": r.passed,
              "seconds": t, "failures": [{"what": m.what, "expected": m.expected, "got": m.got} for m in r.failures]}
             for r, t in zip(results, times)]
    if args.format == "junit":
        return junit("sharelaw test", cases, elapsed), code
    for c in cases:
        c.pop("seconds")
    return to_json({
        "ok": code == EXIT_OK, "passed": len(results) - failed, "failed": failed,
        "bundle_hash": bundle.content_hash, "rules": counted,
        "coverage": {"fired": counted - len(cov.never_fired), "at_limit": counted - len(cov.no_limit),
                     "never_fired": list(cov.never_fired), "no_limit": list(cov.no_limit), "complete": cov.complete},
        "scenarios": cases,
    }), code


def _selected(scenario: "Scenario", pattern: str) -> bool:
    """pytest's -k in spirit: a substring of the id or file name, or a glob over the id."""
    p = pattern.lower()
    sid, name = scenario.id.lower(), Path(scenario.file).name.lower()
    if any(c in p for c in "*?["):
        return fnmatch.fnmatchcase(sid, p) or fnmatch.fnmatchcase(name, p)
    return p in sid or p in name


def run_check(args: argparse.Namespace) -> tuple[str, int]:
    from ..analysis.check import check

    report = check(args.paths, today=args.today)
    ok = report.ok(strict=args.strict)
    if args.format == "json":
        data = report.as_dict()
        data["ok"] = ok
        return to_json(data), EXIT_OK if ok else EXIT_INTERNAL
    if args.format == "sarif":
        return sarif(report.problems()), EXIT_OK if ok else EXIT_INTERNAL
    if args.format == "github":
        return github(report.problems()), EXIT_OK if ok else EXIT_INTERNAL
    text = report.text(strict=args.strict)
    if getattr(args, "headroom", False):
        text += report.headroom_text()
    return text, EXIT_OK if ok else EXIT_INTERNAL


def run_prove(args: argparse.Namespace) -> tuple[str, int]:
    from ..analysis.prove import ProveUnavailable, prove

    progress = Progress("proving", "segment(s)", force=args.progress)
    try:
        result = prove(args.paths, days=args.as_at, max_classes=args.max_classes, budget=args.budget,
                       examples=args.examples, progress=progress if progress.enabled else None)
    except RulesetError as exc:
        raise InputError.of(exc) from None
    except ProveUnavailable as exc:
        raise InputError([f"error: {exc}"], code="missing_dependency") from None
    finally:
        progress.finish()
    if args.format == "json":
        return to_json(result.as_dict()), EXIT_OK if result.ok else EXIT_INTERNAL
    return result.text(), EXIT_OK if result.ok else EXIT_INTERNAL
