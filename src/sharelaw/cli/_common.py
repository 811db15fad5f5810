"""What every command shares: exit codes, argument types, reading input, loading rules,
opening logs, and printing errors and JSON."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ..errors import (
    MAX_LISTED_ERRORS,
    FieldError,
    Problem,
    RequestError,
    RulesetError,
    with_columns,
)
from ..law.eras import SCOPE_START
from ..rules.bundle import Bundle

if TYPE_CHECKING:
    from ..audit import AuditLog
    from ..engine.pipeline import Engine

_Run = TypeVar("_Run", bound=Callable[[argparse.Namespace], Any])

EXIT_OK = 0

EXIT_INTERNAL = 1

EXIT_INPUT = 2


class InputError(Exception):
    """Bad input other than the request itself (exit 2). Either ``problems`` (rule, scenario
    and other file errors, each printed in the one format ``file:line:col: code: message
    [rule id]``) or plain ``lines`` (usage errors, printed as given); on stdout as the JSON
    error document too under ``--format json`` (``error_document``)."""


    def __init__(self, lines: list[str] | None = None, *, problems: list[Problem] | None = None,
                 code: str = "usage_error") -> None:
        if problems is None:
            given = [line for line in (lines or []) if line.strip() and not line.startswith(" ")]
            if any(line.startswith("error: ") for line in given):
                given = [line for line in given if line.startswith("error: ")]  # not the usage line
            problems = [Problem(code, line.removeprefix("error: ").strip()) for line in given]
            if lines and not problems:
                problems = [Problem(code, " ".join(l.strip() for l in lines))]
        else:
            problems = with_columns(problems)
            lines = [p.render() for p in problems]
        super().__init__("\n".join(lines or []))
        self.lines = lines or []
        self.problems = problems
        self.code = code

    @classmethod
    def of(cls, exc: RulesetError, code: str = "rules_invalid") -> "InputError":
        """The rule- or scenario-file errors of ``exc``, every one, in the one format."""
        return cls(problems=exc.problems(), code=code)


class ErrorEntry(BaseModel):
    """One problem (``sharelaw.errors.Problem``)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="a stable code, e.g. ruleset_unknown_fact, request_invalid's field codes")
    message: str
    file: str | None = Field(description="the file the problem is in (a rule, scenario or request file)")
    line: int | None = Field(description="1-based line in the file, where known")
    column: int | None = Field(description="1-based column in the line, where known")
    rule_id: str | None = Field(description="the rule, requirement or scenario concerned, where known")
    loc: str | None = Field(description="the field of a request (dotted path), where the problem is one")
    severity: Literal["error", "warning"]


class ErrorDocument(BaseModel):
    """What every command prints on standard output under --format json when it cannot do its
    work (exit 2 for invalid input, 1 for an internal error); ``sharelaw schema error``."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="what kind of failure: request_invalid, rules_invalid, scenarios_invalid, "
                      "usage_error, internal_error, ...")
    count: int = Field(description="how many problems there are in all")
    errors: list[ErrorEntry] = Field(description=f"the first {MAX_LISTED_ERRORS} problems")


def error_document(code: str, problems: list[Problem]) -> dict[str, Any]:
    return {"code": code, "count": len(problems), "errors": [p.to_dict() for p in problems[:MAX_LISTED_ERRORS]]}


def report_problems(code: str, problems: list[Problem], *, json_output: bool,
                    lines: list[str] | None = None) -> None:
    """Every problem on stderr (``lines`` if given, else each rendered), and under ``json_output``
    the error document on stdout: the shared way a command reports what stopped it."""
    shown = lines if lines is not None else [p.render() for p in problems[:MAX_LISTED_ERRORS]]
    for line in shown:
        print(line, file=sys.stderr)
    if lines is None and len(problems) > MAX_LISTED_ERRORS:
        print(f"... and {len(problems) - MAX_LISTED_ERRORS} more error(s) not listed", file=sys.stderr)
    if json_output:
        sys.stdout.write(to_json(error_document(code, problems)))


def add_actor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agency", required=True, help="the acting agency")
    parser.add_argument("--role", required=True, help="the practitioner's role")
    parser.add_argument("--person", help="an identifier of the practitioner, if recorded")


def add_rules_option(parser: argparse.ArgumentParser, *, many: bool = False) -> None:
    """``--rules PATH``, repeatable (``--rules A --rules B``). ``many`` also takes several
    paths after one ``--rules`` (``--rules A B``): only for commands without a positional
    argument, where it cannot swallow one (``decide --rules X.yaml req.json`` must work)."""
    parser.add_argument(
        "--rules",
        nargs="+" if many else None,
        action="extend" if many else "append",
        metavar="PATH",
        help="a rule file or directory to use instead of the shipped rules (repeat for several: "
        "--rules A --rules B)",
    )


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_date(text: str) -> date:
    """A day written YYYY-MM-DD, as strictly as a request's ``as_at``: no '2012' for 1 January,
    no time, no timezone, no week date (stdlib ``date.fromisoformat`` after a format check,
    since it alone accepts '20120101' and '2012-W01-1')."""
    if not _ISO_DATE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"'{text}' is not a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a real calendar date (YYYY-MM-DD)") from None


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


def whole_number(low: int, high: int) -> Callable[[str], int]:
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


def open_log(url: str, *, create: bool = False, read_only: bool = False) -> AuditLog:
    """The log at ``url``; ``read_only`` for the commands that only read it (verify, head,
    show, export, replay), so that an auditor with read access alone can run them."""
    from ..audit import AuditError, AuditLog, LogDamaged


    try:
        return AuditLog.open(url, create=create, read_only=read_only)
    except LogDamaged:
        raise
    except AuditError as exc:
        raise InputError([f"error: {exc}"]) from None


def damaged_log_verdict(run: _Run) -> _Run:
    """A log whose store is damaged (not a database, truncated, corrupt) gives the verdict
    DAMAGED with the reason and exit 1, as any other damage: on stdout for verify and
    replay (as JSON with --format json), on stderr for the other audit commands."""
    import functools


    @functools.wraps(run)
    def guarded(args: argparse.Namespace) -> Any:
        from ..audit import LogDamaged, damaged_report


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


    return guarded  # type: ignore[return-value]


def actor_of(args: argparse.Namespace) -> dict[str, Any]:
    """The actor of an audit record, checked here so that an empty --agency or --role is a
    usage error naming the option (issue 10, item 8), never a traceback."""
    from pydantic import ValidationError

    from ..audit.record import Actor


    actor = {"agency": args.agency, "role": args.role, "person": args.person}
    try:
        Actor.model_validate(actor)
    except ValidationError as exc:
        raise InputError([f"error: actor_invalid: {len(exc.errors())} error(s) in the actor"] + [
            f"  --{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]) from None
    return actor


class Progress:
    """A progress bar on stderr (rich: count, rate, elapsed, ETA) for long runs: replay, prove.

    Shown only when stderr is a terminal, unless ``force`` (``--progress``) asks for it anyway;
    never on stdout, so it cannot mix with a report. rich honours NO_COLOR (no colour) and
    TERM=dumb; on a stream that is not a terminal it would only print the finished bar, which
    is why a non-TTY gets nothing unless forced. Called as ``progress(done, total[, label])``."""


    def __init__(self, verb: str, unit: str = "record(s)", *, force: bool | None = None) -> None:
        self._verb = verb
        self._unit = unit
        self._bar: Any = None
        self._task: Any = None
        self.enabled = force if force is not None else sys.stderr.isatty()


    def __call__(self, done: int, total: int, label: str | None = None) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bar

            console = Console(file=sys.stderr, force_terminal=True if not sys.stderr.isatty() else None)
            self._bar = Bar(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(self._unit),
                TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[label]}"),
                console=console, transient=False, refresh_per_second=4,
            )
            self._bar.start()
            self._task = self._bar.add_task(self._verb, total=total, rate="", label="")
        task = self._bar.tasks[0]
        speed = task.speed
        rate = f"{speed:,.1f}/s" if speed else ""
        self._bar.update(self._task, completed=done, total=total, rate=rate, label=label or "")


    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


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
    return parse_request(raw, label)


def parse_request(raw: bytes, label: str) -> Any:
    """Request bytes parsed as JSON (any JSON encoding, bounded, duplicate keys refused)."""
    if len(raw) > MAX_REQUEST_BYTES:
        # Validating a request of millions of entries would take gigabytes; no real request is near this.
        error = FieldError("<request>", f"{label} is larger than {MAX_REQUEST_BYTES} bytes; no sharing request is", "too_large")
        raise RequestError([error], code="request_too_large")
    return parse_json_bytes(raw, label)


def parse_json_bytes(raw: bytes, label: str, *, duplicates: bool = True) -> Any:
    """``raw`` parsed as JSON exactly as a request file is (the HTTP service reads its bodies
    through this too, so that both refuse the same input); ``duplicates=False`` leaves the
    duplicate-key check to the caller (``duplicate_key_errors``), e.g. item by item in a batch."""
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
    repeated = list(_duplicate_keys(data)) if duplicates else []
    if repeated:
        raise RequestError(repeated, code="request_duplicate_key")
    return data


#: The largest request read (issue 10, item 5): a request is a few kilobytes, and pydantic needs
#: about 600 bytes of memory per invalid entry, so a bound on the input bounds the memory used.
MAX_REQUEST_BYTES = 1 << 20


def _stdin_bytes(limit: int) -> bytes:
    """At most ``limit`` bytes of standard input, as bytes, so that it decodes exactly as a file does."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        data: bytes = buffer.read(limit)
        return data
    return sys.stdin.read(limit).encode("utf-8", errors="surrogatepass")  # a text stream (an embedding caller)


class _RepeatedKeys(dict[str, Any]):
    """A JSON object that repeats a key: ``repeated`` names each, so the error can say where."""


    repeated: list[str]


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
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


def _duplicate_keys(data: Any, loc: str = "") -> Iterator[FieldError]:
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


def duplicate_key_errors(data: Any, loc: str = "", *, shallow: bool = False) -> list[FieldError]:
    """The duplicate-key errors of ``data`` as parsed by ``parse_json_bytes(..., duplicates=False)``;
    ``shallow`` looks at the top object only."""
    if shallow:
        repeated = getattr(data, "repeated", ())
        data = {k: None for k in data} if isinstance(data, dict) else None
        if isinstance(data, dict):
            data = _RepeatedKeys(data)
            data.repeated = list(repeated)
    return list(_duplicate_keys(data, loc))


def load_bundle(paths: list[str], only: set[Path] | None = None, *, cache: bool = True) -> Bundle:
    """A bundle from the user's rule files; InputError listing every problem if invalid."""
    from ..analysis.check import rule_files_under, with_national


    try:
        if only is None:
            files, has_national = rule_files_under([Path(p) for p in paths])
            if files and not has_national:  # protocols alone: with the shipped national law
                roots, files = with_national([Path(p) for p in paths], files)
                paths, only = [str(r) for r in roots], set(files)
        bundle = Bundle.load(*paths, only=only, cache=cache)
    except RulesetError as exc:
        raise InputError.of(exc) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([f"error: cannot read the rule files: {exc}"]) from None
    if not bundle.files:
        raise InputError([f"error: no rule files (*.yaml) found in {', '.join(map(str, paths))}"])
    return bundle


def report_request_error(exc: RequestError, *, json_output: bool, file: str | None = None) -> None:
    """Every error up to ``MAX_LISTED_ERRORS``, then how many more: output stays bounded."""
    print(f"error: {exc.code}: {len(exc.errors)} error(s) in the request", file=sys.stderr)
    problems = exc.problems(file)
    # A request has no lines: each field error is named by its field, 'loc: message [code]'.
    report_problems(exc.code, problems, json_output=json_output, lines=[str(e) for e in exc.errors[:MAX_LISTED_ERRORS]])
    if len(exc.errors) > MAX_LISTED_ERRORS:
        print(f"... and {len(exc.errors) - MAX_LISTED_ERRORS} more error(s) not listed", file=sys.stderr)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def default_engine() -> Engine:
    """The shared engine over the shipped rules, looked up when called (so that a test can
    replace ``sharelaw.default_engine``)."""
    import sharelaw

    return sharelaw.default_engine()


def cross_check_option(text: str) -> bool | float:
    """``--cross-check``: true/false, or the fraction of decisions checked against the
    reference evaluator, as ``Engine(cross_check=...)`` takes it (engine.stages.cross_check_rate)."""
    from ..engine.stages import cross_check_rate

    if text.lower() in ("true", "yes", "on"):
        return True
    if text.lower() in ("false", "no", "off"):
        return False
    try:
        return cross_check_rate(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not true, false or a fraction in [0, 1]") from None
