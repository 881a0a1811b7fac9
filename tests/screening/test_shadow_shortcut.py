"""Shadow evaluation's shortcut: re-evaluating only the parts a draft's changed settings
reach gives exactly the outcome of a full ``rules.evaluate`` (random rulesets, drafts,
respondents and answers), and every setting is classified."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

import rules
from rules.contraindications import ANSWER_RULES
from screening.services.shadow import (
    REACHES,
    REACHES_NOTHING,
    outcome_of,
    reached,
    redo,
    stored_outcome,
)

CASES = 4000
YES_NO = ("yes", "no")
YES_NO_UNSURE = ("yes", "no", "unsure")


def _maybe(rng: random.Random, value: Any, absent: float = 0.1) -> Any:
    return None if rng.random() < absent else value


def _section(rng: random.Random, items: list[str], values: tuple[Any, ...],
             absent: float = 0.1) -> dict[str, Any]:
    section = {}
    for item in items:
        value = _maybe(rng, rng.choice(values), absent)
        if value is not None or rng.random() < 0.5:  # absent key or explicit null
            section[item] = value
    return section


def random_respondent(rng: random.Random) -> dict[str, Any]:
    born = dt.date(1925, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 92))
    if rng.random() < 0.05:
        born = dt.date(2024, 2, 29)
    return {
        "date_of_birth": rng.choice([born.isoformat()] * 8 + [None, "12/04/1990"]),
        "sex_at_birth": rng.choice(["male", "female", None]),
    }


def random_answers(rng: random.Random) -> dict[str, Any]:
    """Answers of every section, each present or not, items answered, unsure or absent."""
    sections: dict[str, Any] = {
        "phq9": _section(rng, [f"q{n}" for n in range(1, 10)], (0, 1, 2, 3), 0.08),
        "gad7": _section(rng, [f"q{n}" for n in range(1, 8)], (0, 1, 2, 3)),
        "asq": _section(rng, [f"q{n}" for n in range(1, 6)], ("no",) * 6 + ("yes",)),
        "cssrs": _section(rng, [f"q{n}" for n in range(1, 7)] + ["q6_recent"],
                          ("no",) * 8 + ("yes",)),
        "mdq": {"q1": [rng.choice(YES_NO) for _ in range(13)], "q2": rng.choice(YES_NO),
                "q3": rng.choice(["none", "minor", "moderate", "serious"])},
        "pcl5": _section(rng, [f"q{n}" for n in range(1, 21)], (0, 1, 2, 3, 4), 0.03),
        "audit_c": _section(rng, ["q1", "q2", "q3"], (0, 1, 2, 3, 4)),
        "dast10": _section(rng, [f"q{n}" for n in range(1, 11)], ("no",) * 3 + ("yes",)),
        "treatment_history": {"antidepressant_trials": [
            {"weeks": _maybe(rng, rng.randrange(0, 30)),
             "adequate_dose": _maybe(rng, rng.choice(YES_NO_UNSURE)),
             "taken_as_prescribed": _maybe(rng, rng.choice(YES_NO_UNSURE)),
             "response": _maybe(rng, rng.choice(
                 ["none", "partial", "full", "stopped_side_effects"]))}
            for _ in range(rng.randrange(0, 6))
        ]},
        "vitals": {"systolic_bp": _maybe(rng, rng.randrange(90, 230), 0.15),
                   "diastolic_bp": _maybe(rng, rng.randrange(50, 135), 0.15)},
    }
    for section in ("medical_history", "medications", "reproductive"):
        items = [rule.id for rule in ANSWER_RULES if rule.section == section]
        sections[section] = _section(rng, items, ("no",) * 12 + ("yes", "unsure"))
    return {name: value for name, value in sections.items() if rng.random() < 0.85}


def random_settings(rng: random.Random) -> dict[str, Any]:
    """A random partial map of settings, each within its bounds (cross-checks may fail)."""
    candidates = {
        "min_age_years": rng.choice([18, 18, 19, 21, 25, rng.randrange(18, 100)]),
        "phq9_threshold": rng.randrange(5, 21),
        "min_failed_trials": rng.randrange(1, 6),
        "min_trial_weeks": rng.randrange(4, 17),
        "bp_elevated": {"systolic": rng.randrange(120, 181), "diastolic": rng.randrange(70, 111)},
        "bp_severe": {"systolic": rng.randrange(160, 201), "diastolic": rng.randrange(90, 121)},
        "older_adult_age": rng.randrange(55, 91),
        "crisis_message": rng.choice(["Call 112 now.", rules.DEFAULT_CRISIS_MESSAGE]),
        "escalation_minutes": {"critical": rng.randrange(1, 30), "urgent": rng.randrange(30, 90)},
        "required_sections": rng.choice([[], ["gad7"], ["vitals", "pcl5"]]),
    }
    chosen = rng.sample(sorted(candidates), rng.randrange(1, 4))
    return {name: candidates[name] for name in chosen}


def random_ruleset(rng: random.Random, base: rules.Ruleset) -> rules.Ruleset:
    while True:
        try:
            return base.with_changes(random_settings(rng))
        except rules.SettingsError:
            continue


def stored_parts(evaluation: rules.Evaluation) -> list[Any]:
    """[routing, criteria, flags] as the database hands them over from a stored evaluation."""
    stored = evaluation.to_dict()
    return [stored["routing"], stored["criteria"], stored["flags"]]


def test_shortcut_equals_full_evaluation_for_random_drafts_and_answers() -> None:
    rng = random.Random(20261121)
    checked = changed = 0
    for _ in range(CASES):
        current = random_ruleset(rng, rules.DEFAULT_RULESET)
        proposed = random_ruleset(rng, current)
        parts = reached(current, proposed)
        assert parts is not None
        respondent, answers = random_respondent(rng), random_answers(rng)
        received_on = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(0, 365))
        before = stored_outcome(stored_parts(
            rules.evaluate(respondent, answers, received_on, current)))
        full = outcome_of(rules.evaluate(respondent, answers, received_on, proposed))
        assert redo(before, parts, respondent, answers, received_on, proposed) == full, (
            current.settings(), proposed.settings(), respondent, answers, received_on)
        checked += 1
        changed += before != full
    # The random drafts must actually move outcomes, or the equality above proves little.
    assert checked == CASES and changed > CASES // 10


def picked_ids(evaluation: rules.Evaluation) -> list[Any]:
    """[routing, criterion ids, statuses, flag ids] as PostgreSQL picks them out."""
    stored = evaluation.to_dict()
    return [stored["routing"], [c["id"] for c in stored["criteria"]],
            [c["status"] for c in stored["criteria"]], [f["id"] for f in stored["flags"]]]


@pytest.mark.parametrize("handed_over", [stored_parts, picked_ids],
                         ids=["sqlite stored lists", "postgresql picked ids"])
def test_stored_outcome_equals_the_outcome_of_the_evaluation_it_stores(
        handed_over: Any) -> None:
    rng = random.Random(7)
    for _ in range(500):
        evaluation = rules.evaluate(random_respondent(rng), random_answers(rng),
                                    dt.date(2026, 6, 1))
        assert stored_outcome(handed_over(evaluation)) == outcome_of(evaluation)


def test_every_setting_is_classified_for_the_shortcut() -> None:
    names = {setting.name for setting in rules.SETTINGS}
    assert set(REACHES) | REACHES_NOTHING == names
    assert not set(REACHES) & REACHES_NOTHING


@pytest.mark.parametrize(("changes", "parts"), [
    ({}, frozenset()),
    ({"crisis_message": "Call 112.", "escalation_minutes": {"critical": 5}},
     frozenset()),
    ({"phq9_threshold": 15}, frozenset({"depression_moderate_to_severe"})),
    ({"min_trial_weeks": 8, "min_failed_trials": 3}, frozenset({"prior_treatment_failure"})),
    ({"bp_severe": {"systolic": 190}, "older_adult_age": 70, "min_age_years": 21},
     frozenset({"blood_pressure", "older_adult", "adult"})),
], ids=["nothing", "not compared", "phq9", "trials", "flags and age"])
def test_reached_names_the_parts_changed_settings_reach(
        changes: dict[str, Any], parts: frozenset[str]) -> None:
    assert reached(rules.DEFAULT_RULESET, rules.DEFAULT_RULESET.with_changes(changes)) == parts


def test_a_setting_not_classified_makes_every_row_evaluate_in_full(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from screening.services import shadow

    monkeypatch.setattr(shadow, "REACHES_NOTHING", frozenset({"escalation_minutes"}))
    proposed = rules.DEFAULT_RULESET.with_changes({"crisis_message": "Call 112."})
    assert reached(rules.DEFAULT_RULESET, proposed) is None
