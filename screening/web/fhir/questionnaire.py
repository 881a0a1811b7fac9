"""A questionnaire definition as an R4 Questionnaire that SDC renderers show as it is.

Generated from ``rules.questionnaire_model.Questionnaire``, so the FHIR form and the native
schema cannot drift apart. Mapping, item by item:

- ``linkId`` is the native path (``phq9.q1``, ``treatment_history.antidepressant_trials``).
- Groups are ``group`` items; a repeating group (antidepressant trials) has ``repeats``.
- Choice items list ``answerOption``s. Where LOINC codes the answer (PHQ-9, GAD-7) the
  coding is the LOINC answer (``LA6570-1``), exactly as the LOINC forms publish it, so
  LOINC-aware systems read the responses; elsewhere the coding's ``code`` is the native
  value (``"yes"``, ``"2"``) without a system. Options with a score also carry the
  ``ordinalValue`` extension, whose value is the native value. A response is read by code,
  else by ordinalValue, never by display text.
- LOINC item codes (PHQ-9, GAD-7, AUDIT-C, date of birth) go in ``item.code``.
- MDQ q1, natively a list of 13 yes/no answers, is a group ``mdq.q1`` of 13 yes/no
  questions ``mdq.q1.1`` … ``mdq.q1.13`` (one radio row each, which every renderer
  supports); the answers in order are the native list.
- Integer bounds use the ``minValue``/``maxValue`` extensions; text length ``maxLength``.
- Items whose wording is licensed (C-SSRS, MDQ, DAST-10) are shown numbered: "Item 3".
- Safety answers given outside an item's enable-when (ASQ q5 yes after four no; any
  C-SSRS answer outside the skip pattern) are accepted, never refused: the item carries one
  ``ACCEPT_WHEN_DISABLED`` extension per such answer (``valueCoding``), so that a renderer
  knows it may offer the item anyway and must keep that answer.

``required`` marks the questions the native contract requires (date of birth, PHQ-9 items
1-9, ASQ q1-q4, and q5 while enabled). Groups are never marked: a group holding a required
question must be there anyway, and LHC-Forms treats a required group as a question that
lacks a value. FHIR cannot tell an answered empty list from an unanswered item, so the
antidepressant trials (which may be an empty list) are optional; a response without trials
records an empty list (``screening.web.fhir.response``). Inside an optional group nothing is
marked required either (a trial's medication, the MDQ q1 rows): renderers would insist on
them even where the group is left out; the server checks them when the group is answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules.questionnaire_model import Item, ItemKind, Option, Questionnaire
from screening.web.fhir import CANONICAL_BASE, LOINC

ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
ACCEPT_WHEN_DISABLED = f"{CANONICAL_BASE}/StructureDefinition/accept-when-disabled"

_TYPES = {
    ItemKind.GROUP: "group",
    ItemKind.CHOICE: "choice",
    ItemKind.INTEGER: "integer",
    ItemKind.DATE: "date",
    ItemKind.STRING: "string",
    ItemKind.CHOICE_LIST: "group",
}


def canonical_url(questionnaire: Questionnaire) -> str:
    """The Questionnaire's canonical ``url`` (without ``|version``)."""
    return f"{CANONICAL_BASE}/Questionnaire/{questionnaire.id}"


def canonical_reference(questionnaire: Questionnaire) -> str:
    """``url|version``: how a QuestionnaireResponse names the exact version it answers."""
    return f"{canonical_url(questionnaire)}|{questionnaire.version}"


def answer_coding(option: Option) -> dict[str, str]:
    """The Coding that stands for ``option`` in the Questionnaire and in responses."""
    if option.loinc is not None:
        return {"system": LOINC, "code": option.loinc, "display": option.display}
    return {"code": option.code, "display": option.display}


def list_element_link_id(item: Item, index: int) -> str:
    """linkId of element ``index`` (0-based) of a native list item: ``mdq.q1.1`` for 0."""
    return f"{item.path}.{index + 1}"


def fhir_required(item: Item) -> bool:
    """Whether the FHIR item is ``required`` (see the module docstring for the exception)."""
    return item.required and not _may_be_empty(item)


def _may_be_empty(item: Item) -> bool:
    if item.repeats:
        return True
    if item.kind is ItemKind.GROUP:
        return not any(fhir_required(child) for child in item.children)
    return False


def to_resource(questionnaire: Questionnaire) -> dict[str, Any]:
    """The R4 Questionnaire resource of one questionnaire version."""
    return {
        "resourceType": "Questionnaire",
        "id": questionnaire.id,
        "url": canonical_url(questionnaire),
        "version": questionnaire.version,
        "name": "".join(part.capitalize() for part in questionnaire.id.split("-")),
        "title": questionnaire.title,
        "status": "active",
        "subjectType": ["Patient"],
        "item": [_item(questionnaire, item, optional_parent=False)
                 for item in questionnaire.items],
    }


def _item(questionnaire: Questionnaire, item: Item, *, optional_parent: bool) -> dict[str, Any]:
    required = fhir_required(item) and not optional_parent
    out: dict[str, Any] = {"linkId": item.path}
    if item.loinc is not None:
        out["code"] = [{"system": LOINC, "code": item.loinc}]
    out["text"] = item_text(item)
    out["type"] = _TYPES[item.kind]
    if item.enable_when:
        out["enableWhen"] = [_enable_when(questionnaire, c.path, c.equals)
                             for c in item.enable_when]
        if len(item.enable_when) > 1:  # que-12: only with more than one condition
            out["enableBehavior"] = item.enable_behavior
    if required and item.kind is not ItemKind.GROUP:
        out["required"] = True
    if item.repeats:
        out["repeats"] = True
    out.update(_answer_domain(item))
    if item.accept_when_disabled:
        accepted = [o for o in item.options if o.value in item.accept_when_disabled]
        out.setdefault("extension", []).extend(
            {"url": ACCEPT_WHEN_DISABLED, "valueCoding": answer_coding(o)} for o in accepted)
    children_optional = optional_parent or not required
    if item.kind is ItemKind.CHOICE_LIST:
        out["item"] = [_list_element(item, i) for i in range(item.length or 0)]
    elif item.children:
        out["item"] = [_item(questionnaire, child, optional_parent=children_optional)
                       for child in item.children]
    return out


def item_text(item: Item) -> str:
    """The item's text; "Item 6 recent" for ``q6_recent`` where the wording is licensed and
    so not reproduced."""
    if item.text is not None:
        return item.text
    return "Item " + item.name.removeprefix("q").replace("_", " ")


def _answer_domain(item: Item) -> dict[str, Any]:
    if item.kind is ItemKind.CHOICE:
        return {"extension": [_radio_buttons()],
                "answerOption": [_answer_option(o) for o in item.options]}
    if item.kind is ItemKind.INTEGER:
        bounds = ((MIN_VALUE, item.minimum), (MAX_VALUE, item.maximum))
        extensions = [{"url": url, "valueInteger": v} for url, v in bounds if v is not None]
        return {"extension": extensions} if extensions else {}
    if item.kind is ItemKind.STRING and item.max_length is not None:
        return {"maxLength": item.max_length}
    return {}


def _list_element(item: Item, index: int) -> dict[str, Any]:
    return {
        "linkId": list_element_link_id(item, index),
        "text": f"{item_text(item)}.{index + 1}",
        "type": "choice",
        "extension": [_radio_buttons()],
        "answerOption": [_answer_option(o) for o in item.options],
    }


def _answer_option(option: Option) -> dict[str, Any]:
    out: dict[str, Any] = {"valueCoding": answer_coding(option)}
    if option.ordinal is not None:
        out["extension"] = [{"url": ORDINAL_VALUE, "valueDecimal": option.ordinal}]
    return out


def _radio_buttons() -> dict[str, Any]:
    coding = {"system": ITEM_CONTROL_SYSTEM, "code": "radio-button", "display": "Radio Button"}
    return {"url": ITEM_CONTROL, "valueCodeableConcept": {"coding": [coding]}}


def _enable_when(questionnaire: Questionnaire, path: str, equals: int | str) -> dict[str, Any]:
    target = questionnaire.item(path)
    option = next(o for o in target.options if o.value == equals)
    return {"question": path, "operator": "=", "answerCoding": answer_coding(option)}


def option_for(item: Item, coding: Mapping[str, Any]) -> Option | None:
    """The option a response's Coding picks: by code (and system, when the coding names
    one), else by its ``ordinalValue`` extension, as publishers code the same answer
    differently (GAD-7 68509-9 "More days than not" LA18938-3 or LA6570-1, both 2; clinical
    reference §3.3). A code whose ordinalValue says another option picks none. Display text
    is never read."""
    code, system = coding.get("code"), coding.get("system")
    ordinal = _ordinal(coding)
    for option in item.options:
        published = answer_coding(option)
        same_code = code == published["code"] or code in option.loinc_aliases
        if same_code and system in (None, published.get("system")):
            return option if ordinal is None or ordinal == option.ordinal else None
    if ordinal is None:
        return None
    return next((o for o in item.options if o.ordinal is not None and o.ordinal == ordinal),
                None)


def _ordinal(coding: Mapping[str, Any]) -> int | float | None:
    extensions = coding.get("extension")
    if not isinstance(extensions, list):
        return None
    for extension in extensions:
        if isinstance(extension, Mapping) and extension.get("url") == ORDINAL_VALUE:
            value = extension.get("valueDecimal", extension.get("valueInteger"))
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value
    return None
