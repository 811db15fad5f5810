"""Print what changed between two JSON Schemas, as Markdown for the changelog.

    python scripts/schema_diff.py OLD.json NEW.json

Reports, per definition and property: properties added or removed, enum values added or
removed, required fields added or removed, and changed defaults. Written for the
schemas ``sharelaw schema request|decision`` prints (pydantic's ``$defs`` layout).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _defs(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = dict(schema.get("$defs", {}))
    out["(top level)"] = {k: v for k, v in schema.items() if k != "$defs"}
    return out


def _fmt(values) -> str:
    return ", ".join(f"`{v}`" for v in values)


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    a, b = _defs(old), _defs(new)
    for name in sorted(set(b) - set(a)):
        lines.append(f"- **{name}**: new definition" + (f" ({_fmt(b[name]['enum'])})" if "enum" in b[name] else ""))
    for name in sorted(set(a) - set(b)):
        lines.append(f"- **{name}**: removed")
    for name in sorted(set(a) & set(b)):
        da, db = a[name], b[name]
        if "enum" in da or "enum" in db:
            added = [v for v in db.get("enum", []) if v not in da.get("enum", [])]
            removed = [v for v in da.get("enum", []) if v not in db.get("enum", [])]
            if added:
                lines.append(f"- **{name}**: values added: {_fmt(added)}")
            if removed:
                lines.append(f"- **{name}**: values removed: {_fmt(removed)}")
        pa, pb = da.get("properties", {}), db.get("properties", {})
        for prop in sorted(set(pb) - set(pa)):
            desc = pb[prop].get("description", "")
            lines.append(f"- **{name}.{prop}**: new field" + (f": {desc}" if desc else ""))
        for prop in sorted(set(pa) - set(pb)):
            lines.append(f"- **{name}.{prop}**: field removed")
        for prop in sorted(set(pa) & set(pb)):
            if pa[prop].get("default") != pb[prop].get("default"):
                lines.append(f"- **{name}.{prop}**: default {pa[prop].get('default')!r} -> {pb[prop].get('default')!r}")
        ra, rb = set(da.get("required", [])), set(db.get("required", []))
        if rb - ra:
            lines.append(f"- **{name}**: now required: {_fmt(sorted(rb - ra))}")
        if ra - rb:
            lines.append(f"- **{name}**: no longer required: {_fmt(sorted(ra - rb))}")
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        old = json.load(f)
    with open(argv[2], encoding="utf-8") as f:
        new = json.load(f)
    print("\n".join(diff(old, new)) or "- no change")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
