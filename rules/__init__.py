"""Clinical rules of the intake screening service: standard library only.

``evaluate()`` scores a validated submission, checks the intake criteria, raises flags and
routes it to clinician review. It never decides eligibility. ``questionnaire`` holds the
versioned questionnaire definitions.
"""

from rules import questionnaire
from rules.evaluate import RULESET_VERSION, evaluate
from rules.types import (
    DEFAULT_CRISIS_MESSAGE,
    ClinicSettings,
    Criterion,
    Evaluation,
    Flag,
    FlagKind,
    Priority,
    Routing,
    Safety,
    Status,
)

__all__ = [
    "ClinicSettings",
    "Criterion",
    "DEFAULT_CRISIS_MESSAGE",
    "Evaluation",
    "Flag",
    "FlagKind",
    "Priority",
    "RULESET_VERSION",
    "Routing",
    "Safety",
    "Status",
    "evaluate",
    "questionnaire",
]
