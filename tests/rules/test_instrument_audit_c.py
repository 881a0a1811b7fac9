"""AUDIT-C total and sex-specific screen against Bush et al. 1998 and Bradley et al. 2007
(clinical.md §3.7)."""

from __future__ import annotations

import copy
import dataclasses
import json
from types import MappingProxyType

import pytest

from rules.instruments import audit_c

ITEMS = ("q1", "q2", "q3")


def form(total: int, *, spread: bool = False) -> dict[str, int]:
    """A complete AUDIT-C whose three items add up to ``total`` (packed 4s or spread)."""
    assert 0 <= total <= 12
    if spread:
        base, rest = divmod(total, 3)
        answers = {key: base + (1 if i < rest else 0) for i, key in enumerate(ITEMS)}
    else:
        answers = {key: min(4, max(0, total - 4 * i)) for i, key in enumerate(ITEMS)}
    assert sum(answers.values()) == total
    return answers


CUT_OFFS = [
    pytest.param("female", 2, False, id="Bradley2007 women >=3: 2 negative"),
    pytest.param("female", 3, True, id="Bradley2007 women >=3: 3 positive"),
    pytest.param("male", 3, False, id="Bush1998 men >=4: 3 negative"),
    pytest.param("male", 4, True, id="Bush1998 men >=4: 4 positive"),
    pytest.param(None, 2, False, id="sex not given -> women's cut-off: 2 negative"),
    pytest.param(None, 3, True, id="sex not given -> women's cut-off: 3 positive"),
    pytest.param("female", 0, False, id="Bush1998: 0 (lowest)"),
    pytest.param("male", 12, True, id="Bush1998: 12 (highest)"),
]


@pytest.mark.parametrize("spread", [False, True], ids=["packed", "spread"])
@pytest.mark.parametrize(("sex", "total", "positive"), CUT_OFFS)
def test_audit_c_sex_specific_cut_offs_bush_1998_bradley_2007(
    sex: str | None, total: int, positive: bool, spread: bool
) -> None:
    result = audit_c.score(form(total, spread=spread), sex)
    assert (result.total, result.positive, result.complete) == (total, positive, True)


@pytest.mark.parametrize(
    ("sex", "threshold"),
    [("male", 4), ("female", 3), (None, 3), ("intersex", 3)],
)
def test_audit_c_threshold_reported(sex: str | None, threshold: int) -> None:
    assert audit_c.score(form(0), sex).threshold == threshold


def test_audit_c_sex_defaults_to_not_given() -> None:
    assert audit_c.score(form(3)).positive is True
    assert audit_c.score(form(3)).threshold == 3


@pytest.mark.parametrize(
    ("section", "sex", "positive"),
    [
        pytest.param({"q1": 4}, None, True, id="4 answered reaches women's 3"),
        pytest.param({"q1": 4}, "male", True, id="4 answered reaches men's 4"),
        pytest.param({"q1": 3}, "male", None, id="3 answered, men's 4 still open"),
        pytest.param({"q1": 3, "q2": 0}, "female", True, id="3 answered reaches women's 3"),
        pytest.param({"q1": 0, "q2": 0}, "female", None, id="one item unanswered keeps it open"),
        pytest.param({}, "male", None, id="empty"),
        pytest.param({"q1": 1, "q2": 1, "q3": None}, "female", None, id="None is unanswered"),
    ],
)
def test_audit_c_incomplete_positive_only_when_certain(
    section: dict[str, int], sex: str | None, positive: bool | None
) -> None:
    result = audit_c.score(section, sex)
    assert (result.total, result.positive, result.complete) == (None, positive, False)


def test_audit_c_zero_answer_is_present_absent_is_unknown() -> None:
    assert audit_c.score({"q1": 0, "q2": 0, "q3": 0}).total == 0
    assert audit_c.score({"q1": 0, "q2": 0}).total is None


def test_audit_c_to_dict_has_exactly_the_contract_fields() -> None:
    out = audit_c.score(form(4), "male").to_dict()
    assert out == {"total": 4, "positive": True, "complete": True, "threshold": 4}
    assert json.loads(json.dumps(out)) == out


def test_audit_c_input_not_mutated() -> None:
    section = {"q1": 2, "q2": 1}
    before = copy.deepcopy(section)
    audit_c.score(section, "female")
    assert section == before
    audit_c.score(MappingProxyType(section), "female")


def test_audit_c_score_is_frozen_and_slotted() -> None:
    result = audit_c.score(form(3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.total = 4  # type: ignore[misc]
    assert not hasattr(result, "__dict__")


def test_audit_c_module_surface() -> None:
    assert audit_c.SECTION == "audit_c"
    assert audit_c.ITEMS == ITEMS
    assert (audit_c.POSITIVE_AT_MALE, audit_c.POSITIVE_AT_OTHERWISE) == (4, 3)
    assert "Bush" in audit_c.SOURCE and "Bradley" in audit_c.SOURCE
