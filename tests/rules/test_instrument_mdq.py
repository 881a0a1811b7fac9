"""MDQ positive screen against Hirschfeld et al. 2000 (clinical.md §3.5)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
from types import MappingProxyType
from typing import Any

import pytest

from rules.instruments import mdq


def symptoms(yes: int, answered: int = 13) -> list[str]:
    """A q1 list of ``answered`` entries, the first ``yes`` of them yes, the rest no."""
    assert 0 <= yes <= answered <= 13
    return ["yes"] * yes + ["no"] * (answered - yes)


def form(yes: int, q2: str | None = "yes", q3: str | None = "moderate") -> dict[str, Any]:
    """An MDQ section with ``yes`` of 13 q1 items yes; None leaves q2 or q3 out."""
    section: dict[str, Any] = {"q1": symptoms(yes)}
    if q2 is not None:
        section["q2"] = q2
    if q3 is not None:
        section["q3"] = q3
    return section


@pytest.mark.parametrize(
    ("yes", "positive"),
    [
        pytest.param(0, False, id="Hirschfeld2000: 0 of 13 yes -> negative"),
        pytest.param(6, False, id="Hirschfeld2000: 6 yes -> negative"),
        pytest.param(7, True, id="Hirschfeld2000: 6 / 7 yes -> positive"),
        pytest.param(13, True, id="Hirschfeld2000: 13 yes -> positive"),
    ],
)
def test_mdq_yes_count_edge_hirschfeld_2000(yes: int, positive: bool) -> None:
    result = mdq.score(form(yes))
    assert result.yes_count == yes
    assert result.positive is positive


@pytest.mark.parametrize(
    ("q2", "positive"),
    [
        pytest.param("yes", True, id="Hirschfeld2000: q2 yes -> positive"),
        pytest.param("no", False, id="Hirschfeld2000: q2 no -> negative"),
        pytest.param(None, None, id="q2 unanswered -> undetermined"),
    ],
)
def test_mdq_q2_same_period_hirschfeld_2000(q2: str | None, positive: bool | None) -> None:
    assert mdq.score(form(7, q2=q2)).positive is positive


@pytest.mark.parametrize(
    ("q3", "positive"),
    [
        pytest.param("none", False, id="Hirschfeld2000: q3 no problem -> negative"),
        pytest.param("minor", False, id="Hirschfeld2000: q3 minor -> negative"),
        pytest.param("moderate", True, id="Hirschfeld2000: q3 moderate -> positive"),
        pytest.param("serious", True, id="Hirschfeld2000: q3 serious -> positive"),
        pytest.param(None, None, id="q3 unanswered -> undetermined"),
    ],
)
def test_mdq_q3_problem_level_hirschfeld_2000(q3: str | None, positive: bool | None) -> None:
    assert mdq.score(form(13, q3=q3)).positive is positive


@pytest.mark.parametrize(
    ("q2", "q3"),
    [("no", None), (None, "minor"), ("no", "serious"), ("yes", "none")],
)
def test_mdq_one_certain_failure_is_negative_despite_unknowns(
    q2: str | None, q3: str | None
) -> None:
    assert mdq.score(form(13, q2=q2, q3=q3)).positive is False


@pytest.mark.parametrize(
    ("q1", "positive"),
    [
        pytest.param(symptoms(5, answered=10), None, id="5 yes + 3 unanswered could reach 7"),
        pytest.param(symptoms(4, answered=10), None, id="4 yes + 3 unanswered could reach 7"),
        pytest.param(symptoms(3, answered=10), False, id="3 yes + 3 unanswered cannot reach 7"),
        pytest.param(symptoms(7, answered=7), True, id="7 yes already, 6 unanswered"),
        pytest.param([], None, id="empty list: 13 unanswered"),
        pytest.param(["yes", None, "no"] * 3, None, id="None entries count as unanswered"),
    ],
)
def test_mdq_short_symptom_list_counts_missing_as_unanswered(
    q1: list[str | None], positive: bool | None
) -> None:
    result = mdq.score({"q1": q1, "q2": "yes", "q3": "serious"})
    assert result.positive is positive
    assert result.yes_count == q1.count("yes")


def test_mdq_absent_q1_has_zero_yes_but_unknown_result() -> None:
    result = mdq.score({"q2": "yes", "q3": "moderate"})
    assert (result.yes_count, result.positive) == (0, None)
    assert mdq.score({"q2": "no"}).positive is False
    assert mdq.score({}).to_dict() == {"yes_count": 0, "positive": None}


def test_mdq_to_dict_has_exactly_the_contract_fields() -> None:
    out = mdq.score(form(8)).to_dict()
    assert out == {"yes_count": 8, "positive": True}
    assert json.loads(json.dumps(out)) == out


def test_mdq_input_not_mutated() -> None:
    section = form(9, q3="serious")
    before = copy.deepcopy(section)
    mdq.score(section)
    assert section == before
    section["q1"] = tuple(section["q1"])
    mdq.score(MappingProxyType(section))


def test_mdq_score_is_frozen_and_slotted() -> None:
    result = mdq.score(form(2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.positive = True  # type: ignore[misc]
    assert not hasattr(result, "__dict__")


def test_mdq_module_holds_no_question_wording() -> None:
    assert "?" not in inspect.getsource(mdq)


def test_mdq_module_surface() -> None:
    assert mdq.SECTION == "mdq"
    assert mdq.ITEMS == ("q1",)
    assert "Hirschfeld" in mdq.SOURCE and "2000" in mdq.SOURCE
    assert (mdq.SYMPTOM_ITEM_COUNT, mdq.POSITIVE_YES_COUNT) == (13, 7)
