"""Rendering: a decision's words and sources, from the stage results (no decision logic here).

Fills ``{fact}`` placeholders with the request's values (``Renderer``), builds the findings
with their point-in-time citations and protocol clauses (``Output``), the coverage notes of
protocols that do not cover the request, and the summary (docs/decision-semantics.md §8,
§16, §18). What depends only on the rules (a rule's protocol reference, whether its reason
has placeholders) is computed once per rule; a rule's citations once per rule and day.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from ..decision import BasisFound, Finding, MissingItem, ProtocolRef
from ..law.citations import LEGISLATION_BASE, CitedSource, trusted_builder
from ..request import SharingRequest
from ..rules.bundle import Bundle
from ..rules.facts import FACTS
from ..rules.model import Protocol, Rule
from ..vocab import EffectKind, Outcome, Stage, StageStatus
from .combine import StageRun
from .coverage import Cover
from .memo import Memo

if TYPE_CHECKING:
    from .skeleton import FindingSpec

__all__ = ["Output", "Renderer", "YIELDED", "citations", "plain_text", "summary"]

_PLACEHOLDER = re.compile(r"\{([a-z0-9_.]+)\}")

YIELDED = (
    " This practice gives way: a duty to share applies, and a local protocol cannot override a duty. "
    "Record that the protocol's restriction was considered."
)

#: At most this many (rule, day) citation lists are kept (then a new one replaces the oldest
#: now and then: ``Memo``), so memory stays flat however many days are decided (about 1 KB
#: an entry: 4,096 is ~4 MB; live traffic decides mostly as at today, so a small cache serves it).
CITATION_CACHE_SIZE = 4_096


def plain_text(text: str | None) -> str:
    """Free text from a request (a name), safe to put in a rationale: every control or
    format character (newline, tab, escape, bidirectional override, ...) becomes a space
    and runs of spaces one, so a name can neither start a line of its own (forging
    "MUST SHARE") nor drive a terminal (ANSI escapes) nor reorder what is shown."""
    if not text:
        return ""
    if text.isprintable():  # no control, format or other category-C character: nothing to replace
        return " ".join(text.split())
    cleaned = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    return " ".join(cleaned.split())


class _Values(dict[str, str]):
    """The values a text's placeholders take, filled on first use (``str.format_map``).

    It holds the renderer's values and facts, not the renderer (which holds it): no
    reference cycle, so a decision's renderers are freed when it is built, not by the
    garbage collector."""

    __slots__ = ("known", "facts")
    known: dict[str, str]
    facts: Mapping[str, object]

    def __missing__(self, key: str) -> str:
        return _value(self.known, self.facts, _NAMES[key])


def _value(values: dict[str, str], facts: Mapping[str, object], name: str) -> str:
    found = values.get(name)
    if found is None:
        spec = FACTS.get(name)
        found = spec.label(facts[name]) if spec is not None and name in facts else "{" + name + "}"
        values[name] = found
    return found


#: safe format key -> placeholder name (``{discloser.kind}`` is ``{p_discloser_dkind}`` in the format)
_NAMES: dict[str, str] = {}


def _format(text: str) -> str | None:
    """``text`` as a ``str.format`` template (literal braces doubled), or None if it has no placeholder."""
    parts = _PLACEHOLDER.split(text)  # literal, name, literal, name, ...
    if len(parts) == 1:
        return None
    out: list[str] = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(part.replace("{", "{{").replace("}", "}}"))
        else:
            # An injective spelling of the name (names are [a-z0-9_.]): ``_`` is ``_u`` and
            # ``.`` is ``_d``, so ``{a.b}`` and ``{a__b}`` cannot share a key, and the key is
            # the same in every thread and process (no shared counter to race on).
            key = "p_" + part.replace("_", "_u").replace(".", "_d")
            _NAMES[key] = part
            out.append("{" + key + "}")
    return "".join(out)


def _filled(values: dict[str, str], facts: Mapping[str, object]) -> _Values:
    filled = _Values()
    filled.known = values
    filled.facts = facts
    return filled


class Renderer:
    """Fills ``{fact.name}`` placeholders with the request's values, as plain English."""

    #: text -> its format template (None: no placeholder); texts come from the rules, a bounded set
    _parsed: dict[str, str | None] = {}

    def __init__(self, req: SharingRequest, facts: Mapping[str, object]) -> None:
        self.facts = facts
        self.values: dict[str, str] = {
            "discloser": plain_text(req.discloser.name) or f"the {req.discloser.kind.label}",
            "recipient": plain_text(req.recipient.name) or f"the {req.recipient.kind.label}",
            "as_at": req.as_at.isoformat(),
        }
        self._filled = _filled(self.values, facts)

    def for_protocol(self, protocol: Protocol, partner_ids: Mapping[str, object]) -> "Renderer":
        """The same renderer, also filling ``{partner.discloser}``/``{partner.recipient}`` with partner names."""
        other = object.__new__(Renderer)
        other.facts = self.facts
        other.values = dict(self.values)
        for name, pid in partner_ids.items():
            partner = next((p for p in protocol.partners if p.id == pid), None)
            if partner is not None:
                other.values[name] = partner.name
        other._filled = _filled(other.values, other.facts)
        return other

    @classmethod
    def has_placeholders(cls, text: str) -> bool:
        """Whether ``text`` takes any of the request's words."""
        try:
            template = cls._parsed[text]
        except KeyError:
            template = cls._parsed[text] = _format(text)
        return template is not None

    def __call__(self, text: str, capitalise: bool = True) -> str:
        try:
            template = self._parsed[text]
        except KeyError:
            template = self._parsed[text] = _format(text)
        out = text if template is None else template.format_map(self._filled)
        return out[:1].upper() + out[1:] if capitalise else out


#: One citation, ready to resolve: (valid from, valid to, the CitedSource's fields with the
#: url's point-in-time prefix: the url is ``prefix + day`` when ``dated``, else ``prefix``).
_Plan = tuple[tuple[date | None, date | None, dict[str, str | None], bool], ...]
_PLANS: dict[int, tuple[Rule, _Plan]] = {}
_BUILD_CITED = trusted_builder(CitedSource)


def _plan(rule: Rule) -> _Plan:
    found = _PLANS.get(id(rule))
    if found is not None and found[0] is rule:
        return found[1]
    entries = []
    for c in rule.citations:
        dated = bool(c.legislation and not c.url)
        probe = c.resolve(date.min)  # the fields Citation.resolve gives, the url aside
        fields = {**probe.__dict__, "url": f"{LEGISLATION_BASE}{c.legislation}/" if dated else c.url}
        entries.append((c.valid_from, c.valid_to, fields, dated))
    plan = tuple(entries)
    if len(_PLANS) >= CITATION_CACHE_SIZE:
        _PLANS.clear()
    _PLANS[id(rule)] = (rule, plan)
    return plan


def citations(rule: Rule, as_at: date) -> list[CitedSource]:
    """A rule's citations for a day: those valid then, resolved to point-in-time links
    (``Citation.applies_on`` and ``Citation.resolve``, from fields prepared once per rule)."""
    plan = _plan(rule)
    build = _BUILD_CITED
    day = as_at.isoformat()
    out = [
        build(**{**fields, "url": f"{fields['url']}{day}"}) if dated else build(**fields)
        for start, end, fields, dated in plan
        if (start is None or start <= as_at) and (end is None or as_at <= end)
    ]
    if not out:
        _, _, fields, dated = plan[0]
        out = [build(**{**fields, "url": f"{fields['url']}{day}"}) if dated else build(**fields)]
    return out


class Output:
    """What a decision shows, for one bundle: findings, coverage notes. One per Engine.

    Caches what does not depend on the request: each rule's ``ProtocolRef`` and, per
    (rule, day), its resolved citations. Cached models are frozen; the lists holding them
    are copied into each decision, so no decision shares a mutable part with another."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._refs: dict[str, ProtocolRef | None] = {}
        self._cites: Memo[tuple[str, date], list[CitedSource]] = Memo(CITATION_CACHE_SIZE)

    def protocol_ref(self, rule: Rule) -> ProtocolRef | None:
        try:
            return self._refs[rule.id]
        except KeyError:
            pass
        ref = None
        if rule.protocol is not None:
            p = self.bundle.protocols[rule.protocol]
            ref = ProtocolRef.build(id=p.id, title=p.title, version=p.version, clause=rule.clause or "")
        self._refs[rule.id] = ref
        return ref

    def citations(self, rule: Rule, as_at: date) -> list[CitedSource]:
        key = (rule.id, as_at)
        found = self._cites.get(key)
        if found is None:
            found = citations(rule, as_at)
            self._cites.put(key, found)
        return list(found)

    def render_findings(self, specs: Sequence["FindingSpec"], render: Renderer, renderers: Mapping[str, Renderer],
                        as_at: date) -> list[Finding]:
        """The findings of a skeleton (engine/skeleton.py), with the request's words and the day's citations."""
        out: list[Finding] = []
        build = Finding.build
        for s in specs:
            r = s.rule
            reason = (renderers.get(r.protocol, render) if r.protocol else render)(r.reason)
            out.append(build(
                stage=s.stage,
                rule_id=r.id,
                title=r.title,
                effect=s.effect,
                requirements=list(s.requirements),
                basis=r.effect.basis,
                reason=reason + YIELDED if s.gave_way else reason,
                citations=self.citations(r, as_at),
                verification=r.verification,
                protocol=s.protocol,
            ))
        return out

    @staticmethod
    def gap_findings(covers: Sequence[Cover], as_at: date) -> list[Finding]:
        """A note for each gap of each protocol considered that does not cover the request (§18)."""
        out = []
        for c in covers:
            if c.covers:
                continue
            p = c.protocol
            how = "named in the request" if c.named else "signed by one of the parties"
            for code, clause, text in c.gaps:
                out.append(Finding.build(
                    stage=Stage.PROTOCOL,
                    rule_id=f"{p.id}.coverage.{code}",
                    title=f"{p.label} does not cover this sharing",
                    effect=EffectKind.NOTES,
                    requirements=[],
                    basis=None,
                    reason=f"{p.label} ({how}) does not cover this sharing: {text[:1].upper() + text[1:]} "
                    "Its practices do not apply, and the decision rests on national law alone.",
                    citations=[p.citation(clause).resolve(as_at)],
                    verification="verified",
                    protocol=ProtocolRef.build(id=p.id, title=p.title, version=p.version, clause=clause),
                ))
        return out


def summary(outcome: Outcome, runs: Sequence[StageRun], basis: Sequence[BasisFound],
            missing: Sequence[MissingItem], render: Callable[..., str]) -> str:
    """The decision in one or two sentences (§16)."""
    who = render("{discloser} and {recipient}", capitalise=False)
    if outcome is Outcome.MUST_NOT_SHARE:
        if runs[0].status is StageStatus.FAIL and not any(rq.failed_by for rq in runs[0].requirements):
            return render(
                "No power to share was found: {discloser} must not share this information with {recipient}. "
                "Without a power the sharing would be ultra vires, and consent cannot cure that."
            )
        failed = next(r for r in runs if r.status is StageStatus.FAIL)
        if failed.stage is Stage.PROTOCOL:
            by = [r for r in failed.shown if r.effect.kind is EffectKind.FAILS and r.id not in failed.yielded]
            clauses = "; ".join(f"{r.title} (clause {r.clause})" for r in by)
            return render(
                "{discloser} must not share this information with {recipient}: an information sharing protocol "
                f"they have both signed forbids it ({clauses}), whatever national law would allow."
            )
        reqs = [rq.title for rq in failed.requirements if rq.status in ("failed", "unmet")]
        return render(
            "{discloser} must not share this information with {recipient}: "
            f"{failed.stage.label} is not satisfied ({'; '.join(reqs)})."
        )
    if outcome is Outcome.REFER:
        items = ", ".join(m.item for m in missing) or "a fact or judgement"
        return f"No decision yet for {who}: the practitioner must supply {items} before the law can be applied."
    if outcome is Outcome.MUST_SHARE:
        return render(
            f"{{discloser}} must share this information with {{recipient}}: {basis[0].title} applies and every "
            "stage passes, so withholding it would be inappropriate. Share subject to the conditions below."
        )
    strongest = basis[0].title if basis else "the bases found"
    return render(
        f"{{discloser}} may share this information with {{recipient}}, relying on {strongest}, "
        "subject to the conditions below."
    )
