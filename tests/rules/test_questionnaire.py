"""The ketamine-intake definition against the contract (shared spec §4), the LOINC-coded
FHIR forms of uwcirg/asbi-screening-app and the licensing notes (clinical reference §4)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest

from rules import questionnaire
from rules.questionnaire import CURRENT_VERSION, KETAMINE_INTAKE, QUESTIONNAIRES, get
from rules.questionnaire_model import EnableWhen, Item, ItemKind
from tests.fixtures import UWCIRG_GAD7, UWCIRG_PHQ9, fhir_questionnaire

YES_NO = ("yes", "no")
YES_NO_UNSURE = ("yes", "no", "unsure")
TRIALS = "treatment_history.antidepressant_trials"
SECTIONS = ("respondent", "phq9", "asq", "gad7", "cssrs", "mdq", "pcl5", "audit_c", "dast10",
            "treatment_history", "medical_history", "medications", "reproductive", "vitals")
LICENSED = ("cssrs", "mdq", "dast10")
MEDICAL_HISTORY = (
    "aneurysm_or_avm", "intracerebral_hemorrhage", "ketamine_hypersensitivity",
    "uncontrolled_hypertension", "recent_cardiovascular_event",
    "heart_failure_or_unstable_angina", "psychosis", "mania_or_hypomania",
    "substance_use_disorder", "ketamine_misuse", "elevated_intracranial_pressure",
    "seizure_disorder", "glaucoma", "untreated_hyperthyroidism", "severe_liver_disease",
    "bladder_or_interstitial_cystitis", "dementia_or_cognitive_impairment",
)
MEDICATIONS = ("benzodiazepine", "maoi", "stimulant", "opioid", "lamotrigine")


def _contract() -> dict[str, dict[str, Any]]:
    """Every path of spec §4 with its kind and domain, restated from the contract."""
    c: dict[str, dict[str, Any]] = {}

    def add(path: str, kind: ItemKind, **domain: Any) -> None:
        c[path] = {"kind": kind, **domain}

    def choices(section: str, names: Any, values: tuple[Any, ...]) -> None:
        for name in names:
            add(f"{section}.{name}", ItemKind.CHOICE, values=values)

    for section in SECTIONS:
        add(section, ItemKind.GROUP)
    for name, size in (("given_name", 100), ("family_name", 100), ("email", 254),
                       ("phone", 40), ("external_id", 100)):
        add(f"respondent.{name}", ItemKind.STRING, max_length=size)
    add("respondent.date_of_birth", ItemKind.DATE)
    add("respondent.sex_at_birth", ItemKind.CHOICE,
        values=("female", "male", "intersex", "unknown"))
    choices("phq9", [f"q{n}" for n in range(1, 10)] + ["difficulty"], (0, 1, 2, 3))
    choices("asq", [f"q{n}" for n in range(1, 6)], YES_NO)
    choices("gad7", [f"q{n}" for n in range(1, 8)], (0, 1, 2, 3))
    choices("cssrs", [f"q{n}" for n in range(1, 7)] + ["q6_recent"], YES_NO)
    add("mdq.q1", ItemKind.CHOICE_LIST, values=YES_NO, length=13)
    choices("mdq", ["q2"], YES_NO)
    choices("mdq", ["q3"], ("none", "minor", "moderate", "serious"))
    choices("pcl5", [f"q{n}" for n in range(1, 21)], (0, 1, 2, 3, 4))
    choices("audit_c", ["q1", "q2", "q3"], (0, 1, 2, 3, 4))
    choices("dast10", [f"q{n}" for n in range(1, 11)], YES_NO)
    add(TRIALS, ItemKind.GROUP, repeats=True)
    add(f"{TRIALS}.medication", ItemKind.STRING, max_length=100)
    add(f"{TRIALS}.weeks", ItemKind.INTEGER, minimum=0, maximum=520)
    choices(TRIALS, ["adequate_dose", "taken_as_prescribed"], YES_NO_UNSURE)
    choices(TRIALS, ["response"], ("none", "partial", "full", "stopped_side_effects"))
    choices("medical_history", MEDICAL_HISTORY, YES_NO_UNSURE)
    choices("medications", MEDICATIONS, YES_NO_UNSURE)
    choices("reproductive", ["pregnant", "breastfeeding"], YES_NO_UNSURE + ("not_applicable",))
    add("vitals.systolic_bp", ItemKind.INTEGER, minimum=50, maximum=300)
    add("vitals.diastolic_bp", ItemKind.INTEGER, minimum=20, maximum=200)
    return c


CONTRACT = _contract()
REQUIRED = {
    "respondent", "respondent.date_of_birth", "phq9", *(f"phq9.q{n}" for n in range(1, 10)),
    "asq", *(f"asq.q{n}" for n in range(1, 6)), "treatment_history", TRIALS,
    f"{TRIALS}.medication",
}


# --- contract (shared spec §4) ----------------------------------------------------------

@pytest.mark.parametrize("path", sorted(CONTRACT), ids=str)
def test_contract_item_has_its_kind_and_domain_spec_4(path: str) -> None:
    item = KETAMINE_INTAKE.item(path)
    expected = CONTRACT[path]
    assert item.kind is expected["kind"]
    assert item.option_values() == expected.get("values", ())
    assert item.minimum == expected.get("minimum")
    assert item.maximum == expected.get("maximum")
    assert item.max_length == expected.get("max_length")
    assert item.length == expected.get("length")
    assert item.repeats is expected.get("repeats", False)


def test_definition_has_exactly_the_contract_paths_spec_4() -> None:
    paths = [item.path for item in KETAMINE_INTAKE.walk()]
    assert len(paths) == len(set(paths))
    assert set(paths) == set(CONTRACT)


def test_required_flags_exactly_as_spec_4() -> None:
    assert {i.path for i in KETAMINE_INTAKE.walk() if i.required} == REQUIRED


def test_top_level_groups_one_per_submission_object_in_order_spec_4() -> None:
    assert tuple(i.path for i in KETAMINE_INTAKE.items) == SECTIONS
    assert all(i.kind is ItemKind.GROUP for i in KETAMINE_INTAKE.items)


def test_children_paths_extend_their_parent_path() -> None:
    for parent in KETAMINE_INTAKE.walk():
        for child in parent.children:
            assert child.path == f"{parent.path}.{child.name}"


def test_asq_q5_enabled_when_any_screen_item_is_yes_nimh_asq_pathway() -> None:
    q5 = KETAMINE_INTAKE.item("asq.q5")
    assert q5.enable_when == tuple(EnableWhen(f"asq.q{n}", "yes") for n in range(1, 5))
    assert q5.enable_behavior == "any"


def test_asq_q5_yes_accepted_when_disabled_spec_4_nimh_asq_acute_positive() -> None:
    assert KETAMINE_INTAKE.item("asq.q5").accept_when_disabled == ("yes",)


def test_cssrs_skip_pattern_columbia_screener_every_answer_accepted_outside_it() -> None:
    after_q2 = (EnableWhen("cssrs.q2", "yes"),)
    for name in ("q3", "q4", "q5"):
        assert KETAMINE_INTAKE.item(f"cssrs.{name}").enable_when == after_q2
    recency = KETAMINE_INTAKE.item("cssrs.q6_recent")
    assert recency.enable_when == (EnableWhen("cssrs.q6", "yes"),)
    cssrs = KETAMINE_INTAKE.item("cssrs")
    assert all(i.accept_when_disabled == ("yes", "no") for i in cssrs.children)


def test_only_suicide_risk_items_have_enable_when_spec_4() -> None:
    gated = [i.path for i in KETAMINE_INTAKE.walk() if i.enable_when]
    assert gated == ["asq.q5", "cssrs.q3", "cssrs.q4", "cssrs.q5", "cssrs.q6_recent"]
    accepted = [i.path for i in KETAMINE_INTAKE.walk() if i.accept_when_disabled]
    assert accepted == ["asq.q5", *(f"cssrs.q{n}" for n in range(1, 7)), "cssrs.q6_recent"]


NUMERIC = ("phq9", "gad7", "pcl5", "audit_c")


@pytest.mark.parametrize("section", [s for s in SECTIONS if s != "vitals"], ids=str)
def test_option_values_int_for_scored_instruments_str_otherwise(section: str) -> None:
    choice_items = [i for i in KETAMINE_INTAKE.walk()
                    if i.path.startswith(f"{section}.") and i.options]
    assert choice_items
    for item in choice_items:
        for option in item.options:
            if section in NUMERIC:
                assert type(option.value) is int and option.ordinal == option.value
            else:
                assert type(option.value) is str and option.ordinal is None
            assert option.code == str(option.value)
            assert option.display


# --- LOINC forms: uwcirg/asbi-screening-app src/fhir (clinical reference §6) ------------

def _fhir_items(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        yield from _fhir_items(item.get("item", []))


def _fixture(name: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """The panel code and the choice items by LOINC item code (not by linkId)."""
    doc = fhir_questionnaire(name)
    choices = {i["code"][0]["code"]: i for i in _fhir_items(doc["item"]) if i["type"] == "choice"}
    return doc["code"][0]["code"], choices


def _fhir_options(item: dict[str, Any]) -> list[tuple[str, str, int]]:
    def ordinal(option: dict[str, Any]) -> int:
        (value,) = [e["valueDecimal"] for e in option["extension"]
                    if e["url"] == "http://hl7.org/fhir/StructureDefinition/ordinalValue"]
        return int(value)

    return [(o["valueCoding"]["code"], o["valueCoding"]["display"], ordinal(o))
            for o in item["answerOption"]]


def _ours(item: Item) -> list[tuple[str | None, str, int | None]]:
    return [(o.loinc, o.display, o.ordinal) for o in item.options]


PHQ9_PANEL, PHQ9_FORM = _fixture(UWCIRG_PHQ9)
GAD7_PANEL, GAD7_FORM = _fixture(UWCIRG_GAD7)


@pytest.mark.parametrize(("section", "panel", "form"), [
    pytest.param("phq9", PHQ9_PANEL, PHQ9_FORM, id="uwcirg PHQ-9 44249-1"),
    pytest.param("gad7", GAD7_PANEL, GAD7_FORM, id="uwcirg GAD-7 69737-5"),
])
def test_items_match_the_loinc_form_by_item_code(
    section: str, panel: str, form: dict[str, dict[str, Any]]
) -> None:
    group = KETAMINE_INTAKE.item(section)
    assert group.loinc == panel
    # Every choice item of the form, in the form's order, and nothing else.
    assert [i.loinc for i in group.children] == list(form)
    for item in group.children:
        fhir = form[item.loinc]
        assert item.text == fhir["text"]
        assert _ours(item) == _fhir_options(fhir)
        assert item.option_values() == tuple(o.ordinal for o in item.options)


PHQ9_CODES = ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5",
              "44253-3", "44260-8", "69722-7")
GAD7_CODES = ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7")


@pytest.mark.parametrize(("section", "names", "codes"), [
    pytest.param("phq9", [f"q{n}" for n in range(1, 10)] + ["difficulty"], PHQ9_CODES,
                 id="Kroenke2001/LOINC 44249-1: q1-q9, difficulty 69722-7"),
    pytest.param("gad7", [f"q{n}" for n in range(1, 8)], GAD7_CODES,
                 id="Spitzer2006/LOINC 69737-5: q1-q7"),
])
def test_item_numbers_carry_their_loinc_codes(section: str, names: list[str],
                                              codes: tuple[str, ...]) -> None:
    assert tuple(KETAMINE_INTAKE.item(f"{section}.{n}").loinc for n in names) == codes


def test_phq9_difficulty_codes_not_in_numeric_order_loinc_69722_7() -> None:
    item = KETAMINE_INTAKE.item("phq9.difficulty")
    assert _ours(item) == [("LA6572-7", "Not difficult at all", 0),
                           ("LA6573-5", "Somewhat difficult", 1),
                           ("LA6575-0", "Very difficult", 2),
                           ("LA6574-3", "Extremely difficult", 3)]


def test_gad7_worry_control_value_2_is_la18938_3_loinc_68509_9_quirk() -> None:
    option = KETAMINE_INTAKE.item("gad7.q2").options[2]
    assert (option.value, option.ordinal, option.loinc) == (2, 2, "LA18938-3")
    others = [KETAMINE_INTAKE.item(f"gad7.q{n}").options[2].loinc for n in (1, 3, 4, 5, 6, 7)]
    assert set(others) == {"LA6570-1"}


# --- other instruments (clinical reference §3) ------------------------------------------

@pytest.mark.parametrize(("name", "code"), [
    pytest.param("q1", "68518-0", id="AUDIT-C q1 68518-0 (secondary source)"),
    pytest.param("q2", "68519-8", id="AUDIT-C q2 68519-8"),
    pytest.param("q3", "68520-6", id="AUDIT-C q3 68520-6"),
])
def test_audit_c_items_bush_1998_loinc(name: str, code: str) -> None:
    item = KETAMINE_INTAKE.item(f"audit_c.{name}")
    assert item.loinc == code
    assert item.text
    assert [o.ordinal for o in item.options] == [0, 1, 2, 3, 4]
    assert KETAMINE_INTAKE.item("audit_c").loinc == "72109-2"


def test_audit_c_answer_displays_clinical_reference_3_7() -> None:
    displays = [[o.display for o in KETAMINE_INTAKE.item(f"audit_c.q{n}").options]
                for n in (1, 2, 3)]
    assert displays[0][0] == "Never" and displays[0][1] == "Monthly or less"
    assert displays[1][0] == "1 or 2" and displays[1][4] == "10 or more"
    assert displays[2] == ["Never", "Less than monthly", "Monthly", "Weekly",
                           "Daily or almost daily"]


def test_pcl5_scale_weathers_2013() -> None:
    for n in range(1, 21):
        item = KETAMINE_INTAKE.item(f"pcl5.q{n}")
        assert [(o.value, o.display) for o in item.options] == [
            (0, "Not at all"), (1, "A little bit"), (2, "Moderately"), (3, "Quite a bit"),
            (4, "Extremely")]
        assert item.text and item.text.endswith("?")


def test_asq_texts_nimh_toolkit() -> None:
    texts = [KETAMINE_INTAKE.item(f"asq.q{n}").text or "" for n in range(1, 6)]
    assert "wished you were dead" in texts[0]
    assert "better off if you were dead" in texts[1]
    assert "past week" in texts[2] and "killing yourself" in texts[2]
    assert texts[3] == "Have you ever tried to kill yourself?"
    assert "right now" in texts[4]


@pytest.mark.parametrize("section", LICENSED, ids=str)
def test_licensed_instruments_are_numbered_only_clinical_reference_4(section: str) -> None:
    assert all(i.text is None for i in KETAMINE_INTAKE.item(section).children)


def test_every_unlicensed_item_has_text() -> None:
    for item in KETAMINE_INTAKE.walk():
        if item.path.split(".")[0] not in LICENSED or item.kind is ItemKind.GROUP:
            assert item.text, item.path


def test_date_of_birth_loinc_21112_8() -> None:
    assert KETAMINE_INTAKE.item("respondent.date_of_birth").loinc == "21112-8"


# --- describe(), get(), walk() and immutability -----------------------------------------

def _described_paths(items: list[dict[str, Any]]) -> Iterator[str]:
    for item in items:
        yield item["path"]
        yield from _described_paths(item.get("items", []))


def test_describe_is_json_and_lists_every_path() -> None:
    described = json.loads(json.dumps(KETAMINE_INTAKE.describe()))
    assert (described["id"], described["version"]) == ("ketamine-intake", "1")
    assert described["title"] == KETAMINE_INTAKE.title
    assert list(_described_paths(described["items"])) == [
        i.path for i in KETAMINE_INTAKE.walk()]


def test_describe_carries_domains_codes_and_conditions() -> None:
    by_path = {}
    stack = list(KETAMINE_INTAKE.describe()["items"])
    while stack:
        entry = stack.pop()
        by_path[entry["path"]] = entry
        stack.extend(entry.get("items", []))
    assert by_path["phq9.q1"]["options"][0] == {
        "value": 0, "display": "Not at all", "ordinal": 0, "loinc": "LA6568-5"}
    assert by_path["phq9.q1"]["loinc"] == "44250-9" and by_path["phq9.q1"]["required"]
    assert by_path["asq.q1"]["options"] == [{"value": "yes", "display": "Yes"},
                                            {"value": "no", "display": "No"}]
    assert by_path["asq.q5"]["enable_behavior"] == "any"
    assert by_path["asq.q5"]["enable_when"][0] == {"path": "asq.q1", "equals": "yes"}
    assert by_path[TRIALS]["repeats"] is True
    assert by_path["mdq.q1"]["length"] == 13 and "text" not in by_path["mdq.q1"]
    assert (by_path["vitals.systolic_bp"]["minimum"], by_path["vitals.systolic_bp"]["maximum"]) \
        == (50, 300)
    assert by_path["respondent.email"]["max_length"] == 254
    assert "repeats" not in by_path["treatment_history"]
    assert "enable_when" not in by_path["asq.q4"]


def test_get_current_and_explicit_version() -> None:
    assert CURRENT_VERSION == {"ketamine-intake": "1"}
    assert get("ketamine-intake") is KETAMINE_INTAKE
    assert get("ketamine-intake", "1") is KETAMINE_INTAKE
    assert QUESTIONNAIRES["ketamine-intake"]["1"] is KETAMINE_INTAKE


@pytest.mark.parametrize(("qid", "version"), [("no-such-form", None), ("no-such-form", "1"),
                                              ("ketamine-intake", "2")])
def test_get_unknown_raises_key_error(qid: str, version: str | None) -> None:
    with pytest.raises(KeyError):
        get(qid, version)


def test_item_lookup_unknown_path_raises_key_error() -> None:
    with pytest.raises(KeyError):
        KETAMINE_INTAKE.item("answers.phq9.q1")


def test_walk_is_depth_first_parents_before_children() -> None:
    paths = [i.path for i in KETAMINE_INTAKE.walk()]
    assert paths[:4] == ["respondent", "respondent.given_name", "respondent.family_name",
                         "respondent.date_of_birth"]
    assert paths[8:10] == ["phq9", "phq9.q1"]
    start = paths.index("treatment_history")
    assert paths[start:start + 4] == ["treatment_history", TRIALS, f"{TRIALS}.medication",
                                      f"{TRIALS}.weeks"]
    assert paths.index("medical_history") == start + 7
    assert paths[-1] == "vitals.diastolic_bp"


def test_item_name_is_last_path_segment() -> None:
    assert KETAMINE_INTAKE.item(f"{TRIALS}.weeks").name == "weeks"
    assert KETAMINE_INTAKE.item("respondent").name == "respondent"


def test_nothing_exported_is_mutable() -> None:
    assert questionnaire.__all__ == ["CURRENT_VERSION", "KETAMINE_INTAKE", "QUESTIONNAIRES",
                                     "get"]
    with pytest.raises(TypeError):
        QUESTIONNAIRES["other"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        QUESTIONNAIRES["ketamine-intake"]["2"] = KETAMINE_INTAKE  # type: ignore[index]
    with pytest.raises(TypeError):
        CURRENT_VERSION["ketamine-intake"] = "2"  # type: ignore[index]
    with pytest.raises(TypeError):
        KETAMINE_INTAKE.loinc["x"] = "y"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        KETAMINE_INTAKE.item("phq9.q1").required = False  # type: ignore[misc]
    for item in KETAMINE_INTAKE.walk():
        assert isinstance(item.children, tuple) and isinstance(item.options, tuple)


def test_total_score_loinc_codes_clinical_3_1_and_3_3() -> None:
    """Clinical reference §3.1 (PHQ-9 total 44261-6) and §3.3 (GAD-7 total 70274-6)."""
    assert KETAMINE_INTAKE.item("phq9").total_loinc == "44261-6"
    assert KETAMINE_INTAKE.item("gad7").total_loinc == "70274-6"
    assert KETAMINE_INTAKE.describe()["items"][1]["total_loinc"] == "44261-6"


def test_gad7_68509_9_value_2_also_read_as_la6570_1_clinical_3_3() -> None:
    """Clinical reference §3.3: LOINC's LA18938-3 is published, the paper GAD-7's LA6570-1
    accepted; no other option has an alias."""
    options = KETAMINE_INTAKE.item("gad7.q2").options
    assert [(o.loinc, o.loinc_aliases) for o in options if o.loinc_aliases] == [
        ("LA18938-3", ("LA6570-1",))]
    others = [o for i in KETAMINE_INTAKE.walk() if i.path != "gad7.q2" for o in i.options]
    assert all(o.loinc_aliases == () for o in others)
