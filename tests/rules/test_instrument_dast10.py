"""DAST-10 total, bands and screen against Skinner 1982 (clinical.md §3.8)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
from types import MappingProxyType

import pytest

from rules.instruments import dast10

ITEMS = tuple(f"q{n}" for n in range(1, 11))


def scored_answer(key: str) -> str:
    """The answer that earns the point: no for item 3, yes for every other item."""
    return "no" if key == "q3" else "yes"


def unscored_answer(key: str) -> str:
    return "yes" if key == "q3" else "no"


def form(total: int, *, from_end: bool = False) -> dict[str, str]:
    """A complete DAST-10 worth ``total`` points, scoring the first (or last) items."""
    assert 0 <= total <= 10
    order = ITEMS[::-1] if from_end else ITEMS
    scoring = set(order[:total])
    return {
        key: scored_answer(key) if key in scoring else unscored_answer(key) for key in ITEMS
    }


@pytest.mark.parametrize("from_end", [False, True], ids=["first items", "last items"])
@pytest.mark.parametrize(
    ("total", "band"),
    [
        pytest.param(0, "none", id="Skinner1982: 0 none"),
        pytest.param(1, "low", id="Skinner1982: 0 none / 1 low"),
        pytest.param(2, "low", id="Skinner1982: 2 low"),
        pytest.param(3, "moderate", id="Skinner1982: 2 low / 3 moderate"),
        pytest.param(5, "moderate", id="Skinner1982: 5 moderate"),
        pytest.param(6, "substantial", id="Skinner1982: 5 moderate / 6 substantial"),
        pytest.param(8, "substantial", id="Skinner1982: 8 substantial"),
        pytest.param(9, "severe", id="Skinner1982: 8 substantial / 9 severe"),
        pytest.param(10, "severe", id="Skinner1982: 10 severe (highest)"),
    ],
)
def test_dast10_band_edges_skinner_1982(total: int, band: str, from_end: bool) -> None:
    result = dast10.score(form(total, from_end=from_end))
    assert (result.total, result.band, result.complete) == (total, band, True)


def test_dast10_bands_cover_0_to_10_without_gap_skinner_1982() -> None:
    covered = [t for low, high, _ in dast10.BANDS for t in range(low, high + 1)]
    assert covered == list(range(11))


@pytest.mark.parametrize(
    ("section", "total"),
    [
        pytest.param({key: "no" for key in ITEMS}, 1, id="Skinner1982: all no scores 1 (q3)"),
        pytest.param({key: "yes" for key in ITEMS}, 9, id="Skinner1982: all yes scores 9"),
        pytest.param(
            {key: "no" for key in ITEMS} | {"q3": "yes"}, 0, id="Skinner1982: only q3 yes -> 0"
        ),
        pytest.param(
            {key: "yes" for key in ITEMS} | {"q3": "no"}, 10, id="Skinner1982: only q3 no -> 10"
        ),
    ],
)
def test_dast10_item3_reverse_scored_skinner_1982(section: dict[str, str], total: int) -> None:
    assert dast10.score(section).total == total


@pytest.mark.parametrize(
    ("total", "positive"),
    [
        pytest.param(2, False, id="Skinner1982 screen >=3: 2 negative"),
        pytest.param(3, True, id="Skinner1982 screen >=3: 3 positive"),
        pytest.param(0, False, id="0 negative"),
        pytest.param(10, True, id="10 positive"),
    ],
)
def test_dast10_screen_positive_at_3_skinner_1982(total: int, positive: bool) -> None:
    assert dast10.positive(dast10.score(form(total))) is positive


@pytest.mark.parametrize(
    ("section", "positive"),
    [
        pytest.param({"q1": "yes", "q2": "yes", "q3": "no"}, True, id="3 points, 7 unanswered"),
        pytest.param(
            {k: v for k, v in form(1).items() if k != "q10"}, False, id="1 point + 1 unanswered"
        ),
        pytest.param(
            {k: v for k, v in form(2).items() if k != "q10"}, None, id="2 points + 1 unanswered"
        ),
        pytest.param({}, None, id="empty"),
        pytest.param(form(0) | {"q3": None}, False, id="None is unanswered: 0 + 1"),
    ],
)
def test_dast10_incomplete_positive_only_when_certain(
    section: dict[str, str], positive: bool | None
) -> None:
    result = dast10.score(section)
    assert (result.total, result.band, result.complete) == (None, None, False)
    assert dast10.positive(result) is positive


def test_dast10_absent_item3_is_unknown_not_a_no() -> None:
    # Read as "no", an absent item 3 would wrongly earn a point.
    section = {key: "no" for key in ITEMS if key != "q3"}
    result = dast10.score(section)
    assert (result.total, result.min_total, result.max_total) == (None, 0, 1)


def test_dast10_to_dict_has_exactly_the_contract_fields() -> None:
    out = dast10.score(form(4)).to_dict()
    assert out == {"total": 4, "band": "moderate", "complete": True}
    assert json.loads(json.dumps(out)) == out


def test_dast10_input_not_mutated() -> None:
    section = form(6, from_end=True)
    before = copy.deepcopy(section)
    dast10.score(section)
    assert section == before
    dast10.score(MappingProxyType(section))


def test_dast10_score_is_frozen_and_slotted() -> None:
    result = dast10.score(form(3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.total = 4  # type: ignore[misc]
    assert not hasattr(result, "__dict__")


def test_dast10_module_holds_no_question_wording() -> None:
    assert "?" not in inspect.getsource(dast10)


def test_dast10_module_surface() -> None:
    assert dast10.SECTION == "dast10"
    assert dast10.ITEMS == ITEMS
    assert dast10.REVERSE_SCORED == ("q3",)
    assert dast10.POSITIVE_AT == 3
    assert "Skinner" in dast10.SOURCE and "1982" in dast10.SOURCE
