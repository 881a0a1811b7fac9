"""``evaluate()``: score, check criteria, flag and route one submission (shared spec §6).

Pure and deterministic: the same inputs always give the same frozen ``Evaluation``; no
I/O, no clock, no global state, and the inputs are never modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from rules.contraindications import (
    age_flags,
    blood_pressure_flags,
    history_flags,
    medication_flags,
    reproductive_flags,
)
from rules.criteria import (
    adult_from_age,
    age_in_years,
    depression_moderate_to_severe,
    missing_inputs,
    prior_treatment_failure,
)
from rules.instruments import asq, audit_c, cssrs, dast10, gad7, mdq, pcl5, phq9
from rules.routing import route, safety
from rules.ruleset import DEFAULT_RULESET, RULESET_VERSION, Ruleset
from rules.safety import suicide_flags
from rules.screens import screen_flags
from rules.types import Evaluation

__all__ = ["RULESET_VERSION", "evaluate"]
# (section, scorer) in the fixed order of ``Evaluation.scores``; AUDIT-C also needs the
# respondent's sex at birth and is slotted in by position.
_SCORED_BEFORE_AUDIT_C = tuple((m.SECTION, m.score) for m in (phq9, gad7, asq, cssrs, mdq, pcl5))
_SCORED_AFTER_AUDIT_C = ((dast10.SECTION, dast10.score),)


def _scores(respondent: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Scores of the submitted sections, in the fixed order."""
    scores: dict[str, Any] = {}
    for name, score in _SCORED_BEFORE_AUDIT_C:
        section = answers.get(name)
        if section is not None:
            scores[name] = score(section)
    section = answers.get(audit_c.SECTION)
    if section is not None:
        scores[audit_c.SECTION] = audit_c.score(section, respondent.get("sex_at_birth"))
    for name, score in _SCORED_AFTER_AUDIT_C:
        section = answers.get(name)
        if section is not None:
            scores[name] = score(section)
    return scores


def evaluate(
    respondent: Mapping[str, Any],
    answers: Mapping[str, Any],
    received_on: date,
    ruleset: Ruleset = DEFAULT_RULESET,
) -> Evaluation:
    """Evaluate one validated submission received on ``received_on`` under ``ruleset``
    (the code's version and the clinic's settings; by default the contract's §6 rules).

    Scores only the submitted sections; criteria in contract order; flags in the order
    safety, blood pressure, history, medications, reproductive, age, screens; then the
    review routing and what the form must show. ``missing`` names every input a criterion
    needed that was absent.
    """
    scores = _scores(respondent, answers)
    age = age_in_years(respondent, received_on)
    checked = (
        adult_from_age(age, ruleset),
        depression_moderate_to_severe(answers, ruleset),
        prior_treatment_failure(answers, ruleset),
    )
    flags = (
        *suicide_flags(answers),
        *blood_pressure_flags(answers, ruleset),
        *history_flags(answers),
        *medication_flags(answers),
        *reproductive_flags(answers),
        *age_flags(age, ruleset),
        *screen_flags(answers, scores),
    )
    return Evaluation(
        ruleset_version=ruleset.ruleset_version,
        scores=tuple(scores.items()),
        criteria=checked,
        flags=flags,
        routing=route(flags, checked),
        safety=safety(flags, ruleset),
        missing=missing_inputs(respondent, answers),
    )
