"""GAD-7 scoring against Spitzer et al. 2006 (clinical.md §3.3)."""

from __future__ import annotations

import copy
import dataclasses
import json
from types import MappingProxyType

import pytest

from rules.instruments import gad7

ITEMS = tuple(f"q{n}" for n in range(1, 8))


def form(total: int, *, spread: bool = False) -> dict[str, int]:
    """A complete GAD-7 whose seven items add up to ``total`` (packed 3s or spread evenly)."""
    assert 0 <= total <= 21
    if spread:
        base, rest = divmod(total, 7)
        answers = {key: base + (1 if i < rest else 0) for i, key in enumerate(ITEMS)}
    else:
        answers = {key: min(3, max(0, total - 3 * i)) for i, key in enumerate(ITEMS)}
    assert sum(answers.values()) == total
    return answers


BAND_EDGES = [
    pytest.param(0, "minimal", id="Spitzer2006: 0 minimal (lowest)"),
    pytest.param(4, "minimal", id="Spitzer2006: 4 minimal"),
    pytest.param(5, "mild", id="Spitzer2006: 4 minimal / 5 mild"),
    pytest.param(9, "mild", id="Spitzer2006: 9 mild"),
    pytest.param(10, "moderate", id="Spitzer2006: 9 mild / 10 moderate"),
    pytest.param(14, "moderate", id="Spitzer2006: 14 moderate"),
    pytest.param(15, "severe", id="Spitzer2006: 14 moderate / 15 severe"),
    pytest.param(21, "severe", id="Spitzer2006: 21 severe (highest)"),
]


@pytest.mark.parametrize("spread", [False, True], ids=["packed", "spread"])
@pytest.mark.parametrize(("total", "severity"), BAND_EDGES)
def test_gad7_band_edges_spitzer_2006_table(total: int, severity: str, spread: bool) -> None:
    result = gad7.score(form(total, spread=spread))
    assert (result.total, result.severity, result.complete) == (total, severity, True)


def test_gad7_bands_cover_0_to_21_without_gap_spitzer_2006() -> None:
    covered = [t for low, high, _ in gad7.SEVERITY_BANDS for t in range(low, high + 1)]
    assert covered == list(range(gad7.TOTAL_MAX + 1))
    assert gad7.TOTAL_MAX == 21


@pytest.mark.parametrize("absent", ITEMS)
def test_gad7_any_item_absent_gives_no_total(absent: str) -> None:
    answers = form(21)
    del answers[absent]
    assert gad7.score(answers).to_dict() == {"total": None, "severity": None, "complete": False}


def test_gad7_item_holding_none_counts_as_absent() -> None:
    assert gad7.score(form(5) | {"q7": None}).complete is False


def test_gad7_zero_answer_is_present_absent_is_unknown() -> None:
    assert gad7.score({key: 0 for key in ITEMS}).total == 0
    assert gad7.score({key: 0 for key in ITEMS[1:]}).total is None
    assert gad7.score({}).total is None


def test_gad7_contract_example_scores_9_mild() -> None:
    answers = {"q1": 2, "q2": 2, "q3": 1, "q4": 2, "q5": 1, "q6": 1, "q7": 0}
    assert gad7.score(answers).to_dict() == {"total": 9, "severity": "mild", "complete": True}


def test_gad7_to_dict_has_exactly_the_contract_fields() -> None:
    out = gad7.score(form(15)).to_dict()
    assert out == {"total": 15, "severity": "severe", "complete": True}
    assert json.loads(json.dumps(out)) == out


def test_gad7_input_not_mutated() -> None:
    answers = form(11, spread=True)
    before = copy.deepcopy(answers)
    gad7.score(answers)
    assert answers == before
    gad7.score(MappingProxyType(answers))


def test_gad7_score_is_frozen_and_slotted() -> None:
    result = gad7.score(form(3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.total = 4  # type: ignore[misc]
    assert not hasattr(result, "__dict__")


def test_gad7_module_surface() -> None:
    assert gad7.SECTION == "gad7"
    assert gad7.ITEMS == ITEMS
    assert "Spitzer" in gad7.SOURCE and "2006" in gad7.SOURCE
