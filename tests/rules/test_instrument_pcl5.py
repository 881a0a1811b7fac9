"""PCL-5 total and provisional-PTSD screen against the National Center for PTSD cut-point
(Weathers et al. 2013; clinical.md §3.6)."""

from __future__ import annotations

import copy
import dataclasses
import json
from types import MappingProxyType

import pytest

from rules.instruments import pcl5

ITEMS = tuple(f"q{n}" for n in range(1, 21))


def form(total: int, *, spread: bool = False) -> dict[str, int]:
    """A complete PCL-5 whose twenty items add up to ``total`` (packed 4s or spread)."""
    assert 0 <= total <= 80
    if spread:
        base, rest = divmod(total, 20)
        answers = {key: base + (1 if i < rest else 0) for i, key in enumerate(ITEMS)}
    else:
        answers = {key: min(4, max(0, total - 4 * i)) for i, key in enumerate(ITEMS)}
    assert sum(answers.values()) == total
    return answers


def without(answers: dict[str, int], *keys: str) -> dict[str, int]:
    """The same answers with ``keys`` left out."""
    return {key: value for key, value in answers.items() if key not in keys}


@pytest.mark.parametrize("spread", [False, True], ids=["packed", "spread"])
@pytest.mark.parametrize(
    ("total", "positive"),
    [
        pytest.param(0, False, id="NCPTSD: 0 (lowest) negative"),
        pytest.param(32, False, id="NCPTSD cut-point 33: 32 negative"),
        pytest.param(33, True, id="NCPTSD cut-point 33: 33 positive"),
        pytest.param(80, True, id="NCPTSD: 80 (highest) positive"),
    ],
)
def test_pcl5_cut_point_national_center_for_ptsd(
    total: int, positive: bool, spread: bool
) -> None:
    result = pcl5.score(form(total, spread=spread))
    assert (result.total, result.positive, result.complete) == (total, positive, True)


@pytest.mark.parametrize(
    ("section", "positive"),
    [
        pytest.param(without(form(40), "q20"), True, id="33+ answered, one missing -> positive"),
        pytest.param(without(form(33), "q20"), True, id="exactly 33 answered -> positive"),
        pytest.param(without(form(28), "q20"), False, id="28 + at most 4 = 32 -> negative"),
        pytest.param(without(form(29), "q20"), None, id="29 + up to 4 could reach 33"),
        pytest.param(without(form(24), "q19", "q20"), False, id="24 + at most 8 = 32"),
        pytest.param(without(form(25), "q19", "q20"), None, id="25 + up to 8 could reach 33"),
        pytest.param({}, None, id="empty: 0 to 80"),
        pytest.param(form(50) | {"q20": None}, True, id="None counts as unanswered"),
    ],
)
def test_pcl5_incomplete_positive_only_when_certain(
    section: dict[str, int], positive: bool | None
) -> None:
    result = pcl5.score(section)
    assert (result.total, result.positive, result.complete) == (None, positive, False)


def test_pcl5_zero_answer_is_present_absent_is_unknown() -> None:
    assert pcl5.score(form(0)).total == 0
    assert pcl5.score(without(form(0), "q1")).total is None


# The fewest endorsements the DSM-5 rule accepts: q1 (B), q6 (C), q8-q9 (D), q15-q16 (E).
MINIMAL = {key: 0 for key in ITEMS} | {key: 2 for key in ("q1", "q6", "q8", "q9", "q15",
                                                          "q16")}


@pytest.mark.parametrize(
    ("section", "met"),
    [
        pytest.param(MINIMAL, True, id="NCPTSD DSM-5 rule: 1 B, 1 C, 2 D, 2 E rated 2 -> met"),
        pytest.param(MINIMAL | {"q1": 1}, False, id="NCPTSD DSM-5 rule: B one short -> not met"),
        pytest.param(MINIMAL | {"q6": 1}, False, id="NCPTSD DSM-5 rule: C one short -> not met"),
        pytest.param(MINIMAL | {"q9": 1}, False, id="NCPTSD DSM-5 rule: D one short -> not met"),
        pytest.param(MINIMAL | {"q16": 1}, False,
                     id="NCPTSD DSM-5 rule: E one short -> not met"),
        pytest.param(MINIMAL | {"q5": 4, "q7": 3, "q14": 2, "q20": 4}, True,
                     id="NCPTSD DSM-5 rule: last item of each cluster counts there"),
        pytest.param({key: 1 for key in ITEMS}, False,
                     id="NCPTSD DSM-5 rule: every item rated 1 is not endorsed"),
        pytest.param({key: 4 for key in ITEMS}, True, id="NCPTSD DSM-5 rule: all rated 4"),
        pytest.param(MINIMAL | {"q5": 2, "q1": 0, "q7": 2, "q6": 0, "q13": 2, "q8": 0,
                                "q19": 2, "q15": 0}, True,
                     id="NCPTSD DSM-5 rule: any items of a cluster count, not only the first"),
    ],
)
def test_pcl5_dsm5_cluster_rule_national_center_for_ptsd(
    section: dict[str, int], met: bool
) -> None:
    result = pcl5.score(section)
    assert result.dsm5_cluster_rule is met
    assert result.complete


def test_pcl5_cluster_rule_and_cut_point_are_independent_national_center_for_ptsd() -> None:
    # Both are provisional-diagnosis rules of the same source; neither implies the other.
    minimal = pcl5.score(MINIMAL)
    assert (minimal.total, minimal.positive, minimal.dsm5_cluster_rule) == (12, False, True)
    no_c = pcl5.score({key: 4 for key in ITEMS} | {"q6": 1, "q7": 0})
    assert (no_c.positive, no_c.dsm5_cluster_rule) == (True, False)


@pytest.mark.parametrize(
    ("section", "met"),
    [
        pytest.param(without(MINIMAL, "q20"), True, id="met by the answered items already"),
        pytest.param(without(MINIMAL, "q16"), None, id="E short unless q16 is endorsed"),
        pytest.param(without(MINIMAL, "q6", "q7"), None, id="C decided by its two unanswered"),
        pytest.param(without(MINIMAL | {"q6": 0}, "q2") | {"q7": 0}, False,
                     id="C all answered below 2 -> not met whatever q2 says"),
        pytest.param(without(MINIMAL, *ITEMS[7:13]) | {"q8": 0, "q9": 0}, None,
                     id="D: none endorsed, four unanswered could give 2"),
        pytest.param(without(MINIMAL | {"q9": 0}, *ITEMS[9:14]), None,
                     id="D: one endorsed, five unanswered"),
        pytest.param({}, None, id="empty: undecided"),
        pytest.param({"q1": 0, "q2": 0, "q3": 0, "q4": 0, "q5": 1}, False,
                     id="B answered without a 2 -> not met"),
        pytest.param(MINIMAL | {"q8": None}, None, id="None counts as unanswered"),
    ],
)
def test_pcl5_incomplete_cluster_rule_only_when_certain_national_center_for_ptsd(
    section: dict[str, int], met: bool | None
) -> None:
    assert pcl5.score(section).dsm5_cluster_rule is met


def test_pcl5_to_dict_has_exactly_the_contract_fields() -> None:
    out = pcl5.score(form(33)).to_dict()
    assert out == {"total": 33, "positive": True, "complete": True, "dsm5_cluster_rule": False}
    assert json.loads(json.dumps(out)) == out
    assert pcl5.score({}).to_dict() == {"total": None, "positive": None, "complete": False,
                                        "dsm5_cluster_rule": None}


def test_pcl5_input_not_mutated() -> None:
    section = without(form(45, spread=True), "q7")
    before = copy.deepcopy(section)
    pcl5.score(section)
    assert section == before
    pcl5.score(MappingProxyType(section))


def test_pcl5_score_is_frozen_and_slotted() -> None:
    result = pcl5.score(form(3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.total = 4  # type: ignore[misc]
    assert not hasattr(result, "__dict__")


def test_pcl5_module_surface() -> None:
    assert pcl5.SECTION == "pcl5"
    assert pcl5.ITEMS == ITEMS
    assert pcl5.POSITIVE_AT == 33 and pcl5.TOTAL_MAX == 80
    assert "Weathers" in pcl5.SOURCE and "31-33" in pcl5.SOURCE
    assert "National Center for PTSD" in pcl5.CLUSTER_RULE_SOURCE
    assert [(name, items, needed) for name, items, needed in pcl5.CLUSTERS] == [
        ("B", ITEMS[0:5], 1), ("C", ITEMS[5:7], 1), ("D", ITEMS[7:14], 2),
        ("E", ITEMS[14:20], 2)]
