"""Give every legislation citation in rulesets/ a ``checked_on`` date taken from git history.

A citation's text was last checked against the legislation when someone last set it or
confirmed it. The nearest honest record of that is git: the date of the latest commit that
touched any line of the citation itself (its ``legislation:``, ``label:``, ``from:``/``to:``
lines) or, for a rule, the rule's ``verification:`` tag (re-tagging a rule as verified
confirms its citations). That date is what this script writes; it never invents one.

It also gives each national rule file a ``review_by`` date: twelve months after the
earliest ``checked_on`` in the file (the day its oldest check is a year old).

Run from the repository root, on a clean tree (the blame is of HEAD)::

    python scripts/checked_on_from_git.py            # rewrite rulesets/ in place
    python scripts/checked_on_from_git.py --dry-run  # print what it would write

Citations that already have ``checked_on`` are left alone, so it is safe to run again.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

LEG = re.compile(r"^(?P<indent> *)- legislation: ")
RULE = re.compile(r"^  - id: ")
VERIFICATION = re.compile(r"^    verification: ")


def blame_dates(path: Path) -> list[date]:
    """The commit date (UTC) of every line of ``path`` at HEAD."""
    out = subprocess.run(
        ["git", "blame", "--line-porcelain", "HEAD", "--", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    dates: list[date] = []
    for line in out.splitlines():
        if line.startswith("committer-time "):
            stamp = int(line.split()[1])
            dates.append(datetime.fromtimestamp(stamp, tz=timezone.utc).date())
    return dates


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def migrate(path: Path) -> tuple[list[str], list[tuple[int, str, date]]]:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    dates = blame_dates(path)
    assert len(dates) == len(lines), (path, len(dates), len(lines))
    inserts: list[tuple[int, str]] = []  # (insert after line index, text)
    found: list[tuple[int, str, date]] = []
    earliest: date | None = None
    for i, line in enumerate(lines):
        m = LEG.match(line)
        if not m:
            continue
        dash = len(m.group("indent"))
        end = i
        while end + 1 < len(lines) and lines[end + 1].strip() and indent_of(lines[end + 1]) > dash:
            end += 1
        block = lines[i:end + 1]
        when = max(dates[i:end + 1])
        # the enclosing item: the nearest line above at two spaces' indent or less; a rule
        # (or protocol practice) starts "  - id:" and carries "    verification:"
        start = next(j for j in range(i, -1, -1)
                     if lines[j].strip() and not lines[j].lstrip().startswith("#") and indent_of(lines[j]) <= 2)
        if RULE.match(lines[start]):
            stop = next((j for j in range(start + 1, len(lines))
                         if lines[j].strip() and not lines[j].lstrip().startswith("#") and indent_of(lines[j]) <= 2),
                        len(lines))
            for j in range(start, stop):
                if VERIFICATION.match(lines[j]):
                    when = max(when, dates[j])
        earliest = when if earliest is None else min(earliest, when)
        found.append((i + 1, line.split("legislation:")[1].strip(), when))
        if any(b.strip().startswith("checked_on:") for b in block):
            continue
        inserts.append((end, " " * (dash + 2) + f"checked_on: {when.isoformat()}\n"))
    for end, text in sorted(inserts, reverse=True):
        lines.insert(end + 1, text)
    text = "".join(lines)
    if earliest is not None and text.startswith("format: sharelaw/ruleset@1") and "\nreview_by:" not in text:
        review = earliest.replace(year=earliest.year + 1)
        lines = text.splitlines(keepends=True)
        at = next(k for k, ln in enumerate(lines) if ln.startswith("in_force:"))
        lines.insert(at + 1, f"review_by: {review.isoformat()}  # twelve months after the earliest checked_on below\n")
    return lines, found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("paths", nargs="*", default=sorted(Path("rulesets").rglob("*.yaml")))
    args = ap.parse_args(argv)
    for p in map(Path, args.paths):
        lines, found = migrate(p)
        for line, ref, when in found:
            print(f"{p}:{line}: {ref} checked_on {when.isoformat()}")
        if not args.dry_run:
            p.write_text("".join(lines), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
