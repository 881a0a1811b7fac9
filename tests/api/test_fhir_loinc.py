"""Answers to the real LOINC-coded uwcirg PHQ-9 and GAD-7 forms (tests/fixtures/fhir, README:
"scored exactly as the native JSON form is"), embedded in a response to our Questionnaire:
their items are read by the LOINC code their linkIds name, whatever the spelling, their
answers by code or ordinalValue (GAD-7 68509-9 codes 2 as LA18938-3, clinical reference
§3.3), and the stored evaluation equals that of the same answers posted as native JSON.

The answers are made by walking the fixtures' own items (linkIds, answerOptions,
ordinalValue extensions); their items map to the instrument's items by position, the
order in which both instruments number their items (Kroenke 2001; Spitzer 2006).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.questionnaire import KETAMINE_INTAKE
from screening.intake.schemas import default_catalogue
from screening.storage.models import Submission
from screening.storage.unit_of_work import session_scope
from screening.web.fhir import FHIR_JSON
from screening.web.fhir.loinc import code_of
from screening.web.fhir.outcome import UnprocessableResource
from screening.web.fhir.questionnaire import to_resource
from screening.web.fhir.response import parse
from tests import fixtures
from tests.api.bodies import SUBMISSIONS, example
from tests.api.conftest import TenantCredentials
from tests.api.fhir_answering import ORDINAL_VALUE, answer
from tests.api.fhir_r4 import assert_valid_r4

RESPONSES = "/fhir/QuestionnaireResponse"
PUBLISHED = to_resource(KETAMINE_INTAKE)
UWCIRG_PHQ9 = fixtures.fhir_questionnaire(fixtures.UWCIRG_PHQ9)
UWCIRG_GAD7 = fixtures.fhir_questionnaire(fixtures.UWCIRG_GAD7)
# Native names of the instruments' items in their numbered order (PHQ-9 items 1-9, then the
# difficulty question; GAD-7 items 1-7).
PHQ9_NAMES = (*(f"q{n}" for n in range(1, 10)), "difficulty")
GAD7_NAMES = tuple(f"q{n}" for n in range(1, 8))
SPELLINGS = ("theirs", "bare code", "panel path")
PLACES = ("top", "panel group", "our group")


# ---- answering the third-party forms by walking their items ---------------------------------


def questions(form: dict[str, Any]) -> list[dict[str, Any]]:
    """The form's answerable items (choice), in its order."""
    found = [item for item in form["item"] if item["type"] == "choice"]
    assert len(found) in (len(PHQ9_NAMES), len(GAD7_NAMES)), "fixture changed shape"
    return found


def panel(form: dict[str, Any]) -> str:
    code: str = form["code"][0]["code"]
    return code


def ordinal_of(option: dict[str, Any]) -> Any:
    return next(e["valueDecimal"] for e in option["extension"] if e["url"] == ORDINAL_VALUE)


def their_answer(item: dict[str, Any], score: int, *, with_ordinal: bool) -> dict[str, Any]:
    """The answer picking the item's answerOption whose ordinalValue is ``score``, its
    Coding as the form has it (no system), with the ordinalValue copied in or not."""
    option = next(o for o in item["answerOption"] if ordinal_of(o) == score)
    coding = copy.deepcopy(option["valueCoding"])
    if with_ordinal:
        coding["extension"] = [{"url": ORDINAL_VALUE, "valueDecimal": score}]
    return {"valueCoding": coding}


def link_id(form: dict[str, Any], item: dict[str, Any], spelling: str) -> str:
    """The item's linkId as the form spells it, or as another publisher might."""
    code = item["code"][0]["code"]
    return {"theirs": item["linkId"], "bare code": code,
            "panel path": f"/{panel(form)}/{code}"}[spelling]


def their_items(form: dict[str, Any], scores: list[int | None], *, spelling: str = "theirs",
                with_ordinal: bool = False) -> list[dict[str, Any]]:
    """Response items answering the form's questions with ``scores`` (None: unanswered)."""
    return [{"linkId": link_id(form, item, spelling),
             "answer": [their_answer(item, score, with_ordinal=with_ordinal)]}
            for item, score in zip(questions(form), scores, strict=True) if score is not None]


def our_group(form: dict[str, Any]) -> str:
    """The linkId of our group carrying the form's panel code."""
    link: str = next(i["linkId"] for i in PUBLISHED["item"]
                     if i.get("code", [{}])[0].get("code") == panel(form))
    return link


def embed(resource: dict[str, Any], form: dict[str, Any], items: list[dict[str, Any]],
          place: str) -> None:
    """Puts the form's ``items`` into our response: at the top, in a group named by the
    form's panel code, or in our own group of that panel."""
    if place == "top":
        resource["item"].extend(items)
    else:
        group = f"/{panel(form)}" if place == "panel group" else our_group(form)
        resource["item"].append({"linkId": group, "item": items})


def without_instruments() -> dict[str, Any]:
    """The spec example without PHQ-9 and GAD-7: respondent, ASQ, trials and the rest."""
    body = example()
    del body["answers"]["phq9"], body["answers"]["gad7"]
    return body


def native(phq9: list[int | None], gad7: list[int | None] | None) -> dict[str, Any]:
    """The native JSON submission of the same answers."""
    body = without_instruments()
    body["answers"]["phq9"] = {n: v for n, v in zip(PHQ9_NAMES, phq9, strict=True)
                               if v is not None}
    if gad7 is not None:
        body["answers"]["gad7"] = dict(zip(GAD7_NAMES, gad7, strict=True))
    return body


def response_with(phq9_items: list[dict[str, Any]], phq9_place: str = "top",
                  gad7_items: list[dict[str, Any]] | None = None,
                  gad7_place: str = "top") -> dict[str, Any]:
    """Our Questionnaire's response to the other items, with the forms' items embedded."""
    resource = answer(PUBLISHED, without_instruments())
    embed(resource, UWCIRG_PHQ9, phq9_items, phq9_place)
    if gad7_items is not None:
        embed(resource, UWCIRG_GAD7, gad7_items, gad7_place)
    return resource


# ---- over HTTP: stored exactly as the native submission -------------------------------------


def post_fhir(client: FlaskClient, clinic: TenantCredentials, resource: Any) -> Any:
    return client.post(RESPONSES, json=resource, content_type=FHIR_JSON,
                       headers=clinic.headers("intake"))


def stored(app: Flask, response: Any) -> Submission:
    assert response.status_code == 201, response.get_data(as_text=True)
    with session_scope(app, write=False) as session:
        submission = session.get(Submission, response.headers["Location"].rsplit("/", 1)[1])
        assert submission is not None
        return submission


def assert_stored_alike(app: Flask, client: FlaskClient, clinic: TenantCredentials,
                        resource: dict[str, Any], body: dict[str, Any]) -> Submission:
    """Posts ``resource`` and ``body``; both store the same answers and evaluation."""
    via_fhir = stored(app, post_fhir(client, clinic, resource))
    via_json = stored(app, client.post(SUBMISSIONS, json=body,
                                       headers=clinic.headers("intake")))
    assert via_fhir.answers == via_json.answers
    assert via_fhir.evaluation["scores"]["phq9"] == via_json.evaluation["scores"]["phq9"]
    assert via_fhir.evaluation["scores"].get("gad7") == via_json.evaluation["scores"].get("gad7")
    assert via_fhir.evaluation == via_json.evaluation
    return via_fhir


_SCORE = st.integers(0, 3)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(phq9=st.lists(_SCORE, min_size=9, max_size=9), difficulty=st.none() | _SCORE,
       gad7=st.none() | st.lists(_SCORE, min_size=7, max_size=7),
       spellings=st.tuples(st.sampled_from(SPELLINGS), st.sampled_from(SPELLINGS)),
       places=st.tuples(st.sampled_from(PLACES), st.sampled_from(PLACES)),
       with_ordinal=st.booleans())
def test_uwcirg_phq9_and_gad7_answers_score_exactly_as_the_native_json_form(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, phq9: list[int],
        difficulty: int | None, gad7: list[int] | None, spellings: tuple[str, str],
        places: tuple[str, str], with_ordinal: bool) -> None:
    """Fixture README: a response answered against the uwcirg forms is scored exactly as
    the native JSON form; linkIds spelled by any publisher, mapped by item code."""
    phq9_scores: list[int | None] = [*phq9, difficulty]
    phq9_items = their_items(UWCIRG_PHQ9, phq9_scores, spelling=spellings[0],
                             with_ordinal=with_ordinal)
    gad7_items = None if gad7 is None else their_items(
        UWCIRG_GAD7, list(gad7), spelling=spellings[1], with_ordinal=with_ordinal)
    resource = response_with(phq9_items, places[0], gad7_items, places[1])
    assert_stored_alike(app, client, clinic, resource,
                        native(phq9_scores, None if gad7 is None else list(gad7)))


def test_uwcirg_gad7_68509_9_middle_answer_la18938_3_scores_2(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    """Clinical reference §3.3 / fixture README: 68509-9 codes its value 2 as LA18938-3
    "More days than not"; it scores 2 like the native answer 2."""
    gad7 = [0, 2, 0, 0, 0, 0, 0]
    items = their_items(UWCIRG_GAD7, list(gad7))
    assert items[1]["linkId"] == "/68509-9"
    assert items[1]["answer"][0]["valueCoding"]["code"] == "LA18938-3"
    phq9: list[int | None] = [1] * 9 + [None]
    resource = response_with(their_items(UWCIRG_PHQ9, phq9), "top", items, "top")
    submission = assert_stored_alike(app, client, clinic, resource, native(phq9, list(gad7)))
    assert submission.answers["gad7"]["q2"] == 2
    assert submission.evaluation["scores"]["gad7"]["total"] == 2


# ---- how LOINC-coded items and answers are read ---------------------------------------------


@pytest.mark.parametrize(("link", "code"), [
    ("/44250-9", "44250-9"),
    ("44250-9", "44250-9"),
    ("/44249-1/44250-9", "44250-9"),
    ("phq9.q1", None),
    ("/44250-9/", None),
    ("ada@example.org", None),
], ids=["uwcirg /44250-9", "bare code", "panel path", "our linkId", "trailing slash",
        "not a code"])
def test_the_last_loinc_code_of_a_link_id_names_the_item(link: str, code: str | None) -> None:
    assert code_of(link) == code


def parsed_answers(resource: dict[str, Any]) -> dict[str, Any]:
    answers: dict[str, Any] = parse(resource, default_catalogue()).body["answers"]
    return answers


def refused(resource: dict[str, Any]) -> UnprocessableResource:
    with pytest.raises(UnprocessableResource) as caught:
        parse(resource, default_catalogue())
    return caught.value


def phq9_response(**gad7_answer: Any) -> dict[str, Any]:
    """A response answering the uwcirg PHQ-9 (all "Several days") and GAD-7 item 2 alone
    with ``gad7_answer``."""
    resource = response_with(their_items(UWCIRG_PHQ9, [1] * 9 + [None]))
    resource["item"].append({"linkId": "/68509-9", "answer": [gad7_answer]})
    return resource


def test_uwcirg_gad7_68509_9_another_code_is_read_by_its_ordinal_value() -> None:
    """Clinical reference §3.3: the paper GAD-7's LA6570-1 for 68509-9 value 2, with its
    ordinalValue, scores 2 though the item lists LA18938-3."""
    coding = {"system": "http://loinc.org", "code": "LA6570-1",
              "extension": [{"url": ORDINAL_VALUE, "valueDecimal": 2}]}
    assert parsed_answers(phq9_response(valueCoding=coding))["gad7"] == {"q2": 2}


@pytest.mark.parametrize("coding", [
    {"code": "LA6570-1"},
    {"system": "http://loinc.org", "code": "LA6570-1"},
    {"code": "LA18938-3"},
], ids=["paper GAD-7 LA6570-1 without ordinalValue", "LA6570-1 with the LOINC system",
        "LOINC form LA18938-3"])
def test_gad7_68509_9_value_2_is_read_under_either_loinc_code_clinical_3_3(
        coding: dict[str, Any]) -> None:
    """Clinical reference §3.3: LOINC's answer list for 68509-9 codes value 2 LA18938-3,
    the paper GAD-7 (and most forms) LA6570-1; both mean 2, with or without an ordinal."""
    assert parsed_answers(phq9_response(valueCoding=coding))["gad7"] == {"q2": 2}


@pytest.mark.parametrize("coding", [
    {"code": "LA6572-7"},
    {"code": "LA18938-3", "extension": [{"url": ORDINAL_VALUE, "valueDecimal": 3}]},
], ids=["a code of another answer list", "code and ordinalValue disagree"])
def test_uwcirg_gad7_68509_9_an_answer_that_is_not_certain_is_refused_not_guessed(
        coding: dict[str, Any]) -> None:
    issue, = refused(phq9_response(valueCoding=coding)).issues
    assert (issue.code, issue.target) == ("code-invalid", "gad7.q2")


def test_a_blank_loinc_item_leaves_no_section_behind() -> None:
    """An empty answer is no answer; the GAD-7 section it would sit in stays absent."""
    resource = response_with(their_items(UWCIRG_PHQ9, [0] * 10))
    resource["item"].append({"linkId": "/69725-0", "answer": []})
    assert "gad7" not in parsed_answers(resource)


@pytest.mark.parametrize(("link", "answer_json", "path", "value"), [
    ("/72109-2/68518-0", {"valueCoding": {"code": "2"}}, ("audit_c", "q1"), 2),
    ("/68520-6", {"valueCoding": {"code": "x", "extension": [
        {"url": ORDINAL_VALUE, "valueInteger": 4}]}}, ("audit_c", "q3"), 4),
], ids=["AUDIT-C 68518-0 by code (Bush 1998 item 1)",
        "AUDIT-C 68520-6 by ordinalValue (Bush 1998 item 3)"])
def test_audit_c_items_are_read_by_loinc_code(link: str, answer_json: dict[str, Any],
                                             path: tuple[str, str], value: int) -> None:
    resource = response_with(their_items(UWCIRG_PHQ9, [0] * 10))
    resource["item"].append({"linkId": link, "answer": [answer_json]})
    section, name = path
    assert parsed_answers(resource)[section] == {name: value}


def test_birth_date_is_read_by_loinc_21112_8_in_the_respondent_group() -> None:
    resource = response_with(their_items(UWCIRG_PHQ9, [0] * 10))
    respondent = resource["item"][0]
    assert respondent["linkId"] == "respondent"
    for item in respondent["item"]:
        if item["linkId"] == "respondent.date_of_birth":
            item["linkId"] = "/21112-8"
    body = parse(resource, default_catalogue()).body
    assert body["respondent"] == example()["respondent"]


# ---- refusals ----------------------------------------------------------------------------------


def assert_outcome(response: Any, status: int) -> list[dict[str, Any]]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == FHIR_JSON
    body = response.get_json()
    assert_valid_r4(body)
    issues: list[dict[str, Any]] = body["issue"]
    return issues


def assert_echoes_nothing_submitted(response: Any) -> None:
    """No answer code or display, name, email or birth date of the submission."""
    shown = response.get_data(as_text=True)
    respondent = example()["respondent"]
    for value in (*respondent.values(), "LA65", "LA18938", "Several days", "Not at all"):
        assert str(value) not in shown


def test_the_same_item_under_our_link_id_and_its_loinc_code_is_refused_naming_both(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    resource = answer(PUBLISHED, example())
    resource["item"].extend(their_items(UWCIRG_PHQ9, [1] + [None] * 9))
    resource["item"][0]["item"].append({"linkId": "21112-8",
                                        "answer": [{"valueDate": "1990-04-12"}]})
    response = post_fhir(client, clinic, resource)
    issues = assert_outcome(response, 422)
    diagnostics = sorted(i["diagnostics"] for i in issues)
    assert len(diagnostics) == 2
    assert diagnostics[0].startswith("phq9.q1: ") and "/44250-9" in diagnostics[0]
    assert diagnostics[1].startswith("respondent.date_of_birth: ")
    assert "21112-8" in diagnostics[1]
    assert_echoes_nothing_submitted(response)


@pytest.mark.parametrize("link", ["/44261-6", "/44249-1/44261-6", "/70274-6"],
                         ids=["uwcirg PHQ-9 total 44261-6", "PHQ-9 total in its panel",
                              "uwcirg GAD-7 total 70274-6"])
def test_a_form_s_own_total_score_is_ignored_the_service_scores_the_items(link: str) -> None:
    """Kroenke 2001 / Spitzer 2006: the total is the sum of the items; a sender's total
    (a calculated item of the LOINC forms) is neither read nor trusted."""
    resource = response_with(their_items(UWCIRG_PHQ9, [1] * 9 + [None]))
    resource["item"].append({"linkId": link, "answer": [{"valueInteger": 27}]})
    answers = parsed_answers(resource)
    assert answers["phq9"] == {f"q{n}": 1 for n in range(1, 10)}
    assert "gad7" not in answers


@pytest.mark.parametrize(("link", "where"), [
    ("/44250-8", "top"),
    ("/69725-0", "/44249-1"),
], ids=["44250-8: a LOINC code of no item of ours",
        "GAD-7 69725-0 inside the PHQ-9 panel 44249-1"])
def test_a_loinc_code_with_no_item_here_is_refused_naming_it(
        client: FlaskClient, clinic: TenantCredentials, link: str, where: str) -> None:
    item = {"linkId": link, "answer": [{"valueCoding": {"code": "LA6569-3"}}]}
    phq9 = their_items(UWCIRG_PHQ9, [1] * 10)
    if where == "top":
        resource = response_with([*phq9, item])
    else:
        resource = response_with([*phq9, item], "panel group")
    response = post_fhir(client, clinic, resource)
    issue, = assert_outcome(response, 422)
    assert issue["code"] == "invalid"
    assert issue["diagnostics"].startswith(f"{link}: ")
    assert_echoes_nothing_submitted(response)


def test_a_response_to_the_uwcirg_phq9_itself_is_refused_saying_how_to_submit(
        client: FlaskClient, clinic: TenantCredentials) -> None:
    """The uwcirg form's own canonical is not ours: no route scores a lone instrument."""
    resource = {"resourceType": "QuestionnaireResponse", "questionnaire": UWCIRG_PHQ9["url"],
                "status": "completed", "item": their_items(UWCIRG_PHQ9, [2] * 10)}
    response = post_fhir(client, clinic, resource)
    issue, = assert_outcome(response, 422)
    assert (issue["code"], issue["expression"]) == ("not-found",
                                                     ["QuestionnaireResponse.questionnaire"])
    hint = issue["diagnostics"]
    assert hint.startswith("Answer the ketamine-intake Questionnaire (https://screening."
                           "example/fhir/Questionnaire/ketamine-intake|1")
    assert "by code" in hint and "/44250-9" in hint
    assert "phq9 (panel 44249-1)" in hint and "gad7 (panel 69737-5)" in hint
    assert "cdc.gov" not in response.get_data(as_text=True)
    assert_echoes_nothing_submitted(response)
