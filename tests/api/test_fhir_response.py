"""QuestionnaireResponse → native submission body: every native submission answered through
the published Questionnaire evaluates identically, and every refusal is located by linkId
without repeating what was sent."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

import rules
from rules.questionnaire import KETAMINE_INTAKE
from rules.questionnaire_model import Item, ItemKind
from screening.intake.schemas import default_catalogue
from screening.web.fhir.outcome import InvalidResource, UnprocessableResource
from screening.web.fhir.questionnaire import to_resource
from screening.web.fhir.response import link_id, parse
from tests.api.bodies import example, routed
from tests.api.fhir_answering import answer
from tests.fixtures import UWCIRG_PHQ9, fhir_questionnaire

RECEIVED = dt.date(2026, 11, 21)
PUBLISHED = to_resource(KETAMINE_INTAKE)


def evaluate(body: dict[str, Any]) -> dict[str, Any]:
    loaded = default_catalogue().load(body)
    return rules.evaluate(loaded["respondent"], loaded["answers"], RECEIVED).to_dict()


def through_fhir(body: dict[str, Any]) -> dict[str, Any]:
    """The native body the service reads from the response answering ``body``."""
    return parse(answer(PUBLISHED, body), default_catalogue()).body


# ---- random valid native submissions, drawn from the native definition ------------------

_TEXT = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=20)


def _value(item: Item) -> st.SearchStrategy[Any]:
    if item.kind is ItemKind.CHOICE:
        return st.sampled_from(item.option_values())
    if item.kind is ItemKind.CHOICE_LIST:
        return st.lists(st.sampled_from(item.option_values()), min_size=item.length or 0,
                        max_size=item.length)
    if item.kind is ItemKind.INTEGER:
        return st.integers(item.minimum, item.maximum)
    if item.kind is ItemKind.DATE:
        days = st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31))
        return days.map(dt.date.isoformat)
    if item.kind is ItemKind.STRING:
        return _TEXT
    if item.repeats:
        return st.lists(_group(item), max_size=3)
    return _group(item)


@st.composite
def _group(draw: st.DrawFn, group: Item) -> dict[str, Any]:
    """Required children always, others at random, at least one (an empty group is an
    unanswered section); enable-when items are settled by ``_enable_when``."""
    while True:
        members = {child.name: draw(_value(child)) for child in group.children
                   if not child.enable_when and (child.required or draw(st.booleans()))}
        if members or not group.children:
            return members


@st.composite
def submissions(draw: st.DrawFn) -> dict[str, Any]:
    """A valid native submission with a random selection of sections and answers."""
    sections = {}
    for item in KETAMINE_INTAKE.items:
        if item.required or draw(st.booleans()):
            sections[item.name] = draw(_value(item))
    body = {"questionnaire": KETAMINE_INTAKE.id, "questionnaire_version": "1",
            "respondent": sections.pop("respondent"), "answers": sections}
    _enable_when(draw, body["answers"])
    return body


def _enable_when(draw: st.DrawFn, answers: dict[str, Any]) -> None:
    """Answers each enabled item (required ones always), never a disabled one."""
    for item in KETAMINE_INTAKE.walk():
        if not item.enable_when:
            continue
        section, name = item.path.split(".")
        container = answers.get(section)
        if container is None:
            continue
        values = [answers.get(c.path.split(".")[0], {}).get(c.path.split(".")[1])
                  for c in item.enable_when]
        hits = [v == c.equals for v, c in zip(values, item.enable_when, strict=True)]
        enabled = all(hits) if item.enable_behavior == "all" else any(hits)
        if enabled and (item.required or draw(st.booleans())):
            container[name] = draw(_value(item))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(submissions())
def test_every_native_submission_answered_in_fhir_evaluates_identically(
        body: dict[str, Any]) -> None:
    read = through_fhir(body)
    assert default_catalogue().load(read) == default_catalogue().load(body)
    assert evaluate(read) == evaluate(body)


@pytest.mark.parametrize("priority", ["critical", "urgent", "high", "routine"])
def test_spec_examples_routed_to_each_priority_read_back_unchanged(priority: str) -> None:
    body = routed(priority)
    body["answers"]["mdq"] = {"q1": ["yes", "no"] * 6 + ["yes"], "q2": "yes", "q3": "minor"}
    assert through_fhir(body) == {**body, "answers": body["answers"]}
    assert evaluate(through_fhir(body)) == evaluate(body)


def test_a_response_without_trials_records_an_empty_list() -> None:
    body = example()
    body["answers"]["treatment_history"] = {"antidepressant_trials": []}
    assert through_fhir(body)["answers"]["treatment_history"] == {"antidepressant_trials": []}


# ---- how answers are read ------------------------------------------------------------------


def response_to(body: dict[str, Any]) -> dict[str, Any]:
    return answer(PUBLISHED, body)


def item_at(resource: dict[str, Any], link: str) -> dict[str, Any]:
    stack = list(resource["item"])
    while stack:
        item = stack.pop()
        if item["linkId"] == link:
            return item
        stack.extend(item.get("item", []))
    raise KeyError(link)


def test_display_text_is_never_read() -> None:
    resource = response_to(example())
    coding = item_at(resource, "phq9.q1")["answer"][0]["valueCoding"]
    coding["display"] = "Nearly every day"  # the code says "More than half the days" (2)
    assert parse(resource, default_catalogue()).body["answers"]["phq9"]["q1"] == 2


def test_an_unknown_code_is_read_by_its_ordinal_value() -> None:
    """Clinical reference §3.3: score GAD-7 68509-9 by ordinal whatever the answer code."""
    resource = response_to(example())
    item_at(resource, "gad7.q3")["answer"][0]["valueCoding"] = {
        "system": "http://loinc.org", "code": "LA18938-3",
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                       "valueDecimal": 2}]}
    assert parse(resource, default_catalogue()).body["answers"]["gad7"]["q3"] == 2


def test_a_code_of_another_system_is_not_an_option() -> None:
    resource = response_to(example())
    item_at(resource, "asq.q1")["answer"][0]["valueCoding"] = {
        "system": "http://snomed.info/sct", "code": "yes"}
    with pytest.raises(UnprocessableResource) as refused:
        parse(resource, default_catalogue())
    issue = refused.value.issues[0]
    assert (issue.code, issue.target) == ("code-invalid", "asq.q1")
    assert issue.expression == "QuestionnaireResponse.item[2].item[0].answer[0].valueCoding"


# ---- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["in-progress", "stopped", "entered-in-error"])
def test_only_completed_or_amended_responses_are_accepted(status: str) -> None:
    resource = answer(PUBLISHED, example(), status=status)
    with pytest.raises(UnprocessableResource) as refused:
        parse(resource, default_catalogue())
    issue = refused.value.issues[0]
    assert (issue.code, issue.expression) == ("business-rule", "QuestionnaireResponse.status")


def test_an_amended_response_is_accepted() -> None:
    resource = answer(PUBLISHED, example(), status="amended")
    assert parse(resource, default_catalogue()).body == example()


def uwcirg_phq9_response() -> dict[str, Any]:
    """A response to the uwcirg LOINC PHQ-9 form: its url, its linkIds, LOINC answers."""
    form = fhir_questionnaire(UWCIRG_PHQ9)
    items = [{"linkId": i["linkId"], "answer": [{"valueCoding": i["answerOption"][1][
        "valueCoding"]}]} for i in form["item"] if i["type"] == "choice"]
    return {"resourceType": "QuestionnaireResponse", "questionnaire": form["url"],
            "status": "completed", "item": items}


def test_a_response_to_the_uwcirg_loinc_phq9_is_an_unknown_questionnaire() -> None:
    with pytest.raises(UnprocessableResource) as refused:
        parse(uwcirg_phq9_response(), default_catalogue())
    issue = refused.value.issues[0]
    assert (issue.code, issue.expression) == ("not-found", "QuestionnaireResponse.questionnaire")
    assert "https://screening.example/fhir/Questionnaire/ketamine-intake" in issue.message
    assert "cdc.gov" not in issue.message


@pytest.mark.parametrize("reference", [None, "", "https://screening.example/fhir/"
                                       "Questionnaire/ketamine-intake|9"],
                         ids=["missing", "empty", "unknown version"])
def test_a_response_must_name_a_published_questionnaire_version(reference: Any) -> None:
    resource = response_to(example())
    resource["questionnaire"] = reference
    with pytest.raises(UnprocessableResource) as refused:
        parse(resource, default_catalogue())
    assert refused.value.issues[0].expression == "QuestionnaireResponse.questionnaire"


@pytest.mark.parametrize("body", [[], {"resourceType": "Patient"}, {"item": []}],
                         ids=["not an object", "another resource", "no resourceType"])
def test_a_body_that_is_not_a_questionnaire_response_is_400(body: Any) -> None:
    with pytest.raises(InvalidResource):
        parse(body, default_catalogue())


def test_structural_errors_are_400_and_located() -> None:
    resource = response_to(example())
    item_at(resource, "phq9")["item"] = {"linkId": "phq9.q1"}
    with pytest.raises(InvalidResource) as refused:
        parse(resource, default_catalogue())
    assert refused.value.issues[0].expression == "QuestionnaireResponse.item[1].item"


def test_unknown_and_misplaced_link_ids_are_refused_without_repeating_them() -> None:
    resource = response_to(example())
    resource["item"].append({"linkId": "ada@example.org", "answer": [{"valueString": "x"}]})
    item_at(resource, "phq9")["item"].append(copy.deepcopy(item_at(resource, "asq.q1")))
    with pytest.raises(UnprocessableResource) as refused:
        parse(resource, default_catalogue())
    shown = json.dumps(refused.value.extra_members())
    assert "ada@example.org" not in shown and "asq.q1" not in shown
    assert [i.expression for i in refused.value.issues] == [
        "QuestionnaireResponse.item[1].item[10]", "QuestionnaireResponse.item[9]"]


def test_a_repeated_item_that_does_not_repeat_is_refused() -> None:
    resource = response_to(example())
    phq9 = item_at(resource, "phq9")
    phq9["item"].append(copy.deepcopy(phq9["item"][0]))
    with pytest.raises(UnprocessableResource) as refused:
        parse(resource, default_catalogue())
    assert refused.value.issues[0].target == "phq9.q1"


@pytest.mark.parametrize(("answer_json", "message"), [
    ({"valueInteger": 2}, "Expected exactly one valueCoding."),
    ({"valueCoding": {"code": "LA6570-1"}, "valueString": "2"},
     "Expected exactly one valueCoding."),
], ids=["wrong type", "two values"])
def test_an_answer_of_the_wrong_type_is_refused(answer_json: dict[str, Any],
                                                message: str) -> None:
    resource = response_to(example())
    item_at(resource, "phq9.q2")["answer"] = [answer_json]
    with pytest.raises(UnprocessableResource) as refused:
        parse(resource, default_catalogue())
    assert (refused.value.issues[0].target, refused.value.issues[0].message) == (
        "phq9.q2", message)


def test_mdq_rows_must_all_be_answered_once_one_is() -> None:
    body = example()
    body["answers"]["mdq"] = {"q1": ["no"] * 13}
    resource = response_to(body)
    rows = item_at(resource, "mdq.q1")["item"]
    del rows[12], rows[4]
    with pytest.raises(UnprocessableResource) as refused:
        parse(resource, default_catalogue())
    assert [(i.code, i.target) for i in refused.value.issues] == [
        ("required", "mdq.q1.5"), ("required", "mdq.q1.13")]


@pytest.mark.parametrize(("native", "expected"), [
    ("answers.phq9.q1", "phq9.q1"),
    ("respondent.date_of_birth", "respondent.date_of_birth"),
    ("answers.treatment_history.antidepressant_trials.1.weeks",
     "treatment_history.antidepressant_trials.weeks"),
    ("answers.mdq.q1.3", "mdq.q1.4"),
    ("answers.asq", "asq"),
])
def test_native_error_paths_map_to_link_ids(native: str, expected: str) -> None:
    assert link_id(KETAMINE_INTAKE, native) == expected


def test_native_errors_are_located_in_the_response_and_name_link_ids() -> None:
    body = example()
    body["answers"]["asq"]["q5"] = "no"  # not enabled: every screening answer is "no"
    body["answers"]["treatment_history"]["antidepressant_trials"][0]["weeks"] = -1
    parsed = parse(response_to(body), default_catalogue())
    with pytest.raises(ValidationError) as refused:
        default_catalogue().load(parsed.body)
    issues = {i.target: i for i in (parsed.locate(path, messages)
                                    for path, messages in refused.value.messages.items())}
    assert issues["asq.q5"].expression == "QuestionnaireResponse.item[2].item[4]"
    assert "asq.q1 is" in issues["asq.q5"].message and "answers." not in issues["asq.q5"].message
    weeks = issues["treatment_history.antidepressant_trials.weeks"]
    assert weeks.expression == "QuestionnaireResponse.item[4].item[0].item[1]"


def test_groups_left_blank_are_no_answer() -> None:
    """Renderers may send a section or a trial row left blank as an empty group."""
    resource = response_to(example())
    resource["item"].append({"linkId": "pcl5", "item": []})
    item_at(resource, "treatment_history")["item"].append(
        {"linkId": "treatment_history.antidepressant_trials",
         "item": [{"linkId": "treatment_history.antidepressant_trials.weeks", "answer": []}]})
    assert parse(resource, default_catalogue()).body == example()


def test_a_blank_required_section_is_named_by_its_link_id() -> None:
    body = example()
    resource = response_to(body)
    item_at(resource, "phq9")["item"] = []
    parsed = parse(resource, default_catalogue())
    with pytest.raises(ValidationError) as refused:
        default_catalogue().load(parsed.body)
    issue, = (parsed.locate(p, m) for p, m in refused.value.messages.items())
    assert (issue.target, issue.code, issue.expression) == ("phq9", "required",
                                                           "QuestionnaireResponse")
