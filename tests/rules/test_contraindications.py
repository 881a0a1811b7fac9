"""Blood pressure, medical history, medication, reproductive and age flags."""

from __future__ import annotations

from typing import Any

import pytest

from rules.contraindications import (
    ANSWER_RULES,
    age_flags,
    blood_pressure_flags,
    history_flags,
    medication_flags,
    reproductive_flags,
)
from rules.ruleset import DEFAULT_RULESET
from rules.types import FlagKind

ABSOLUTE_KEYS = ("aneurysm_or_avm", "intracerebral_hemorrhage", "ketamine_hypersensitivity")
RELATIVE_HISTORY_KEYS = (
    "uncontrolled_hypertension", "recent_cardiovascular_event",
    "heart_failure_or_unstable_angina", "psychosis", "mania_or_hypomania",
    "substance_use_disorder", "ketamine_misuse", "elevated_intracranial_pressure",
    "seizure_disorder", "glaucoma", "untreated_hyperthyroidism", "severe_liver_disease",
    "bladder_or_interstitial_cystitis", "dementia_or_cognitive_impairment",
)
MEDICATION_KEYS = ("benzodiazepine", "maoi", "stimulant", "opioid", "lamotrigine")
REPRODUCTIVE_KEYS = ("pregnant", "breastfeeding")

CASES = (
    [("medical_history", key, FlagKind.ABSOLUTE_CONTRAINDICATION) for key in ABSOLUTE_KEYS]
    + [("medical_history", key, FlagKind.RELATIVE_CONTRAINDICATION)
       for key in RELATIVE_HISTORY_KEYS]
    + [("medications", key, FlagKind.CAUTION) for key in MEDICATION_KEYS]
    + [("reproductive", key, FlagKind.RELATIVE_CONTRAINDICATION) for key in REPRODUCTIVE_KEYS]
)
FLAGGERS = {
    "medical_history": history_flags,
    "medications": medication_flags,
    "reproductive": reproductive_flags,
}


def bp(systolic: int | None = None, diastolic: int | None = None) -> dict[str, Any]:
    readings = {"systolic_bp": systolic, "diastolic_bp": diastolic}
    return {"vitals": {k: v for k, v in readings.items() if v is not None}}


# --- blood pressure ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("answers", "flag_id"),
    [
        pytest.param(bp(180, 100), "blood_pressure_elevated",
                     id="Swiss ketamine PI >180/100: 180/100 is not severe"),
        pytest.param(bp(181, 100), "blood_pressure_severe",
                     id="Swiss ketamine PI >180/100: 181/100 is severe"),
        pytest.param(bp(180, 101), "blood_pressure_severe",
                     id="Swiss ketamine PI >180/100: 180/101 is severe"),
        pytest.param(bp(139, 89), None, id="SPRAVATO BP guidance [S]: 139/89 raises nothing"),
        pytest.param(bp(140, 89), "blood_pressure_elevated",
                     id="SPRAVATO BP guidance [S]: 140/89 is elevated"),
        pytest.param(bp(139, 90), "blood_pressure_elevated",
                     id="SPRAVATO BP guidance [S]: 139/90 is elevated"),
        pytest.param(bp(systolic=181), "blood_pressure_severe", id="systolic alone: severe"),
        pytest.param(bp(diastolic=101), "blood_pressure_severe", id="diastolic alone: severe"),
        pytest.param(bp(systolic=140), "blood_pressure_elevated", id="systolic alone: elevated"),
        pytest.param(bp(diastolic=90), "blood_pressure_elevated", id="diastolic alone: elevated"),
        pytest.param(bp(systolic=139), None, id="systolic alone: normal"),
        pytest.param(bp(diastolic=89), None, id="diastolic alone: normal"),
        pytest.param(bp(), None, id="vitals section empty"),
        pytest.param({}, None, id="vitals absent"),
    ],
)
def test_blood_pressure_thresholds(answers: dict[str, Any], flag_id: str | None) -> None:
    flags = blood_pressure_flags(answers, DEFAULT_RULESET)
    assert [f.id for f in flags] == ([flag_id] if flag_id else [])
    if flags:
        assert flags[0].answer == answers["vitals"]
        assert flags[0].answer is not answers["vitals"]


def test_blood_pressure_kinds_and_sources() -> None:
    (severe,) = blood_pressure_flags(bp(200, 120), DEFAULT_RULESET)
    (elevated,) = blood_pressure_flags(bp(150, 95), DEFAULT_RULESET)
    assert severe.kind is FlagKind.SAFETY and "180/100" in severe.source
    assert "ketamine hydrochloride injection US PI" in severe.source
    assert elevated.kind is FlagKind.CAUTION and "140" in elevated.source
    assert "secondary source" in elevated.source


# --- answered items ----------------------------------------------------------------------

def test_every_contract_key_has_exactly_one_rule() -> None:
    assert [(r.section, r.id, r.kind) for r in ANSWER_RULES] == CASES


@pytest.mark.parametrize(("section", "key", "kind"), CASES, ids=[c[1] for c in CASES])
@pytest.mark.parametrize("value", ["yes", "unsure"])
def test_yes_or_unsure_raises_the_flag_with_the_answer(
    section: str, key: str, kind: FlagKind, value: str
) -> None:
    (flag,) = FLAGGERS[section]({section: {key: value}})
    assert (flag.id, flag.kind, flag.answer) == (key, kind, value)
    assert flag.detail and flag.source


@pytest.mark.parametrize(("section", "key", "kind"), CASES, ids=[c[1] for c in CASES])
@pytest.mark.parametrize(
    "section_answers",
    [pytest.param("no", id="answered no"), pytest.param(None, id="item absent")],
)
def test_no_or_absent_raises_nothing(
    section: str, key: str, kind: FlagKind, section_answers: str | None
) -> None:
    answered = {} if section_answers is None else {key: section_answers}
    assert FLAGGERS[section]({section: answered}) == ()
    assert FLAGGERS[section]({}) == ()


@pytest.mark.parametrize("key", REPRODUCTIVE_KEYS)
def test_not_applicable_raises_nothing(key: str) -> None:
    assert reproductive_flags({"reproductive": {key: "not_applicable"}}) == ()


@pytest.mark.parametrize(
    ("key", "cited"),
    [
        ("aneurysm_or_avm", "SPRAVATO (esketamine) US PI §4"),
        ("intracerebral_hemorrhage", "SPRAVATO (esketamine) US PI §4"),
        ("ketamine_hypersensitivity", "ketamine hydrochloride injection US PI"),
        ("untreated_hyperthyroidism", "Swiss ketamine product information"),
        ("psychosis", "SPRAVATO (esketamine) US PI §5.2"),
        ("maoi", "SPRAVATO (esketamine) US PI §7"),
        ("lamotrigine", "Andrade 2017"),
        ("pregnant", "SPRAVATO (esketamine) US PI"),
    ],
)
def test_sources_clinical_md_section_1(key: str, cited: str) -> None:
    (rule,) = [r for r in ANSWER_RULES if r.id == key]
    assert cited in rule.source


def test_flags_come_out_in_table_order_whatever_the_answer_order() -> None:
    answers = {"medical_history": {"glaucoma": "yes", "psychosis": "unsure",
                                   "aneurysm_or_avm": "yes", "seizure_disorder": "no"}}
    assert [f.id for f in history_flags(answers)] == ["aneurysm_or_avm", "psychosis", "glaucoma"]


# --- age ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("age", "raised"),
    [
        pytest.param(64, False, id="SPRAVATO PI >=65 dose [U]: 64 raises nothing"),
        pytest.param(65, True, id="SPRAVATO PI >=65 dose [U]: 65 is older_adult"),
        pytest.param(90, True, id="SPRAVATO PI >=65 dose [U]: 90 is older_adult"),
        pytest.param(None, False, id="age unknown raises nothing"),
    ],
)
def test_older_adult_spravato_lower_starting_dose(age: int | None, raised: bool) -> None:
    flags = age_flags(age, DEFAULT_RULESET)
    assert bool(flags) is raised
    if raised:
        assert (flags[0].id, flags[0].kind, flags[0].answer) == (
            "older_adult", FlagKind.CAUTION, {"age_years": age})
        assert "unverified" in flags[0].source
