"""Regenerate the generated parts of the docs from the code and the rules.

    python scripts/regen_docs.py          # rewrite them
    python scripts/regen_docs.py --check  # exit 1 if any is out of date

- docs/rulesets.md: the fact vocabulary table (from ``FACTS``) and the missing items
  table (from ``MISSING_ITEMS``);
- docs/law/: the law pages (``python -m sharelaw.lawdoc``);
- README.md: the output of each ```console example (``$ sharelaw ...``), run for real.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sharelaw import lawdoc
from sharelaw.rules.facts import FACTS, MISSING_ITEMS

ROOT = Path(__file__).resolve().parent.parent
RULESETS_MD = ROOT / "docs" / "rulesets.md"


def _replace_table(text: str, header: str, rows: list[str]) -> str:
    lines = text.split("\n")
    start = lines.index(header)
    end = start + 2
    while end < len(lines) and lines[end].startswith("| "):
        end += 1
    return "\n".join(lines[: start + 2] + rows + lines[end:])


def rulesets_md(text: str) -> str:
    facts = []
    for s in FACTS.values():
        vals = "`true`, `false`" if s.is_bool else ", ".join(f"`{v}`" for v in s.values)
        facts.append(f"| `{s.name}` | {vals} | {s.from_stage.value} | {s.description} |")
    text = _replace_table(text, "| Fact | Values | Visible from stage | Meaning |", facts)
    missing = [f"| `{item}` | {question} |" for item, question in MISSING_ITEMS.items()]
    return _replace_table(text, "| Item | Question put to the practitioner |", missing)


README = ROOT / "README.md"
_CONSOLE = re.compile(r"```console\n(\$ sharelaw [^\n]*)\n.*?```", re.S)


def readme(text: str) -> str:
    def run(match: re.Match) -> str:
        argv = match.group(1)[2:].split()
        done = subprocess.run([sys.executable, "-m", "sharelaw", *argv[1:]], cwd=ROOT, capture_output=True,
                              text=True, timeout=120, check=True)
        return f"```console\n{match.group(1)}\n{done.stdout}```"

    return _CONSOLE.sub(run, text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    current = RULESETS_MD.read_text("utf-8")
    wanted = rulesets_md(current)
    readme_now = README.read_text("utf-8")
    readme_wanted = readme(readme_now)
    stale = current != wanted or readme_now != readme_wanted
    if check:
        if current != wanted:
            print(f"out of date: {RULESETS_MD}", file=sys.stderr)
        if readme_now != readme_wanted:
            print(f"out of date: {README}", file=sys.stderr)
        law = lawdoc.main(["--check", str(ROOT / "docs" / "law")])
        return 1 if stale or law else 0
    RULESETS_MD.write_text(wanted, "utf-8")
    README.write_text(readme_wanted, "utf-8")
    return lawdoc.main([str(ROOT / "docs" / "law")])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
