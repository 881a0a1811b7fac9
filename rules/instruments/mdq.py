"""Mood Disorder Questionnaire: 13 lifetime yes/no symptom items (q1), co-occurrence (q2)
and the degree of problem they caused (q3).

Items are numbered only: free-use terms of the MDQ wording were not found (clinical.md §4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from rules.types import refuse_assignment

SECTION = "mdq"
SOURCE = (
    "Hirschfeld RMA, Williams JBW, Spitzer RL, et al. Development and validation of a "
    "screening instrument for bipolar spectrum disorder: the Mood Disorder Questionnaire. "
    "Am J Psychiatry 2000;157(11):1873-1875 (positive screen: at least 7 of the 13 q1 items "
    "yes, q2 yes, and q3 moderate or serious problem)"
)
# Only the q1 list is counted; q2 and q3 are conditions of a positive screen.
ITEMS: tuple[str, ...] = ("q1",)
SYMPTOM_ITEM_COUNT = 13
POSITIVE_YES_COUNT = 7
POSITIVE_PROBLEM_LEVELS: tuple[str, ...] = ("moderate", "serious")
NEGATIVE_PROBLEM_LEVELS: tuple[str, ...] = ("none", "minor")


class MdqScore(NamedTuple):
    """A scored MDQ: the yes count of q1 and whether the screen is positive (None when the
    unanswered parts decide it)."""

    yes_count: int
    positive: bool | None
    __setattr__ = refuse_assignment

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the contract (§6 ``scores.mdq``)."""
        return {"yes_count": self.yes_count, "positive": self.positive}


def score(section: Mapping[str, Any]) -> MdqScore:
    """Score an MDQ section.

    ``positive`` is True only when all three conditions certainly hold, False as soon as
    one certainly fails (q2 no, q3 none or minor, or too few q1 items left to reach 7),
    and None otherwise. A short or absent q1 list counts its missing entries as unanswered.
    """
    yes_count, answered = _count_symptoms(section.get("q1") or ())
    unanswered = max(SYMPTOM_ITEM_COUNT - answered, 0)
    co_occurred = section.get("q2")
    problem = section.get("q3")
    if (
        co_occurred == "no"
        or problem in NEGATIVE_PROBLEM_LEVELS
        or yes_count + unanswered < POSITIVE_YES_COUNT
    ):
        return MdqScore(yes_count, False)
    if (
        yes_count >= POSITIVE_YES_COUNT
        and co_occurred == "yes"
        and problem in POSITIVE_PROBLEM_LEVELS
    ):
        return MdqScore(yes_count, True)
    return MdqScore(yes_count, None)


def _count_symptoms(answers: Iterable[Any]) -> tuple[int, int]:
    yes_count = 0
    answered = 0
    for answer in answers:
        if answer == "yes":
            yes_count += 1
            answered += 1
        elif answer == "no":
            answered += 1
    return yes_count, answered
