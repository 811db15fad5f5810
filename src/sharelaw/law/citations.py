"""Citations: legislation (with point-in-time links), cases and guidance."""

from __future__ import annotations

from datetime import date
from typing import Any, Callable, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

_M = TypeVar("_M", bound=BaseModel)

LEGISLATION_BASE = "https://www.legislation.gov.uk/"


#: Tags from the knowledge pack: [V] verified against the primary text, [S] secondary
#: source only, [U] unverified. Anything short of "verified" is shown as such in rationales.
VerificationTag = Literal["verified", "secondary", "unverified"]


class Citation(BaseModel):
    """One source for a rule, as written in a rule file.

    Exactly one of ``legislation`` (a legislation.gov.uk identifier such as
    ``ukpga/1989/41/section/47``), ``case`` or ``guidance`` names the source.
    ``from``/``to`` limit the dates on which this citation is the right one (for
    example EU GDPR until 31 December 2020, UK GDPR after).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    label: str = Field(
        default="",
        description="How the source is cited in prose, e.g. 'Children Act 1989 s47(9)'. Required for legislation; "
        "defaults to the case citation or guidance title.",
    )
    legislation: str | None = Field(
        default=None,
        pattern=r"^(ukpga|uksi|eur|asp|wsi|nisi|ukla)/[0-9]{4}/[0-9A-Za-z]+(/[0-9A-Za-z-]+)*$",
        description="legislation.gov.uk identifier; the URL is built point-in-time for the decision date.",
    )
    case: str | None = Field(default=None, description="Neutral or report citation of a judgment.")
    guidance: str | None = Field(default=None, description="Title of the guidance document.")
    paragraph: str | None = Field(default=None, description="Paragraph, rule or section of the guidance.")
    url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Fixed link. For legislation, only where legislation.gov.uk has no point-in-time text (EU GDPR before 2021).",
    )
    valid_from: date | None = Field(default=None, alias="from")
    valid_to: date | None = Field(default=None, alias="to")
    checked_on: date | None = Field(
        default=None,
        description="The day the cited text was last checked against legislation.gov.uk. Required on every "
        "legislation citation (`sharelaw check`); `sharelaw law watch` flags effects in force after it.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> "Citation":
        kinds = [k for k in ("legislation", "case", "guidance") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("a citation names exactly one of legislation, case or guidance")
        if not self.label.strip():
            if self.legislation:
                raise ValueError("a legislation citation needs a label naming the Act and provision")
            object.__setattr__(self, "label", self.case or self.guidance)
        if self.guidance and not self.paragraph:
            raise ValueError("a guidance citation needs the paragraph (or rule, or section) relied on")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("citation 'to' is before 'from'")
        return self

    @property
    def kind(self) -> str:
        return "legislation" if self.legislation else "case" if self.case else "guidance"

    def applies_on(self, as_at: date) -> bool:
        return (self.valid_from is None or self.valid_from <= as_at) and (
            self.valid_to is None or as_at <= self.valid_to
        )

    def resolve(self, as_at: date) -> "CitedSource":
        url: str | None
        if self.legislation and not self.url:
            url = f"{LEGISLATION_BASE}{self.legislation}/{as_at.isoformat()}"
        else:
            url = self.url
        return build_trusted(
            CitedSource,
            kind=self.kind,
            label=self.label,
            url=url,
            paragraph=self.paragraph,
            case=self.case,
        )


def build_trusted(cls: type[_M], **values: Any) -> _M:
    """Construct a pydantic model from trusted engine data without re-validating it.

    pydantic's ``model_construct`` costs several microseconds a call and a decision
    builds dozens of models; the engine supplies every field itself, so this sets them
    directly. Every field must be given (a missing or unknown one is a ``TypeError``).
    Tests round-trip decisions through ``model_validate`` to prove the result is valid.
    """
    return trusted_builder(cls)(**values)


_BUILDERS: dict[type, Callable[..., Any]] = {}


def trusted_builder(cls: type[_M]) -> Callable[..., _M]:
    """``cls``'s builder: a function taking every field as a keyword (none optional) and
    returning the model with them set, in declaration order (as pydantic itself stores
    fields, so serialisation is byte-identical). Generated once per class: a dict literal
    and four attribute sets, about a tenth of ``model_construct``."""
    found = _BUILDERS.get(cls)
    if found is None:
        names = list(cls.__pydantic_fields__)
        if not all(n.isidentifier() and not n.startswith("_") for n in names):
            raise TypeError(f"{cls.__name__} has a field that cannot be a keyword")
        params = ", ".join(names)
        items = ", ".join(f"{n!r}: {n}" for n in names)
        fields_set = ", ".join(repr(n) for n in names)
        source = (
            f"def build(*, {params}):\n"
            f"    obj = new(cls)\n"
            f"    setattr(obj, '__dict__', {{{items}}})\n"
            f"    setattr(obj, '__pydantic_fields_set__', {{{fields_set}}})\n"
            f"    setattr(obj, '__pydantic_extra__', None)\n"
            f"    setattr(obj, '__pydantic_private__', None)\n"
            f"    return obj\n"
        )
        namespace = {"new": object.__new__, "cls": cls, "setattr": object.__setattr__}
        exec(source, namespace)  # noqa: S102 - source built from the model's own field names
        found = _BUILDERS[cls] = cast(Callable[..., Any], namespace["build"])
    return found  # not cast(Callable[..., _M], ...): subscripting a generic costs ~1.5 µs a call


class CitedSource(BaseModel):
    """A citation as it appears in a decision: resolved for the decision date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["legislation", "case", "guidance"]
    label: str
    url: str | None = None
    paragraph: str | None = None
    case: str | None = None

    def markdown(self) -> str:
        text = self.label
        if self.paragraph:
            text += f", {self.paragraph}"
        return f"[{text}]({self.url})" if self.url else text
