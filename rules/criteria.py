"""Intake criteria from the clinics' own materials (shared spec §6, clinical.md §1.6, §2).

Each criterion is tri-state: ``met``, ``not_met`` or ``unknown`` when the answers cannot
settle it. Absent answers and ``unsure`` are never read as ``no``. None of these decides
eligibility; a clinician reviews every submission.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from rules.instruments import phq9
from rules.types import Criterion, Status

ADULT_AGE = 18
PHQ9_MODERATE_TOTAL = 10
ADEQUATE_TRIAL_WEEKS = 6
FAILED_TRIALS_NEEDED = 2

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

_FAILED_RESPONSES = frozenset({"none", "partial"})
_TRIAL_FIELDS = ("weeks", "adequate_dose", "taken_as_prescribed", "response")
_TRIALS_PATH = "treatment_history.antidepressant_trials"
_PHQ9_ITEMS = tuple(f"q{n}" for n in range(1, 10))


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


def adult(respondent: Mapping[str, Any], received_on: date) -> Criterion:
    """Age 18 or over on the day the submission was received."""
    age = age_in_years(respondent, received_on)
    if age is None:
        return Criterion(
            "adult", Status.UNKNOWN,
            "Age unknown: date of birth absent, unreadable or after the date received.",
            ADULT_SOURCE,
        )
    if age >= ADULT_AGE:
        status, detail = Status.MET, "Aged 18 or over on the day received."
    else:
        status, detail = Status.NOT_MET, "Under 18 on the day received."
    return Criterion("adult", status, detail, ADULT_SOURCE, {"age_years": age})


def depression_moderate_to_severe(answers: Mapping[str, Any]) -> Criterion:
    """PHQ-9 total of 10 or more; on an incomplete form, decided only when every possible
    completion agrees."""
    section = answers.get("phq9")
    if section is None:
        return Criterion(
            "depression_moderate_to_severe", Status.UNKNOWN, "PHQ-9 not answered.",
            DEPRESSION_SOURCE, {"phq9_total": None},
        )
    low, high = phq9.total_bounds(section)
    evidence: dict[str, Any] = {"phq9_total": low if low == high else None}
    if low != high:
        evidence["phq9_total_min"] = low
        evidence["phq9_total_max"] = high
    if low >= PHQ9_MODERATE_TOTAL:
        status, detail = Status.MET, "PHQ-9 total is 10 or more (moderate or worse)."
    elif high < PHQ9_MODERATE_TOTAL:
        status, detail = Status.NOT_MET, "PHQ-9 total is below 10."
    else:
        status = Status.UNKNOWN
        detail = "PHQ-9 incomplete: the unanswered items could put the total either side of 10."
    return Criterion("depression_moderate_to_severe", status, detail, DEPRESSION_SOURCE, evidence)


def _weeks_reason(weeks: Any) -> tuple[bool | None, str]:
    if weeks is None:
        return None, "weeks not given"
    if weeks >= ADEQUATE_TRIAL_WEEKS:
        return True, f"weeks {weeks} >= 6"
    return False, f"weeks {weeks} < 6"


def _yes_reason(value: Any, label: str) -> tuple[bool | None, str]:
    if value == "yes":
        return True, f"{label} yes"
    if value is None:
        return None, f"{label} not given"
    if value == "no":
        return False, f"{label} no"
    return None, f"{label} unsure"


def _response_reason(response: Any) -> tuple[bool | None, str]:
    if response in _FAILED_RESPONSES:
        return True, f"response {response}"
    if response is None:
        return None, "response not given"
    if response == "stopped_side_effects":
        return False, (
            "response stopped_side_effects: intolerance is not non-response under this "
            "definition"
        )
    return False, f"response {response}"


def classify_trial(trial: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``adequate_failure``, ``possible_failure`` or ``not_counted`` with one reason per
    condition (duration, dose, adherence, response)."""
    checks = (
        _weeks_reason(trial.get("weeks")),
        _yes_reason(trial.get("adequate_dose"), "dose"),
        _yes_reason(trial.get("taken_as_prescribed"), "adherence"),
        _response_reason(trial.get("response")),
    )
    outcomes = [ok for ok, _ in checks]
    reasons = [reason for _, reason in checks]
    if False in outcomes:
        return "not_counted", reasons
    if None in outcomes:
        return "possible_failure", reasons
    return "adequate_failure", reasons


def prior_treatment_failure(answers: Mapping[str, Any]) -> Criterion:
    """At least two adequate antidepressant trials (>= 6 weeks, adequate dose, taken as
    prescribed) with response ``none`` or ``partial``.

    ``unknown`` when fewer than two are certainly adequate failures but enough would be if
    the uncertain (``unsure`` or absent) answers were favourable.
    """
    trials = (answers.get("treatment_history") or {}).get("antidepressant_trials")
    if trials is None:
        return Criterion(
            "prior_treatment_failure", Status.UNKNOWN, "Treatment history not given.",
            TREATMENT_FAILURE_SOURCE,
        )
    counts = {"adequate_failure": 0, "possible_failure": 0, "not_counted": 0}
    per_trial = []
    for index, trial in enumerate(trials):
        counted, reasons = classify_trial(trial)
        counts[counted] += 1
        per_trial.append({"index": index, "counted": counted, "reasons": reasons})
    certain, possible = counts["adequate_failure"], counts["possible_failure"]
    if certain >= FAILED_TRIALS_NEEDED:
        status, detail = Status.MET, "At least two adequate trials without full response."
    elif certain + possible >= FAILED_TRIALS_NEEDED:
        status = Status.UNKNOWN
        detail = (
            "Fewer than two certainly adequate failed trials; unsure or missing answers decide."
        )
    else:
        status, detail = Status.NOT_MET, "Fewer than two adequate trials without full response."
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
    missing.extend(f"phq9.{item}" for item in _PHQ9_ITEMS if section.get(item) is None)
    trials = (answers.get("treatment_history") or {}).get("antidepressant_trials")
    if trials is None:
        missing.append(_TRIALS_PATH)
        return tuple(missing)
    for index, trial in enumerate(trials):
        missing.extend(
            f"{_TRIALS_PATH}[{index}].{name}" for name in _TRIAL_FIELDS if trial.get(name) is None
        )
    return tuple(missing)
