"""ASQ result against the NIMH ASQ toolkit pathway (clinical.md §3.4a)."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
from types import MappingProxyType

import pytest

from rules.instruments import asq

SCREEN = ("q1", "q2", "q3", "q4")
ABSENT = None
LEVEL = {None: -1, "negative": 0, "non_acute_positive": 1, "acute_positive": 2}


def answers(**given: str | None) -> dict[str, str]:
    """An ASQ section holding only the answers given (None leaves the item out)."""
    return {key: value for key, value in given.items() if value is not None}


ALL_NO = {key: "no" for key in SCREEN}

TABLE = [
    pytest.param(ALL_NO, "negative", id="NIMH ASQ: q1-q4 all no -> negative"),
    pytest.param(ALL_NO | {"q5": "no"}, "negative", id="NIMH ASQ: all no, q5 no -> negative"),
    *[
        pytest.param(
            ALL_NO | {key: "yes", "q5": "no"},
            "non_acute_positive",
            id=f"NIMH ASQ: {key} yes, q5 no -> non-acute positive",
        )
        for key in SCREEN
    ],
    *[
        pytest.param(
            ALL_NO | {key: "yes", "q5": "yes"},
            "acute_positive",
            id=f"NIMH ASQ: {key} yes, q5 yes -> acute positive",
        )
        for key in SCREEN
    ],
    pytest.param(
        {key: "yes" for key in SCREEN} | {"q5": "no"},
        "non_acute_positive",
        id="NIMH ASQ: all four yes, q5 no -> non-acute positive",
    ),
    pytest.param(
        {key: "yes" for key in SCREEN} | {"q5": "yes"},
        "acute_positive",
        id="NIMH ASQ: all five yes -> acute positive",
    ),
]


@pytest.mark.parametrize(("section", "result"), TABLE)
def test_asq_result_nimh_asq_toolkit_pathway(section: dict[str, str], result: str) -> None:
    assert asq.score(section).result == result


def test_asq_positive_with_q5_absent_is_at_least_non_acute() -> None:
    # The positive screen is certain; acuity is unknown, and acute needs an answered yes.
    assert asq.score(ALL_NO | {"q3": "yes"}).result == "non_acute_positive"


def test_asq_yes_with_other_screen_items_absent_is_positive() -> None:
    assert asq.score({"q2": "yes"}).result == "non_acute_positive"


def test_asq_q5_yes_is_acute_even_if_q1_to_q4_are_no() -> None:
    # The contract raises suicide_risk_acute on ASQ q5 yes alone.
    assert asq.score(ALL_NO | {"q5": "yes"}).result == "acute_positive"
    assert asq.score({"q5": "yes"}).result == "acute_positive"


@pytest.mark.parametrize("absent", SCREEN)
def test_asq_no_yes_and_an_item_absent_is_undetermined(absent: str) -> None:
    section = {key: "no" for key in SCREEN if key != absent}
    assert asq.score(section).result is None
    assert asq.score(section | {"q5": "no"}).result is None


def test_asq_empty_section_is_undetermined() -> None:
    assert asq.score({}).to_dict() == {"result": None}


def test_asq_every_answer_pattern_is_consistent_nimh_asq_toolkit() -> None:
    """All 3^5 patterns of yes / no / absent: the result follows the pathway, and turning
    any answer into yes never lowers the result."""
    keys = (*SCREEN, "q5")
    for values in itertools.product(("yes", "no", ABSENT), repeat=5):
        section = answers(**dict(zip(keys, values, strict=True)))
        result = asq.score(section).result
        screen = values[:4]
        if values[4] == "yes":
            assert result == "acute_positive"
        elif "yes" in screen:
            assert result == "non_acute_positive"
        elif ABSENT in screen:
            assert result is None
        else:
            assert result == "negative"
        for key in keys:
            raised = asq.score(section | {key: "yes"}).result
            if result is not None:
                assert LEVEL[raised] >= LEVEL[result], (section, key)


def test_asq_to_dict_has_exactly_the_contract_fields() -> None:
    out = asq.score(ALL_NO).to_dict()
    assert out == {"result": "negative"}
    assert json.loads(json.dumps(out)) == out


def test_asq_input_not_mutated() -> None:
    section = ALL_NO | {"q1": "yes", "q5": "no"}
    before = copy.deepcopy(section)
    asq.score(section)
    assert section == before
    asq.score(MappingProxyType(section))


def test_asq_score_is_frozen_and_slotted() -> None:
    result = asq.score(ALL_NO)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.result = "acute_positive"  # type: ignore[misc]
    assert not hasattr(result, "__dict__")


def test_asq_module_surface() -> None:
    assert asq.SECTION == "asq"
    assert asq.ITEMS == SCREEN
    assert "NIMH" in asq.SOURCE and "Horowitz" in asq.SOURCE
