"""PHQ-9 scoring against Kroenke, Spitzer & Williams 2001 (clinical.md §3.1)."""

from __future__ import annotations

import copy
import dataclasses
import json
from types import MappingProxyType

import pytest

from rules.instruments import phq9

ITEMS = tuple(f"q{n}" for n in range(1, 10))


def form(total: int, *, spread: bool = False, **extra: int) -> dict[str, int]:
    """A complete PHQ-9 whose nine items add up to ``total``.

    Packed fills items in order with 3s; spread shares the points evenly over the items.
    """
    assert 0 <= total <= 27
    if spread:
        base, rest = divmod(total, 9)
        answers = {key: base + (1 if i < rest else 0) for i, key in enumerate(ITEMS)}
    else:
        answers = {key: min(3, max(0, total - 3 * i)) for i, key in enumerate(ITEMS)}
    assert sum(answers.values()) == total
    answers.update(extra)
    return answers


BAND_EDGES = [
    pytest.param(0, "minimal", id="Kroenke2001: 0 minimal (lowest)"),
    pytest.param(4, "minimal", id="Kroenke2001: 4 minimal"),
    pytest.param(5, "mild", id="Kroenke2001: 4 minimal / 5 mild"),
    pytest.param(9, "mild", id="Kroenke2001: 9 mild"),
    pytest.param(10, "moderate", id="Kroenke2001: 9 mild / 10 moderate"),
    pytest.param(14, "moderate", id="Kroenke2001: 14 moderate"),
    pytest.param(15, "moderately_severe", id="Kroenke2001: 14 moderate / 15 moderately severe"),
    pytest.param(19, "moderately_severe", id="Kroenke2001: 19 moderately severe"),
    pytest.param(20, "severe", id="Kroenke2001: 19 moderately severe / 20 severe"),
    pytest.param(27, "severe", id="Kroenke2001: 27 severe (highest)"),
]


@pytest.mark.parametrize("spread", [False, True], ids=["packed", "spread"])
@pytest.mark.parametrize(("total", "severity"), BAND_EDGES)
def test_phq9_band_edges_kroenke_2001_table(total: int, severity: str, spread: bool) -> None:
    result = phq9.score(form(total, spread=spread))
    assert result.total == total
    assert result.severity == severity
    assert result.complete is True


def test_phq9_bands_cover_0_to_27_without_gap_kroenke_2001() -> None:
    covered = [t for low, high, _ in phq9.SEVERITY_BANDS for t in range(low, high + 1)]
    assert covered == list(range(phq9.TOTAL_MAX + 1))
    assert phq9.TOTAL_MAX == 27


def test_phq9_out_of_domain_answer_raises_instead_of_inventing_a_band() -> None:
    with pytest.raises(ValueError, match="outside"):
        phq9.score(form(27, q1=4))


@pytest.mark.parametrize("item9", [0, 1, 2, 3], ids=lambda v: f"Kroenke2001 item 9 = {v}")
def test_phq9_item9_reported_as_answered(item9: int) -> None:
    answers = {key: 0 for key in ITEMS} | {"q9": item9}
    result = phq9.score(answers)
    assert result.item9 == item9
    assert result.total == item9


def test_phq9_item9_reported_on_an_incomplete_form() -> None:
    answers = {"q9": 2}
    result = phq9.score(answers)
    assert (result.item9, result.total, result.complete) == (2, None, False)


def test_phq9_item9_absent_is_none_not_zero() -> None:
    answers = form(8)
    del answers["q9"]
    assert phq9.score(answers).item9 is None


@pytest.mark.parametrize("difficulty", [0, 1, 2, 3])
def test_phq9_difficulty_recorded_not_summed_kroenke_2001(difficulty: int) -> None:
    # 9 is the top of "mild": adding the difficulty item would push it to moderate.
    result = phq9.score(form(9, difficulty=difficulty))
    assert result.total == 9
    assert result.severity == "mild"
    assert result.difficulty == difficulty


def test_phq9_difficulty_absent_is_none() -> None:
    assert phq9.score(form(12)).difficulty is None


@pytest.mark.parametrize("absent", ITEMS)
def test_phq9_any_item_absent_gives_no_total_no_proration(absent: str) -> None:
    answers = form(27)
    del answers[absent]
    result = phq9.score(answers)
    assert result.total is None
    assert result.severity is None
    assert result.complete is False


def test_phq9_item_holding_none_counts_as_absent() -> None:
    result = phq9.score(form(20) | {"q4": None})
    assert (result.total, result.complete) == (None, False)


def test_phq9_empty_section_is_incomplete() -> None:
    assert phq9.score({}).to_dict() == {
        "total": None,
        "severity": None,
        "item9": None,
        "complete": False,
        "difficulty": None,
    }


def test_phq9_zero_answer_is_present_absent_is_unknown() -> None:
    all_zero = {key: 0 for key in ITEMS}
    assert phq9.score(all_zero).total == 0
    one_missing = {key: 0 for key in ITEMS[:-1]}
    assert phq9.score(one_missing).total is None


@pytest.mark.parametrize(
    ("answers", "bounds"),
    [
        pytest.param(form(14), (14, 14), id="complete: both bounds are the total"),
        pytest.param({}, (0, 27), id="empty: 0 to 27"),
        pytest.param({"q1": 3, "q2": 3, "q3": 2}, (8, 26), id="three answered: 8 + 6 x 0..3"),
        pytest.param(
            {key: 1 for key in ITEMS[:8]}, (8, 11), id="eight answered at 1: 8 to 11"
        ),
        pytest.param(form(9) | {"q1": None}, (6, 9), id="None counts as unanswered"),
    ],
)
def test_phq9_total_bounds_for_the_depression_criterion(
    answers: dict[str, int], bounds: tuple[int, int]
) -> None:
    assert phq9.total_bounds(answers) == bounds


def test_phq9_to_dict_has_exactly_the_contract_fields() -> None:
    result = phq9.score(form(14, difficulty=1))
    out = result.to_dict()
    assert out == {
        "total": 14,
        "severity": "moderate",
        "item9": 0,
        "complete": True,
        "difficulty": 1,
    }
    assert json.loads(json.dumps(out)) == out


def test_phq9_contract_example_scores_14_moderate() -> None:
    # The submission example of the API contract (§4) and its evaluation (§6).
    answers = {"q1": 2, "q2": 3, "q3": 2, "q4": 2, "q5": 1, "q6": 2, "q7": 1, "q8": 1,
               "q9": 0, "difficulty": 2}
    result = phq9.score(answers)
    assert (result.total, result.severity, result.item9, result.complete) == (
        14, "moderate", 0, True
    )


def test_phq9_input_not_mutated() -> None:
    answers = form(17, spread=True, difficulty=3)
    before = copy.deepcopy(answers)
    phq9.score(answers)
    phq9.total_bounds(answers)
    assert answers == before
    # A read-only mapping proves no write is even attempted.
    phq9.score(MappingProxyType(answers))
    phq9.total_bounds(MappingProxyType(answers))


def test_phq9_score_is_frozen_and_slotted() -> None:
    result = phq9.score(form(3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.total = 4  # type: ignore[misc]
    assert not hasattr(result, "__dict__")


def test_phq9_module_surface() -> None:
    assert phq9.SECTION == "phq9"
    assert phq9.ITEMS == ITEMS
    assert "Kroenke" in phq9.SOURCE and "2001" in phq9.SOURCE
    assert phq9.SCREEN_POSITIVE_AT == 10
