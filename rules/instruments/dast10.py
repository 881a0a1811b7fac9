"""DAST-10: ten yes/no items on drug use in the past 12 months (not alcohol or tobacco),
one point each, total 0-10, five bands; 3 or more is the usual positive screen.

Items are numbered only: the DAST-10 wording is licensed for non-commercial use
(clinical.md §4).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from rules.instruments import Band, band_of
from rules.types import refuse_assignment

SECTION = "dast10"
SOURCE = (
    "Skinner HA. The Drug Abuse Screening Test. Addict Behav 1982;7(4):363-371 (DAST-10: one "
    "point per yes except item 3, where no scores the point; bands 0 none, 1-2 low, 3-5 "
    "moderate, 6-8 substantial, 9-10 severe; 3 or more screens positive)"
)
ITEMS: tuple[str, ...] = ("q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10")
# Item 3 asks whether the person is *always able* to stop, so "no" is the scored answer.
# Some reproductions reword it negatively ("unable to stop"), which flips the key: this
# key holds only for the original wording the questionnaire numbers as q3.
REVERSE_SCORED: tuple[str, ...] = ("q3",)
SCORED_ANSWER: tuple[tuple[str, str], ...] = tuple(
    (key, "no" if key in REVERSE_SCORED else "yes") for key in ITEMS
)
BANDS: tuple[Band, ...] = (
    (0, 0, "none"),
    (1, 2, "low"),
    (3, 5, "moderate"),
    (6, 8, "substantial"),
    (9, 10, "severe"),
)
POSITIVE_AT = 3


class Dast10Score(NamedTuple):
    """A scored DAST-10; ``total`` and ``band`` are None unless all ten items are given.

    ``min_total`` and ``max_total`` bound the total when items are unanswered (equal on a
    complete form); they are not part of the contract's JSON.
    """

    total: int | None
    band: str | None
    complete: bool
    min_total: int
    max_total: int
    __setattr__ = refuse_assignment

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the contract (§6 ``scores.dast10``)."""
        return {"total": self.total, "band": self.band, "complete": self.complete}


def score(section: Mapping[str, Any]) -> Dast10Score:
    """Score a DAST-10 section: one point per scored answer, total and band when complete."""
    points = 0
    missing = 0
    for key, scored in SCORED_ANSWER:
        value = section.get(key)
        if value is None:
            missing += 1
        elif value == scored:
            points += 1
    if missing:
        return Dast10Score(None, None, False, points, points + missing)
    return Dast10Score(points, band_of(points, BANDS), True, points, points)


def positive(result: Dast10Score) -> bool | None:
    """Whether the screen is positive (total 3 or more): None when unanswered items decide."""
    if result.min_total >= POSITIVE_AT:
        return True
    if result.max_total < POSITIVE_AT:
        return False
    return None
