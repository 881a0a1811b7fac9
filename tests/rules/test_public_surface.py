"""The public surface of ``rules``: an explicit, sorted ``__all__`` (accidental exports
fail here, as in httpx's exported-members test)."""

from __future__ import annotations

import rules

INTENDED = {
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
}


def test_all_is_exactly_the_sorted_intended_names() -> None:
    assert rules.__all__ == sorted(INTENDED)


def test_every_exported_name_exists() -> None:
    assert all(hasattr(rules, name) for name in rules.__all__)


def test_evaluate_is_the_function_and_the_version_is_calendar_based() -> None:
    assert callable(rules.evaluate)
    assert rules.RULESET_VERSION == "2026.11.0"
