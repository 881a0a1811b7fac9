"""GAD-7: seven anxiety items scored 0-3, total 0-21, four severity bands.

Score by the item's ordinal value, never by an answer code: some LOINC-derived exports code
the middle answer of one item differently (clinical.md §3.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from rules.instruments import Band, answered_sum, band_of
from rules.types import refuse_assignment

SECTION = "gad7"
SOURCE = (
    "Spitzer RL, Kroenke K, Williams JBW, Löwe B. A brief measure for assessing generalized "
    "anxiety disorder: the GAD-7. Arch Intern Med 2006;166(10):1092-1097 (severity bands "
    "0-4, 5-9, 10-14, 15-21)"
)
ITEMS: tuple[str, ...] = ("q1", "q2", "q3", "q4", "q5", "q6", "q7")
ITEM_MAX = 3
TOTAL_MAX = ITEM_MAX * len(ITEMS)
SEVERITY_BANDS: tuple[Band, ...] = (
    (0, 4, "minimal"),
    (5, 9, "mild"),
    (10, 14, "moderate"),
    (15, 21, "severe"),
)


class Gad7Score(NamedTuple):
    """A scored GAD-7; ``total`` and ``severity`` are None unless all seven items are given."""

    total: int | None
    severity: str | None
    complete: bool
    __setattr__ = refuse_assignment

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the contract (§6 ``scores.gad7``)."""
        return {"total": self.total, "severity": self.severity, "complete": self.complete}


def score(section: Mapping[str, Any]) -> Gad7Score:
    """Score a GAD-7 section: total and severity band when complete."""
    points, missing = answered_sum(section, ITEMS)
    if missing:
        return Gad7Score(total=None, severity=None, complete=False)
    return Gad7Score(total=points, severity=band_of(points, SEVERITY_BANDS), complete=True)
