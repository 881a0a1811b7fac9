"""ASQ (Ask Suicide-Screening Questions, NIMH): four yes/no screening questions and one
acuity question, giving negative, non-acute positive or acute positive."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from rules.types import refuse_assignment

SECTION = "asq"
SOURCE = (
    "Horowitz LM, Bridge JA, Teach SJ, et al. Ask Suicide-Screening Questions (ASQ): a brief "
    "instrument for the pediatric emergency department. Arch Pediatr Adolesc Med "
    "2012;166(12):1170-1176; NIMH ASQ Suicide Risk Screening Toolkit "
    "(nimh.nih.gov/labs-at-nimh/asq-toolkit-materials): any yes on q1-q4 is a positive "
    "screen, a yes on the acuity question q5 is an acute positive (result pathway partly "
    "from a secondary source)"
)
ITEMS: tuple[str, ...] = ("q1", "q2", "q3", "q4")
ACUITY_ITEM = "q5"
NEGATIVE = "negative"
NON_ACUTE_POSITIVE = "non_acute_positive"
ACUTE_POSITIVE = "acute_positive"


class AsqScore(NamedTuple):
    """A scored ASQ; ``result`` is None only when the screen cannot be decided."""

    result: str | None
    __setattr__ = refuse_assignment

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the contract (§6 ``scores.asq``)."""
        return {"result": self.result}


def score(section: Mapping[str, Any]) -> AsqScore:
    """Score an ASQ section.

    A yes on q5 ("thoughts of killing yourself right now") is an acute positive whatever
    q1-q4 say: the contract raises the acute safety flag on q5 alone, and a current
    intent is never set aside. A positive screen with q5 unanswered is reported as
    non-acute positive: the positive part is certain and the acute part is unknown, and
    acuteness is defined by an answered yes only. Negative needs all four of q1-q4
    answered no; with no yes and an item absent the result is None.
    """
    if section.get(ACUITY_ITEM) == "yes":
        return AsqScore(ACUTE_POSITIVE)
    all_answered = True
    for key in ITEMS:
        value = section.get(key)
        if value == "yes":
            return AsqScore(NON_ACUTE_POSITIVE)
        if value is None:
            all_answered = False
    return AsqScore(NEGATIVE if all_answered else None)
