"""Columbia Protocol screener triage (clinical.md §3.4). Items are referred to by number
only: the screener's wording is licensed and appears nowhere in the service."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import itertools
import json
from types import MappingProxyType

import pytest

from rules.instruments import cssrs

ITEMS = ("q1", "q2", "q3", "q4", "q5", "q6")
ALL_NO = {key: "no" for key in ITEMS}
LEVEL = {"none": 0, "low": 1, "moderate": 2, "high": 3}


TRIAGE_TABLE = [
    pytest.param(ALL_NO, "none", id="Columbia triage: all six no -> none"),
    pytest.param(ALL_NO | {"q1": "yes"}, "low", id="Columbia triage: q1 yes only -> low"),
    pytest.param(ALL_NO | {"q2": "yes"}, "low", id="Columbia triage: q2 yes only -> low"),
    pytest.param(
        ALL_NO | {"q1": "yes", "q2": "yes"}, "low", id="Columbia triage: q1 and q2 yes -> low"
    ),
    pytest.param(ALL_NO | {"q3": "yes"}, "moderate", id="Columbia triage: q3 yes -> moderate"),
    pytest.param(
        ALL_NO | {"q1": "yes", "q2": "yes", "q3": "yes"},
        "moderate",
        id="Columbia triage: q1-q3 yes -> moderate",
    ),
    pytest.param(
        ALL_NO | {"q6": "yes", "q6_recent": "no"},
        "moderate",
        id="Columbia triage: q6 yes over 3 months ago -> moderate",
    ),
    pytest.param(ALL_NO | {"q4": "yes"}, "high", id="Columbia triage: q4 yes -> high"),
    pytest.param(ALL_NO | {"q5": "yes"}, "high", id="Columbia triage: q5 yes -> high"),
    pytest.param(
        ALL_NO | {"q6": "yes", "q6_recent": "yes"},
        "high",
        id="Columbia triage: q6 yes within 3 months -> high",
    ),
    pytest.param(
        ALL_NO | {"q1": "yes", "q3": "yes", "q6": "yes", "q6_recent": "no", "q5": "yes"},
        "high",
        id="Columbia triage: highest matching row wins",
    ),
]


@pytest.mark.parametrize(("section", "risk"), TRIAGE_TABLE)
def test_cssrs_risk_columbia_triage_table(section: dict[str, str], risk: str) -> None:
    assert cssrs.score(section).risk == risk


def test_cssrs_q6_yes_with_recency_absent_is_high_columbia_triage_unknown_recency() -> None:
    # The triage table has no row for unknown recency: read as recent (clinical.md §3.4).
    assert cssrs.score(ALL_NO | {"q6": "yes"}).risk == "high"
    assert cssrs.score({"q1": "no", "q2": "no", "q6": "yes"}).risk == "high"


def test_cssrs_recency_without_q6_yes_raises_nothing() -> None:
    assert cssrs.score(ALL_NO | {"q6_recent": "yes"}).risk == "none"


def test_cssrs_q3_to_q5_skipped_after_q2_no_still_gives_none() -> None:
    # The screener skips q3-q5 when q2 is no, so their absence is not unknown.
    assert cssrs.score({"q1": "no", "q2": "no", "q6": "no"}).risk == "none"


def test_cssrs_q2_yes_with_later_items_absent_is_low() -> None:
    assert cssrs.score({"q1": "no", "q2": "yes"}).risk == "low"


@pytest.mark.parametrize(
    "section",
    [
        pytest.param({}, id="empty"),
        pytest.param({"q2": "no", "q6": "no"}, id="q1 absent"),
        pytest.param({"q1": "no", "q3": "no", "q4": "no", "q5": "no", "q6": "no"}, id="q2 absent"),
        pytest.param(ALL_NO | {"q2": None}, id="q2 None counts as absent"),
        pytest.param({"q1": "no", "q2": "no"}, id="q6 absent"),
        pytest.param({"q1": "no", "q2": "no", "q6_recent": "no"}, id="q6 absent, recency no"),
    ],
)
def test_cssrs_no_yes_and_an_asked_item_absent_is_undetermined(section: dict[str, str]) -> None:
    assert cssrs.score(section).risk is None


def test_cssrs_every_answer_pattern_never_lowered_by_a_yes() -> None:
    """All 3^7 patterns of yes / no / absent over q1-q6 and the recency item: a yes can
    only raise the triage level, and high is exactly the contract's acute pattern."""
    keys = (*ITEMS, "q6_recent")
    for values in itertools.product(("yes", "no", None), repeat=7):
        section = {k: v for k, v in zip(keys, values, strict=True) if v is not None}
        risk = cssrs.score(section).risk
        acute = (
            section.get("q4") == "yes"
            or section.get("q5") == "yes"
            or (section.get("q6") == "yes" and section.get("q6_recent") != "no")
        )
        assert (risk == "high") == acute, section
        if "yes" in (section.get(k) for k in ITEMS):
            assert risk is not None, section
        if risk is None:
            continue
        for key in keys:
            raised = cssrs.score(section | {key: "yes"}).risk
            assert raised is not None and LEVEL[raised] >= LEVEL[risk], (section, key)


def test_cssrs_to_dict_has_exactly_the_contract_fields() -> None:
    out = cssrs.score(ALL_NO | {"q3": "yes"}).to_dict()
    assert out == {"risk": "moderate"}
    assert json.loads(json.dumps(out)) == out


def test_cssrs_input_not_mutated() -> None:
    section = ALL_NO | {"q6": "yes", "q6_recent": "no"}
    before = copy.deepcopy(section)
    cssrs.score(section)
    assert section == before
    cssrs.score(MappingProxyType(section))


def test_cssrs_score_is_frozen_and_slotted() -> None:
    result = cssrs.score(ALL_NO)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.risk = "high"  # type: ignore[misc]
    assert not hasattr(result, "__dict__")


def test_cssrs_module_holds_no_question_wording_clinical_md_licensing() -> None:
    # Electronic use of the screener wording is licensed: no question text may ship.
    assert "?" not in inspect.getsource(cssrs)


def test_cssrs_module_surface() -> None:
    assert cssrs.SECTION == "cssrs"
    assert cssrs.ITEMS == ITEMS
    assert "Posner" in cssrs.SOURCE and "secondary source" in cssrs.SOURCE
