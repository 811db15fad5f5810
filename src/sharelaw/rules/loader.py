"""Rule files → a checked ``Bundle``. Errors name the file, line, rule and a stable code.

Error codes (stable; documented in docs/rulesets.md):

- ``ruleset_parse_error``        the file is not valid YAML, or not UTF-8 (at the line of the first bad byte)
- ``ruleset_yaml_alias``         the file uses a YAML anchor (``&name``) or alias (``*name``): refused
  before anything is expanded (a "billion laughs" file, a cyclic alias)
- ``ruleset_too_deep``           mappings and lists nested more than ``MAX_DEPTH`` (256) deep
- ``ruleset_duplicate_key``      a mapping repeats a key
- ``ruleset_schema_error``       a field is missing, unknown or of the wrong type, or a number is out
  of range (a 5,000-digit priority)
- ``ruleset_missing_citation``   a rule has no citation
- ``ruleset_duplicate_id``       a rule, requirement or file id is used twice
- ``ruleset_unknown_fact``       a condition names a fact that does not exist
- ``ruleset_bad_value``          a condition compares a fact with a value it cannot take
- ``ruleset_fact_not_available`` a condition reads a fact established only by a later stage
- ``ruleset_bad_condition``      a condition is not of the documented form
- ``ruleset_unknown_definition`` ``use:`` names an undefined (or circular) definition
- ``ruleset_unknown_requirement`` an effect names a requirement its stage does not declare
- ``ruleset_bad_effect``         an effect is inconsistent (e.g. a stage-1 power without a basis)
- ``ruleset_bad_template``       a reason uses an unknown placeholder
- ``ruleset_bad_dates``          a rule's dates fall outside its file's dates, or a date is not on
  the calendar (``2026-02-30``, month 13, year 0), at its line
- ``ruleset_engine_limit``       durable-rules cannot compile a rule's condition (more than 31
  expressions); raised when an Engine is created
- ``ruleset_unreadable``         a path under the rules is not a readable regular rule file: a
  dangling symlink, a symlink loop, a FIFO, socket or device, a folder or file that cannot be
  read, a folder named ``*.yaml`` (``discover``; nothing under a rules path is skipped silently)

Protocol files (``sharelaw/protocol@1``) use the codes above and these:

- ``protocol_widens``            a practice would satisfy a requirement: protocols only narrow
- ``protocol_bad_stage``         a practice refines stage 1 (powers come from national law only)
- ``protocol_unknown_power``     ``powers`` names a rule that is not a national stage-1 basis
- ``protocol_power_not_in_force`` a power relied on is not in force throughout the protocol's dates
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from ..errors import RulesetError, RulesetErrors, did_you_mean
from ..vocab import EffectKind, Stage
from .facts import FACTS, MISSING_ITEMS
from .model import (
    DEFINITIONS_FORMAT,
    PROTOCOL_FORMAT,
    All,
    AnyOf,
    Cond,
    Const,
    DefinitionsFile,
    In,
    InForce,
    Not,
    Requirement,
    Rule,
    RulesetFile,
)

if TYPE_CHECKING:
    from .cache import ParseCache
    from .protocol import LoadedProtocol

_PLACEHOLDER = re.compile(r"\{([a-z0-9_.]+)\}")
TEMPLATE_EXTRAS = {"discloser", "recipient", "as_at"}
_OPS = {"in", "not_in", "eq", "ne"}


# ------------------------------------------------------------------ YAML with lines


#: Deepest nesting of mappings and sequences a rule, protocol or scenario file may have. The
#: shipped rules need 16; the YAML composer and the loader recurse once or twice per level.
MAX_DEPTH = 256


class RefusedYAML(yaml.MarkedYAMLError):
    """YAML the loader refuses before building it: an anchor or alias (``ruleset_yaml_alias``),
    nesting deeper than ``MAX_DEPTH`` (``ruleset_too_deep``). ``code`` is the error code's
    suffix; ``problem_mark`` is where."""

    def __init__(self, code: str, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.code = code


try:  # libyaml's C parser, if PyYAML was built with it; else the pure-Python one (same behaviour)
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    _CParser = None  # type: ignore[misc,assignment]

_ALIAS_HINT = "these files do not use YAML anchors or aliases; write the value out (or share a condition with define:/use:)"


class _Checked:
    """What every loader here does, whichever parser reads the text (libyaml's C parser or
    PyYAML's pure-Python one): a YAML 1.2 safe loader (only true/false are booleans, so the
    vocabulary values yes, no, on and off stay strings) that refuses what rule files never need.

    Nodes are composed here, in Python, from the parser's events (not by libyaml's own C
    composer), so that anchors and aliases are refused as they are met, before anything is
    expanded (a "billion laughs" file or a cyclic alias is refused at once), and nesting
    deeper than ``MAX_DEPTH`` is refused before it can exhaust the stack.

    A date the calendar does not have (``2026-02-30``, month 13, year 0), and a decimal number
    too long to convert (Python refuses more than 4,300 digits), is kept as its text and
    noted in ``problems`` with its line, never a raw ``ValueError`` from the constructor;
    ``read_yaml`` turns the notes into ``ruleset_bad_dates`` and ``ruleset_schema_error``."""

    problems: list[tuple[str, str, int]]
    _depth: int

    if TYPE_CHECKING:  # supplied by the parser and resolver this is mixed into
        def get_event(self) -> Any: ...
        def check_event(self, *choices: Any) -> bool: ...
        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any: ...

    def _start(self) -> None:
        self.problems = []  # (code suffix, message, line)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # one node from the events, with the refusals
        event = self.get_event()
        kind = type(event)
        if kind is yaml.AliasEvent:
            raise RefusedYAML("yaml_alias", f"an alias (*{event.anchor}): {_ALIAS_HINT}", event.start_mark)
        if event.anchor is not None:
            raise RefusedYAML("yaml_alias", f"an anchor (&{event.anchor}): {_ALIAS_HINT}", event.start_mark)
        tag = event.tag
        if kind is yaml.ScalarEvent:
            if tag is None or tag == "!":
                tag = self.resolve(yaml.ScalarNode, event.value, event.implicit)
            return yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
        if self._depth >= MAX_DEPTH:
            raise RefusedYAML("too_deep", f"mappings and lists nested more than {MAX_DEPTH} deep", event.start_mark)
        self._depth += 1
        node: Any
        try:
            if kind is yaml.SequenceStartEvent:
                if tag is None or tag == "!":
                    tag = self.resolve(yaml.SequenceNode, None, event.implicit)
                node = yaml.SequenceNode(tag, [], event.start_mark, None, flow_style=event.flow_style)
                items = node.value
                while not self.check_event(yaml.SequenceEndEvent):
                    items.append(self.compose_node(node, len(items)))
            else:  # a MappingStartEvent: the parser yields nothing else here
                if tag is None or tag == "!":
                    tag = self.resolve(yaml.MappingNode, None, event.implicit)
                node = yaml.MappingNode(tag, [], event.start_mark, None, flow_style=event.flow_style)
                pairs = node.value
                while not self.check_event(yaml.MappingEndEvent):
                    key = self.compose_node(node, None)
                    pairs.append((key, self.compose_node(node, key)))
            node.end_mark = self.get_event().end_mark
            return node
        finally:
            self._depth -= 1

    def construct_yaml_timestamp(self, node: Any) -> Any:
        try:
            return super().construct_yaml_timestamp(node)  # type: ignore[misc]
        except (ValueError, OverflowError) as exc:
            self.problems.append(
                ("bad_dates", f"'{node.value}' is not a date on the calendar: {exc}", node.start_mark.line + 1))
            return node.value

    def construct_yaml_int(self, node: Any) -> Any:
        try:
            return super().construct_yaml_int(node)  # type: ignore[misc]
        except ValueError:
            digits = sum(c.isdigit() for c in node.value)
            self.problems.append(("schema_error", f"a number of {digits} digits is out of range", node.start_mark.line + 1))
            return node.value


class _PyLoader(_Checked, yaml.SafeLoader):
    """The checked loader on PyYAML's pure-Python reader, scanner and parser."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._start()


if _CParser is not None:

    class _CLoader(_Checked, yaml.composer.Composer, _CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """The checked loader on libyaml's C parser (about 4x faster on the shipped rules). Only
        the events come from C; nodes are composed by ``_Checked.compose_node`` (the Python
        ``Composer`` comes before ``CParser`` in the MRO), then built by the Python constructor."""

        def __init__(self, stream: Any) -> None:
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            yaml.composer.Composer.__init__(self)
            self._start()

    _LOADERS: tuple[Any, ...] = (_CLoader, _PyLoader)
else:  # pragma: no cover
    _LOADERS = (_PyLoader,)

for _cls in _LOADERS:
    _cls.add_constructor("tag:yaml.org,2002:timestamp", _Checked.construct_yaml_timestamp)
    _cls.add_constructor("tag:yaml.org,2002:int", _Checked.construct_yaml_int)
    _cls.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    for _first in "tTfF":
        _cls.yaml_implicit_resolvers.setdefault(_first, []).insert(
            0, ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"))
        )

#: The loader ``parse_yaml`` uses: libyaml's C parser when PyYAML has it, unless
#: ``SHARELAW_PURE_YAML=1`` asks for the pure-Python one (both behave the same; tests run both).
_Loader: type = _LOADERS[-1] if os.environ.get("SHARELAW_PURE_YAML") == "1" else _LOADERS[0]

#: Which YAML parser ``parse_yaml`` uses: ``"libyaml"`` or ``"python"``.
YAML_PARSER = "python" if _Loader is _PyLoader else "libyaml"


def _line_index(node: yaml.Node, path: tuple[Any, ...] = (), index: dict[tuple[Any, ...], int] | None = None,
                dupes: list[tuple[Any, int]] | None = None) -> tuple[dict[tuple[Any, ...], int], list[tuple[Any, int]]]:
    index = {} if index is None else index
    dupes = [] if dupes is None else dupes
    index.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                dupes.append((key, key_node.start_mark.line + 1))
            seen.add(key)
            index[path + (key,)] = key_node.start_mark.line + 1
            _line_index(value_node, path + (key,), index, dupes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            index[path + (i,)] = item.start_mark.line + 1
            _line_index(item, path + (i,), index, dupes)
    return index, dupes


@dataclass
class _Source:
    file: str
    lines: dict[tuple[Any, ...], int]

    def line(self, path: tuple[Any, ...]) -> int | None:
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


def parse_yaml(text: str) -> tuple[yaml.Node | None, Any, list[tuple[str, str, int]]]:
    """One pass over ``text``: its node tree (for lines), its data, and the problems noted
    while building it (``(code suffix, message, line)``: impossible dates, numbers out of range).

    Raises ``yaml.YAMLError`` for text that is not YAML, ``RefusedYAML`` (one of them) for an
    anchor, an alias or nesting too deep."""
    loader_class = _Loader
    stream: str | bytes = text
    if loader_class is not _PyLoader:
        try:
            stream = text.encode("utf-8")  # libyaml reads UTF-8 bytes
        except UnicodeEncodeError:  # a lone surrogate: the Python reader names it as a ReaderError
            loader_class = _PyLoader
    loader = loader_class(stream)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:  # MAX_DEPTH should stop this first; never a raw RecursionError
            raise RefusedYAML("too_deep", "mappings and lists nested too deep to read", None) from None
        except yaml.reader.ReaderError as exc:
            if isinstance(stream, bytes) and isinstance(exc.position, int):  # libyaml: a byte offset
                exc.position = len(stream[: exc.position].decode("utf-8", errors="ignore"))
            raise
        except yaml.MarkedYAMLError as exc:
            if "maximum nesting depth" in (exc.problem or ""):  # libyaml's own limit (1,000), met while scanning ahead
                raise RefusedYAML("too_deep", f"mappings and lists nested more than {MAX_DEPTH} deep",
                                  exc.problem_mark) from None
            raise
        data = loader.construct_document(node) if node is not None else None
        return node, data, loader.problems
    finally:
        loader.dispose()


def problem_errors(problems: list[tuple[str, str, int]], file: str, prefix: str = "ruleset") -> list[RulesetError]:
    """The problems ``parse_yaml`` noted, as errors coded ``<prefix>_<suffix>``."""
    return [RulesetError(f"{prefix}_{suffix}", message, file=file, line=line) for suffix, message, line in problems]


def yaml_error(exc: yaml.YAMLError, text: str, file: str, prefix: str = "ruleset") -> RulesetError:
    """A YAML error as a coded error at its line: ``<prefix>_parse_error``, or for what the
    loader refuses, ``<prefix>_yaml_alias`` / ``<prefix>_too_deep``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if "end of stream" in (getattr(exc, "problem", None) or "") and getattr(exc, "context_mark", None):
        mark = exc.context_mark  # type: ignore[attr-defined]  # e.g. an unclosed quote: point at where it opened
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    if isinstance(exc, RefusedYAML):
        return RulesetError(f"{prefix}_{exc.code}", exc.problem or "", file=file, line=line, column=column)
    problem = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, yaml.reader.ReaderError):  # a control character: say which, and where
        problem = f"character {exc.character!r} ({exc.reason})"
        if isinstance(exc.position, int) and 0 <= exc.position <= len(text):
            line = text.count("\n", 0, exc.position) + 1
            column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
    return RulesetError(f"{prefix}_parse_error", f"not valid YAML: {problem}", file=file, line=line, column=column)


def decode_error(exc: UnicodeDecodeError, raw: bytes, file: str, prefix: str = "ruleset") -> RulesetError:
    """Bytes that are not UTF-8, as ``<prefix>_parse_error`` at the line of the first bad byte."""
    line = raw.count(b"\n", 0, exc.start) + 1
    return RulesetError(f"{prefix}_parse_error", f"not UTF-8 text: {exc.reason} at byte {exc.start}", file=file, line=line)


def read_yaml(text: str, file: str) -> tuple[Any, _Source]:
    try:
        node, data, problems = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise RulesetErrors([yaml_error(exc, text, file)]) from None
    if node is None:
        raise RulesetErrors([RulesetError("ruleset_schema_error", "the file is empty", file=file, line=1)])
    lines, dupes = _line_index(node)
    errors = [RulesetError("ruleset_duplicate_key", f"key '{k}' appears twice in one mapping", file=file, line=ln)
              for k, ln in dupes]
    errors += problem_errors(problems, file)
    if errors:
        raise RulesetErrors(sorted(errors, key=lambda e: e.line or 0))
    return data, _Source(file, lines)


def read_yaml_cached(text: str, file: str, sha256: str, cache: "ParseCache | None") -> tuple[Any, _Source]:
    """``read_yaml``, through the parse cache (``rules/cache.py``) when one is given: the
    cached data and lines of a file whose bytes have this sha256, else the file parsed (and,
    if it parsed cleanly, cached)."""
    if cache is not None:
        found = cache.get(sha256)
        if found is not None:
            return found[0], _Source(file, found[1])
    data, src = read_yaml(text, file)
    if cache is not None:
        cache.put(sha256, data, src.lines)
    return data, src


# ------------------------------------------------------------------ conditions


class _CondBuilder:
    def __init__(
        self, stage: Stage, defs: Mapping[str, Any], src: _Source, errors: list[Any], rule_id: str | None,
        built: dict[str, Cond] | None = None, facts: Mapping[str, Any] = FACTS,
        shared: Mapping[str, "SharedDefinition"] | None = None,
    ):
        self.facts = facts
        self.shared = shared or {}
        self.stage = stage
        self.defs = defs
        self.src = src
        self.errors = errors
        self.rule_id = rule_id
        self.stage_index = list(Stage).index(stage)
        # Definitions are built once per file (errors inside one are reported once, at the
        # definition); rule builders share the results.
        self._defs_built: dict[str, Cond] = {} if built is None else built
        self._building: set[str] = set()

    def err(self, code: str, msg: str, path: tuple[Any, ...]) -> Cond:
        self.errors.append(RulesetError(code, msg, file=self.src.file, line=self.src.line(path), rule_id=self.rule_id))
        return Const(False)

    def build(self, raw: Any, path: tuple[Any, ...]) -> Cond:
        if raw is True or raw is False:
            return Const(bool(raw))
        if not isinstance(raw, Mapping) or not raw:
            return self.err("ruleset_bad_condition", f"a condition must be true, false or a mapping, not {raw!r}", path)
        keys = set(raw)
        if keys & {"all", "any", "not", "use"}:
            if len(raw) != 1:
                return self.err("ruleset_bad_condition", "all/any/not/use must stand alone in their mapping", path)
            (key, value), = raw.items()
            if key in ("all", "any"):
                if not isinstance(value, list) or not value:
                    return self.err("ruleset_bad_condition", f"'{key}' takes a non-empty list", path)
                items = tuple(self.build(v, path + (key, i)) for i, v in enumerate(value))
                return All(items) if key == "all" else AnyOf(items)
            if key == "not":
                return Not(self.build(value, path + ("not",)))
            return self.use(value, path + ("use",))
        items = tuple(self.leaf(fact, value, path + (fact,)) for fact, value in raw.items())
        return items[0] if len(items) == 1 else All(items)

    def use(self, name: Any, path: tuple[Any, ...]) -> Cond:
        local = isinstance(name, str) and name in self.defs
        if not local and not (isinstance(name, str) and name in self.shared):
            return self.err(
                "ruleset_unknown_definition",
                f"no definition named {name!r} in this file or in the bundle's definitions files"
                + did_you_mean(name, [*self.defs, *self.shared]), path)
        if name in self._defs_built:
            return self._defs_built[name]
        if name in self._building:
            return self.err("ruleset_unknown_definition", f"definition {name!r} refers to itself", path)
        self._building.add(name)
        if local:
            built = self.build(self.defs[name], ("define", name))
        else:
            # A shared definition is built in this file's stage (so a fact a later stage
            # establishes is still refused), but its errors point at the definitions file.
            shared = self.shared[name]
            src, self.src = self.src, shared.src
            try:
                built = self.build(shared.raw, shared.path)
            finally:
                self.src = src
        self._building.discard(name)
        self._defs_built[name] = built
        return built

    def leaf(self, fact: str, value: Any, path: tuple[Any, ...]) -> Cond:
        spec = self.facts.get(fact)
        if spec is None:
            return self.err("ruleset_unknown_fact", f"unknown fact '{fact}'{did_you_mean(fact, self.facts)} "
                            "(see docs/rulesets.md for the list)", path)
        if list(Stage).index(spec.from_stage) > self.stage_index:
            return self.err(
                "ruleset_fact_not_available",
                f"fact '{fact}' is established by a later stage than {self.stage.value}",
                path,
            )
        op, values = "in", [value]
        if isinstance(value, Mapping):
            if len(value) != 1 or next(iter(value)) not in _OPS:
                return self.err("ruleset_bad_condition", f"a comparison is one of {sorted(_OPS)}", path)
            (op, operand), = value.items()
            if op in ("in", "not_in"):
                if not isinstance(operand, list) or not operand:
                    return self.err("ruleset_bad_condition", f"'{op}' takes a non-empty list", path)
                values = operand
            else:
                values = [operand]
        for v in values:
            ok = isinstance(v, bool) if spec.is_bool else (isinstance(v, str) and v in spec.values)
            if not ok:
                expected = "true or false" if spec.is_bool else ", ".join(spec.values)
                hint = "" if spec.is_bool else did_you_mean(v, spec.values)
                self.err("ruleset_bad_value", f"'{fact}' cannot be {v!r}{hint}; expected {expected}", path)
        return In(fact, tuple(values), negated=op in ("not_in", "ne"))


# ------------------------------------------------------------------ files


def _known_keys() -> set[str]:
    """Every key of every rule-file model (pydantic does not say which the misspelt key's model has)."""
    from . import model as m

    keys: set[str] = set()
    for obj in vars(m).values():
        if isinstance(obj, type) and issubclass(obj, m._File):
            for name, info in obj.model_fields.items():
                keys.add(info.alias or name)
    return keys


def _schema_hint(err: Any) -> str:
    """A did-you-mean for a misspelt key (the model's fields) or an enumerated value."""
    if err.get("type") == "extra_forbidden" and err["loc"]:
        return did_you_mean(err["loc"][-1], _known_keys())
    if err.get("type") in ("enum", "literal_error"):
        expected = re.findall(r"'([^']+)'", str(err.get("ctx", {}).get("expected", "")))
        return did_you_mean(err.get("input"), expected)
    return ""


def _schema_errors(exc: ValidationError, src: _Source, data: Any, list_key: str = "rules") -> list[RulesetError]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        rule_id = None
        if len(loc) >= 2 and loc[0] == list_key and isinstance(loc[1], int):
            try:
                rule_id = data[list_key][loc[1]].get("id")
            except Exception:  # noqa: BLE001 - best effort only
                rule_id = None
        msg = err["msg"].removeprefix("Value error, ") + _schema_hint(err)
        where = ".".join(str(p) for p in loc)
        out.append(RulesetError("ruleset_schema_error", f"{where}: {msg}", file=src.file, line=src.line(loc), rule_id=rule_id))
    return out


@dataclass(frozen=True)
class SharedDefinition:
    """A condition defined once for the whole bundle, in a ``sharelaw/definitions@1`` file."""

    name: str
    raw: Any
    src: _Source
    path: tuple[Any, ...]


@dataclass
class LoadedDefinitions:
    path: str
    model: DefinitionsFile
    shared: dict[str, SharedDefinition]


def load_definitions(text: str, file: str, parsed: tuple[Any, _Source] | None = None) -> LoadedDefinitions:
    """Load a definitions file: functions (purposes they serve) and shared conditions.

    Each definition is checked here, as the last stage would read it, so its errors point
    at this file; it is built again in the stage of each rule that uses it. ``parsed`` is
    the file's ``read_yaml`` result, if the caller has it already (e.g. from the cache).
    """
    data, src = parsed if parsed is not None else read_yaml(text, file)
    if not isinstance(data, Mapping):
        raise RulesetErrors([RulesetError("ruleset_schema_error", "a definitions file is a mapping", file=file, line=1)])
    try:
        model = DefinitionsFile.model_validate(data)
    except ValidationError as exc:
        raise RulesetErrors(_schema_errors(exc, src, data)) from None
    shared: dict[str, SharedDefinition] = {}
    for fid, fn in model.functions.items():
        raw = {"purpose": {"in": [p.value for p in fn.purposes]}}
        shared[f"function.{fid}"] = SharedDefinition(f"function.{fid}", raw, src, ("functions", fid, "purposes"))
    for name, raw in model.define.items():
        shared[name] = SharedDefinition(name, raw, src, ("define", name))
    errors: list[RulesetError] = []
    builder = _CondBuilder(Stage.PROTOCOL, {}, src, errors, None, shared=shared)
    for name in shared:
        builder.use(name, shared[name].path)
    if errors:
        raise RulesetErrors(errors)
    return LoadedDefinitions(file, model, shared)


def text_format(text: str) -> str | None:
    """The ``format:`` a YAML text declares, read without parsing it."""
    match = _FORMAT.search(text)
    return match.group(1) if match else None


@dataclass
class LoadedFile:
    path: str
    model: RulesetFile
    rules: list[Rule]
    requirements: list[Requirement]


def load_file(text: str, file: str, order_start: int = 0, shared: Mapping[str, SharedDefinition] | None = None,
              parsed: tuple[Any, _Source] | None = None) -> LoadedFile | LoadedProtocol:
    """Load a rule file: a ``LoadedFile`` for national law, a ``LoadedProtocol`` for a protocol.

    ``shared`` holds the bundle's shared definitions (``use:`` may name them); ``parsed`` is
    the file's ``read_yaml`` result, if the caller has it already (e.g. from the cache)."""
    shared = shared or {}
    data, src = parsed if parsed is not None else read_yaml(text, file)
    errors: list[RulesetError] = []
    if not isinstance(data, Mapping):
        raise RulesetErrors([RulesetError("ruleset_schema_error", "a rule file is a mapping", file=file, line=1)])
    if data.get("format") == PROTOCOL_FORMAT:
        from .protocol import load_protocol

        return load_protocol(data, src, order_start, shared)
    try:
        model = RulesetFile.model_validate(data)
    except ValidationError as exc:
        raise RulesetErrors(_schema_errors(exc, src, data)) from None

    stage = model.stage
    for name in model.define:
        if name in shared:
            errors.append(RulesetError(
                "ruleset_duplicate_id",
                f"definition '{name}' is also defined for the whole bundle in {shared[name].src.file}",
                file=file, line=src.line(("define", name))))
    definitions = _CondBuilder(stage, model.define, src, errors, None, shared=shared)
    for name in model.define:
        definitions.use(name, ("define", name))
    built = definitions._defs_built
    req_ids: dict[str, int] = {}
    requirements: list[Requirement] = []
    for i, rq in enumerate(model.requirements):
        path = ("requirements", i)
        if rq.id in req_ids:
            errors.append(RulesetError("ruleset_duplicate_id", f"requirement '{rq.id}' declared twice", file=file, line=src.line(path)))
        req_ids[rq.id] = i
        builder = _CondBuilder(stage, model.define, src, errors, None, built, shared=shared)
        requirements.append(
            Requirement(
                id=rq.id, stage=stage, title=rq.title, when=builder.build(rq.when, path + ("when",)),
                in_force=rq.in_force or model.in_force, unmet=rq.unmet.strip(), ways_forward=tuple(rq.ways_forward),
                file=file, line=src.line(path),
            )
        )
        _check_template(rq.unmet, src, path + ("unmet",), errors, None, stage)

    rules: list[Rule] = []
    seen: set[str] = set()
    for i, rf in enumerate(model.rules):
        path = ("rules", i)
        line = src.line(path)
        builder = _CondBuilder(stage, model.define, src, errors, rf.id, built, shared=shared)
        if rf.id in seen:
            errors.append(RulesetError("ruleset_duplicate_id", f"rule id '{rf.id}' used twice", file=file, line=line, rule_id=rf.id))
        seen.add(rf.id)
        if not rf.citations:
            errors.append(RulesetError("ruleset_missing_citation", "every rule needs at least one citation", file=file, line=line, rule_id=rf.id))
        when = builder.build(rf.when, path + ("when",))
        _check_effect(rf, when, stage, src, path, errors)
        _check_template(rf.reason, src, path + ("reason",), errors, rf.id, stage)
        if not _within(rf.in_force, model.in_force):
            errors.append(RulesetError(
                "ruleset_bad_dates", "the rule's in_force dates fall outside its file's in_force dates",
                file=file, line=src.line(path + ("in_force",)), rule_id=rf.id))
        rules.append(
            Rule(
                id=rf.id, stage=stage, title=rf.title, in_force=rf.in_force, priority=rf.priority,
                when=when, effect=rf.effect, citations=tuple(rf.citations),
                verification=rf.verification, reason=rf.reason.strip(), file=file, line=line,
                order=order_start + i, source=rf,
            )
        )
    if errors:
        raise RulesetErrors(errors)
    return LoadedFile(file, model, rules, requirements)


def _within(inner: InForce, outer: InForce) -> bool:
    """A rule may predate its file (the law existed before the era began) but must overlap it."""
    if inner.end is not None and inner.end < outer.start:
        return False
    return outer.end is None or inner.start <= outer.end


def _check_effect(rf: Any, when: Cond, stage: Stage, src: _Source, path: tuple[Any, ...], errors: list[Any],
                  effect: Any = None) -> None:
    eff = effect if effect is not None else rf.effect
    where = path + ("effect",)

    def bad(msg: str) -> None:
        errors.append(RulesetError("ruleset_bad_effect", msg, file=src.file, line=src.line(where), rule_id=rf.id))

    if eff.kind is not EffectKind.NOTES and not eff.requirement_ids():
        bad(f"a '{eff.kind.value}' effect must name the requirement it affects")
    if eff.basis is not None and stage is not Stage.VIRES:
        bad("only stage-1 (vires) rules give a basis")
    if stage is Stage.VIRES and eff.kind is EffectKind.SATISFIES and eff.basis is None:
        bad("a stage-1 rule that satisfies a requirement must say which kind of basis it gives")
    if eff.required_by_law and (stage is not Stage.VIRES or eff.basis is None or eff.basis.value != "duty"):
        bad("required_by_law applies only to a stage-1 duty")
    if (eff.overrides_confidence or eff.from_statute is not None) and (stage is not Stage.VIRES or eff.basis is None):
        bad("overrides_confidence and from_statute apply only to a stage-1 rule that gives a basis")
    if eff.discretion is not None and (stage is not Stage.VIRES or eff.basis is None or eff.basis.value != "duty"):
        bad("discretion applies only to a stage-1 duty")
    if eff.discretion is not None and eff.discretion.value == "no_duty":
        bad("discretion is 'none' or 'qualified' ('no_duty' is what stage 1 establishes without a duty)")
    if eff.subordinate and (stage is not Stage.VIRES or eff.basis is None or not eff.statutory):
        bad("subordinate applies only to a stage-1 basis conferred by legislation")
    if (eff.discretion is None) != (eff.discretion_provision is None):
        bad("discretion and discretion_provision go together: say which provision makes the duty unqualified "
            "or gives its exception")
    if eff.kind is EffectKind.REFERS and not eff.missing and not _reads_stage_status(when):
        bad("a 'refers' effect must name what is missing (or wait on an earlier stage's status)")
    if eff.kind is not EffectKind.REFERS and eff.missing:
        bad("only a 'refers' effect names missing items")
    for item in eff.missing:
        if item not in MISSING_ITEMS:
            bad(f"unknown missing item '{item}'{did_you_mean(item, MISSING_ITEMS)}; expected one of {', '.join(MISSING_ITEMS)}")


def _reads_stage_status(cond: Cond) -> bool:
    """Whether a condition reads an earlier stage's outcome (e.g. ``vires.status``)."""
    if isinstance(cond, In):
        return cond.fact.endswith(".status")
    if isinstance(cond, Not):
        return _reads_stage_status(cond.item)
    if isinstance(cond, (All, AnyOf)):
        return any(_reads_stage_status(c) for c in cond.items)
    return False


def _check_template(
    text: str, src: _Source, path: tuple[Any, ...], errors: list[Any], rule_id: str | None, stage: Stage,
    facts: Mapping[str, Any] = FACTS,
) -> None:
    order = list(Stage)
    for name in _PLACEHOLDER.findall(text):
        if name in TEMPLATE_EXTRAS:
            continue
        spec = facts.get(name)
        if spec is None:
            errors.append(RulesetError(
                "ruleset_bad_template", f"reason uses unknown placeholder '{{{name}}}'",
                file=src.file, line=src.line(path), rule_id=rule_id))
        elif order.index(spec.from_stage) > order.index(stage):
            errors.append(RulesetError(
                "ruleset_bad_template", f"placeholder '{{{name}}}' is established only by a later stage",
                file=src.file, line=src.line(path), rule_id=rule_id))


_FORMAT = re.compile(r"^format:\s*[\"']?([\w/@.-]+)", re.MULTILINE)


def file_format(path: Path) -> str | None:
    """The ``format:`` a YAML file declares (ruleset, protocol or scenarios), read without parsing it.

    Raises ``RulesetErrors`` (``ruleset_unreadable``) if the file cannot be read."""
    match = _FORMAT.search(read_rule_file(path).decode("utf-8", errors="replace"))
    return match.group(1) if match else None


UNREADABLE = "ruleset_unreadable"


def _kind_of(mode: int) -> str:
    return (
        "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode)
        else "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
        else "a folder" if stat.S_ISDIR(mode) else "not a regular file"
    )


def _unreadable(path: Path, what: str) -> RulesetError:
    return RulesetError(UNREADABLE, f"{what}; fix or remove it (nothing under a rules path is skipped)", file=str(path))


def _stat_problem(path: Path, exc: OSError) -> RulesetError:
    """Why ``os.stat`` (following links) failed on ``path``, in words."""
    if os.path.islink(path):
        if exc.errno == errno.ELOOP:
            return _unreadable(path, "a symbolic link loop")
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        if exc.errno == errno.ENOENT:
            return _unreadable(path, f"a dangling symbolic link (its target {target} does not exist)")
        return _unreadable(path, f"a symbolic link to {target}, which cannot be read: {exc.strerror or exc}")
    return _unreadable(path, f"cannot be read: {exc.strerror or exc}")


def read_rule_file(path: Path) -> bytes:
    """The bytes of a rule, protocol or scenario file, or ``RulesetErrors`` (``ruleset_unreadable``).

    Only a regular file is ever opened: the path is checked with ``stat`` first (a FIFO
    would block a reader, a device could be read for ever), then opened non-blocking and
    checked again on the open descriptor, in case it was replaced in between."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise RulesetErrors([_stat_problem(path, exc)]) from None
    if not stat.S_ISREG(st.st_mode):
        raise RulesetErrors([_unreadable(path, f"{_kind_of(st.st_mode)}, not a rule file")])
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise RulesetErrors([_unreadable(path, f"cannot be read: {exc.strerror or exc}")]) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise RulesetErrors([_unreadable(path, f"{_kind_of(st.st_mode)}, not a rule file")])
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise RulesetErrors([_unreadable(path, f"cannot be read: {exc.strerror or exc}")]) from None
    finally:
        os.close(fd)


def discover(paths: list[Path]) -> list[Path]:
    """The rule files under ``paths``: each path that is a file, and every ``*.yaml`` under each
    folder (following symbolic links), sorted by path within each folder given.

    Nothing is skipped silently. Every path that is not a readable regular rule file raises
    ``RulesetErrors`` with one ``ruleset_unreadable`` error naming it: a dangling symbolic link, a
    symbolic link loop (or a link back to a folder above it), a FIFO, socket or device (whatever
    its name), a folder that cannot be listed, a folder named ``*.yaml``. Under a folder the only
    thing ignored is a regular file not named ``*.yaml`` (notes, a README); hidden names are not
    special. A path given that does not exist is ``ruleset_schema_error``. Files are not opened
    here (``read_rule_file`` does that, and refuses what is not a regular file)."""
    files: list[Path] = []
    errors: list[RulesetError] = []
    for p in paths:
        p = Path(p)
        try:
            st = os.stat(p)
        except OSError as exc:
            if exc.errno == errno.ENOENT and not os.path.islink(p):
                errors.append(RulesetError("ruleset_schema_error", "no such file or directory", file=str(p)))
            else:
                errors.append(_stat_problem(p, exc))
            continue
        if stat.S_ISDIR(st.st_mode):
            found: list[Path] = []
            _walk(p, {(st.st_dev, st.st_ino)}, found, errors)
            files.extend(sorted(found))
        elif stat.S_ISREG(st.st_mode):
            files.append(p)
        else:
            errors.append(_unreadable(p, f"{_kind_of(st.st_mode)}, not a rule file"))
    if errors:
        raise RulesetErrors(errors)
    return files


def _walk(folder: Path, above: set[tuple[int, int]], found: list[Path], errors: list[RulesetError]) -> None:
    try:
        with os.scandir(folder) as it:
            names = sorted(entry.name for entry in it)
    except OSError as exc:
        errors.append(_unreadable(folder, f"a folder that cannot be read: {exc.strerror or exc}"))
        return
    for name in names:
        path = folder / name
        try:
            st = os.stat(path)
        except OSError as exc:
            errors.append(_stat_problem(path, exc))
            continue
        if stat.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if name.endswith(".yaml"):
                errors.append(_unreadable(path, "a folder named *.yaml, not a rule file"))
            elif key in above:
                errors.append(_unreadable(path, "a symbolic link back to a folder above it (a loop)"))
            else:
                _walk(path, above | {key}, found, errors)
        elif stat.S_ISREG(st.st_mode):
            if name.endswith(".yaml"):
                found.append(path)
        else:
            errors.append(_unreadable(path, f"{_kind_of(st.st_mode)}, not a rule file"))
