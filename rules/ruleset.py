"""A clinic's ruleset: the code's ``RULESET_VERSION`` plus the clinic's bounded settings
(shared spec §10).

The rules are fixed in code; a clinic tunes a few cited thresholds within bounds. Every
threshold the evaluation reads comes from the ``Ruleset`` passed to ``rules.evaluate``;
``SETTINGS`` is the one table of defaults, bounds and the source each default rests on.
No setting reaches the suicide-risk flags or the ``critical``/``urgent`` routing they
trigger: those are not settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, NamedTuple

from rules.contraindications import BP_ELEVATED_SOURCE, BP_SEVERE_SOURCE, OLDER_ADULT_SOURCE
from rules.criteria import ADULT_SOURCE, DEPRESSION_SOURCE, TREATMENT_FAILURE_SOURCE
from rules.safety import SUICIDE_SOURCE
from rules.types import DEFAULT_CRISIS_MESSAGE

RULESET_VERSION = "2026.11.0"

OPTIONAL_SECTIONS = ("gad7", "cssrs", "mdq", "pcl5", "audit_c", "dast10", "vitals")
ESCALATION_PRIORITIES = ("critical", "urgent")
CRISIS_MESSAGE_MAX = 1000


class BloodPressure(NamedTuple):
    """A blood-pressure threshold pair in mmHg."""

    systolic: int
    diastolic: int


class SettingsError(ValueError):
    """Settings out of bounds or unknown: ``errors`` maps a setting to its messages."""

    def __init__(self, errors: Mapping[str, list[str]]):
        super().__init__("invalid settings: " + ", ".join(sorted(errors)))
        self.errors = dict(errors)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(low: int, high: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not _whole(value) or not low <= value <= high:
            return f"Must be a whole number from {low} to {high}."
        return None
    return check


def _pair(names: tuple[str, ...], bounds: tuple[tuple[int, int], ...]
          ) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        wanted = ", ".join(f"{n} {lo}-{hi}" for n, (lo, hi) in zip(names, bounds, strict=True))
        message = f"Must be an object with {wanted}."
        if not isinstance(value, Mapping) or set(value) != set(names):
            return message
        for name, (low, high) in zip(names, bounds, strict=True):
            if not _whole(value[name]) or not low <= value[name] <= high:
                return message
        return None
    return check


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip() or len(value) > CRISIS_MESSAGE_MAX:
        return f"Must be text of 1 to {CRISIS_MESSAGE_MAX} characters."
    return None


def _sections(value: Any) -> str | None:
    if (not isinstance(value, list) or len(set(map(str, value))) != len(value)
            or not all(isinstance(v, str) and v in OPTIONAL_SECTIONS for v in value)):
        return "Must be a list without repeats of: " + ", ".join(OPTIONAL_SECTIONS) + "."
    return None


@dataclass(frozen=True, slots=True)
class Setting:
    """One tunable threshold: its default (JSON shape), bounds and the source the default
    rests on."""

    name: str
    default: Any
    bounds: str
    source: str
    check: Callable[[Any], str | None] = field(repr=False, compare=False)


SETTINGS: tuple[Setting, ...] = (
    Setting("min_age_years", 18, "18-99", ADULT_SOURCE, _count(18, 99)),
    Setting("phq9_threshold", 10, "5-20", DEPRESSION_SOURCE, _count(5, 20)),
    Setting("min_failed_trials", 2, "1-5", TREATMENT_FAILURE_SOURCE, _count(1, 5)),
    Setting("min_trial_weeks", 6, "4-16", TREATMENT_FAILURE_SOURCE, _count(4, 16)),
    Setting("bp_elevated", {"systolic": 140, "diastolic": 90},
            "systolic 120-180, diastolic 70-110", BP_ELEVATED_SOURCE,
            _pair(BloodPressure._fields, ((120, 180), (70, 110)))),
    Setting("bp_severe", {"systolic": 180, "diastolic": 100},
            "systolic 160-200, diastolic 90-120, each above bp_elevated", BP_SEVERE_SOURCE,
            _pair(BloodPressure._fields, ((160, 200), (90, 120)))),
    Setting("older_adult_age", 65, "55-90", OLDER_ADULT_SOURCE, _count(55, 90)),
    Setting("crisis_message", DEFAULT_CRISIS_MESSAGE, "1-1000 characters",
            "988 Suicide & Crisis Lifeline (US); " + SUICIDE_SOURCE, _text),
    Setting("escalation_minutes", {"critical": 10, "urgent": 60},
            "critical 1-1440, urgent 1-1440, critical not after urgent",
            SUICIDE_SOURCE + " (same-day, immediate pathway for acute risk)",
            _pair(ESCALATION_PRIORITIES, ((1, 1440), (1, 1440)))),
    Setting("required_sections", [], "any of " + ", ".join(OPTIONAL_SECTIONS),
            "The clinic's own intake policy: which optional sections every form must carry",
            _sections),
)
SETTING_NAMES = tuple(s.name for s in SETTINGS)
_BY_NAME = MappingProxyType({s.name: s for s in SETTINGS})


@dataclass(frozen=True, slots=True)
class Ruleset:
    """Everything ``rules.evaluate`` reads that a clinic may tune, with the code version.

    Build one from stored settings with ``Ruleset.from_settings``; the default instance is
    exactly the contract's §6 rules.
    """

    ruleset_version: str = RULESET_VERSION
    min_age_years: int = 18
    phq9_threshold: int = 10
    min_failed_trials: int = 2
    min_trial_weeks: int = 6
    bp_elevated: BloodPressure = BloodPressure(140, 90)
    bp_severe: BloodPressure = BloodPressure(180, 100)
    older_adult_age: int = 65
    crisis_message: str = DEFAULT_CRISIS_MESSAGE
    escalation_minutes: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({"critical": 10, "urgent": 60}))
    required_sections: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Ruleset:
        """The defaults overridden by ``settings`` (JSON shapes, possibly partial);
        ``SettingsError`` names every unknown or out-of-bounds setting."""
        return DEFAULT_RULESET.with_changes(settings)

    def with_changes(self, changes: Mapping[str, Any]) -> Ruleset:
        """This ruleset with ``changes`` applied (a partial map of JSON shapes; an
        object-valued setting may itself be partial). Raises ``SettingsError``."""
        errors: dict[str, list[str]] = {}
        merged = self.settings()
        for name, value in changes.items():
            setting = _BY_NAME.get(name)
            if setting is None:
                errors[name] = ["Unknown setting."]
                continue
            if isinstance(value, Mapping) and isinstance(merged[name], dict):
                value = {**merged[name], **value}
            problem = setting.check(value)
            if problem is not None:
                errors[name] = [problem]
            else:
                merged[name] = value
        if not errors:
            errors = _cross_checks(merged)
        if errors:
            raise SettingsError(errors)
        return replace(
            self,
            min_age_years=merged["min_age_years"],
            phq9_threshold=merged["phq9_threshold"],
            min_failed_trials=merged["min_failed_trials"],
            min_trial_weeks=merged["min_trial_weeks"],
            bp_elevated=BloodPressure(**merged["bp_elevated"]),
            bp_severe=BloodPressure(**merged["bp_severe"]),
            older_adult_age=merged["older_adult_age"],
            crisis_message=merged["crisis_message"],
            escalation_minutes=MappingProxyType(dict(merged["escalation_minutes"])),
            required_sections=tuple(merged["required_sections"]),
        )

    def settings(self) -> dict[str, Any]:
        """Every setting in its JSON shape, in table order."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        out: dict[str, Any] = {}
        for name in SETTING_NAMES:
            value = values[name]
            if isinstance(value, BloodPressure):
                value = value._asdict()
            elif isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out


def _cross_checks(merged: Mapping[str, Any]) -> dict[str, list[str]]:
    """Bounds that tie two values: severe stays above elevated, critical escalates first."""
    errors: dict[str, list[str]] = {}
    severe, elevated = merged["bp_severe"], merged["bp_elevated"]
    if not (severe["systolic"] > elevated["systolic"]
            and severe["diastolic"] > elevated["diastolic"]):
        errors["bp_severe"] = ["Must be above bp_elevated in both systolic and diastolic."]
    minutes = merged["escalation_minutes"]
    if minutes["critical"] > minutes["urgent"]:
        errors["escalation_minutes"] = ["critical must not escalate later than urgent."]
    return errors


DEFAULT_RULESET = Ruleset()
