"""The classification of one interaction: defined here and nowhere else (docs/appropriateness.md).

An *interaction* is one decision sharelaw made for an agency (not superseded by a later
decision on the same case) together with what the practitioner then did about it, as the
action records say. Each interaction falls in exactly one class:

============================  =====================================================  ==========
class                          when                                                  side
============================  =====================================================  ==========
appropriate_sharing            shared; the decision was may_share or must_share,      sharing
                               or refer resolved by a later may/must_share decision
inappropriate_sharing          shared; the decision was must_not_share, or refer      sharing
                               and nothing resolved the referral
appropriate_withholding        withheld; the decision was must_not_share, or          withholding
                               may_share with the reasons recorded
inappropriate_withholding      withheld; the decision was must_share                  withholding
not_passed_on                  must_share and no action recorded within the period    withholding
                               (the invisible non-action of domain.md section 4)
withheld_pending_referral      withheld; the decision was refer, unresolved           withholding
unexplained_withholding        withheld; may_share with no reasons (blank)            withholding
no_action                      not must_share, and no action recorded                 none
awaiting_action                must_share, no action yet, the period not yet over     none
============================  =====================================================  ==========

The last action recorded within the period counts (a later change of course is a new
action). The rates (``stats.py``) are conditional on the opportunity to err:

- inappropriate-sharing rate: inappropriate sharing among the interactions where sharing
  was not cleared (must_not_share, or an unresolved referral) and something was done or
  was due;
- inappropriate-withholding rate: withheld or never passed on, among must_share interactions
  that were acted on or whose period is over.
"""

from __future__ import annotations

from enum import Enum


class Klass(str, Enum):
    APPROPRIATE_SHARING = "appropriate_sharing"
    INAPPROPRIATE_SHARING = "inappropriate_sharing"
    APPROPRIATE_WITHHOLDING = "appropriate_withholding"
    INAPPROPRIATE_WITHHOLDING = "inappropriate_withholding"
    NOT_PASSED_ON = "not_passed_on"
    WITHHELD_PENDING_REFERRAL = "withheld_pending_referral"
    UNEXPLAINED_WITHHOLDING = "unexplained_withholding"
    NO_ACTION = "no_action"
    AWAITING_ACTION = "awaiting_action"

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS: dict[Klass, str] = {
    Klass.APPROPRIATE_SHARING: "appropriate sharing",
    Klass.INAPPROPRIATE_SHARING: "inappropriate sharing",
    Klass.APPROPRIATE_WITHHOLDING: "appropriate withholding",
    Klass.INAPPROPRIATE_WITHHOLDING: "inappropriate withholding (withheld a must-share)",
    Klass.NOT_PASSED_ON: "inappropriate withholding (must-share never acted on)",
    Klass.WITHHELD_PENDING_REFERRAL: "withheld, referral unresolved",
    Klass.UNEXPLAINED_WITHHOLDING: "withheld a may-share without reasons",
    Klass.NO_ACTION: "no action recorded",
    Klass.AWAITING_ACTION: "must-share awaiting action (period not over)",
}

#: The classes that count as inappropriate on each side.
INAPPROPRIATE_SHARING = frozenset({Klass.INAPPROPRIATE_SHARING})
INAPPROPRIATE_WITHHOLDING = frozenset({Klass.INAPPROPRIATE_WITHHOLDING, Klass.NOT_PASSED_ON})

OUTCOMES = ("must_share", "may_share", "must_not_share", "refer")


def classify(
    outcome: str,
    acted: str | None,
    *,
    reasons: str = "",
    referral_resolved_as: str | None = None,
    period_over: bool = True,
) -> Klass:
    """The class of one interaction.

    ``outcome``: the decision's outcome; ``acted``: the last action's ``outcome``
    (``"shared"``, ``"withheld"``) or None when no action was recorded within the period;
    ``reasons``: that action's reasons; ``referral_resolved_as``: for a ``refer``
    decision, the outcome of a later decision on the same case recorded before the action
    (None if nothing resolved it); ``period_over``: whether the period for acting is over
    (only matters when nothing was done)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown decision outcome {outcome!r}")
    if acted is None:
        if outcome == "must_share":
            return Klass.NOT_PASSED_ON if period_over else Klass.AWAITING_ACTION
        return Klass.NO_ACTION
    if acted not in ("shared", "withheld"):
        raise ValueError(f"unknown action outcome {acted!r}")
    effective = effective_outcome(outcome, referral_resolved_as)
    if acted == "shared":
        if effective in ("may_share", "must_share"):
            return Klass.APPROPRIATE_SHARING
        return Klass.INAPPROPRIATE_SHARING  # must_not_share, or refer that nothing resolved
    if effective == "must_share":
        return Klass.INAPPROPRIATE_WITHHOLDING
    if effective == "must_not_share":
        return Klass.APPROPRIATE_WITHHOLDING
    if effective == "may_share":
        return Klass.APPROPRIATE_WITHHOLDING if reasons.strip() else Klass.UNEXPLAINED_WITHHOLDING
    return Klass.WITHHELD_PENDING_REFERRAL


def effective_outcome(outcome: str, referral_resolved_as: str | None) -> str:
    """The outcome an action is judged against: a referral's resolution, where there is one."""
    return referral_resolved_as if outcome == "refer" and referral_resolved_as is not None else outcome


def sharing_denominator(effective: str, klass: Klass) -> bool:
    """Whether an interaction counts in the inappropriate-sharing rate's denominator: sharing
    was not cleared (``effective`` is must_not_share, or refer unresolved) and it was acted on."""
    if klass in (Klass.NO_ACTION, Klass.AWAITING_ACTION):
        return False
    return effective in ("must_not_share", "refer")


def withholding_denominator(effective: str, klass: Klass) -> bool:
    """Whether an interaction counts in the inappropriate-withholding rate's denominator:
    the law required sharing and it was acted on or its period is over."""
    return effective == "must_share" and klass is not Klass.AWAITING_ACTION
