"""Columbia Protocol screener ("recent" version): six yes/no items plus the recency of item
6, triaged to none, low, moderate or high risk.

Items are numbered only: the screener's electronic wording is licensed (clinical.md §4),
so no item text appears anywhere in this service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from rules.types import refuse_assignment

SECTION = "cssrs"
SOURCE = (
    "Posner K, Brown GK, Stanley B, et al. The Columbia-Suicide Severity Rating Scale: initial "
    "validity and internal consistency findings from three multisite studies with adolescents "
    "and adults. Am J Psychiatry 2011;168(12):1266-1277; Columbia Protocol screener triage "
    "guidelines: high = yes to q4 or q5, or q6 yes within the past 3 months; moderate = yes "
    "to q3, or q6 yes longer ago; low = yes to q1 or q2 only (low and moderate levels from a "
    "secondary source); q6 yes with its recency unanswered is read as within the past 3 "
    "months (the conservative reading; the triage table has no row for unknown recency)"
)
ITEMS: tuple[str, ...] = ("q1", "q2", "q3", "q4", "q5", "q6")
RECENCY_ITEM = "q6_recent"
# The screener skips q3-q5 when q2 is no, so they are then not asked rather than unknown.
SKIPPED_WHEN_Q2_NO: tuple[str, ...] = ("q3", "q4", "q5")
HIGH_ITEMS: tuple[str, ...] = ("q4", "q5")
LOW_ITEMS: tuple[str, ...] = ("q1", "q2")
NONE = "none"
LOW = "low"
MODERATE = "moderate"
HIGH = "high"


class CssrsScore(NamedTuple):
    """A triaged screener; ``risk`` is None only when no yes was given and an item that
    would have been asked is unanswered."""

    risk: str | None
    __setattr__ = refuse_assignment

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the contract (§6 ``scores.cssrs``)."""
        return {"risk": self.risk}


def score(section: Mapping[str, Any]) -> CssrsScore:
    """Triage a screener section to the highest risk level its answers establish.

    An unanswered item is never assumed yes, except the recency of behaviour: q6 yes with
    ``q6_recent`` unanswered may have been within the past 3 months, and the triage table
    has no row for unknown recency, so it is read as recent (high; the contract's flag
    table treats it as acute). A yes to q1 or q2 with the later items unanswered is low.
    """
    behaviour = section.get("q6") == "yes"
    if _any_yes(section, HIGH_ITEMS) or (behaviour and section.get(RECENCY_ITEM) != "no"):
        return CssrsScore(HIGH)
    if behaviour or section.get("q3") == "yes":
        return CssrsScore(MODERATE)
    if _any_yes(section, LOW_ITEMS):
        return CssrsScore(LOW)
    return CssrsScore(NONE if _all_asked_answered(section) else None)


def _any_yes(section: Mapping[str, Any], items: tuple[str, ...]) -> bool:
    for key in items:
        if section.get(key) == "yes":
            return True
    return False


def _all_asked_answered(section: Mapping[str, Any]) -> bool:
    skipped = SKIPPED_WHEN_Q2_NO if section.get("q2") == "no" else ()
    for key in ITEMS:
        if key not in skipped and section.get(key) is None:
            return False
    return True
