"""``rules.evaluate``: the whole evaluation of one submission (spec §6)."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import date
from typing import Any

import pytest

from rules import (
    DEFAULT_CRISIS_MESSAGE,
    RULESET_VERSION,
    Evaluation,
    Priority,
    Ruleset,
    Status,
    evaluate,
)
from tests.spec_example import spec_example_body

RECEIVED = date(2026, 11, 21)


def spec_example() -> tuple[dict[str, Any], dict[str, Any]]:
    """The submission of spec §4, as validated native JSON."""
    body = spec_example_body()
    return body["respondent"], body["answers"]


def full_submission() -> tuple[dict[str, Any], dict[str, Any]]:
    """Every section answered, with signals in each part of the rules."""
    respondent, answers = spec_example()
    respondent["date_of_birth"] = "1960-01-01"
    respondent["sex_at_birth"] = "male"
    answers["phq9"]["q9"] = 1
    answers["asq"] = {"q1": "yes", "q2": "no", "q3": "no", "q4": "no", "q5": "no"}
    answers["cssrs"] = {"q1": "yes", "q2": "no", "q6": "no"}
    answers["mdq"] = {"q1": ["yes"] * 8 + ["no"] * 5, "q2": "yes", "q3": "serious"}
    answers["pcl5"] = {f"q{n}": 2 for n in range(1, 21)}
    answers["audit_c"] = {"q1": 2, "q2": 1, "q3": 1}
    answers["dast10"] = {**{f"q{n}": "no" for n in range(1, 11)},
                         "q1": "yes", "q2": "yes", "q3": "no"}
    answers["medical_history"]["aneurysm_or_avm"] = "yes"
    answers["medications"]["lamotrigine"] = "unsure"
    answers["reproductive"] = {"pregnant": "no", "breastfeeding": "unsure"}
    answers["vitals"] = {"systolic_bp": 150, "diastolic_bp": 85}
    answers["treatment_history"]["antidepressant_trials"].append(
        {"medication": "venlafaxine", "weeks": 4, "adequate_dose": "unsure",
         "taken_as_prescribed": "yes", "response": "stopped_side_effects"})
    return respondent, answers


def test_spec_example_evaluates_as_the_contract_shows() -> None:
    result = evaluate(*spec_example(), RECEIVED)
    assert result.to_dict() == {
        "ruleset_version": "2026.11.0",
        "scores": {
            "phq9": {"total": 14, "severity": "moderate", "item9": 0, "complete": True,
                     "difficulty": 2},
            "gad7": {"total": 9, "severity": "mild", "complete": True},
            "asq": {"result": "negative"},
        },
        "criteria": [c.to_dict() for c in result.criteria],
        "flags": [f.to_dict() for f in result.flags],
        "routing": {"priority": "high", "reasons": ["flag:uncontrolled_hypertension"]},
        "safety": {"show_crisis_resources": False, "message": None},
        "missing": [],
    }
    assert [(c.id, c.status) for c in result.criteria] == [
        ("adult", Status.MET), ("depression_moderate_to_severe", Status.MET),
        ("prior_treatment_failure", Status.MET),
    ]
    assert [(f.id, f.answer) for f in result.flags] == [("uncontrolled_hypertension", "unsure")]


def test_full_submission_scores_in_fixed_order_and_flags_in_group_order() -> None:
    result = evaluate(*full_submission(), RECEIVED)
    assert [name for name, _ in result.scores] == [
        "phq9", "gad7", "asq", "cssrs", "mdq", "pcl5", "audit_c", "dast10"]
    assert [f.id for f in result.flags] == [
        "suicide_risk", "blood_pressure_elevated", "aneurysm_or_avm",
        "uncontrolled_hypertension", "lamotrigine",
        "breastfeeding", "older_adult", "bipolar_screen_positive", "ptsd_screen_positive",
        "alcohol_screen_positive", "drug_screen_positive",
    ]
    assert result.routing.priority is Priority.URGENT
    assert result.routing.reasons == (
        "flag:suicide_risk", "flag:aneurysm_or_avm", "flag:uncontrolled_hypertension",
        "flag:breastfeeding")
    assert result.safety.show_crisis_resources is True
    assert result.score("audit_c").threshold == 4  # male cut-off, from respondent.sex_at_birth


def test_only_submitted_sections_are_scored() -> None:
    respondent, answers = spec_example()
    del answers["gad7"]
    result = evaluate(respondent, answers, RECEIVED)
    assert [name for name, _ in result.scores] == ["phq9", "asq"]
    assert result.score("gad7") is None


def test_crisis_message_default_and_clinic_text() -> None:
    respondent, answers = spec_example()
    answers["asq"] = {"q1": "yes", "q2": "no", "q3": "no", "q4": "no", "q5": "yes"}
    default = evaluate(respondent, answers, RECEIVED)
    clinic = evaluate(respondent, answers, RECEIVED, Ruleset(crisis_message="Call us."))
    assert default.routing.priority is Priority.CRITICAL
    assert default.safety.message == DEFAULT_CRISIS_MESSAGE
    assert clinic.safety.message == "Call us."


def test_missing_names_absent_inputs_and_criteria_stay_unknown() -> None:
    result = evaluate({}, {}, RECEIVED)
    assert [c.status for c in result.criteria] == [Status.UNKNOWN] * 3
    assert result.missing == (
        "respondent.date_of_birth", *(f"phq9.q{n}" for n in range(1, 10)),
        "treatment_history.antidepressant_trials")
    assert result.routing == evaluate({}, {}, RECEIVED).routing
    assert result.routing.priority is Priority.ROUTINE
    assert result.routing.reasons == (
        "criterion:adult:unknown", "criterion:depression_moderate_to_severe:unknown",
        "criterion:prior_treatment_failure:unknown")
    assert result.flags == () and result.scores == ()
    adult = result.to_dict()["criteria"][0]
    assert "evidence" not in adult  # no age to show, rather than a misleading one


def test_json_round_trip() -> None:
    result = evaluate(*full_submission(), RECEIVED)
    text = json.dumps(result.to_dict())
    assert json.loads(text) == result.to_dict()
    assert json.loads(text)["ruleset_version"] == RULESET_VERSION


def test_deterministic() -> None:
    first = evaluate(*full_submission(), RECEIVED)
    second = evaluate(*full_submission(), RECEIVED)
    assert first == second
    assert json.dumps(first.to_dict()) == json.dumps(second.to_dict())


def test_inputs_are_not_mutated() -> None:
    respondent, answers = full_submission()
    before = copy.deepcopy((respondent, answers))
    evaluate(respondent, answers, RECEIVED)
    assert (respondent, answers) == before


def test_evaluation_is_immutable() -> None:
    result = evaluate(*spec_example(), RECEIVED)
    assert isinstance(result, Evaluation)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.routing = result.routing  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.flags[0].id = "other"  # type: ignore[misc]
    assert isinstance(result.flags, tuple) and isinstance(result.criteria, tuple)


def test_no_patient_identifiers_in_the_evaluation() -> None:
    text = json.dumps(evaluate(*spec_example(), RECEIVED).to_dict())
    for value in ("Ada", "Byron", "1990-04-12", "ada@example.org", "sertraline", "bupropion"):
        assert value not in text
