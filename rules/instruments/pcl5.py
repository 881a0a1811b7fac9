"""PCL-5: twenty PTSD symptom items scored 0-4, total 0-80, provisional PTSD at 33, and the
DSM-5 symptom-cluster rule for a provisional diagnosis."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from rules.instruments import answered_sum, at_least
from rules.types import refuse_assignment

SECTION = "pcl5"
SOURCE = (
    "Weathers FW, Litz BT, Keane TM, Palmieri PA, Marx BP, Schnurr PP. The PTSD Checklist "
    "for DSM-5 (PCL-5). National Center for PTSD, 2013 (www.ptsd.va.gov); provisional PTSD "
    "at a total of 33: the National Center for PTSD gives a cut-point of 31-33 (Bovin MJ, "
    "et al. Psychol Assess 2016;28(11):1379-1391) and this service uses its upper end, 33"
)
CLUSTER_RULE_SOURCE = (
    "National Center for PTSD, PTSD Checklist for DSM-5 (PCL-5) scoring (www.ptsd.va.gov): "
    "a provisional PTSD diagnosis by the DSM-5 rule treats each item rated 2 (Moderately) "
    "or higher as an endorsed symptom and needs at least 1 of items 1-5 (cluster B), 1 of "
    "items 6-7 (C), 2 of items 8-14 (D) and 2 of items 15-20 (E)"
)
ITEMS: tuple[str, ...] = tuple(f"q{n}" for n in range(1, 21))
ITEM_MAX = 4
TOTAL_MAX = ITEM_MAX * len(ITEMS)
POSITIVE_AT = 33
ENDORSED_AT = 2
# (cluster, its items, endorsed symptoms needed): DSM-5 criteria B to E.
CLUSTERS: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("B", ITEMS[0:5], 1),
    ("C", ITEMS[5:7], 1),
    ("D", ITEMS[7:14], 2),
    ("E", ITEMS[14:20], 2),
)


class Pcl5Score(NamedTuple):
    """A scored PCL-5; ``total`` is None unless all twenty items are given; ``positive``
    (total at the cut-point) and ``dsm5_cluster_rule`` are None when the unanswered items
    decide them."""

    total: int | None
    positive: bool | None
    complete: bool
    dsm5_cluster_rule: bool | None
    __setattr__ = refuse_assignment

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the contract (§6 ``scores.pcl5``)."""
        return {"total": self.total, "positive": self.positive, "complete": self.complete,
                "dsm5_cluster_rule": self.dsm5_cluster_rule}


def score(section: Mapping[str, Any]) -> Pcl5Score:
    """Score a PCL-5 section: total when complete; positive when the total is certainly at
    least 33, negative when it certainly stays below (each unanswered item counted 0-4)."""
    points, missing = answered_sum(section, ITEMS)
    return Pcl5Score(
        total=None if missing else points,
        positive=at_least(points, missing, ITEM_MAX, POSITIVE_AT),
        complete=not missing,
        dsm5_cluster_rule=cluster_rule(section),
    )


def cluster_rule(section: Mapping[str, Any]) -> bool | None:
    """The DSM-5 provisional-diagnosis rule: True when every cluster certainly has enough
    items rated 2 or higher, False when some cluster cannot have them even if every
    unanswered item were endorsed, None when the unanswered items decide it."""
    decided = True
    for _cluster, items, needed in CLUSTERS:
        endorsed = unanswered = 0
        for key in items:
            value = section.get(key)
            if value is None:
                unanswered += 1
            elif value >= ENDORSED_AT:
                endorsed += 1
        if endorsed + unanswered < needed:
            return False
        if endorsed < needed:
            decided = False
    return True if decided else None
