"""PCL-5: twenty PTSD symptom items scored 0-4, total 0-80, provisional PTSD at 33."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules.frozen import fast_init
from rules.instruments import answered_sum, at_least

SECTION = "pcl5"
SOURCE = (
    "Weathers FW, Litz BT, Keane TM, Palmieri PA, Marx BP, Schnurr PP. The PTSD Checklist "
    "for DSM-5 (PCL-5). National Center for PTSD, 2013 (www.ptsd.va.gov); provisional PTSD "
    "at a total of 33: the National Center for PTSD gives a cut-point of 31-33 (Bovin MJ, "
    "et al. Psychol Assess 2016;28(11):1379-1391) and this service uses its upper end, 33"
)
ITEMS: tuple[str, ...] = tuple(f"q{n}" for n in range(1, 21))
ITEM_MAX = 4
TOTAL_MAX = ITEM_MAX * len(ITEMS)
POSITIVE_AT = 33


@fast_init
@dataclass(frozen=True, slots=True)
class Pcl5Score:
    """A scored PCL-5; ``total`` is None unless all twenty items are given, ``positive`` is
    None when the unanswered items decide it."""

    total: int | None
    positive: bool | None
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the contract (§6 ``scores.pcl5``)."""
        return {"total": self.total, "positive": self.positive, "complete": self.complete}


def score(section: Mapping[str, Any]) -> Pcl5Score:
    """Score a PCL-5 section: total when complete; positive when the total is certainly at
    least 33, negative when it certainly stays below (each unanswered item counted 0-4)."""
    points, missing = answered_sum(section, ITEMS)
    return Pcl5Score(
        total=None if missing else points,
        positive=at_least(points, missing, ITEM_MAX, POSITIVE_AT),
        complete=not missing,
    )
