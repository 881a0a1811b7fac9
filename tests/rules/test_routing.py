"""Routing (spec §6: first matching rule wins, every reason listed) and the crisis message
(spec §5)."""

from __future__ import annotations

import pytest

from rules.routing import ROUTING_RULES, route, safety
from rules.ruleset import Ruleset
from rules.types import (
    DEFAULT_CRISIS_MESSAGE,
    Criterion,
    Flag,
    FlagKind,
    Priority,
    Status,
)

KINDS = {
    "suicide_risk_acute": FlagKind.SAFETY,
    "suicide_risk": FlagKind.SAFETY,
    "blood_pressure_severe": FlagKind.SAFETY,
    "blood_pressure_elevated": FlagKind.CAUTION,
    "aneurysm_or_avm": FlagKind.ABSOLUTE_CONTRAINDICATION,
    "psychosis": FlagKind.RELATIVE_CONTRAINDICATION,
    "pregnant": FlagKind.RELATIVE_CONTRAINDICATION,
    "breastfeeding": FlagKind.RELATIVE_CONTRAINDICATION,
    "maoi": FlagKind.CAUTION,
    "older_adult": FlagKind.CAUTION,
    "ptsd_screen_positive": FlagKind.SCREEN_POSITIVE,
}


def flags(*ids: str) -> tuple[Flag, ...]:
    return tuple(Flag(i, KINDS[i], "yes", "detail", "source") for i in ids)


def criterion(id_: str, status: Status) -> Criterion:
    return Criterion(id_, status, "detail", "source")


MET_CRITERIA = (
    criterion("adult", Status.MET),
    criterion("depression_moderate_to_severe", Status.MET),
    criterion("prior_treatment_failure", Status.MET),
)


def test_review_order_spec_section_3_critical_urgent_high_routine() -> None:
    ordered = sorted(Priority, key=lambda p: p.rank, reverse=True)
    assert ordered[::-1] == [Priority.CRITICAL, Priority.URGENT, Priority.HIGH,
                             Priority.ROUTINE]
    assert [p.rank for p in ordered[::-1]] == [0, 1, 2, 3]


def test_the_table_is_ordered_most_urgent_first() -> None:
    assert [r.priority for r in ROUTING_RULES] == [Priority.CRITICAL, Priority.URGENT,
                                                  Priority.HIGH]


def test_routine_rule_lists_criteria_not_met_or_unknown_spec_6_rule_4() -> None:
    checked = (
        criterion("adult", Status.MET),
        criterion("depression_moderate_to_severe", Status.NOT_MET),
        criterion("prior_treatment_failure", Status.UNKNOWN),
    )
    result = route(flags(), checked)
    assert result.priority is Priority.ROUTINE
    assert result.reasons == (
        "criterion:depression_moderate_to_severe:not_met",
        "criterion:prior_treatment_failure:unknown",
    )


def test_flag_rule_lists_only_its_flags_spec_6_example() -> None:
    # The contract's §6 example: priority high, prior_treatment_failure unknown,
    # reasons ["flag:uncontrolled_hypertension"].
    checked = (
        criterion("adult", Status.MET),
        criterion("depression_moderate_to_severe", Status.MET),
        criterion("prior_treatment_failure", Status.UNKNOWN),
    )
    result = route(flags("psychosis"), checked)
    assert result.priority is Priority.HIGH
    assert result.reasons == ("flag:psychosis",)


def test_route_accepts_one_shot_iterables() -> None:
    result = route(iter(flags("suicide_risk")), iter(MET_CRITERIA))
    assert (result.priority, result.reasons) == (Priority.URGENT, ("flag:suicide_risk",))


# --- crisis resources (spec §5) ----------------------------------------------------------

@pytest.mark.parametrize("flag_id", ["suicide_risk", "suicide_risk_acute"])
def test_crisis_resources_default_names_emergency_services_and_988(flag_id: str) -> None:
    result = safety(flags(flag_id), Ruleset())
    assert result.show_crisis_resources is True
    assert result.message == DEFAULT_CRISIS_MESSAGE
    assert "988" in DEFAULT_CRISIS_MESSAGE and "emergency" in DEFAULT_CRISIS_MESSAGE


def test_crisis_resources_carry_the_clinic_text() -> None:
    settings = Ruleset(crisis_message="Call the clinic's 24 h line: 555 0199.")
    result = safety(flags("suicide_risk"), settings)
    assert (result.show_crisis_resources, result.message) == (
        True, "Call the clinic's 24 h line: 555 0199.")


@pytest.mark.parametrize(
    "ids",
    [pytest.param((), id="no flags"),
     pytest.param(("blood_pressure_severe", "aneurysm_or_avm"), id="other safety flags")],
)
def test_no_crisis_resources_without_a_suicide_risk_flag(ids: tuple[str, ...]) -> None:
    result = safety(flags(*ids), Ruleset(crisis_message="clinic text"))
    assert (result.show_crisis_resources, result.message) == (False, None)


def test_a_flag_matching_two_rules_counts_once_at_the_earlier_rule() -> None:
    # Not raised by today's rules, but the table must stay first-match-wins if it is.
    odd = (Flag("psychosis", FlagKind.RELATIVE_CONTRAINDICATION, "yes", "d", "s"),
           Flag("suicide_risk", FlagKind.ABSOLUTE_CONTRAINDICATION, "yes", "d", "s"))
    result = route(odd, MET_CRITERIA)
    assert (result.priority, result.reasons) == (
        Priority.URGENT, ("flag:suicide_risk", "flag:psychosis"))
