"""Protocol files (``sharelaw/protocol@1``) → a checked ``Protocol`` whose practices are rules.

A protocol follows the 4P model: purpose, partners, powers, practices. Its practices are
rules like national ones, with three limits that make a protocol unable to widen
national law (docs/writing-a-protocol.md):

- a practice may ``fail``, ``refer`` or ``note``, never ``satisfy`` (``protocol_widens``);
- it refines the protocol stage (the default) or a national stage after stage 1, never
  stage 1 itself: powers come from national law only (``protocol_bad_stage``);
- it gives no basis and none of the stage-1 flags.

Besides the national facts, a practice may read two facts of its own protocol:
``partner.discloser`` and ``partner.recipient``, whose values are the protocol's partner ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from pydantic import ValidationError

from ..errors import RulesetError, RulesetErrors
from ..vocab import EffectKind, Stage
from .facts import FACTS, FactSpec
from .loader import _check_effect, _check_template, _CondBuilder, _schema_errors, _Source, _within
from ..law.citations import Citation
from .model import Const, Protocol, ProtocolFile, Requirement, Rule

PARTNER_FACTS = ("partner.discloser", "partner.recipient")


def partner_facts(model: ProtocolFile) -> dict[str, FactSpec]:
    ids = tuple(p.id for p in model.partners.bodies)
    return {
        "partner.discloser": FactSpec("partner.discloser", ids, "The protocol partner that would disclose."),
        "partner.recipient": FactSpec("partner.recipient", ids, "The protocol partner that would receive."),
    }


@dataclass
class LoadedProtocol:
    path: str
    model: ProtocolFile
    protocol: Protocol

    @property
    def rules(self) -> list[Rule]:
        return list(self.protocol.rules)


def load_protocol(data: Mapping[str, Any], src: _Source, order_start: int = 0, shared: Mapping[str, Any] | None = None) -> LoadedProtocol:
    file = src.file
    try:
        model = ProtocolFile.model_validate(data)
    except ValidationError as exc:
        raise RulesetErrors(_schema_errors(exc, src, data, list_key="practices")) from None
    errors: list[RulesetError] = []
    facts = {**FACTS, **partner_facts(model)}
    built: dict[Stage, dict[str, Any]] = {}
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, pf in enumerate(model.practices):
        path = ("practices", i)
        line = src.line(path)

        def bad(code: str, msg: str, where: tuple[Any, ...] = ("effect",)) -> None:
            errors.append(RulesetError(code, msg, file=file, line=src.line(path + where), rule_id=pf.id))

        if pf.id in seen:
            bad("ruleset_duplicate_id", f"practice id '{pf.id}' used twice", ())
        seen.add(pf.id)
        stage = pf.stage
        if stage is Stage.VIRES:
            bad("protocol_bad_stage", "a practice cannot refine stage 1: the power to share comes from national law "
                "only. Attach it to the protocol stage (the default) or a later national stage", ("stage",))
        if pf.effect.kind is EffectKind.SATISFIES:
            bad("protocol_widens", "a practice cannot satisfy a requirement: a protocol may only fail, refer or note, "
                "so that it can never make lawful what national law does not")
        effect = pf.effect
        if stage is Stage.PROTOCOL:
            if effect.requirement is not None and effect.requirement_ids() != (model.id,):
                bad("ruleset_unknown_requirement", f"a protocol-stage practice affects its own protocol's "
                    f"requirement ('{model.id}'); omit 'requirement'")
            if effect.kind is not EffectKind.NOTES:
                effect = effect.model_copy(update={"requirement": model.id})
        builder = _CondBuilder(stage, model.define, src, errors, pf.id, built.setdefault(stage, {}), facts, shared=shared)
        when = builder.build(pf.when, path + ("when",))
        _check_effect(pf, when, stage, src, path, errors, effect=effect)
        _check_template(pf.reason, src, path + ("reason",), errors, pf.id, stage, facts)
        in_force = pf.in_force or model.in_force
        if not _within(in_force, model.in_force) or in_force.start < model.in_force.start or (
            model.in_force.end is not None and (in_force.end is None or in_force.end > model.in_force.end)
        ):
            bad("ruleset_bad_dates", "a practice's in_force dates must lie within its protocol's", ("in_force",))
        clause_cite = _clause_citation(model, pf.clause)
        rules.append(
            Rule(
                id=pf.id, stage=stage, title=pf.title, in_force=in_force, priority=pf.priority, when=when,
                effect=effect, citations=(clause_cite, *pf.citations), verification=pf.verification,
                reason=pf.reason.strip(), file=file, line=line, order=order_start + i, source=pf,
                protocol=model.id, clause=pf.clause,
            )
        )
    if errors:
        raise RulesetErrors(errors)
    requirement = Requirement(
        id=model.id, stage=Stage.PROTOCOL, title=f"The sharing follows {model.title} (version {model.version})",
        when=Const(True), in_force=model.in_force, unmet="", ways_forward=(), file=file, line=src.line(()),
        needs_satisfier=False,
    )
    protocol = Protocol(
        id=model.id, title=model.title, version=model.version, owner=model.owner, review_date=model.review_date,
        in_force=model.in_force, url=model.url, file=file, line=1,
        purposes=tuple(p.value for p in model.purpose.purposes),
        interactions=tuple(i.value for i in model.purpose.interactions),
        purpose_clause=model.purpose.clause, partners=tuple(model.partners.bodies),
        partners_clause=model.partners.clause, powers=tuple(model.powers.relies_on),
        powers_clause=model.powers.clause,
        power_lines=tuple(src.line(("powers", "relies_on", i)) for i in range(len(model.powers.relies_on))),
        rules=tuple(rules), requirement=requirement, model=model,
    )
    return LoadedProtocol(file, model, protocol)


def _clause_citation(model: ProtocolFile, clause: str) -> Citation:
    return Citation(guidance=f"{model.title} (version {model.version})", paragraph=f"clause {clause}", url=model.url)
