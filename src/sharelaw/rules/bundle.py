"""A bundle: every rule file loaded together, checked across files, content-hashed,
and cut into date segments so that the rules in force on any day are known at once.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..errors import RulesetError, RulesetErrors, did_you_mean
from ..vocab import EffectKind, Stage
from .cache import ParseCache
from .loader import (
    LoadedDefinitions, LoadedFile, SharedDefinition, decode_error, discover, load_definitions, load_file, read_rule_file,
    read_yaml_cached, text_format,
)
from .protocol import LoadedProtocol
from .model import DEFINITIONS_FORMAT, InForce, Protocol, Requirement, Rule, facts_in
from .reference import predicate

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def default_ruleset_dir() -> Path:
    """The shipped rulesets: inside the installed package, or at the repository root."""
    packaged = PACKAGE_DIR / "rulesets"
    if packaged.is_dir():
        return packaged
    repo = PACKAGE_DIR.parent.parent / "rulesets"
    if repo.is_dir():
        return repo
    raise RulesetErrors([RulesetError("ruleset_schema_error", "the shipped rulesets were not found", file=str(packaged))])


def _clip(inner: InForce, outer: InForce) -> tuple[date, date | None]:
    start = max(inner.start, outer.start)
    ends = [e for e in (inner.end, outer.end) if e is not None]
    return start, (min(ends) if ends else None)


def _cut_points(windows: Iterable[InForce]) -> list[date]:
    """The days on which something starts or stops being in force: segment boundaries."""
    points: set[date] = set()
    for w in windows:
        points.add(w.start)
        if w.end is not None and w.end < date.max:
            points.add(w.end + timedelta(days=1))
    return sorted(points)


def _overlap(a: tuple[date, date | None], b: tuple[date, date | None]) -> bool:
    return (a[1] is None or b[0] <= a[1]) and (b[1] is None or a[0] <= b[1])


@dataclass(frozen=True)
class Segment:
    """The rules and requirements of one stage in force throughout [start, end].

    Everything derivable from the rules alone is computed once here, not per decision.
    """

    stage: Stage
    index: int
    start: date | None
    end: date | None
    rules: tuple[Rule, ...]
    requirements: tuple[Requirement, ...]
    scope: str | None = None  # None for national law, else the protocol id

    @property
    def key(self) -> str:
        where = f"{self.scope}:" if self.scope else ""
        return f"{where}{self.stage.value}#{self.index}"

    @cached_property
    def predicates(self) -> tuple[tuple[str, Callable[..., Any]], ...]:
        out = []
        for r in self.rules:
            try:
                out.append((r.id, predicate(r.when)))
            except (RecursionError, SyntaxError, MemoryError):
                # a condition nested deeper than Python compiles: the rule author's to flatten,
                # reported at the rule (as `sharelaw check` does), not a fault
                from .reference import predicate_error

                error = predicate_error(r)
                if error is None:
                    raise
                raise RulesetErrors([error]) from None
        return tuple(out)

    @cached_property
    def requirement_tests(self) -> tuple[tuple[Requirement, Callable[..., Any]], ...]:
        return tuple((rq, predicate(rq.when)) for rq in self.requirements)

    @cached_property
    def satisfiers(self) -> dict[str, tuple[str, ...]]:
        """For each requirement, the rules in force that could satisfy it (what is "looked for")."""
        return {
            rq.id: tuple(r.id for r in self.rules if r.effect.kind is EffectKind.SATISFIES and rq.id in r.requirements)
            for rq in self.requirements
        }

    @cached_property
    def facts_read(self) -> tuple[str, ...]:
        """The facts this segment's rules read: all that the rule engine needs to see."""
        names: set[str] = set()
        for r in self.rules:
            names.update(facts_in(r.when))
        return tuple(sorted(names))


class Bundle:
    """Rule files loaded and checked together. Immutable once built."""

    def __init__(self, files: list[Any], digests: list[tuple[str, str]], sources: dict[str, str]):
        self._digests = digests
        self.sources = sources  # relative path -> file text, for archiving
        self.definitions: list[LoadedDefinitions] = []  # set by the loaders
        self.parse_cache: ParseCache | None = None  # the cache the files were read through (its hits, misses)
        errors: list[RulesetError] = []
        self.rules: dict[str, Rule] = {}
        self.by_stage: dict[Stage, list[Rule]] = {s: [] for s in Stage}
        self.requirements: dict[Stage, list[Requirement]] = {s: [] for s in Stage}
        self.file_windows: dict[str, InForce] = {}
        file_ids: dict[str, str] = {}
        self.protocols: dict[str, Protocol] = {}
        protocol_files = [f for f in files if isinstance(f, LoadedProtocol)]
        files = [f for f in files if not isinstance(f, LoadedProtocol)]
        self.files = files
        self.protocol_files = protocol_files
        for f in files:
            if f.model.id in file_ids:
                errors.append(RulesetError("ruleset_duplicate_id", f"ruleset id '{f.model.id}' also used by {file_ids[f.model.id]}", file=f.path, line=1))
            file_ids[f.model.id] = f.path
            self.file_windows[f.path] = f.model.in_force
            for rq in f.requirements:
                window = _clip(rq.in_force, f.model.in_force)
                for other in self.requirements[rq.stage]:
                    if other.id == rq.id and _overlap(window, _clip(other.in_force, self.file_windows[other.file])):
                        errors.append(RulesetError(
                            "ruleset_duplicate_id",
                            f"requirement '{rq.id}' is already declared for stage {rq.stage.value} at {other.file}:{other.line} on overlapping dates",
                            file=f.path, line=rq.line))
                self.requirements[rq.stage].append(rq)
            for r in f.rules:
                if r.id in self.rules:
                    first = self.rules[r.id]
                    errors.append(RulesetError("ruleset_duplicate_id", f"rule id '{r.id}' also defined at {first.file}:{first.line}", file=f.path, line=r.line, rule_id=r.id))
                    continue
                self.rules[r.id] = r
                self.by_stage[r.stage].append(r)
        for rules in self.by_stage.values():
            for r in rules:
                errors.extend(self._undeclared(r))
        for f in protocol_files:
            errors.extend(self._add_protocol(f, file_ids))
        if errors:
            raise RulesetErrors(errors)
        for rules in self.by_stage.values():
            rules.sort(key=lambda r: (r.priority, r.order))
        self._boundaries = {s: self._cut(s) for s in Stage}
        self._protocol_boundaries: dict[tuple[str, Stage], list[date]] = {}
        self._segments: dict[tuple[Stage, int], Segment] = {}
        self._lock = threading.Lock()

    def _add_protocol(self, f: LoadedProtocol, file_ids: dict[str, str]) -> list[RulesetError]:
        p = f.protocol
        errors: list[RulesetError] = []
        if p.id in file_ids:
            errors.append(RulesetError("ruleset_duplicate_id", f"id '{p.id}' also used by {file_ids[p.id]}", file=f.path, line=1))
            return errors
        file_ids[p.id] = f.path
        self.protocols[p.id] = p
        self.file_windows[f.path] = p.in_force
        window = (p.in_force.start, p.in_force.end)
        for ref, line in zip(p.powers, p.power_lines):
            rule = self.rules.get(ref.rule)
            if rule is None or rule.protocol is not None or rule.stage is not Stage.VIRES or rule.effect.basis is None:
                what = "no rule has that id" if rule is None else "it is not a national stage-1 rule that gives a basis"
                errors.append(RulesetError(
                    "protocol_unknown_power", f"powers relies on '{ref.rule}', but {what}"
                    + (did_you_mean(ref.rule, [i for i, x in self.rules.items() if x.stage is Stage.VIRES
                                               and x.protocol is None and x.effect.basis is not None])
                       if rule is None else ""), file=f.path, line=line))
                continue
            start, end = _clip(rule.in_force, self.file_windows[rule.file])
            gaps = []
            if start > window[0]:
                gaps.append(f"it starts on {start.isoformat()}, after the protocol does ({window[0].isoformat()})")
            if end is not None and (window[1] is None or end < window[1]):
                until = f"runs to {window[1].isoformat()}" if window[1] else "has no end date"
                gaps.append(f"it ends on {end.isoformat()}, but the protocol {until}")
            if gaps:
                errors.append(RulesetError(
                    "protocol_power_not_in_force",
                    f"power '{ref.rule}' is not in force throughout the protocol's dates: {'; '.join(gaps)}",
                    file=f.path, line=line))
        for r in p.rules:
            if r.id in self.rules:
                other = self.rules[r.id]
                errors.append(RulesetError("ruleset_duplicate_id", f"rule id '{r.id}' also defined at {other.file}:{other.line}", file=f.path, line=r.line, rule_id=r.id))
                continue
            self.rules[r.id] = r
            if r.stage is not Stage.PROTOCOL:  # the protocol's own requirement is checked by its loader
                errors.extend(self._undeclared(r))
        return errors

    def _undeclared(self, r: Rule) -> list[RulesetError]:
        """An error for each requirement the rule names that its stage does not declare."""
        declared = {rq.id for rq in self.requirements[r.stage]}
        return [
            RulesetError("ruleset_unknown_requirement", f"requirement '{req}' is not declared for stage {r.stage.value}"
                         + did_you_mean(req, declared),
                         file=r.file, line=r.line, rule_id=r.id)
            for req in r.requirements if req not in declared
        ]

    # -------------------------------------------------------------- protocols

    def protocol_boundaries(self, pid: str, stage: Stage) -> list[date]:
        key = (pid, stage)
        found = self._protocol_boundaries.get(key)
        if found is None:
            p = self.protocols[pid]
            found = _cut_points([p.in_force] + [r.in_force for r in p.rules if r.stage is stage])
            self._protocol_boundaries[key] = found
        return found

    def protocol_segment(self, pid: str, stage: Stage, as_at: date) -> Segment:
        index = bisect.bisect_right(self.protocol_boundaries(pid, stage), as_at)
        return self.protocol_segment_at(pid, stage, index)

    def protocol_segment_at(self, pid: str, stage: Stage, index: int) -> Segment:
        key = (pid, stage, index)
        seg = self._segments.get(key)  # type: ignore[arg-type]
        if seg is None:
            with self._lock:
                seg = self._segments.get(key)  # type: ignore[arg-type]
                if seg is None:
                    p = self.protocols[pid]
                    bounds = self.protocol_boundaries(pid, stage)
                    start = bounds[index - 1] if index > 0 else None
                    end = bounds[index] - timedelta(days=1) if index < len(bounds) else None
                    probe = start if start is not None else date.min
                    live = p.in_force.covers(probe)
                    rules = tuple(sorted(
                        (r for r in p.rules if r.stage is stage and live and r.in_force.covers(probe)),
                        key=lambda r: (r.priority, r.order)))
                    reqs = (p.requirement,) if stage is Stage.PROTOCOL and live else ()
                    seg = Segment(stage, index, start, end, rules, reqs, scope=pid)
                    self._segments[key] = seg  # type: ignore[index]
        return seg

    def all_segments(self) -> Iterator[Segment]:
        """Every segment: national (stage, index) and per protocol (protocol, stage, index)."""
        for stage in Stage:
            for index in range(len(self._boundaries[stage]) + 1):
                yield self.segment_at(stage, index)
        for pid in self.protocols:
            for stage in Stage:
                for index in range(len(self.protocol_boundaries(pid, stage)) + 1):
                    yield self.protocol_segment_at(pid, stage, index)

    # -------------------------------------------------------------- loading

    @classmethod
    def load(cls, *paths: str | Path, only: set[Path] | None = None, cache: bool = True) -> "Bundle":
        """Load every *.yaml under ``paths`` (the shipped rules if none), or just the files in
        ``only``. Paths inside the content hash are relative to the root they were found under,
        so the same files give the same hash however they were named on the command line.

        With ``cache`` (the default, unless ``SHARELAW_NO_CACHE=1``), parsed files are kept in
        the user's cache folder and a file whose bytes are unchanged is not parsed again; the
        bundle is the same either way (``rules/cache.py``)."""
        roots = [Path(p) for p in paths] or [default_ruleset_dir()]
        wanted = {p.resolve() for p in only} if only is not None else None
        texts: list[tuple[str, str, str, bytes]] = []  # (file as named, relative path, text, bytes)
        errors: list[RulesetError] = []
        for root in roots:
            try:
                found = discover([root])
            except RulesetErrors as exc:
                errors.extend(exc.errors)
                continue
            for path in found:
                if wanted is not None and path.resolve() not in wanted:
                    continue
                rel = path.relative_to(root).as_posix() if root.is_dir() else path.name
                if root.is_dir() and len(roots) > 1:
                    rel = f"{root.name}/{rel}"
                try:
                    raw = read_rule_file(path)  # ruleset_unreadable, never a raw OSError or a blocked read
                except RulesetErrors as exc:
                    errors.extend(exc.errors)
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    errors.append(decode_error(exc, raw, str(path)))
                    continue
                texts.append((str(path), rel, text, raw))
        return cls._from_texts(texts, errors, ParseCache.default() if cache else None)

    @classmethod
    def from_sources(cls, sources: dict[str, str], cache: bool = True) -> "Bundle":
        """Rebuild a bundle from archived file texts (relative path -> text), e.g. to replay a
        decision with the rules of its day. Same texts and paths give the same content hash."""
        texts = [(rel, rel, sources[rel], sources[rel].encode("utf-8")) for rel in sorted(sources)]
        return cls._from_texts(texts, [], ParseCache.default() if cache else None)

    @classmethod
    def _from_texts(
        cls, texts: list[tuple[str, str, str, bytes]], errors: list[RulesetError], cache: ParseCache | None = None,
    ) -> "Bundle":
        """Load definitions files first (every other file may ``use:`` what they define), then
        the rule and protocol files, in the order given. Each file is parsed once (or read
        from ``cache``)."""
        shared: dict[str, SharedDefinition] = {}
        definitions: list[LoadedDefinitions] = []
        files: list[Any] = []
        digests: list[tuple[str, str]] = []
        sources: dict[str, str] = {}
        for name, rel, text, raw in texts:
            if text_format(text) != DEFINITIONS_FORMAT:
                continue
            digest = hashlib.sha256(raw).hexdigest()
            try:
                loaded_defs = load_definitions(text, name, read_yaml_cached(text, name, digest, cache))
            except RulesetErrors as exc:
                errors.extend(exc.errors)
                continue
            for key, sd in loaded_defs.shared.items():
                if key in shared:
                    errors.append(RulesetError(
                        "ruleset_duplicate_id", f"definition '{key}' is also defined in {shared[key].src.file}",
                        file=name, line=sd.src.line(sd.path)))
                shared.setdefault(key, sd)
            definitions.append(loaded_defs)
            digests.append((rel, digest))
            sources[rel] = text
        order = 0
        for name, rel, text, raw in texts:
            if text_format(text) == DEFINITIONS_FORMAT:
                continue
            digest = hashlib.sha256(raw).hexdigest()
            try:
                parsed = read_yaml_cached(text, name, digest, cache)
                loaded = load_file(text, name, order_start=order, shared=shared, parsed=parsed)
            except RulesetErrors as exc:
                errors.extend(exc.errors)
                continue
            order += len(loaded.rules)
            files.append(loaded)
            digests.append((rel, digest))
            sources[rel] = text
        if errors:
            raise RulesetErrors(errors)
        bundle = cls(files, digests, sources)
        bundle.definitions = definitions
        bundle.parse_cache = cache
        return bundle

    @cached_property
    def content_hash(self) -> str:
        """sha256 over the sorted (relative path, sha256 of file bytes) pairs, as canonical JSON."""
        manifest = [{"path": p, "sha256": h} for p, h in sorted(self._digests)]
        blob = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        return "sha256:" + hashlib.sha256(blob).hexdigest()

    # -------------------------------------------------------------- time

    def _windows(self, stage: Stage) -> Iterator[InForce]:
        for r in self.by_stage[stage]:
            yield r.in_force
            yield self.file_windows[r.file]
        for rq in self.requirements[stage]:
            yield rq.in_force
            yield self.file_windows[rq.file]

    def _cut(self, stage: Stage) -> list[date]:
        return _cut_points(self._windows(stage))

    def segment(self, stage: Stage, as_at: date) -> Segment:
        return self.segment_at(stage, bisect.bisect_right(self._boundaries[stage], as_at))

    def boundaries_of(self, stage: Stage) -> list[date]:
        return list(self._boundaries[stage])

    def segment_at(self, stage: Stage, index: int) -> Segment:
        seg = self._segments.get((stage, index))
        if seg is None:
            with self._lock:
                seg = self._segments.get((stage, index))
                if seg is None:
                    seg = self._build_segment(stage, index)
                    self._segments[(stage, index)] = seg
        return seg

    def _build_segment(self, stage: Stage, index: int) -> Segment:
        bounds = self._boundaries[stage]
        start = bounds[index - 1] if index > 0 else None
        end = bounds[index] - timedelta(days=1) if index < len(bounds) else None
        probe = start if start is not None else date.min

        def live(window: InForce, file: str) -> bool:
            return window.covers(probe) and self.file_windows[file].covers(probe)

        rules = tuple(r for r in self.by_stage[stage] if live(r.in_force, r.file))
        reqs = tuple(rq for rq in self.requirements[stage] if live(rq.in_force, rq.file))
        return Segment(stage, index, start, end, rules, reqs)

    def in_force(self, as_at: date) -> list[Rule]:
        return [r for s in Stage for r in self.segment(s, as_at).rules]

    def boundaries(self) -> list[date]:
        return sorted({d for s in Stage for d in self._boundaries[s]})
