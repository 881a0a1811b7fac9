"""Screen-positive flags from the optional instruments (shared spec §6 flag table).

A flag is raised only when the screen is certainly positive (``positive`` is True); an
incomplete form whose unanswered items decide the result raises nothing here, and its
score (``positive: null``) tells the clinician so. A positive screen is a prompt for
clinical assessment, never a diagnosis.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules.instruments import audit_c, dast10, mdq, pcl5
from rules.types import Flag, FlagKind

_SCREEN = FlagKind.SCREEN_POSITIVE


def _bipolar(answers: Mapping[str, Any], score: Any) -> Flag | None:
    if score.positive is not True:
        return None
    section = answers["mdq"]
    answer = {"yes_count": score.yes_count, "q2": section.get("q2"), "q3": section.get("q3")}
    return Flag("bipolar_screen_positive", _SCREEN, answer,
                "MDQ positive (>= 7 of 13 yes, co-occurring, moderate or serious problem): "
                "assess for bipolar disorder.",
                mdq.SOURCE)


def _ptsd(answers: Mapping[str, Any], score: Any) -> Flag | None:
    if score.positive is not True:
        return None
    answer = {"total": score.total, "complete": score.complete}
    return Flag("ptsd_screen_positive", _SCREEN, answer,
                "PCL-5 total 33 or more: provisional PTSD; assess.", pcl5.SOURCE)


def _alcohol(answers: Mapping[str, Any], score: Any) -> Flag | None:
    if score.positive is not True:
        return None
    answer = {"total": score.total, "complete": score.complete, "threshold": score.threshold}
    return Flag("alcohol_screen_positive", _SCREEN, answer,
                "AUDIT-C at or above the cut-off (4 male; 3 female or sex not given): "
                "assess alcohol use.",
                audit_c.SOURCE)


def _drug(answers: Mapping[str, Any], score: Any) -> Flag | None:
    if dast10.positive(score) is not True:
        return None
    answer = {"total": score.total, "band": score.band, "complete": score.complete}
    return Flag("drug_screen_positive", _SCREEN, answer,
                "DAST-10 total 3 or more (item 3 reverse-scored): assess drug use.",
                dast10.SOURCE)


_SCREENS = (("mdq", _bipolar), ("pcl5", _ptsd), ("audit_c", _alcohol), ("dast10", _drug))


def screen_flags(answers: Mapping[str, Any], scores: Mapping[str, Any]) -> tuple[Flag, ...]:
    """Screen-positive flags in a fixed order (MDQ, PCL-5, AUDIT-C, DAST-10) from the
    scores of the submitted sections."""
    flags = []
    for section, check in _SCREENS:
        score = scores.get(section)
        if score is not None:
            flag = check(answers, score)
            if flag is not None:
                flags.append(flag)
    return tuple(flags)
