"""``sharelaw decide`` and ``sharelaw schema``."""

from __future__ import annotations

import argparse
from typing import Any

from .._json import decision_json
from ..decision import Decision
from ..engine.stages import EVALUATORS, Engine, validate_request
from ..request import SharingRequest
from ..rules.bundle import Bundle
from ..rules.model import ProtocolFile, RulesetFile
from ._common import (
    ErrorDocument,
    InputError,
    add_rules_option,
    cross_check_option,
    default_engine,
    load_bundle,
    read_request,
    to_json,
)
from ._render import render_text

SCHEMAS = {
    "request": lambda: SharingRequest.model_json_schema(mode="validation"),
    "decision": lambda: Decision.model_json_schema(mode="serialization"),
    "ruleset": lambda: RulesetFile.model_json_schema(mode="validation"),
    "error": lambda: ErrorDocument.model_json_schema(mode="serialization"),
    "scenario": lambda: _scenario_schema(),
    "protocol": lambda: ProtocolFile.model_json_schema(mode="validation"),
}


def _scenario_schema() -> dict[str, Any]:
    from ..scenarios import ScenarioFileModel

    return ScenarioFileModel.model_json_schema(mode="validation")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    decide = commands.add_parser("decide", help="decide a sharing request")
    decide.add_argument("request", metavar="REQUEST.json", nargs="?", help="the request as JSON; '-' reads standard input")
    decide.add_argument("--format", choices=["text", "json", "markdown", "jsonld", "html"], default="text",
                        help="text (default, for a terminal), json (the Decision, `sharelaw schema decision`), "
                        "markdown (the full explanation), jsonld (DPV JSON-LD) or html (a report page)")
    decide.add_argument("--batch", metavar="FILE.jsonl", help="decide one request per line (JSON Lines; '-' reads "
                        "standard input), writing one JSON result per line (see docs)")
    add_rules_option(decide)
    decide.add_argument("--evaluator", choices=list(EVALUATORS), default="durable",
                        help="what fires the rules: durable-rules (default), the compiled fast path, or the reference")
    decide.add_argument("--cross-check", type=cross_check_option, default=1.0, metavar="RATE",
                        help="fraction of decisions checked against the reference evaluator, 0 to 1 (default 1: every one)")
    decide.set_defaults(run=run_decide)

    schema = commands.add_parser("schema", help="print a JSON Schema")
    schema.add_argument("which", choices=sorted(SCHEMAS))
    schema.set_defaults(run=run_schema)


def run_decide(args: argparse.Namespace) -> str | tuple[str, int]:
    if args.batch is not None:
        from .batch import run_batch

        return run_batch(args)
    if args.request is None:
        raise InputError(["usage: sharelaw decide REQUEST.json [options] | sharelaw decide --batch FILE.jsonl [options]",
                          "error: give REQUEST.json (or '-' for standard input), or --batch FILE"])
    request = validate_request(read_request(args.request))
    evaluator, rate = getattr(args, "evaluator", "durable"), getattr(args, "cross_check", 1.0)
    # One request: an engine that compiles only the segments this request reaches (most of a
    # cold start otherwise; docs/performance.md, "Cold start"). A rule the engine cannot take
    # is still an error, raised when its segment is reached, and nothing is decided.
    # In a process that has already built the shared engine (an embedding caller), that one.
    import sharelaw

    if not args.rules and (evaluator, rate) == ("durable", 1.0) and getattr(sharelaw, "_default", None) is not None:
        decision = default_engine().decide(request)
    else:
        bundle = load_bundle(args.rules) if args.rules else Bundle.load()
        engine = Engine(bundle, evaluator=evaluator, cross_check=rate, prepare="lazy")  # type: ignore[arg-type]
        try:
            decision = engine.decide(request)
        finally:
            engine.close()
    if args.format == "json":
        return decision_json(decision.model_dump(mode="json"))
    if args.format == "jsonld":  # W3C DPV terms (sharelaw.dpv)
        from ..dpv import decision_jsonld

        return to_json(decision_jsonld(decision, request))
    if args.format == "html":
        from ..report.decision_html import decision_html

        return decision_html(decision)
    if args.format == "markdown":
        return decision.explain()
    return render_text(decision)


def run_schema(args: argparse.Namespace) -> str:
    return to_json(SCHEMAS[args.which]())
