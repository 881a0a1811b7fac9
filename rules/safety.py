"""Suicide-risk flags from PHQ-9 item 9, the ASQ and the optional C-SSRS screener.

At most one flag is raised: ``suicide_risk_acute`` when any acute signal is present,
otherwise ``suicide_risk`` when any non-acute signal is present (shared spec §6 flag
table). The flag's ``answer`` holds every endorsed suicide-related item, acute or not, so
the clinician sees the whole picture in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules.types import Flag, FlagKind

SUICIDE_SOURCE = (
    "NIMH Ask Suicide-Screening Questions (ASQ) toolkit clinical pathway; Kroenke, Spitzer "
    "& Williams 2001 PHQ-9 item 9: any score >= 1 needs a suicide-risk assessment "
    "[secondary source]; Columbia Protocol (C-SSRS) screener triage guideline"
)

_SAFETY = FlagKind.SAFETY  # bound once: enum member lookups are slow on CPython 3.11
_ASQ_SCREEN_ITEMS = ("q1", "q2", "q3", "q4")
_CSSRS_IDEATION_ITEMS = ("q1", "q2", "q3")
# Items whose "yes" is suicide-related, in questionnaire order, with their paths.
_YES_ITEMS = tuple(
    (section, tuple((item, f"{section}.{item}") for item in items))
    for section, items in (
        ("asq", ("q1", "q2", "q3", "q4", "q5")),
        ("cssrs", ("q1", "q2", "q3", "q4", "q5", "q6", "q6_recent")),
    )
)
_ASQ_SCREEN_PATHS = frozenset(f"asq.{item}" for item in _ASQ_SCREEN_ITEMS)
_CSSRS_IDEATION_PATHS = frozenset(f"cssrs.{item}" for item in _CSSRS_IDEATION_ITEMS)

_ASQ_ACUTE = (
    "ASQ acute positive (q5 yes): imminent risk; emergency safety evaluation now, the "
    "person is not left alone."
)
_CSSRS_INTENT_OR_PLAN = (
    "C-SSRS q4 or q5 yes (ideation with intent or a plan, past month): high risk; "
    "immediate clinician or emergency pathway."
)
_CSSRS_RECENT_BEHAVIOUR = (
    "C-SSRS q6 yes within the past 3 months: high risk; immediate clinician or emergency "
    "pathway."
)
_PHQ9_ITEM9 = (
    "PHQ-9 item 9 >= 1: clinician suicide-risk assessment needed regardless of the total."
)
_ASQ_NON_ACUTE = (
    "ASQ non-acute positive (q1-q4 yes, q5 no): brief suicide safety assessment before the "
    "person leaves; not an emergency."
)
_ASQ_ACUITY_UNKNOWN = (
    "ASQ positive (q1-q4 yes) with the acuity question q5 not answered: acuity unknown; "
    "assess now."
)
_CSSRS_IDEATION = "C-SSRS q1-q3 yes (ideation, past month): clinician suicide-risk assessment."
_CSSRS_PAST_BEHAVIOUR = (
    "C-SSRS q6 yes, more than 3 months ago: moderate risk; clinician suicide-risk assessment."
)
_CSSRS_BEHAVIOUR_RECENCY_UNKNOWN = (
    "C-SSRS q6 yes with recency not answered: recency unknown, treated as within the past 3 "
    "months (Columbia triage: recent behaviour is high risk); immediate clinician or "
    "emergency pathway, and establish when it happened."
)


def _endorsed(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Every endorsed suicide-related item, keyed by its path."""
    found: dict[str, Any] = {}
    item9 = (answers.get("phq9") or {}).get("q9")
    if item9 is not None and item9 >= 1:
        found["phq9.q9"] = item9
    for section, items in _YES_ITEMS:
        answered = answers.get(section) or {}
        for item, path in items:
            if answered.get(item) == "yes":
                found[path] = "yes"
    if "cssrs.q6" not in found:
        found.pop("cssrs.q6_recent", None)  # recency means nothing without behaviour
    return found


def _acute_pathways(found: Mapping[str, Any], cssrs: Mapping[str, Any]) -> list[str]:
    pathways = []
    if "asq.q5" in found:
        pathways.append(_ASQ_ACUTE)
    if "cssrs.q4" in found or "cssrs.q5" in found:
        pathways.append(_CSSRS_INTENT_OR_PLAN)
    if "cssrs.q6_recent" in found:
        pathways.append(_CSSRS_RECENT_BEHAVIOUR)
    elif "cssrs.q6" in found and cssrs.get("q6_recent") != "no":
        pathways.append(_CSSRS_BEHAVIOUR_RECENCY_UNKNOWN)
    return pathways


def _non_acute_pathways(found: Mapping[str, Any], asq: Mapping[str, Any]) -> list[str]:
    pathways = []
    if "phq9.q9" in found:
        pathways.append(_PHQ9_ITEM9)
    if not _ASQ_SCREEN_PATHS.isdisjoint(found):
        pathways.append(_ASQ_ACUITY_UNKNOWN if asq.get("q5") is None else _ASQ_NON_ACUTE)
    if not _CSSRS_IDEATION_PATHS.isdisjoint(found):
        pathways.append(_CSSRS_IDEATION)
    if "cssrs.q6" in found:  # recency answered "no": acute pathways took yes and unknown
        pathways.append(_CSSRS_PAST_BEHAVIOUR)
    return pathways


def suicide_flags(answers: Mapping[str, Any]) -> tuple[Flag, ...]:
    """``suicide_risk_acute`` or else ``suicide_risk`` (never both), or nothing.

    Acute: ASQ q5 yes; C-SSRS q4 or q5 yes; C-SSRS q6 yes with q6_recent yes or not
    answered (unknown recency is treated as recent). Non-acute:
    PHQ-9 q9 >= 1; any ASQ q1-q4 yes; C-SSRS q1-q3 or q6 yes.
    """
    found = _endorsed(answers)
    if not found:
        return ()
    asq = answers.get("asq") or {}
    cssrs = answers.get("cssrs") or {}
    acute = _acute_pathways(found, cssrs)
    if acute:
        return (Flag("suicide_risk_acute", _SAFETY, found, " ".join(acute),
                     SUICIDE_SOURCE),)
    pathways = _non_acute_pathways(found, asq)
    return (Flag("suicide_risk", _SAFETY, found, " ".join(pathways), SUICIDE_SOURCE),)
