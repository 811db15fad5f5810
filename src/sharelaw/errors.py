"""Exceptions raised by sharelaw. Imports nothing else from the package.

Every error carries a stable ``code`` that callers and tools can match on. Input
errors subclass ``ValueError`` so that ordinary ``except ValueError`` handling
works; engine faults do not, because they are never the caller's fault.
"""

from __future__ import annotations

from dataclasses import dataclass


class SharelawError(Exception):
    """Base class of every error raised by sharelaw."""

    code = "sharelaw_error"


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of a request."""

    loc: str
    message: str
    code: str

    def __str__(self) -> str:
        return f"{self.loc}: {self.message} [{self.code}]"


#: How many field errors a message or an error document lists; the rest are counted, so that
#: a request with millions of bad entries gives bounded output (issue 10, item 5).
MAX_LISTED_ERRORS = 100


class RequestError(SharelawError, ValueError):
    """A request was invalid. ``errors`` names every bad field; nothing was decided.

    The message and ``to_dict()`` list the first ``MAX_LISTED_ERRORS`` and count the rest;
    ``errors`` holds them all."""

    code = "request_invalid"

    def __init__(self, errors: list[FieldError], code: str | None = None) -> None:
        self.errors = list(errors)
        if code:
            self.code = code
        lines = "\n".join(f"  - {e}" for e in self.errors[:MAX_LISTED_ERRORS])
        if len(self.errors) > MAX_LISTED_ERRORS:
            lines += f"\n  ... and {len(self.errors) - MAX_LISTED_ERRORS} more error(s) not listed"
        super().__init__(f"{self.code}: {len(self.errors)} error(s) in the request\n{lines}")

    def to_dict(self) -> dict:
        """``errors`` lists at most ``MAX_LISTED_ERRORS``; ``count`` is how many there are in all."""
        return {
            "code": self.code,
            "count": len(self.errors),
            "errors": [{"loc": e.loc, "message": e.message, "code": e.code} for e in self.errors[:MAX_LISTED_ERRORS]],
        }


class RulesetError(SharelawError, ValueError):
    """A rule file is invalid. Carries a stable code and, where known, file, rule and line."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        rule_id: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.file = file
        self.line = line
        self.rule_id = rule_id
        super().__init__(self.render())

    def render(self) -> str:
        where = self.file or "<ruleset>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        rule = f" (rule {self.rule_id})" if self.rule_id else ""
        return f"{where}: {self.code}: {self.message}{rule}"

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "rule_id": self.rule_id,
        }


class RulesetErrors(RulesetError):
    """Several rule-file errors found in one load; ``errors`` lists each."""

    def __init__(self, errors: list[RulesetError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.code, first.message, file=first.file, line=first.line, rule_id=first.rule_id)

    def render(self) -> str:  # pragma: no cover - trivial
        errors = getattr(self, "errors", None)
        if not errors:
            return super().render()
        return "\n".join(e.render() for e in errors)


class EngineError(SharelawError, RuntimeError):
    """An internal fault. Never accompanied by a decision: the engine fails closed."""

    code = "engine_error"
