"""Regenerate the generated parts of the docs from the code and the rules.

    python scripts/regen_docs.py          # rewrite them
    python scripts/regen_docs.py --check  # exit 1 if any is out of date

- docs/rulesets.md: the fact vocabulary table (from ``FACTS``) and the missing items
  table (from ``MISSING_ITEMS``);
- docs/law/: the law pages (``python -m sharelaw.lawdoc``);
- README.md and docs/*.md: the output of each console block marked ``<!-- sharelaw:run -->``
  (``$ sharelaw ...`` lines), run for real; tests/test_docs_output.py checks them.
"""

from __future__ import annotations

import re
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
#: The documents whose marked console blocks are run (docs/*.md and the README).
RUNNABLE_DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]

#: The convention (contracts.md): this HTML comment, then a ```console block of `$ sharelaw ...`
#: commands each followed by its output, run from the repository root. A command may end in
#: `; echo $?` (its exit status is printed after its output) and may merge stderr (`2>&1`).
MARKER = "<!-- sharelaw:run -->"
_BLOCK = re.compile(re.escape(MARKER) + r"[ \t]*\n(?:[ \t]*\n)*```console\n(.*?)```", re.S)

#: What the checker ignores: hashes, ids, timings and today's date (they vary from run to run).
_VARIABLE = [
    (re.compile(r"sha256:[0-9a-f]{64}"), "sha256:<hash>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\b\d+(\.\d+)?(s|ms)\b"), "<time>"),
]


def normalise(text: str) -> str:
    import datetime

    for pattern, repl in _VARIABLE:
        text = pattern.sub(repl, text)
    return text.replace(datetime.date.today().isoformat(), "<today>")


def run_command(line: str) -> str:
    """The output of one `$ sharelaw ...` line, run in-process from the repository root as the
    CLI runs (sharelaw.cli.main, stdout, plus stderr where the line says 2>&1)."""
    import contextlib
    import io
    import os
    import shlex

    from sharelaw.cli import main as cli

    echo = line.endswith("; echo $?")
    command = line.removesuffix("; echo $?")
    words = shlex.split(command)
    merge = "2>&1" in words
    words = [w for w in words if w != "2>&1"]
    if not words or words[0] != "sharelaw" or any(w in ("|", ">", "<", "&&", ";") for w in words):
        raise ValueError(f"a runnable block runs `sharelaw ...` only, not {line!r}")
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out if merge else err):
            code = cli(words[1:])
    finally:
        os.chdir(here)
    return out.getvalue() + (f"{code}\n" if echo else "")


def blocks(text: str) -> list[tuple[int, int, list[tuple[str, str]]]]:
    """Each marked block: (start, end) of its body in ``text``, and its (command, output) pairs."""
    found = []
    for match in _BLOCK.finditer(text):
        pairs: list[tuple[str, list[str]]] = []
        for line in match.group(1).splitlines(keepends=True):
            if line.startswith("$ "):
                pairs.append((line[2:].rstrip("\n"), []))
            elif pairs:
                pairs[-1][1].append(line)
            else:
                raise ValueError(f"a runnable block starts with a `$ ` command line, not {line!r}")
        found.append((match.start(1), match.end(1), [(c, "".join(o)) for c, o in pairs]))
    return found


def stale_blocks(path: Path) -> list[tuple[str, str, str]]:
    """(command, shown, real) for every marked command whose shown output is not the real one."""
    out = []
    for _, _, pairs in blocks(path.read_text("utf-8")):
        for command, shown in pairs:
            real = run_command(command)
            if normalise(real) != normalise(shown):
                out.append((command, shown, real))
    return out


def regenerate(text: str) -> str:
    """``text`` with every marked block's output replaced by the real output."""
    pieces, last = [], 0
    for start, end, pairs in blocks(text):
        pieces.append(text[last:start])
        pieces.append("".join(f"$ {c}\n{run_command(c)}" for c, _ in pairs))
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    current = RULESETS_MD.read_text("utf-8")
    wanted = rulesets_md(current)
    stale = current != wanted
    if check:
        if stale:
            print(f"out of date: {RULESETS_MD}", file=sys.stderr)
        for path in RUNNABLE_DOCS:
            for command, _, _ in stale_blocks(path):
                stale = True
                print(f"out of date: {path.relative_to(ROOT)}: $ {command}", file=sys.stderr)
        law = lawdoc.main(["--check", str(ROOT / "docs" / "law")])
        return 1 if stale or law else 0
    RULESETS_MD.write_text(wanted, "utf-8")
    for path in RUNNABLE_DOCS:
        text = path.read_text("utf-8")
        new = regenerate(text)
        if new != text:
            path.write_text(new, "utf-8")
    return lawdoc.main([str(ROOT / "docs" / "law")])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
