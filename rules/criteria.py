"""Intake criteria from the clinics' own materials (shared spec §6, clinical.md §1.6, §2).

Each criterion is tri-state: ``met``, ``not_met`` or ``unknown`` when the answers cannot
settle it. Absent answers and ``unsure`` are never read as ``no``. None of these decides
eligibility; a clinician reviews every submission.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from rules.instruments import phq9
from rules.types import Criterion, Status

if TYPE_CHECKING:
    from rules.ruleset import Ruleset

ADULT_SOURCE = (
    "SPRAVATO (esketamine) US prescribing information: indicated for adults only, not "
    "approved under 18 years; clinic criteria pages (Toronto Ketamine Clinic, CRTCE, "
    "Mindspace): age 18 or over"
)
DEPRESSION_SOURCE = (
    "Kroenke, Spitzer & Williams 2001 (PHQ-9): total 10-14 moderate, 15-19 moderately "
    "severe, 20-27 severe; clinics' intake criterion PHQ-9 >= 10"
)
TREATMENT_FAILURE_SOURCE = (
    "Common TRD working definition: non-response to >= 2 antidepressants of adequate dose "
    "and duration in the current episode (NICE TA854 population wording); adequate "
    "duration >= 6 weeks at a therapeutic dose [secondary source]"
)

_TRIAL_FIELDS = ("weeks", "adequate_dose", "taken_as_prescribed", "response")
_TRIALS_PATH = "treatment_history.antidepressant_trials"
# Enum member lookups cost ~100 ns each on CPython 3.11; bound once for the hot path.
_MET, _NOT_MET, _UNKNOWN = Status.MET, Status.NOT_MET, Status.UNKNOWN
_PHQ9_PATHS = tuple((f"q{n}", f"phq9.q{n}") for n in range(1, 10))
# A threshold at the lower edge of a PHQ-9 severity band names the band it admits.
_PHQ9_BAND_FROM = MappingProxyType({
    5: " (mild or worse)", 10: " (moderate or worse)", 15: " (moderately severe or worse)",
    20: " (severe)",
})


def parse_iso_date(value: Any) -> date | None:
    """A calendar date from a strict ``YYYY-MM-DD`` string (or a date); None otherwise."""
    if type(value) is date:  # a datetime is a date subclass but not a birth date
        return value
    if not isinstance(value, str) or len(value) != 10 or value[4] != "-" or value[7] != "-":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def age_in_years(respondent: Mapping[str, Any], on: date) -> int | None:
    """Completed years of age on ``on``; None when the birth date is absent, unparseable
    or after ``on``.

    Completed-years arithmetic: a birthday counts as reached once the (month, day) of
    ``on`` is not before the birth (month, day). A person born on 29 February therefore
    reaches a new year of age on 1 March in non-leap years (28 February is still before
    29 February), which is how many jurisdictions count it as well.
    """
    born = parse_iso_date(respondent.get("date_of_birth"))
    if born is None or born > on:
        return None
    years = on.year - born.year
    if (on.month, on.day) < (born.month, born.day):
        years -= 1
    return years


_ADULT_UNKNOWN = Criterion(
    "adult", _UNKNOWN,
    "Age unknown: date of birth absent, unreadable or after the date received.", ADULT_SOURCE,
)


def adult(respondent: Mapping[str, Any], received_on: date, ruleset: Ruleset) -> Criterion:
    """Age ``min_age_years`` (18) or over on the day the submission was received."""
    return adult_from_age(age_in_years(respondent, received_on), ruleset)


def adult_from_age(age: int | None, ruleset: Ruleset) -> Criterion:
    """The ``adult`` criterion from an age already computed by ``age_in_years``."""
    if age is None:
        return _ADULT_UNKNOWN
    minimum = ruleset.min_age_years
    if age >= minimum:
        status, detail = _MET, f"Aged {minimum} or over on the day received."
    else:
        status, detail = _NOT_MET, f"Under {minimum} on the day received."
    return Criterion("adult", status, detail, ADULT_SOURCE, {"age_years": age})


def depression_moderate_to_severe(answers: Mapping[str, Any], ruleset: Ruleset) -> Criterion:
    """PHQ-9 total of ``phq9_threshold`` (10) or more; on an incomplete form, decided only
    when every possible completion agrees."""
    section = answers.get("phq9")
    if section is None:
        return Criterion(
            "depression_moderate_to_severe", _UNKNOWN, "PHQ-9 not answered.",
            DEPRESSION_SOURCE, {"phq9_total": None},
        )
    low, high = phq9.total_bounds(section)
    evidence: dict[str, Any] = {"phq9_total": low if low == high else None}
    if low != high:
        evidence["phq9_total_min"] = low
        evidence["phq9_total_max"] = high
    threshold = ruleset.phq9_threshold
    if low >= threshold:
        status = _MET
        detail = f"PHQ-9 total is {threshold} or more{_PHQ9_BAND_FROM.get(threshold, '')}."
    elif high < threshold:
        status, detail = _NOT_MET, f"PHQ-9 total is below {threshold}."
    else:
        status = _UNKNOWN
        detail = (
            "PHQ-9 incomplete: the unanswered items could put the total either side of "
            f"{threshold}."
        )
    return Criterion("depression_moderate_to_severe", status, detail, DEPRESSION_SOURCE, evidence)


# Each trial condition maps an answer to (holds?, reason): True certainly holds, False
# certainly fails, None uncertain. Anything unrecognised is uncertain, never a "no".
_Check = tuple[bool | None, str]
_DOSE: Mapping[Any, _Check] = MappingProxyType({
    "yes": (True, "dose yes"), "no": (False, "dose no"),
    "unsure": (None, "dose unsure"), None: (None, "dose not given"),
})
_ADHERENCE: Mapping[Any, _Check] = MappingProxyType({
    "yes": (True, "adherence yes"), "no": (False, "adherence no"),
    "unsure": (None, "adherence unsure"), None: (None, "adherence not given"),
})
_RESPONSE: Mapping[Any, _Check] = MappingProxyType({
    "none": (True, "response none"),
    "partial": (True, "response partial"),
    "full": (False, "response full"),
    "stopped_side_effects": (
        False,
        "response stopped_side_effects: intolerance is not non-response under this definition",
    ),
    None: (None, "response not given"),
})


_COUNT_WORDS = MappingProxyType({1: "one", 2: "two", 3: "three", 4: "four", 5: "five"})


def _weeks_check(weeks: Any, minimum: int) -> _Check:
    if weeks is None:
        return None, "weeks not given"
    if weeks >= minimum:
        return True, f"weeks {weeks} >= {minimum}"
    return False, f"weeks {weeks} < {minimum}"


def classify_trial(trial: Mapping[str, Any], ruleset: Ruleset) -> tuple[str, list[str]]:
    """``adequate_failure``, ``possible_failure`` or ``not_counted`` with one reason per
    condition (duration of at least ``min_trial_weeks``, dose, adherence, response)."""
    weeks_ok, weeks = _weeks_check(trial.get("weeks"), ruleset.min_trial_weeks)
    dose_ok, dose = _DOSE.get(trial.get("adequate_dose"), (None, "dose unrecognised"))
    adherence_ok, adherence = _ADHERENCE.get(
        trial.get("taken_as_prescribed"), (None, "adherence unrecognised")
    )
    response_ok, response = _RESPONSE.get(trial.get("response"), (None, "response unrecognised"))
    reasons = [weeks, dose, adherence, response]
    outcomes = (weeks_ok, dose_ok, adherence_ok, response_ok)
    if False in outcomes:
        return "not_counted", reasons
    if None in outcomes:
        return "possible_failure", reasons
    return "adequate_failure", reasons


def prior_treatment_failure(answers: Mapping[str, Any], ruleset: Ruleset) -> Criterion:
    """At least ``min_failed_trials`` (2) adequate antidepressant trials (at least
    ``min_trial_weeks`` (6) weeks, adequate dose, taken as prescribed) with response
    ``none`` or ``partial``.

    ``unknown`` when fewer than that many are certainly adequate failures but enough would be if
    the uncertain (``unsure`` or absent) answers were favourable.
    """
    trials = (answers.get("treatment_history") or {}).get("antidepressant_trials")
    if trials is None:
        return Criterion(
            "prior_treatment_failure", _UNKNOWN, "Treatment history not given.",
            TREATMENT_FAILURE_SOURCE,
        )
    certain = possible = 0
    per_trial = []
    for index, trial in enumerate(trials):
        counted, reasons = classify_trial(trial, ruleset)
        if counted == "adequate_failure":
            certain += 1
        elif counted == "possible_failure":
            possible += 1
        per_trial.append({"index": index, "counted": counted, "reasons": reasons})
    needed = ruleset.min_failed_trials
    count, plural = _COUNT_WORDS[needed], "s" if needed != 1 else ""
    if certain >= needed:
        status = _MET
        detail = f"At least {count} adequate trial{plural} without full response."
    elif certain + possible >= needed:
        status = _UNKNOWN
        detail = (
            f"Fewer than {count} certainly adequate failed trial{plural}; unsure or missing "
            "answers decide."
        )
    else:
        status = _NOT_MET
        detail = f"Fewer than {count} adequate trial{plural} without full response."
    evidence = {
        "adequate_failed_trials": certain,
        "possibly_adequate_failed_trials": possible,
        "trials": per_trial,
    }
    return Criterion("prior_treatment_failure", status, detail, TREATMENT_FAILURE_SOURCE, evidence)


def missing_inputs(respondent: Mapping[str, Any], answers: Mapping[str, Any]) -> tuple[str, ...]:
    """Paths of inputs a criterion needs that were not given, in criterion order."""
    missing: list[str] = []
    if respondent.get("date_of_birth") is None:
        missing.append("respondent.date_of_birth")
    section = answers.get("phq9") or {}
    for item, path in _PHQ9_PATHS:
        if section.get(item) is None:
            missing.append(path)
    trials = (answers.get("treatment_history") or {}).get("antidepressant_trials")
    if trials is None:
        missing.append(_TRIALS_PATH)
        return tuple(missing)
    for index, trial in enumerate(trials):
        for name in _TRIAL_FIELDS:
            if trial.get(name) is None:
                missing.append(f"{_TRIALS_PATH}[{index}].{name}")
    return tuple(missing)
