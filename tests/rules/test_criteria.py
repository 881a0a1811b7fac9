"""Intake criteria: adult, depression_moderate_to_severe, prior_treatment_failure."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.criteria import (
    adult,
    age_in_years,
    classify_trial,
    depression_moderate_to_severe,
    missing_inputs,
    parse_iso_date,
    prior_treatment_failure,
)
from rules.ruleset import DEFAULT_RULESET
from rules.types import Status

MET, NOT_MET, UNKNOWN = Status.MET, Status.NOT_MET, Status.UNKNOWN


def trial(**overrides: object) -> dict[str, object]:
    """An adequate failed trial unless overridden (``None`` removes the key)."""
    base: dict[str, object] = {
        "medication": "sertraline", "weeks": 8, "adequate_dose": "yes",
        "taken_as_prescribed": "yes", "response": "none",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def history(*trials: dict[str, object]) -> dict[str, object]:
    return {"treatment_history": {"antidepressant_trials": list(trials)}}


# --- adult -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("born", "received", "status", "age"),
    [
        pytest.param("2008-04-12", date(2026, 4, 11), NOT_MET, 17,
                     id="SPRAVATO PI adults: 17 the day before the 18th birthday"),
        pytest.param("2008-04-12", date(2026, 4, 12), MET, 18,
                     id="SPRAVATO PI adults: 18 on the day of the 18th birthday"),
        pytest.param("2008-02-29", date(2026, 2, 28), NOT_MET, 17,
                     id="completed years: born 29 Feb, not yet 18 on 28 Feb of a common year"),
        pytest.param("2008-02-29", date(2026, 3, 1), MET, 18,
                     id="completed years: born 29 Feb, 18 on 1 Mar of a common year"),
        pytest.param("2010-02-28", date(2028, 2, 29), MET, 18,
                     id="leap year 2028: born 28 Feb, 18 on 29 Feb"),
        pytest.param("2010-03-01", date(2028, 2, 29), NOT_MET, 17,
                     id="leap year 2028: born 1 Mar, still 17 on 29 Feb"),
        pytest.param("1990-04-12", date(2026, 11, 21), MET, 36, id="clinic criteria: adult"),
    ],
)
def test_adult_spravato_pi_adults_only_completed_years(
    born: str, received: date, status: Status, age: int
) -> None:
    result = adult({"date_of_birth": born}, received, DEFAULT_RULESET)
    assert (result.id, result.status, result.evidence) == ("adult", status, {"age_years": age})
    assert "SPRAVATO" in result.source


def eighteenth_birthday(born: date) -> date:
    """Independent oracle: the 18th birthday, 1 March when 29 February does not exist."""
    try:
        return born.replace(year=born.year + 18)
    except ValueError:
        return date(born.year + 18, 3, 1)


@given(born=st.dates(date(1900, 1, 1), date(2030, 12, 31)),
       received=st.dates(date(2000, 1, 1), date(2040, 12, 31)))
def test_adult_agrees_with_the_eighteenth_birthday_oracle(born: date, received: date) -> None:
    result = adult({"date_of_birth": born.isoformat()}, received, DEFAULT_RULESET)
    if born > received:
        assert result.status is UNKNOWN
    else:
        assert (result.status is MET) == (received >= eighteenth_birthday(born))


def test_adult_leap_day_birthday_reached_on_leap_day_itself() -> None:
    # Born 29 Feb 2008: the 20th birthday falls on a real 29 Feb in 2028.
    assert age_in_years({"date_of_birth": "2008-02-29"}, date(2028, 2, 28)) == 19
    assert age_in_years({"date_of_birth": "2008-02-29"}, date(2028, 2, 29)) == 20


@pytest.mark.parametrize(
    "respondent",
    [
        pytest.param({}, id="date_of_birth absent"),
        pytest.param({"date_of_birth": None}, id="date_of_birth null"),
        pytest.param({"date_of_birth": "12/04/1990"}, id="not ISO"),
        pytest.param({"date_of_birth": "19900412"}, id="ISO basic format refused"),
        pytest.param({"date_of_birth": "1990-02-30"}, id="no such day"),
        pytest.param({"date_of_birth": 19900412}, id="not a string"),
        pytest.param({"date_of_birth": "2026-11-22"}, id="after the day received"),
    ],
)
def test_adult_unknown_without_a_usable_birth_date(respondent: dict[str, object]) -> None:
    result = adult(respondent, date(2026, 11, 21), DEFAULT_RULESET)
    assert result.status is UNKNOWN
    assert result.evidence is None


def test_adult_born_on_the_day_received_is_age_zero() -> None:
    result = adult({"date_of_birth": "2026-11-21"}, date(2026, 11, 21), DEFAULT_RULESET)
    assert result.evidence == {"age_years": 0}


def test_parse_iso_date_accepts_a_date_but_not_a_datetime() -> None:
    assert parse_iso_date(date(1990, 4, 12)) == date(1990, 4, 12)
    assert parse_iso_date(datetime(1990, 4, 12)) is None


# --- depression_moderate_to_severe -------------------------------------------------------

def phq9(*items: int | None) -> dict[str, object]:
    return {"phq9": {f"q{n}": v for n, v in enumerate(items, 1) if v is not None}}


@pytest.mark.parametrize(
    ("answers", "status", "evidence"),
    [
        pytest.param(phq9(1, 1, 1, 1, 1, 1, 1, 1, 1), NOT_MET, {"phq9_total": 9},
                     id="Kroenke2001: 9 mild -> not met"),
        pytest.param(phq9(2, 1, 1, 1, 1, 1, 1, 1, 1), MET, {"phq9_total": 10},
                     id="Kroenke2001: 10 moderate -> met"),
        pytest.param(phq9(3, 3, 3, 3, 3, 3, 3, 3, 3), MET, {"phq9_total": 27},
                     id="Kroenke2001: 27 severe -> met"),
        pytest.param(phq9(3, 3, 3, 1, None, 0, 0, 0, 0), MET,
                     {"phq9_total": None, "phq9_total_min": 10, "phq9_total_max": 13},
                     id="incomplete, minimum 10 -> met"),
        pytest.param(phq9(1, 1, 0, 0, 0, 0, 0, 0, None), NOT_MET,
                     {"phq9_total": None, "phq9_total_min": 2, "phq9_total_max": 5},
                     id="incomplete, maximum 5 -> not met"),
        pytest.param(phq9(1, 1, 1, 1, 1, 1, 0, None, None), UNKNOWN,
                     {"phq9_total": None, "phq9_total_min": 6, "phq9_total_max": 12},
                     id="incomplete, 6..12 straddles the cut-off -> unknown"),
        pytest.param(phq9(1, 1, 1, 1, 1, 1, 1, 0, None), UNKNOWN,
                     {"phq9_total": None, "phq9_total_min": 7, "phq9_total_max": 10},
                     id="incomplete, 7..10 reaches 10 only if q9 is 3 -> unknown"),
        pytest.param(phq9(1, 1, 1, 1, 1, 1, 0, 0, None), NOT_MET,
                     {"phq9_total": None, "phq9_total_min": 6, "phq9_total_max": 9},
                     id="incomplete, maximum 9 -> not met"),
        pytest.param({}, UNKNOWN, {"phq9_total": None}, id="PHQ-9 absent -> unknown"),
    ],
)
def test_depression_kroenke_2001_cutoff_10(
    answers: dict[str, object], status: Status, evidence: dict[str, object]
) -> None:
    result = depression_moderate_to_severe(answers, DEFAULT_RULESET)
    assert (result.status, result.evidence) == (status, evidence)
    assert "Kroenke" in result.source


# --- prior_treatment_failure -------------------------------------------------------------

@pytest.mark.parametrize(
    ("overrides", "counted", "reason"),
    [
        pytest.param({}, "adequate_failure", "weeks 8 >= 6", id="TRD: 8 weeks adequate"),
        pytest.param({"weeks": 6}, "adequate_failure", "weeks 6 >= 6",
                     id="TRD adequate duration [S]: 6 weeks counts"),
        pytest.param({"weeks": 5}, "not_counted", "weeks 5 < 6",
                     id="TRD adequate duration [S]: 5 weeks does not"),
        pytest.param({"weeks": None}, "possible_failure", "weeks not given",
                     id="weeks absent is uncertain"),
        pytest.param({"adequate_dose": "unsure"}, "possible_failure", "dose unsure",
                     id="dose unsure is uncertain"),
        pytest.param({"adequate_dose": None}, "possible_failure", "dose not given",
                     id="dose absent is uncertain"),
        pytest.param({"adequate_dose": "no"}, "not_counted", "dose no", id="dose no"),
        pytest.param({"taken_as_prescribed": "unsure"}, "possible_failure", "adherence unsure",
                     id="adherence unsure is uncertain"),
        pytest.param({"taken_as_prescribed": None}, "possible_failure", "adherence not given",
                     id="adherence absent is uncertain"),
        pytest.param({"taken_as_prescribed": "no"}, "not_counted", "adherence no",
                     id="adherence no"),
        pytest.param({"response": "partial"}, "adequate_failure", "response partial",
                     id="partial response is a failure"),
        pytest.param({"response": "full"}, "not_counted", "response full",
                     id="full response is no failure"),
        pytest.param({"response": None}, "possible_failure", "response not given",
                     id="response absent is uncertain"),
    ],
)
def test_trial_adequacy_trd_working_definition(
    overrides: dict[str, object], counted: str, reason: str
) -> None:
    result, reasons = classify_trial(trial(**overrides), DEFAULT_RULESET)
    assert result == counted
    assert reason in reasons
    assert len(reasons) == 4


def test_stopped_for_side_effects_is_intolerance_not_non_response() -> None:
    counted, reasons = classify_trial(trial(response="stopped_side_effects"), DEFAULT_RULESET)
    assert counted == "not_counted"
    assert "intolerance is not non-response" in reasons[3]


@pytest.mark.parametrize("field", ["adequate_dose", "taken_as_prescribed", "response"])
def test_an_unrecognised_answer_is_uncertain_never_no(field: str) -> None:
    counted, reasons = classify_trial(trial(**{field: "maybe"}), DEFAULT_RULESET)
    assert counted == "possible_failure"
    assert any(reason.endswith("unrecognised") for reason in reasons)


def test_no_for_one_condition_outweighs_unsure_for_another() -> None:
    counted, _ = classify_trial(trial(weeks=4, adequate_dose="unsure"), DEFAULT_RULESET)
    assert counted == "not_counted"


@pytest.mark.parametrize(
    ("answers", "status", "certain", "possible"),
    [
        pytest.param(history(trial(), trial(response="partial")), MET, 2, 0,
                     id="TRD: two adequate failed trials -> met"),
        pytest.param(history(trial(), trial(), trial(response="full")), MET, 2, 0,
                     id="TRD: a full response elsewhere does not undo two failures"),
        pytest.param(history(trial(), trial(adequate_dose="unsure")), UNKNOWN, 1, 1,
                     id="spec §6: one adequate + one unsure -> unknown"),
        pytest.param(history(trial(weeks=None), trial(response=None)), UNKNOWN, 0, 2,
                     id="two possible failures -> unknown"),
        pytest.param(history(trial(), trial(weeks=5)), NOT_MET, 1, 0,
                     id="TRD adequate duration: 5 weeks -> not met"),
        pytest.param(history(trial(), trial(response="stopped_side_effects")), NOT_MET, 1, 0,
                     id="intolerance is not non-response -> not met"),
        pytest.param(history(trial()), NOT_MET, 1, 0, id="one trial -> not met"),
        pytest.param(history(), NOT_MET, 0, 0, id="no trials -> not met"),
    ],
)
def test_prior_treatment_failure_two_adequate_trials_nice_ta854(
    answers: dict[str, object], status: Status, certain: int, possible: int
) -> None:
    result = prior_treatment_failure(answers, DEFAULT_RULESET)
    assert result.status is status
    assert result.evidence is not None
    assert result.evidence["adequate_failed_trials"] == certain
    assert result.evidence["possibly_adequate_failed_trials"] == possible
    assert "NICE TA854" in result.source


@pytest.mark.parametrize(
    "answers",
    [pytest.param({}, id="treatment_history absent"),
     pytest.param({"treatment_history": {}}, id="antidepressant_trials absent")],
)
def test_prior_treatment_failure_unknown_without_history(answers: dict[str, object]) -> None:
    result = prior_treatment_failure(answers, DEFAULT_RULESET)
    assert (result.status, result.evidence) == (UNKNOWN, None)


def test_trial_evidence_lists_each_trial_without_the_medication_name() -> None:
    result = prior_treatment_failure(
        history(trial(), trial(weeks=5, medication="bupropion")), DEFAULT_RULESET)
    assert result.evidence is not None
    assert result.evidence["trials"] == [
        {"index": 0, "counted": "adequate_failure",
         "reasons": ["weeks 8 >= 6", "dose yes", "adherence yes", "response none"]},
        {"index": 1, "counted": "not_counted",
         "reasons": ["weeks 5 < 6", "dose yes", "adherence yes", "response none"]},
    ]
    assert "sertraline" not in repr(result) and "bupropion" not in repr(result)


# --- missing inputs ----------------------------------------------------------------------

def test_missing_inputs_name_every_absent_input_a_criterion_needs() -> None:
    answers = {
        "phq9": {"q1": 1, "q2": 1, "q3": 1, "q4": 1, "q5": 1, "q6": 1, "q7": 1, "q8": 1},
        **history(trial(), trial(weeks=None, response=None)),
    }
    assert missing_inputs({}, answers) == (
        "respondent.date_of_birth",
        "phq9.q9",
        "treatment_history.antidepressant_trials[1].weeks",
        "treatment_history.antidepressant_trials[1].response",
    )


def test_missing_inputs_when_sections_are_absent() -> None:
    missing = missing_inputs({"date_of_birth": "1990-04-12"}, {})
    assert missing == (*(f"phq9.q{n}" for n in range(1, 10)),
                       "treatment_history.antidepressant_trials")


def test_missing_inputs_empty_for_a_complete_submission() -> None:
    answers = {"phq9": {f"q{n}": 0 for n in range(1, 10)}, **history(trial())}
    assert missing_inputs({"date_of_birth": "1990-04-12"}, answers) == ()
