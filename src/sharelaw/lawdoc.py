"""docs/law/: one page per stage, generated from the rules so the prose never drifts from them.

    python -m sharelaw.lawdoc docs/law        # write the pages
    python -m sharelaw.lawdoc --check docs/law   # exit 1 if they are out of date

Each page gives, in the rule files' own plain English, what is encoded for that stage,
from when to when, with citations, and ends with what is not verified against the
primary text, and why.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .vocab import Stage
from .rules.bundle import Bundle, default_ruleset_dir
from .law.citations import Citation
from .rules.model import Rule

_PLACEHOLDER = re.compile(r"\{([a-z0-9_.]+)\}")

_WHY = {
    "secondary": "found only in a secondary source (a local procedure, a law-firm note or a textbook summary); "
    "probably right, but not checked against the primary text",
    "unverified": "written from background knowledge or inferred; no primary source was checked",
}


def _dates(rule: Rule) -> str:
    start = rule.in_force.start.isoformat()
    end = rule.in_force.end.isoformat() if rule.in_force.end else "now"
    return f"{start} to {end}"


def _citation(c: Citation) -> str:
    text = c.label + (f", {c.paragraph}" if c.paragraph else "")
    window = ""
    if c.valid_from or c.valid_to:
        window = f" (cited {c.valid_from.isoformat() if c.valid_from else '...'} to {c.valid_to.isoformat() if c.valid_to else 'now'})"
    if c.legislation and not c.url:
        return f"[{text}](https://www.legislation.gov.uk/{c.legislation}){window}"
    return (f"[{text}]({c.url})" if c.url else text) + window


def stage_page(bundle: Bundle, stage: Stage) -> str:
    files = [f for f in bundle.files if f.model.stage is stage]
    out = [f"# {stage.label}", ""]
    out.append(
        "*Generated from the rule files by `python -m sharelaw.lawdoc docs/law`; do not edit by hand. "
        f"Rules bundle `{bundle.content_hash[:19]}`.*"
    )
    for f in files:
        m = f.model
        out += ["", f"## {m.title}", ""]
        end = m.in_force.end.isoformat() if m.in_force.end else "now"
        out.append(f"In force {m.in_force.start.isoformat()} to {end}. File `{Path(f.path).name}`.")
        if m.description:
            out += ["", " ".join(m.description.split())]
        if f.requirements:
            out += ["", "What must be met:", ""]
            for rq in f.requirements:
                rend = rq.in_force.end.isoformat() if rq.in_force.end else "now"
                out.append(f"- **{rq.title}** (`{rq.id}`, {rq.in_force.start.isoformat()} to {rend}).")
        out += ["", "| rule | in force | tag | what it says | sources |", "|---|---|---|---|---|"]
        for r in sorted(f.rules, key=lambda r: (r.priority, r.order)):
            reason = _PLACEHOLDER.sub(lambda m: f"*{m.group(1)}*", " ".join(r.reason.split())).replace("|", "\\|")
            sources = "<br>".join(_citation(c).replace("|", "\\|") for c in r.citations)
            out.append(f"| `{r.id}`<br>{r.title} | {_dates(r)} | {r.verification} | {reason} | {sources} |")
    doubtful = [r for f in files for r in f.rules if r.verification != "verified"]
    out += ["", "## Not verified against the primary text", ""]
    if not doubtful:
        out.append("Every rule of this stage is tagged verified.")
    for r in sorted(doubtful, key=lambda r: r.id):
        why = r.source.notes or _WHY[r.verification]
        dates = ""
        if r.in_force.verification and r.in_force.verification != "verified":
            dates = f" Its in-force dates are {r.in_force.verification} ({r.in_force.source or 'no source recorded'})."
        out.append(f"- `{r.id}` ({r.verification}): {why}.{dates}")
    return "\n".join(out) + "\n"


def _oneline(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def functions_page(bundle: Bundle) -> str:
    """The functions that sharing serves (each with the purposes that serve it, many to
    many) and the conditions every stage shares, from the definitions files."""
    from .vocab import Purpose

    out = ["# Functions, purposes and shared definitions", ""]
    out.append(
        "*Generated from the definitions files by `python -m sharelaw.lawdoc docs/law`; do not edit by hand. "
        f"Rules bundle `{bundle.content_hash[:19]}`.*"
    )
    out += ["", "A power to share is found through the function the sharing serves. Each function lists the "
            "purposes that serve it; a purpose may serve several functions. Stage-1 powers are written against "
            "functions (`use: function.<id>`), so a purpose reaches every power of every function it serves.", ""]
    served: dict[str, list[str]] = {p.value: [] for p in Purpose}
    for d in bundle.definitions:
        if not d.model.functions:
            continue
        out += [f"## {d.model.title}", "", f"File `{Path(d.path).name}`.", ""]
        out += ["| function | what it is | purposes | sources |", "|---|---|---|---|"]
        for fid, fn in d.model.functions.items():
            for p in fn.purposes:
                served[p.value].append(fid)
            sources = "<br>".join(_citation(c).replace("|", "\\|") for c in fn.citations) or "(none)"
            purposes = ", ".join(f"`{p.value}`" for p in fn.purposes)
            note = f" {_oneline(fn.notes)}" if fn.notes else ""
            out.append(f"| `function.{fid}` | {_oneline(fn.title)}.{note} | {purposes} | {sources} |")
        out.append("")
    out += ["## Which functions each purpose serves", "", "| purpose | means | functions |", "|---|---|---|"]
    for p in Purpose:
        fns = ", ".join(f"`{f}`" for f in served[p.value]) or "none: no power is implied from a function for it"
        out.append(f"| `{p.value}` | {p.label} | {fns} |")
    shared = [(d, name) for d in bundle.definitions for name in d.model.define]
    if shared:
        out += ["", "## Shared definitions", "",
                "Conditions defined once for every stage (`use: <name>` in any rule file):", ""]
        for d, name in shared:
            out.append(f"- `{name}` (`{Path(d.path).name}`)")
    return "\n".join(out) + "\n"


PAGES = {
    Stage.VIRES: "1-vires.md",
    Stage.HRA: "2-human-rights.md",
    Stage.CONFIDENCE: "3-confidence.md",
    Stage.DATA_PROTECTION: "4-data-protection.md",
}


def index_page(bundle: Bundle) -> str:
    from .law.eras import ERAS

    out = ["# The law sharelaw encodes", "",
           "*Generated from the rule files; do not edit by hand.*", "",
           "The four stages, checked in this order; passing one never excuses failing another:", ""]
    for stage, name in PAGES.items():
        n = len(bundle.by_stage[stage])
        out.append(f"{list(PAGES).index(stage) + 1}. [{stage.label}]({name}): {n} rules.")
    out.append("")
    out.append("[Functions, purposes and shared definitions](0-functions.md): what each purpose serves, "
               "and the conditions every stage shares.")
    out += ["", "Data protection eras:", ""]
    for span in ERAS:
        end = span.end.isoformat() if span.end else "now"
        out.append(f"- {span.start.isoformat()} to {end}: {span.era.label} ({span.citation['label']}).")
    counts = {t: sum(r.verification == t for r in bundle.rules.values()) for t in ("verified", "secondary", "unverified")}
    out += ["", f"Of {len(bundle.rules)} rules, {counts['verified']} are verified against the primary text, "
            f"{counts['secondary']} rest on secondary sources and {counts['unverified']} are unverified; "
            "each stage's page lists the last two groups and why.", "",
            "Law before 1 March 2000 is out of scope: a request dated earlier is refused, not guessed."]
    return "\n".join(out) + "\n"


def render(bundle: Bundle) -> dict[str, str]:
    pages = {name: stage_page(bundle, stage) for stage, name in PAGES.items()}
    pages["README.md"] = index_page(bundle)
    pages["0-functions.md"] = functions_page(bundle)
    return pages


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    out = Path(args[0] if args else "docs/law")
    # The law pages describe national law only: local protocols are not law.
    bundle = Bundle.load(default_ruleset_dir() / "national")
    pages = render(bundle)
    if check:
        stale = [n for n, text in pages.items() if not (out / n).is_file() or (out / n).read_text("utf-8") != text]
        for n in stale:
            print(f"out of date: {out / n}", file=sys.stderr)
        return 1 if stale else 0
    out.mkdir(parents=True, exist_ok=True)
    for name, text in pages.items():
        (out / name).write_text(text, "utf-8")
    print(f"wrote {len(pages)} pages to {out} (rules {bundle.content_hash[:19]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
