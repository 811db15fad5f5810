"""Generated rule sets for the scale test and benchmarks: the shipped national rules plus
local guidance files and information sharing protocols, written as real rule files.

What a large deployment looks like: national law (about 240 rules), many local protocols
(each with partners, the national powers it relies on and its practices), and local
guidance files whose notes apply to a purpose and kind of discloser. Most rules cannot fire
for a given request (another purpose, another body, another protocol): the cost of those is
what must grow sublinearly.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sharelaw.rules.bundle import default_ruleset_dir
from sharelaw.vocab import AgencyKind, DataCategory, HarmLevel, Interaction, Purpose, Stage

#: National stage-1 powers in force since 2006-04-01 (and still), as the example protocol relies on.
POWERS = ("vires.ca1989.s47.enquiries", "vires.ca1989.s47_9.duty_to_assist", "vires.ca1989.s17.child_in_need",
          "vires.ca1989.s27.request_for_help", "vires.ca2004.s10.cooperation", "vires.ca2004.s11.safeguarding",
          "vires.ea2002.s175.schools", "vires.nhs.health_functions", "vires.cda1998.s115.crime_and_disorder",
          "vires.lga1972.s111.incidental", "vires.not_public_authority")
PROTOCOL_PURPOSES = ("child_protection_enquiry", "child_in_need", "early_help", "youth_support_services",
                     "adult_safeguarding", "direct_care", "crime_prevention_detection", "service_planning")
STAGES = (Stage.VIRES, Stage.HRA, Stage.CONFIDENCE, Stage.DATA_PROTECTION)


@dataclass
class Generated:
    root: Path
    national: int = 0
    local: int = 0
    practices: int = 0
    protocols: list[dict] = field(default_factory=list)  # id, partners [(id, legal_entity, kind)], purposes, interactions

    @property
    def total(self) -> int:
        return self.national + self.local + self.practices


def _q(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def _protocol(i: int, practices: int, rng: random.Random) -> tuple[str, dict]:
    pid = f"protocol.gen{i:03d}"
    kinds = rng.sample([k.value for k in AgencyKind], 4)
    partners = [(f"body{j}", f"gen{i:03d}-body{j}", kinds[j]) for j in range(4)]
    purposes = rng.sample(PROTOCOL_PURPOSES, 3)
    interactions = [v.value for v in Interaction]
    lines = [
        "format: sharelaw/protocol@1",
        f"id: {pid}",
        f"title: Generated protocol {i}",
        'version: "1.0"',
        f"owner: Generated partnership {i}",
        "review_date: 2030-01-01",
        "in_force: {from: 2006-04-01}",
        "purpose:",
        '  clause: "2"',
        f"  summary: Sharing between the partners of generated protocol {i}.",
        f"  purposes: [{', '.join(purposes)}]",
        "partners:",
        '  clause: "3"',
        "  bodies:",
    ]
    for pid_, entity, kind in partners:
        lines += [f"    - id: {pid_}", f"      name: Generated body {entity}", f"      legal_entity: {entity}",
                  f"      kinds: [{kind}]", "      signed: 2006-01-01"]
    lines += ["powers:", '  clause: "4"', "  relies_on:"]
    lines += [f'    - {{rule: {p}, clause: "4.{k}"}}' for k, p in enumerate(POWERS)]
    lines += ["practices:"]
    cats = [c.value for c in DataCategory]
    for k in range(practices):
        who = rng.choice(partners)[0]
        form = k % 4
        if form == 0:
            when = f"{{all: [{{partner.discloser: {who}}}, {{data.{rng.choice(cats)}: true}}, {{consent.state: {{ne: explicit_for_this}}}}]}}"
            effect = "{kind: fails, ways_forward: [seek_consent]}"
        elif form == 1:
            when = f"{{all: [{{partner.recipient: {who}}}, {{assessment.minimum_necessary: {{ne: \"yes\"}}}}]}}"
            effect = "{kind: refers, missing: [assessment.minimum_necessary], ways_forward: [share_less]}"
        elif form == 2:
            level = rng.choice([h.value for h in HarmLevel])
            when = f"{{all: [{{partner.discloser: {who}}}, {{risk.level: {{not_in: [{level}]}}}}]}}"
            effect = "{kind: notes, conditions: [protocol_recording]}"
        else:
            when = f"{{any: [{{partner.discloser: {who}}}, {{partner.recipient: {who}}}]}}"
            effect = "{kind: notes, conditions: [secure_transfer]}"
        lines += [f"  - id: {pid}.p{k}", f'    clause: "7.{k}"', f"    title: Generated practice {k} of protocol {i}",
                  f"    when: {when}", f"    effect: {effect}", f"    reason: {_q(f'Practice {k} of generated protocol {i}.')}"]
    return "\n".join(lines) + "\n", {"id": pid, "partners": partners, "purposes": purposes, "interactions": interactions}


def _local(i: int, stage: Stage, rules: int, rng: random.Random) -> str:
    """A local guidance file: notes for a few purposes and kinds of discloser each."""
    purposes = [p.value for p in Purpose]
    kinds = [k.value for k in AgencyKind]
    cats = [c.value for c in DataCategory]
    lines = ["format: sharelaw/ruleset@1", f"id: local.gen{i:03d}", f"stage: {stage.value}",
             f"title: Generated local guidance {i}", "in_force: {from: 2000-03-01}", "review_by: 2030-01-01", "rules:"]
    for k in range(rules):
        purpose = f"{{in: [{', '.join(rng.sample(purposes, rng.randrange(2, 6)))}]}}"
        discloser = f"{{in: [{', '.join(rng.sample(kinds, rng.randrange(1, 3)))}]}}"
        extra = rng.choice([f"{{data.{rng.choice(cats)}: true}}", f"{{recipient.kind: {{in: [{', '.join(rng.sample(kinds, 3))}]}}}}",
                            f"{{risk.level: {{not_in: [none, unknown]}}}}", f"{{consent.state: {{ne: refused}}}}"])
        when = f"{{all: [{{purpose: {purpose}}}, {{discloser.kind: {discloser}}}, {extra}]}}"
        lines += [f"  - id: local.gen{i:03d}.r{k}", f"    title: Local note {k} of guidance {i}",
                  "    in_force: {from: 2000-03-01}", f"    when: {when}", "    effect: {kind: notes}",
                  '    citations: [{guidance: "Generated local guidance", paragraph: "1"}]',
                  "    verification: unverified", f"    reason: {_q(f'Local note {k} of generated guidance {i}.')}"]
    return "\n".join(lines) + "\n"


def national_rule_count() -> int:
    from sharelaw.rules.bundle import Bundle

    return sum(1 for r in Bundle.load(default_ruleset_dir() / "national").rules.values() if r.protocol is None)


def write(root: Path, total: int, *, protocols: int | None = None, practices: int = 12, seed: int = 11,
          national: int | None = None) -> Generated:
    """Write the national rules and generated files under ``root`` so that the bundle has
    ``total`` rules: ``protocols`` protocols of ``practices`` practices (default: a third of
    the generated rules), the rest local guidance spread over the four national stages, most
    of it in data protection (the stage local guidance mostly adds to)."""
    rng = random.Random(seed)
    shutil.copytree(default_ruleset_dir() / "national", root / "national")
    (root / "protocols").mkdir()
    (root / "local").mkdir()
    gen = Generated(root, national=national if national is not None else national_rule_count())
    extra = total - gen.national
    if extra < 0:
        raise ValueError(f"total {total} is below the {gen.national} national rules")
    if protocols is None:
        protocols = extra // 3 // practices
    for i in range(protocols):
        text, meta = _protocol(i, practices, rng)
        (root / "protocols" / f"gen{i:03d}.yaml").write_text(text, "utf-8")
        gen.protocols.append(meta)
        gen.practices += practices
    local = extra - gen.practices
    shares = {Stage.VIRES: 0.15, Stage.HRA: 0.1, Stage.CONFIDENCE: 0.15, Stage.DATA_PROTECTION: 0.6}
    counts = {s: int(local * f) for s, f in shares.items()}
    counts[Stage.DATA_PROTECTION] += local - sum(counts.values())
    i = 0
    for stage, n in counts.items():
        while n > 0:
            k = min(n, 150)  # files of up to 150 rules
            (root / "local" / f"gen{i:03d}_{stage.value}.yaml").write_text(_local(i, stage, k, rng), "utf-8")
            gen.local += k
            n -= k
            i += 1
    return gen


def covered_request(base: dict, protocol: dict, rng: random.Random) -> dict:
    """``base`` made a request between two partners of ``protocol``, for one of its purposes."""
    req = dict(base)
    (_, e1, k1), (_, e2, k2) = rng.sample(protocol["partners"], 2)
    req["discloser"] = {**base["discloser"], "legal_entity": e1, "kind": k1}
    req["recipient"] = {**base["recipient"], "legal_entity": e2, "kind": k2}
    req["purpose"] = rng.choice(protocol["purposes"])
    req["as_at"] = f"20{rng.randrange(10, 27)}-0{rng.randrange(1, 10)}-15"
    return req
