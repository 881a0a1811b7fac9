"""Clinic rulesets (shared spec §10): the defaults table, every setting's bounds, and each
threshold applied at its boundary under the source the default rests on."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules import DEFAULT_RULESET, SETTINGS, Priority, Ruleset, SettingsError, evaluate
from rules.contraindications import age_flags, blood_pressure_flags
from rules.criteria import (
    adult_from_age,
    depression_moderate_to_severe,
    prior_treatment_failure,
)
from rules.ruleset import BloodPressure
from rules.types import Status
from tests.spec_example import spec_example_body

RECEIVED = date(2026, 11, 21)


def test_the_defaults_table_is_the_default_ruleset() -> None:
    assert {s.name: s.default for s in SETTINGS} == DEFAULT_RULESET.settings()
    assert Ruleset.from_settings({}) == DEFAULT_RULESET
    assert all(s.source and s.bounds for s in SETTINGS)


def test_round_trip_of_a_full_settings_map() -> None:
    custom = Ruleset.from_settings({"phq9_threshold": 15, "required_sections": ["gad7"]})
    assert Ruleset.from_settings(custom.settings()) == custom


@pytest.mark.parametrize(("name", "low", "high"), [
    ("min_age_years", 18, 99),
    ("phq9_threshold", 5, 20),
    ("min_failed_trials", 1, 5),
    ("min_trial_weeks", 4, 16),
    ("older_adult_age", 55, 90),
])
def test_whole_number_settings_accept_their_bounds_and_refuse_beyond(
        name: str, low: int, high: int) -> None:
    assert Ruleset.from_settings({name: low}).settings()[name] == low
    assert Ruleset.from_settings({name: high}).settings()[name] == high
    for bad in (low - 1, high + 1, True, 10.0, "10", None):
        with pytest.raises(SettingsError) as raised:
            Ruleset.from_settings({name: bad})
        assert list(raised.value.errors) == [name]


@pytest.mark.parametrize(("name", "part", "low", "high", "fixed"), [
    ("bp_elevated", "systolic", 120, 179, {"diastolic": 90}),
    ("bp_elevated", "diastolic", 70, 99, {"systolic": 140}),
    ("bp_severe", "systolic", 160, 200, {"diastolic": 100}),
    ("bp_severe", "diastolic", 91, 120, {"systolic": 180}),
    ("escalation_minutes", "critical", 1, 60, {"urgent": 60}),
    ("escalation_minutes", "urgent", 10, 1440, {"critical": 10}),
])
def test_paired_settings_accept_their_bounds(
        name: str, part: str, low: int, high: int, fixed: dict[str, int]) -> None:
    for value in (low, high):
        assert Ruleset.from_settings({name: {part: value, **fixed}}).settings()[name][part] == value


@pytest.mark.parametrize(("name", "value"), [
    ("bp_elevated", {"systolic": 119, "diastolic": 90}),
    ("bp_elevated", {"systolic": 181, "diastolic": 90}),
    ("bp_elevated", {"systolic": 140, "diastolic": 69}),
    ("bp_elevated", {"systolic": 140, "diastolic": 111}),
    ("bp_elevated", {"systolic": 140, "diastolic": 90, "pulse": 60}),
    ("bp_elevated", [140, 90]),
    ("bp_severe", {"systolic": 159, "diastolic": 100}),
    ("bp_severe", {"systolic": 201, "diastolic": 100}),
    ("bp_severe", {"systolic": 180, "diastolic": 89}),
    ("bp_severe", {"systolic": 180, "diastolic": 121}),
    ("escalation_minutes", {"critical": 0}),
    ("escalation_minutes", {"urgent": 1441}),
    ("escalation_minutes", {"critical": 10, "high": 5}),
    ("crisis_message", ""),
    ("crisis_message", "   "),
    ("crisis_message", "x" * 1001),
    ("crisis_message", 988),
    ("required_sections", ["phq9"]),
    ("required_sections", ["gad7", "gad7"]),
    ("required_sections", "gad7"),
    ("no_such_setting", 1),
])
def test_out_of_bounds_or_unknown_settings_name_the_setting(name: str, value: Any) -> None:
    with pytest.raises(SettingsError) as raised:
        Ruleset.from_settings({name: value})
    assert list(raised.value.errors) == [name]


def test_crisis_message_of_a_thousand_characters_and_every_optional_section_are_accepted(
        ) -> None:
    sections = ["gad7", "cssrs", "mdq", "pcl5", "audit_c", "dast10", "vitals"]
    ruleset = Ruleset.from_settings({"crisis_message": "x" * 1000, "required_sections": sections})
    assert ruleset.required_sections == tuple(sections)


@pytest.mark.parametrize("elevated", [
    {"systolic": 170, "diastolic": 90}, {"systolic": 140, "diastolic": 100},
])
def test_bp_severe_must_stay_above_bp_elevated(elevated: dict[str, int]) -> None:
    with pytest.raises(SettingsError) as raised:
        Ruleset.from_settings({"bp_elevated": elevated, "bp_severe": {"systolic": 170}})
    assert list(raised.value.errors) == ["bp_severe"]


def test_critical_escalates_no_later_than_urgent() -> None:
    with pytest.raises(SettingsError) as raised:
        Ruleset.from_settings({"escalation_minutes": {"critical": 61}})
    assert list(raised.value.errors) == ["escalation_minutes"]
    assert Ruleset.from_settings({"escalation_minutes": {"critical": 60}}).escalation_minutes[
        "critical"] == 60


def test_a_partial_object_setting_keeps_the_other_half() -> None:
    ruleset = DEFAULT_RULESET.with_changes({"bp_elevated": {"systolic": 130}})
    assert ruleset.bp_elevated == BloodPressure(130, 90)


# Each threshold at its boundary, named after the source its default rests on.

def test_spravato_pi_adult_age_follows_min_age_years_at_the_boundary() -> None:
    clinic = DEFAULT_RULESET.with_changes({"min_age_years": 21})
    assert adult_from_age(20, clinic).status is Status.NOT_MET
    assert adult_from_age(21, clinic).status is Status.MET
    assert adult_from_age(21, clinic).detail == "Aged 21 or over on the day received."


@pytest.mark.parametrize(("total", "status"), [(14, Status.NOT_MET), (15, Status.MET)])
def test_kroenke_2001_phq9_threshold_15_at_the_boundary(total: int, status: Status) -> None:
    items = {f"q{n}": 0 for n in range(1, 10)}
    items.update({"q1": 3, "q2": 3, "q3": 3, "q4": 3})
    items["q5"] = total - 12
    clinic = DEFAULT_RULESET.with_changes({"phq9_threshold": 15})
    result = depression_moderate_to_severe({"phq9": items}, clinic)
    assert result.status is status
    assert "15" in result.detail


def _trial(weeks: int) -> dict[str, Any]:
    return {"medication": "sertraline", "weeks": weeks, "adequate_dose": "yes",
            "taken_as_prescribed": "yes", "response": "none"}


def test_nice_ta854_trd_definition_three_trials_of_eight_weeks_at_the_boundary() -> None:
    clinic = DEFAULT_RULESET.with_changes({"min_failed_trials": 3, "min_trial_weeks": 8})
    two = {"treatment_history": {"antidepressant_trials": [_trial(8), _trial(8)]}}
    three = {"treatment_history": {"antidepressant_trials": [_trial(8)] * 3}}
    short = {"treatment_history": {"antidepressant_trials": [_trial(8), _trial(8), _trial(7)]}}
    assert prior_treatment_failure(two, clinic).status is Status.NOT_MET
    assert prior_treatment_failure(three, clinic).status is Status.MET
    assert prior_treatment_failure(short, clinic).status is Status.NOT_MET
    one = DEFAULT_RULESET.with_changes({"min_failed_trials": 1})
    assert prior_treatment_failure(
        {"treatment_history": {"antidepressant_trials": [_trial(6)]}}, one
    ).detail == "At least one adequate trial without full response."


def _vitals(systolic: int, diastolic: int) -> dict[str, Any]:
    return {"vitals": {"systolic_bp": systolic, "diastolic_bp": diastolic}}


def test_swiss_ketamine_pi_and_spravato_bp_thresholds_at_the_clinics_boundaries() -> None:
    clinic = DEFAULT_RULESET.with_changes(
        {"bp_elevated": {"systolic": 130, "diastolic": 80},
         "bp_severe": {"systolic": 160, "diastolic": 95}})
    assert blood_pressure_flags(_vitals(129, 79), clinic) == ()
    assert [f.id for f in blood_pressure_flags(_vitals(130, 79), clinic)] == [
        "blood_pressure_elevated"]
    assert [f.id for f in blood_pressure_flags(_vitals(120, 80), clinic)] == [
        "blood_pressure_elevated"]
    assert [f.id for f in blood_pressure_flags(_vitals(160, 95), clinic)] == [
        "blood_pressure_elevated"]
    (severe,) = blood_pressure_flags(_vitals(161, 95), clinic)
    assert severe.id == "blood_pressure_severe" and "160/95" in severe.detail
    assert [f.id for f in blood_pressure_flags(_vitals(150, 96), clinic)] == [
        "blood_pressure_severe"]


def test_spravato_pi_older_adult_age_60_at_the_boundary() -> None:
    clinic = DEFAULT_RULESET.with_changes({"older_adult_age": 60})
    assert age_flags(59, clinic) == ()
    (flag,) = age_flags(60, clinic)
    assert flag.detail.startswith("Aged 60 or over")


def test_the_clinics_crisis_message_and_code_version_reach_the_evaluation() -> None:
    body = spec_example_body()
    body["answers"]["phq9"]["q9"] = 1
    clinic = DEFAULT_RULESET.with_changes({"crisis_message": "Llame al 988."})
    result = evaluate(body["respondent"], body["answers"], RECEIVED, clinic)
    assert result.safety.message == "Llame al 988."
    assert result.ruleset_version == DEFAULT_RULESET.ruleset_version


# Any in-bounds ruleset: never a lower priority than the safety routing demands.

_BP = st.tuples(st.integers(120, 180), st.integers(70, 110), st.integers(160, 200),
                st.integers(90, 120)).filter(lambda t: t[2] > t[0] and t[3] > t[1])


@st.composite
def in_bounds_rulesets(draw: st.DrawFn) -> Ruleset:
    elevated_s, elevated_d, severe_s, severe_d = draw(_BP)
    critical = draw(st.integers(1, 1440))
    return Ruleset.from_settings({
        "min_age_years": draw(st.integers(18, 99)),
        "phq9_threshold": draw(st.integers(5, 20)),
        "min_failed_trials": draw(st.integers(1, 5)),
        "min_trial_weeks": draw(st.integers(4, 16)),
        "bp_elevated": {"systolic": elevated_s, "diastolic": elevated_d},
        "bp_severe": {"systolic": severe_s, "diastolic": severe_d},
        "older_adult_age": draw(st.integers(55, 90)),
        "escalation_minutes": {"critical": critical,
                               "urgent": draw(st.integers(critical, 1440))},
    })


_YES_NO = st.sampled_from(["yes", "no"])


@st.composite
def risky_answers(draw: st.DrawFn) -> dict[str, Any]:
    answers = spec_example_body()["answers"]
    answers["phq9"]["q9"] = draw(st.integers(0, 3))
    answers["asq"] = {f"q{n}": draw(_YES_NO) for n in range(1, 5)}
    if "yes" in answers["asq"].values():
        answers["asq"]["q5"] = draw(_YES_NO)
    answers["cssrs"] = {f"q{n}": draw(_YES_NO) for n in range(1, 7)}
    answers["vitals"] = {"systolic_bp": draw(st.integers(80, 240)),
                         "diastolic_bp": draw(st.integers(40, 140))}
    return answers


def _demanded(result: Any) -> Priority:
    """What the §6 routing demands from the suicide-risk flags and the default BP rule."""
    ids = {f.id for f in result.flags}
    if "suicide_risk_acute" in ids:
        return Priority.CRITICAL
    if "suicide_risk" in ids:
        return Priority.URGENT
    return Priority.ROUTINE


@settings(max_examples=300, deadline=None)
@given(ruleset=in_bounds_rulesets(), answers=risky_answers())
def test_no_in_bounds_ruleset_lowers_suicide_risk_routing(
        ruleset: Ruleset, answers: dict[str, Any]) -> None:
    respondent = spec_example_body()["respondent"]
    default = evaluate(respondent, answers, RECEIVED)
    clinic = evaluate(respondent, answers, RECEIVED, ruleset)
    suicide = {"suicide_risk", "suicide_risk_acute"}
    assert [f for f in clinic.flags if f.id in suicide] == [
        f for f in default.flags if f.id in suicide]
    assert clinic.routing.priority.rank <= _demanded(default).rank
    assert clinic.safety == default.safety or clinic.safety.message == ruleset.crisis_message
    vitals = answers["vitals"]
    if (vitals["systolic_bp"] > ruleset.bp_severe.systolic
            or vitals["diastolic_bp"] > ruleset.bp_severe.diastolic):
        assert clinic.routing.priority.rank <= Priority.URGENT.rank
