"""Screen-positive flags from the optional instruments (spec §6 flag table)."""

from __future__ import annotations

from typing import Any

import pytest

from rules.instruments import audit_c, dast10, mdq, pcl5
from rules.screens import screen_flags
from rules.types import FlagKind


def flags_for(answers: dict[str, Any], sex_at_birth: str | None = None) -> list[Any]:
    scores: dict[str, Any] = {}
    for module in (mdq, pcl5, dast10):
        if module.SECTION in answers:
            scores[module.SECTION] = module.score(answers[module.SECTION])
    if "audit_c" in answers:
        scores["audit_c"] = audit_c.score(answers["audit_c"], sex_at_birth)
    return list(screen_flags(answers, scores))


def mdq_answers(yes: int, q2: str | None = "yes", q3: str | None = "serious") -> dict[str, Any]:
    section: dict[str, Any] = {"q1": ["yes"] * yes + ["no"] * (13 - yes)}
    if q2 is not None:
        section["q2"] = q2
    if q3 is not None:
        section["q3"] = q3
    return {"mdq": section}


def pcl5_answers(total: int, *, missing: int = 0) -> dict[str, Any]:
    items = [4] * (total // 4) + ([total % 4] if total % 4 else [])
    items += [0] * (20 - len(items))
    section = {f"q{n}": v for n, v in enumerate(items, 1)}
    for n in range(20, 20 - missing, -1):
        del section[f"q{n}"]
    return {"pcl5": section}


def audit_answers(q1: int, q2: int, q3: int) -> dict[str, Any]:
    return {"audit_c": {"q1": q1, "q2": q2, "q3": q3}}


def dast_answers(points: int) -> dict[str, Any]:
    # One point per "yes" except q3, which scores on "no" (Skinner 1982).
    section = {f"q{n}": "no" for n in range(1, 11)}
    section["q3"] = "yes"
    for n in (1, 2, 4, 5, 6, 7, 8, 9, 10)[:points]:
        section[f"q{n}"] = "yes"
    return {"dast10": section}


@pytest.mark.parametrize(
    ("answers", "raised"),
    [
        pytest.param(mdq_answers(7), True, id="Hirschfeld2000: 7 yes, q2 yes, q3 serious"),
        pytest.param(mdq_answers(7, q3="moderate"), True, id="Hirschfeld2000: q3 moderate"),
        pytest.param(mdq_answers(6), False, id="Hirschfeld2000: 6 yes is negative"),
        pytest.param(mdq_answers(13, q2="no"), False, id="Hirschfeld2000: q2 no is negative"),
        pytest.param(mdq_answers(13, q3="minor"), False, id="Hirschfeld2000: q3 minor"),
        pytest.param(mdq_answers(13, q3=None), False, id="q3 absent: undecided, no flag"),
    ],
)
def test_bipolar_screen_mdq_hirschfeld_2000(answers: dict[str, Any], raised: bool) -> None:
    found = flags_for(answers)
    assert [f.id for f in found] == (["bipolar_screen_positive"] if raised else [])


def test_bipolar_flag_carries_count_and_conditions() -> None:
    (flag,) = flags_for(mdq_answers(8, q3="serious"))
    assert flag.kind is FlagKind.SCREEN_POSITIVE
    assert flag.answer == {"yes_count": 8, "q2": "yes", "q3": "serious"}
    assert flag.source == mdq.SOURCE


@pytest.mark.parametrize(
    ("answers", "answer"),
    [
        pytest.param(pcl5_answers(32), None, id="Weathers2013 PCL-5: 32 is below 33"),
        pytest.param(pcl5_answers(33), {"total": 33, "complete": True},
                     id="Weathers2013 PCL-5: 33 is positive"),
        pytest.param(pcl5_answers(36, missing=2), {"total": None, "complete": False},
                     id="incomplete but certainly >= 33 is positive"),
        pytest.param(pcl5_answers(30, missing=2), None, id="incomplete and undecided: no flag"),
    ],
)
def test_ptsd_screen_pcl5_total_33(answers: dict[str, Any], answer: Any) -> None:
    found = flags_for(answers)
    if answer is None:
        assert found == []
    else:
        (flag,) = found
        assert (flag.id, flag.answer, flag.source) == ("ptsd_screen_positive", answer,
                                                       pcl5.SOURCE)


@pytest.mark.parametrize(
    ("answers", "sex", "raised"),
    [
        pytest.param(audit_answers(1, 1, 1), "male", False, id="Bush1998/Bradley: male 3"),
        pytest.param(audit_answers(2, 1, 1), "male", True, id="Bush1998/Bradley: male 4"),
        pytest.param(audit_answers(1, 1, 0), "female", False, id="Bradley2007: female 2"),
        pytest.param(audit_answers(1, 1, 1), "female", True, id="Bradley2007: female 3"),
        pytest.param(audit_answers(1, 1, 1), None, True, id="spec §6: sex not given uses 3"),
    ],
)
def test_alcohol_screen_audit_c_by_sex(answers: dict[str, Any], sex: str | None,
                                       raised: bool) -> None:
    found = flags_for(answers, sex)
    assert [f.id for f in found] == (["alcohol_screen_positive"] if raised else [])
    if raised:
        assert "positive" not in found[0].answer
        assert found[0].answer["total"] == 3 + (sex == "male")


@pytest.mark.parametrize(
    ("points", "raised"),
    [
        pytest.param(2, False, id="Skinner1982 DAST-10: 2 low"),
        pytest.param(3, True, id="Skinner1982 DAST-10: 3 moderate is positive"),
    ],
)
def test_drug_screen_dast10_skinner_1982(points: int, raised: bool) -> None:
    found = flags_for(dast_answers(points))
    assert [f.id for f in found] == (["drug_screen_positive"] if raised else [])
    if raised:
        assert found[0].answer == {"total": 3, "band": "moderate", "complete": True}
        assert found[0].source == dast10.SOURCE


def test_dast10_item_3_reverse_scored() -> None:
    answers = dast_answers(2)
    answers["dast10"]["q3"] = "no"  # "not always able to stop" scores a point
    assert [f.id for f in flags_for(answers)] == ["drug_screen_positive"]


def test_screens_come_out_in_fixed_order() -> None:
    answers = {**dast_answers(5), **audit_answers(4, 4, 4), **pcl5_answers(60),
               **mdq_answers(10)}
    assert [f.id for f in flags_for(answers)] == [
        "bipolar_screen_positive", "ptsd_screen_positive", "alcohol_screen_positive",
        "drug_screen_positive",
    ]


def test_no_scores_no_flags() -> None:
    assert screen_flags({}, {}) == ()
