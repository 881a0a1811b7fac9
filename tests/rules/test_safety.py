"""Suicide-risk flags: NIMH ASQ pathway, PHQ-9 item 9, Columbia (C-SSRS) triage."""

from __future__ import annotations

from typing import Any

import pytest

from rules.safety import suicide_flags
from rules.types import FlagKind

ASQ_NO = {"q1": "no", "q2": "no", "q3": "no", "q4": "no"}


def the_flag(answers: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    flags = suicide_flags(answers)
    assert len(flags) == 1, "at most one suicide-risk flag, acute wins"
    flag = flags[0]
    assert flag.kind is FlagKind.SAFETY
    assert "NIMH" in flag.source and "Columbia" in flag.source and "Kroenke" in flag.source
    return flag.id, flag.answer, flag.detail


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param({}, id="nothing answered"),
        pytest.param({"phq9": {"q9": 0}, "asq": ASQ_NO}, id="ASQ negative, PHQ-9 item 9 = 0"),
        pytest.param({"phq9": {"q1": 3}, "asq": {**ASQ_NO, "q5": "no"}},
                     id="PHQ-9 item 9 absent is not a signal"),
        pytest.param({"cssrs": {f"q{n}": "no" for n in range(1, 7)}}, id="C-SSRS all no"),
        pytest.param({"cssrs": {"q6": "no", "q6_recent": "yes"}},
                     id="C-SSRS q6_recent without q6 behaviour"),
    ],
)
def test_no_flag_without_an_endorsed_item(answers: dict[str, Any]) -> None:
    assert suicide_flags(answers) == ()


@pytest.mark.parametrize(
    ("answers", "answer", "pathway"),
    [
        pytest.param({"phq9": {"q9": 1}, "asq": ASQ_NO}, {"phq9.q9": 1}, "regardless of the total",
                     id="Kroenke2001 item 9 [S]: 1 -> suicide_risk"),
        pytest.param({"phq9": {"q9": 3}}, {"phq9.q9": 3}, "PHQ-9 item 9",
                     id="Kroenke2001 item 9 [S]: 3 -> suicide_risk"),
        pytest.param({"asq": {**ASQ_NO, "q2": "yes", "q5": "no"}}, {"asq.q2": "yes"},
                     "before the person leaves", id="NIMH ASQ: non-acute positive"),
        pytest.param({"asq": {**ASQ_NO, "q4": "yes"}}, {"asq.q4": "yes"}, "acuity unknown",
                     id="NIMH ASQ: positive with q5 unanswered -> acuity unknown"),
        pytest.param({"cssrs": {"q1": "yes", "q2": "no"}}, {"cssrs.q1": "yes"}, "C-SSRS q1-q3",
                     id="Columbia triage: q1 yes -> low"),
        pytest.param({"cssrs": {"q3": "yes"}}, {"cssrs.q3": "yes"}, "C-SSRS q1-q3",
                     id="Columbia triage: q3 yes -> moderate"),
        pytest.param({"cssrs": {"q6": "yes", "q6_recent": "no"}}, {"cssrs.q6": "yes"},
                     "more than 3 months ago", id="Columbia triage: q6 yes, not recent"),
    ],
)
def test_suicide_risk_when_not_acute(
    answers: dict[str, Any], answer: dict[str, Any], pathway: str
) -> None:
    flag_id, flag_answer, detail = the_flag(answers)
    assert flag_id == "suicide_risk"
    assert flag_answer == answer
    assert pathway in detail


@pytest.mark.parametrize(
    ("answers", "answer", "pathway"),
    [
        pytest.param({"asq": {**ASQ_NO, "q3": "yes", "q5": "yes"}},
                     {"asq.q3": "yes", "asq.q5": "yes"}, "not left alone",
                     id="NIMH ASQ: q5 yes -> acute positive"),
        pytest.param({"cssrs": {"q1": "yes", "q2": "yes", "q4": "yes"}},
                     {"cssrs.q1": "yes", "cssrs.q2": "yes", "cssrs.q4": "yes"}, "intent or a plan",
                     id="Columbia triage: q4 yes -> high"),
        pytest.param({"cssrs": {"q5": "yes"}}, {"cssrs.q5": "yes"}, "intent or a plan",
                     id="Columbia triage: q5 yes -> high"),
        pytest.param({"cssrs": {"q6": "yes", "q6_recent": "yes"}},
                     {"cssrs.q6": "yes", "cssrs.q6_recent": "yes"}, "within the past 3 months",
                     id="Columbia triage: q6 yes within 3 months -> high"),
        pytest.param({"cssrs": {"q6": "yes"}}, {"cssrs.q6": "yes"},
                     "recency unknown, treated as within the past 3 months",
                     id="Columbia triage: q6 yes, recency not answered -> treated as recent"),
        pytest.param({"asq": {**ASQ_NO, "q5": "yes"}}, {"asq.q5": "yes"}, "not left alone",
                     id="NIMH ASQ: q5 yes with q1-q4 all no -> acute positive"),
    ],
)
def test_suicide_risk_acute(answers: dict[str, Any], answer: dict[str, Any], pathway: str) -> None:
    flag_id, flag_answer, detail = the_flag(answers)
    assert flag_id == "suicide_risk_acute"
    assert flag_answer == answer
    assert pathway in detail


def test_acute_wins_and_the_answer_holds_every_endorsed_item() -> None:
    answers = {
        "phq9": {"q9": 2},
        "asq": {"q1": "yes", "q2": "no", "q3": "yes", "q4": "no", "q5": "yes"},
        "cssrs": {"q1": "yes", "q2": "yes", "q3": "no", "q4": "no", "q5": "yes", "q6": "yes",
                  "q6_recent": "yes"},
    }
    flag_id, answer, detail = the_flag(answers)
    assert flag_id == "suicide_risk_acute"
    assert answer == {
        "phq9.q9": 2, "asq.q1": "yes", "asq.q3": "yes", "asq.q5": "yes", "cssrs.q1": "yes",
        "cssrs.q2": "yes", "cssrs.q5": "yes", "cssrs.q6": "yes", "cssrs.q6_recent": "yes",
    }
    for pathway in ("not left alone", "intent or a plan", "within the past 3 months"):
        assert pathway in detail


def test_non_acute_detail_names_every_pathway_that_applies() -> None:
    answers = {"phq9": {"q9": 1}, "asq": {**ASQ_NO, "q1": "yes", "q5": "no"},
               "cssrs": {"q2": "yes", "q6": "yes", "q6_recent": "no"}}
    flag_id, _, detail = the_flag(answers)
    assert flag_id == "suicide_risk"
    for pathway in ("PHQ-9 item 9", "before the person leaves", "C-SSRS q1-q3",
                    "more than 3 months ago"):
        assert pathway in detail


def test_the_answer_is_a_new_dict_not_the_input() -> None:
    answers = {"asq": {**ASQ_NO, "q1": "yes", "q5": "no"}}
    (flag,) = suicide_flags(answers)
    assert flag.answer is not answers["asq"]
    assert answers == {"asq": {**ASQ_NO, "q1": "yes", "q5": "no"}}
