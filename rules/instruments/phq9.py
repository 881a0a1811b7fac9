"""PHQ-9: nine depression items scored 0-3, total 0-27, five severity bands.

Item 10 ("how difficult have these problems made it…", key ``difficulty``) is recorded but
is not part of the total. There is no official proration rule for missing items
(clinical.md §3.1, [U]), so an incomplete form has no total and no severity; the criteria
use ``total_bounds`` to tell whether a cut-off is certainly met or missed anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from rules.instruments import Band, answered_sum, band_of
from rules.types import refuse_assignment

SECTION = "phq9"
SOURCE = (
    "Kroenke K, Spitzer RL, Williams JBW. The PHQ-9: validity of a brief depression severity "
    "measure. J Gen Intern Med 2001;16(9):606-613 (severity bands 0-4, 5-9, 10-14, 15-19, "
    "20-27; item 10 difficulty not scored; no official proration rule for missing items, "
    "unverified)"
)
ITEMS: tuple[str, ...] = ("q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9")
ITEM_MAX = 3
TOTAL_MAX = ITEM_MAX * len(ITEMS)
SEVERITY_BANDS: tuple[Band, ...] = (
    (0, 4, "minimal"),
    (5, 9, "mild"),
    (10, 14, "moderate"),
    (15, 19, "moderately_severe"),
    (20, 27, "severe"),
)
SCREEN_POSITIVE_AT = 10


class Phq9Score(NamedTuple):
    """A scored PHQ-9. ``total`` and ``severity`` are None unless all nine items are given;
    ``item9`` (self-harm thoughts) and ``difficulty`` are reported as answered."""

    total: int | None
    severity: str | None
    item9: int | None
    complete: bool
    difficulty: int | None
    __setattr__ = refuse_assignment

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the contract (§6 ``scores.phq9``)."""
        return {
            "total": self.total,
            "severity": self.severity,
            "item9": self.item9,
            "complete": self.complete,
            "difficulty": self.difficulty,
        }


def score(section: Mapping[str, Any]) -> Phq9Score:
    """Score a PHQ-9 section: total and severity band when complete, item 9 always."""
    points, missing = answered_sum(section, ITEMS)
    complete = missing == 0
    return Phq9Score(
        total=points if complete else None,
        severity=band_of(points, SEVERITY_BANDS) if complete else None,
        item9=section.get("q9"),
        complete=complete,
        difficulty=section.get("difficulty"),
    )


def total_bounds(section: Mapping[str, Any]) -> tuple[int, int]:
    """The lowest and highest total the form could have, each unanswered item being 0 to 3.

    On a complete form both bounds equal the total.
    """
    points, missing = answered_sum(section, ITEMS)
    return points, points + missing * ITEM_MAX
