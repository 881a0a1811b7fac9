"""AUDIT-C: the three alcohol consumption questions of the AUDIT, scored 0-4 each, total
0-12, with a sex-specific positive screen."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from rules.instruments import answered_sum, at_least
from rules.types import refuse_assignment

SECTION = "audit_c"
SOURCE = (
    "Bush K, Kivlahan DR, McDonell MB, Fihn SD, Bradley KA. The AUDIT alcohol consumption "
    "questions (AUDIT-C): an effective brief screening test for problem drinking. Arch Intern "
    "Med 1998;158(16):1789-1795; Bradley KA, DeBenedetti AF, Volk RJ, et al. AUDIT-C as a "
    "brief screen for alcohol misuse in primary care. Alcohol Clin Exp Res "
    "2007;31(7):1208-1217 (positive screen: men 4 or more, women 3 or more)"
)
ITEMS: tuple[str, ...] = ("q1", "q2", "q3")
ITEM_MAX = 4
TOTAL_MAX = ITEM_MAX * len(ITEMS)
POSITIVE_AT_MALE = 4
# Women's cut-off, also used when sex at birth is not given: the lower cut-off misses fewer
# people who drink at risk, and every positive screen goes to a clinician anyway.
POSITIVE_AT_OTHERWISE = 3


class AuditCScore(NamedTuple):
    """A scored AUDIT-C; ``threshold`` is the cut-off applied for the respondent."""

    total: int | None
    positive: bool | None
    complete: bool
    threshold: int
    __setattr__ = refuse_assignment

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the contract (§6 ``scores.audit_c``)."""
        return {
            "total": self.total,
            "positive": self.positive,
            "complete": self.complete,
            "threshold": self.threshold,
        }


def score(section: Mapping[str, Any], sex_at_birth: str | None = None) -> AuditCScore:
    """Score an AUDIT-C section against 4 for ``sex_at_birth == "male"``, else 3.

    ``positive`` is True when the answered items already reach the cut-off, False when
    they cannot reach it even with every unanswered item at 4, None otherwise.
    """
    threshold = POSITIVE_AT_MALE if sex_at_birth == "male" else POSITIVE_AT_OTHERWISE
    points, missing = answered_sum(section, ITEMS)
    return AuditCScore(
        total=None if missing else points,
        positive=at_least(points, missing, ITEM_MAX, threshold),
        complete=not missing,
        threshold=threshold,
    )
