"""A stored submission as FHIR R4: its QuestionnaireResponse, and the export Bundle of
``GET /api/v1/submissions/{id}/fhir`` (response, Patient, score Observations, review Task).

The response is rebuilt from the stored native answers with the same codings the
Questionnaire publishes (``screening.web.fhir.questionnaire``), so reading it back gives the
stored answers. Resources of the Bundle refer to each other by ``urn:uuid:`` full URLs,
derived from the submission id so that every export of a submission has the same ids.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from rules.questionnaire_model import Item, ItemKind, Questionnaire
from screening.web.fhir import LOINC
from screening.web.fhir.questionnaire import (
    ORDINAL_VALUE,
    answer_coding,
    canonical_reference,
    item_text,
    list_element_link_id,
)

SURVEY = {"system": "http://terminology.hl7.org/CodeSystem/observation-category",
          "code": "survey", "display": "Survey"}
# Score labels for CodeableConcept.text (LOINC's display strings are not reproduced from
# memory); the LOINC codes come from the definition's ``total_loinc``.
PHQ9_TOTAL_LABEL = "PHQ-9 total score"
GAD7_TOTAL_LABEL = "GAD-7 total score"
PHQ9_ITEM9_PATH = "phq9.q9"  # LOINC 44260-8, coded by the definition's answer list

# Our priorities and FHIR's request-priority (routine < urgent < asap < stat) are both four
# ordered levels, but the names do not line up: mapping by rank keeps the review order, so
# our "urgent" (second most pressing) is FHIR "asap" and our "high" is FHIR "urgent".
TASK_PRIORITY = {"critical": "stat", "urgent": "asap", "high": "urgent", "routine": "routine"}
# Review status -> Task.status: waiting in the queue is "requested", a claimed submission
# is being worked on ("in-progress"), a decided one is "completed".
TASK_STATUS = {"pending_review": "requested", "in_review": "in-progress", "decided": "completed"}


class StoredSubmission(Protocol):
    """What the export reads of a stored submission (``screening.storage.models.Submission``)."""

    id: str
    respondent: dict[str, Any]
    answers: dict[str, Any]
    evaluation: dict[str, Any]
    status: str
    priority: str
    received_at: dt.datetime


def instant(moment: dt.datetime) -> str:
    """A FHIR instant in UTC: ``2026-11-21T10:00:00Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def questionnaire_response(questionnaire: Questionnaire, submission: StoredSubmission,
                           *, subject: str | None = None) -> dict[str, Any]:
    """The stored submission as a completed QuestionnaireResponse."""
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": submission.id,
        "questionnaire": canonical_reference(questionnaire),
        "status": "completed",
    }
    if subject is not None:
        resource["subject"] = {"reference": subject}
    resource["authored"] = instant(submission.received_at)
    native = {"respondent": submission.respondent, **submission.answers}
    resource["item"] = response_items(questionnaire.items, native)
    return resource


def response_items(items: tuple[Item, ...], values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """QuestionnaireResponse items of the native object ``values`` (groups left empty are
    omitted: an element may not be empty)."""
    out: list[dict[str, Any]] = []
    for item in items:
        if item.name not in values:
            continue
        value = values[item.name]
        if item.kind is ItemKind.GROUP:
            for occurrence in value if item.repeats else [value]:
                children = response_items(item.children, occurrence)
                if children:
                    out.append({"linkId": item.path, "text": item_text(item), "item": children})
        elif item.kind is ItemKind.CHOICE_LIST:
            rows = [{"linkId": list_element_link_id(item, i), "answer": [_answer(item, v)]}
                    for i, v in enumerate(value)]
            out.append({"linkId": item.path, "text": item_text(item), "item": rows})
        else:
            out.append({"linkId": item.path, "text": item_text(item),
                        "answer": [_answer(item, value)]})
    return out


def _answer(item: Item, value: Any) -> dict[str, Any]:
    if item.kind in (ItemKind.CHOICE, ItemKind.CHOICE_LIST):
        option = next(o for o in item.options if o.value == value)
        coding: dict[str, Any] = answer_coding(option)
        if option.ordinal is not None:
            coding = {"extension": [{"url": ORDINAL_VALUE, "valueDecimal": option.ordinal}],
                      **coding}
        return {"valueCoding": coding}
    key = {ItemKind.INTEGER: "valueInteger", ItemKind.DATE: "valueDate"}.get(
        item.kind, "valueString")
    return {key: value}


def _urn(submission: StoredSubmission, name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.UUID(submission.id), name)}"


def export(questionnaire: Questionnaire, submission: StoredSubmission,
           now: dt.datetime) -> dict[str, Any]:
    """The export Bundle (type ``collection``) of one stored submission."""
    patient_urn = _urn(submission, "Patient")
    response_urn = f"urn:uuid:{submission.id}"
    response = questionnaire_response(questionnaire, submission, subject=patient_urn)
    resources = [
        (response_urn, response),
        (patient_urn, patient(submission)),
        *((_urn(submission, r["code"]["coding"][0]["code"]), r)
          for r in observations(questionnaire, submission, patient_urn, response_urn)),
    ]
    resources.append((_urn(submission, "Task"), task(submission, patient_urn, response_urn)))
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(uuid.UUID(submission.id), "Bundle")),
        "type": "collection",
        "timestamp": instant(now),
        "entry": [{"fullUrl": urn, "resource": _with_id(resource, urn)}
                  for urn, resource in resources],
    }


def _with_id(resource: dict[str, Any], urn: str) -> dict[str, Any]:
    rest = {k: v for k, v in resource.items() if k not in ("resourceType", "id")}
    return {"resourceType": resource["resourceType"], "id": urn.removeprefix("urn:uuid:"),
            **rest}


def patient(submission: StoredSubmission) -> dict[str, Any]:
    """The respondent as a Patient. Sex assigned at birth is not ``Patient.gender``
    (administrative gender) and stays in the response only."""
    respondent = submission.respondent
    resource: dict[str, Any] = {"resourceType": "Patient"}
    if "external_id" in respondent:
        resource["identifier"] = [{"type": {"text": "Identifier in the clinic's records"},
                                   "value": respondent["external_id"]}]
    name = {k: v for k, v in (("family", respondent.get("family_name")),
                              ("given", [respondent["given_name"]]
                               if "given_name" in respondent else None)) if v}
    if name:
        resource["name"] = [name]
    telecom = [{"system": system, "value": respondent[key]}
               for system, key in (("phone", "phone"), ("email", "email")) if key in respondent]
    if telecom:
        resource["telecom"] = telecom
    resource["birthDate"] = respondent["date_of_birth"]
    return resource


def observations(questionnaire: Questionnaire, submission: StoredSubmission, subject: str,
                 response: str) -> list[dict[str, Any]]:
    """PHQ-9 total, PHQ-9 item 9 and GAD-7 total, where the evaluation has them."""
    scores = submission.evaluation.get("scores", {})
    phq9, gad7 = scores.get("phq9") or {}, scores.get("gad7") or {}
    found: list[dict[str, Any]] = []
    if phq9.get("total") is not None:
        code = (questionnaire.item("phq9").total_loinc or "", PHQ9_TOTAL_LABEL)
        found.append(_score(code, {"valueInteger": phq9["total"]}, phq9.get("severity")))
    if phq9.get("item9") is not None:
        item = questionnaire.item(PHQ9_ITEM9_PATH)
        value = {"valueCodeableConcept": {"coding": [_answer(item, phq9["item9"])["valueCoding"]]}}
        found.append(_score((item.loinc or "", item_text(item)), value, None))
    if gad7.get("total") is not None:
        code = (questionnaire.item("gad7").total_loinc or "", GAD7_TOTAL_LABEL)
        found.append(_score(code, {"valueInteger": gad7["total"]}, gad7.get("severity")))
    effective = instant(submission.received_at)
    return [{**o, "subject": {"reference": subject}, "effectiveDateTime": effective,
             "derivedFrom": [{"reference": response}]} for o in found]


def _score(code: tuple[str, str], value: dict[str, Any], severity: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [SURVEY]}],
        "code": {"coding": [{"system": LOINC, "code": code[0]}], "text": code[1]},
        **value,
    }
    if severity is not None:
        resource["interpretation"] = [{"text": severity.replace("_", " ")}]
    return resource


def task(submission: StoredSubmission, patient_urn: str, response_urn: str) -> dict[str, Any]:
    """The clinician review as a Task: status and priority mapped as ``TASK_STATUS`` and
    ``TASK_PRIORITY`` say, our own values kept in ``businessStatus`` and ``input``."""
    reasons = (submission.evaluation.get("routing") or {}).get("reasons", [])
    return {
        "resourceType": "Task",
        "status": TASK_STATUS[submission.status],
        "businessStatus": {"text": submission.status},
        "intent": "order",
        "priority": TASK_PRIORITY[submission.priority],
        "description": "Clinician review of an intake screening "
                       f"(priority {submission.priority}).",
        "focus": {"reference": response_urn},
        "for": {"reference": patient_urn},
        "authoredOn": instant(submission.received_at),
        **({"input": [{"type": {"text": "routing reason"}, "valueString": reason}
                      for reason in reasons]} if reasons else {}),
    }
