"""What the console pages say about stored records: ages, reasons, evidence, and the
answers labelled with the questionnaire definition they were submitted against."""

from __future__ import annotations

import datetime as dt

import pytest

from screening.storage.models import new_id
from screening.web.console import presenters

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("elapsed", "said"),
    [
        (dt.timedelta(seconds=59), "just now"),
        (dt.timedelta(minutes=42), "42 min ago"),
        (dt.timedelta(hours=3, minutes=5), "3 h 5 min ago"),
        (dt.timedelta(days=2, hours=4, minutes=59), "2 d 4 h ago"),
        (dt.timedelta(seconds=-30), "just now"),
    ],
)
def test_age_is_coarse(elapsed: dt.timedelta, said: str) -> None:
    assert presenters.age(NOW - elapsed, NOW) == said


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("flag:suicide_risk_acute", "Flag: suicide risk acute"),
        ("criterion:prior_treatment_failure:unknown", "Criterion prior treatment failure: unknown"),
        ("something_else", "something else"),
    ],
)
def test_routing_reasons_in_words(reason: str, said: str) -> None:
    assert presenters.reason_label(reason) == said


def test_plain_text_of_stored_values() -> None:
    assert presenters.plain({"asq.q1": "yes", "complete": True}) == "asq.q1 = yes; complete = yes"
    assert presenters.plain([1, None, False]) == "1, not given, no"
    assert presenters.utc_time(None) == ""
    assert presenters.utc_time(NOW) == "2026-11-21 12:00 UTC"


def test_evidence_lists_one_row_per_trial() -> None:
    rows = presenters.evidence_rows({
        "adequate_failed_trials": 1,
        "trials": [{"index": 0, "counted": "adequate_failure"}, {"index": 1, "counted": "no"}],
    })
    assert rows == [("adequate failed trials", "1"),
                    ("trials 1", "index = 0; counted = adequate_failure"),
                    ("trials 2", "index = 1; counted = no")]
    assert presenters.evidence_rows(None) == []


def test_answers_are_labelled_with_question_and_option_wording() -> None:
    sections = presenters.answer_sections(
        "ketamine-intake", "1", {"date_of_birth": "1990-04-12"},
        {"phq9": {"q9": 1}, "mdq": {"q1": ["yes"] * 7 + ["no"] * 6, "q3": "serious"},
         "treatment_history": {"antidepressant_trials": [
             {"medication": "sertraline", "weeks": 10, "response": "none"}]},
         "medications": {"maoi": "unsure", "future_item": "yes"}},
    )
    by_title = {section.title: section.rows for section in sections}
    assert [s.title for s in sections][0] == "About you"
    phq9 = next(rows for title, rows in by_title.items() if title.startswith("Over the last"))
    assert (phq9[0].label, phq9[0].answer, phq9[0].value) == (
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
        "Several days", "1")
    mdq = by_title["Mood Disorder Questionnaire (MDQ), numbered items"]
    assert mdq[0].answer.startswith("1: Yes, 2: Yes") and mdq[1].answer == "Serious problem"
    trial = by_title["Treatment history"]
    assert trial[0].label.endswith("entry 1: Name of the medicine")
    assert trial[2].answer == "No improvement"
    medicines = by_title["Medicines you take now"]
    assert medicines[0].answer == "Unsure"
    assert (medicines[1].label, medicines[1].answer) == ("medications.future_item", "yes")


def test_an_empty_trial_list_says_so_and_unknown_sections_are_kept() -> None:
    sections = presenters.answer_sections(
        "ketamine-intake", "1", {}, {"treatment_history": {"antidepressant_trials": []},
                                     "extra_section": {"a": 1}})
    rows = {s.title: s.rows for s in sections}
    assert rows["Treatment history"][0].answer == "none listed"
    assert rows["extra_section"][0].answer == "a = 1"


def test_an_unknown_questionnaire_version_shows_raw_paths() -> None:
    sections = presenters.answer_sections("ketamine-intake", "99", {"given_name": "A"},
                                          {"phq9": {"q1": 2}})
    assert [(s.title, s.rows[0].answer) for s in sections] == [
        ("respondent", "given_name = A"), ("phq9", "q1 = 2")]


def test_short_ids_of_records_made_together_differ() -> None:
    """Time-ordered ids (``new_id``) of one moment share their start, not their end."""
    ids = [new_id() for _ in range(20)]
    assert len({identifier[:8] for identifier in ids}) == 1
    assert len({presenters.short_id(identifier) for identifier in ids}) == 20
    assert presenters.short_id(None) == ""
