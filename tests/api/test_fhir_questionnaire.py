"""The generated R4 Questionnaire: valid R4, linkIds are the native paths, LOINC codes as the
real LOINC forms publish them, enable-when and required as the native contract, served
at ``/fhir/Questionnaire``."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from rules.questionnaire import KETAMINE_INTAKE
from rules.questionnaire_model import ItemKind
from screening.web.fhir import FHIR_JSON
from screening.web.fhir.questionnaire import ORDINAL_VALUE, canonical_url, to_resource
from tests.api.fhir_r4 import assert_valid_r4
from tests.fixtures import fhir_questionnaire

CANONICAL = "https://screening.example/fhir/Questionnaire/ketamine-intake"


def published() -> dict[str, Any]:
    return to_resource(KETAMINE_INTAKE)


def items(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in node.get("item", []):
        yield item
        yield from items(item)


def by_link_id(link_id: str) -> dict[str, Any]:
    return next(i for i in items(published()) if i["linkId"] == link_id)


def answer_codes(item: dict[str, Any]) -> list[tuple[str, float | None]]:
    """(answer code, ordinalValue) of each answerOption, in order."""
    out = []
    for option in item.get("answerOption", []):
        ordinal = next((e["valueDecimal"] for e in option.get("extension", [])
                        if e["url"] == ORDINAL_VALUE), None)
        out.append((option["valueCoding"]["code"], ordinal))
    return out


def test_questionnaire_is_valid_r4() -> None:
    assert_valid_r4(published())


@pytest.mark.parametrize(("element", "value"), [("status", "bogus"), ("item", "x")],
                         ids=["unbound status code", "item not a list"])
def test_r4_check_rejects_an_invalid_questionnaire(element: str, value: str) -> None:
    broken = copy.deepcopy(published())
    broken[element] = value
    with pytest.raises((AssertionError, ValidationError)):
        assert_valid_r4(broken)


def test_canonical_url_and_version() -> None:
    resource = published()
    assert resource["url"] == canonical_url(KETAMINE_INTAKE) == CANONICAL
    assert resource["version"] == KETAMINE_INTAKE.version == "1"


def test_link_ids_are_the_native_paths() -> None:
    link_ids = {i["linkId"] for i in items(published())}
    native = {i.path for i in KETAMINE_INTAKE.walk()}
    mdq_rows = {f"mdq.q1.{n}" for n in range(1, 14)}
    assert link_ids == native | mdq_rows
    for path in ("respondent.date_of_birth", "phq9.q1", "asq.q5",
                 "treatment_history.antidepressant_trials.weeks"):
        assert path in link_ids


def test_antidepressant_trials_is_a_repeating_group() -> None:
    trials = by_link_id("treatment_history.antidepressant_trials")
    assert trials["type"] == "group" and trials["repeats"] is True
    assert [c["linkId"] for c in trials["item"]][:2] == [
        "treatment_history.antidepressant_trials.medication",
        "treatment_history.antidepressant_trials.weeks",
    ]
    weeks = by_link_id("treatment_history.antidepressant_trials.weeks")
    assert weeks["type"] == "integer"
    assert {e["url"].rsplit("/", 1)[1]: e["valueInteger"] for e in weeks["extension"]} == {
        "minValue": 0, "maxValue": 520}


def test_choice_codes_are_native_values_unless_loinc_codes_the_answer() -> None:
    for item in KETAMINE_INTAKE.walk():
        if item.kind is not ItemKind.CHOICE:
            continue
        published_item = by_link_id(item.path)
        expected = [(o.loinc or o.code, o.ordinal) for o in item.options]
        assert answer_codes(published_item) == expected, item.path


def test_numeric_answers_carry_ordinal_value_equal_to_the_native_value() -> None:
    for link_id in ("phq9.q1", "gad7.q2", "pcl5.q20", "audit_c.q3"):
        codes = answer_codes(by_link_id(link_id))
        assert [ordinal for _, ordinal in codes] == list(range(len(codes))), link_id


def test_asq_q5_is_enabled_by_a_yes_to_any_screening_question() -> None:
    q5 = by_link_id("asq.q5")
    assert q5["enableBehavior"] == "any"
    assert [(c["question"], c["operator"], c["answerCoding"]["code"])
            for c in q5["enableWhen"]] == [(f"asq.q{n}", "=", "yes") for n in range(1, 5)]
    assert q5["required"] is True


def test_required_items_are_those_of_the_native_contract() -> None:
    """Shared spec §4: date of birth, PHQ-9 items 1-9, ASQ q1-q4 (q5 when enabled); the
    trials list may be empty, which FHIR can only express as optional. Groups are never
    marked (LHC-Forms would ask a required group itself for a value)."""
    required = {i["linkId"] for i in items(published()) if i.get("required")}
    assert required == {
        "respondent.date_of_birth",
        *(f"phq9.q{n}" for n in range(1, 10)), *(f"asq.q{n}" for n in range(1, 6)),
    }


def test_mdq_q1_is_a_group_of_thirteen_yes_no_rows() -> None:
    group = by_link_id("mdq.q1")
    assert group["type"] == "group"
    assert [row["linkId"] for row in group["item"]] == [f"mdq.q1.{n}" for n in range(1, 14)]
    assert {tuple(answer_codes(row)) for row in group["item"]} == {(("yes", None), ("no", None))}


def test_licensed_wording_is_not_reproduced() -> None:
    assert by_link_id("cssrs.q1")["text"] == "Item 1"
    assert by_link_id("cssrs.q6_recent")["text"] == "Item 6 recent"
    assert by_link_id("dast10.q3")["text"] == "Item 3"


@pytest.mark.parametrize(("name", "group"), [
    ("uwcirg-Questionnaire-PHQ9.json", "phq9"),
    ("uwcirg-Questionnaire-GAD7.json", "gad7"),
], ids=["uwcirg PHQ-9 (LOINC 44249-1)", "uwcirg GAD-7 (LOINC 69737-5)"])
def test_loinc_item_and_answer_codes_match_the_uwcirg_loinc_forms(name: str, group: str) -> None:
    """Items are matched by LOINC code, not by linkId (the publishers' linkIds differ)."""
    third_party = {
        i["code"][0]["code"]: answer_codes(i)
        for i in items(fhir_questionnaire(name)) if i["type"] == "choice"
    }
    ours_group = by_link_id(group)
    ours = {i["code"][0]["code"]: answer_codes(i) for i in ours_group["item"]}
    assert ours == third_party
    assert ours_group["code"][0]["code"] == fhir_questionnaire(name)["code"][0]["code"]
    assert all(c["system"] == "http://loinc.org" for i in ours_group["item"] for c in i["code"])


def test_gad7_worry_item_keeps_the_loinc_quirk_and_scores_by_ordinal() -> None:
    """Clinical reference §3.3: 68509-9 codes value 2 as LA18938-3 "More days than not"."""
    assert answer_codes(by_link_id("gad7.q2"))[2] == ("LA18938-3", 2)


def test_get_questionnaire_by_id(client: Any) -> None:
    response = client.get("/fhir/Questionnaire/ketamine-intake")
    assert response.status_code == 200
    assert response.mimetype == FHIR_JSON
    assert response.get_json() == published()
    assert response.headers["Cache-Control"] == "no-store"


def test_get_unknown_questionnaire_is_a_not_found_outcome(client: Any) -> None:
    response = client.get("/fhir/Questionnaire/no-such-form")
    assert response.status_code == 404
    assert response.mimetype == FHIR_JSON
    body = response.get_json()
    assert_valid_r4(body)
    assert body["issue"][0]["code"] == "not-found"


@pytest.mark.parametrize("url", [CANONICAL, f"{CANONICAL}|1"], ids=["url", "url|version"])
def test_search_by_canonical_url_answers_a_searchset(client: Any, url: str) -> None:
    response = client.get("/fhir/Questionnaire", query_string={"url": url})
    assert response.status_code == 200
    bundle = response.get_json()
    assert_valid_r4(bundle)
    assert bundle["type"] == "searchset" and bundle["total"] == 1
    assert bundle["entry"][0]["resource"] == published()
    assert bundle["entry"][0]["fullUrl"].endswith("/fhir/Questionnaire/ketamine-intake")


@pytest.mark.parametrize("url", ["http://www.cdc.gov/ncbddd/fasd/phq9", f"{CANONICAL}|9"],
                         ids=["another publisher's url", "unknown version"])
def test_search_for_another_url_is_empty(client: Any, url: str) -> None:
    bundle = client.get("/fhir/Questionnaire", query_string={"url": url}).get_json()
    assert_valid_r4(bundle)
    assert bundle["total"] == 0 and "entry" not in bundle
