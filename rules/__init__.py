"""Clinical rules of the intake screening service: standard library only.

``evaluate()`` scores a validated submission, checks the intake criteria, raises flags and
routes it to clinician review. It never decides eligibility. ``questionnaire`` holds the
versioned questionnaire definitions; a ``Ruleset`` carries a clinic's bounded settings.
"""

from rules import questionnaire
from rules.evaluate import RULESET_VERSION, evaluate
from rules.ruleset import DEFAULT_RULESET, SETTINGS, Ruleset, SettingsError
from rules.types import (
    DEFAULT_CRISIS_MESSAGE,
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
    "Criterion",
    "DEFAULT_CRISIS_MESSAGE",
    "DEFAULT_RULESET",
    "Evaluation",
    "Flag",
    "FlagKind",
    "Priority",
    "RULESET_VERSION",
    "Routing",
    "Ruleset",
    "SETTINGS",
    "Safety",
    "SettingsError",
    "Status",
    "evaluate",
    "questionnaire",
]
