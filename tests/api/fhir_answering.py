"""Answering the published FHIR Questionnaire as an outside form would: walking its JSON
only (linkIds, item types, answerOptions), never the native definition.

The one convention taken from the Questionnaire's documentation: a group whose children's
linkIds are ``<linkId>.1`` … ``<linkId>.N`` stands for a native list (MDQ q1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"


def answer(questionnaire: Mapping[str, Any], body: Mapping[str, Any],
           status: str = "completed") -> dict[str, Any]:
    """The QuestionnaireResponse of a native submission ``body`` to ``questionnaire``."""
    values = {"respondent": body["respondent"], **body["answers"]}
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{questionnaire['url']}|{questionnaire['version']}",
        "status": status,
        "item": _items(questionnaire["item"], values, ""),
    }


def _items(items: list[dict[str, Any]], values: Mapping[str, Any],
           parent: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        name = item["linkId"].removeprefix(f"{parent}.") if parent else item["linkId"]
        if name not in values:
            continue
        value = values[name]
        if item["type"] != "group":
            out.append({"linkId": item["linkId"], "answer": [_answer(item, value)]})
        elif _is_list(item):
            rows = [{"linkId": row["linkId"], "answer": [_answer(row, v)]}
                    for row, v in zip(item["item"], value, strict=True)]
            out.append({"linkId": item["linkId"], "item": rows})
        else:
            for occurrence in value if item.get("repeats") else [value]:
                children = _items(item["item"], occurrence, item["linkId"])
                if children:
                    out.append({"linkId": item["linkId"], "item": children})
    return out


def _is_list(group: Mapping[str, Any]) -> bool:
    link_ids = [child["linkId"] for child in group["item"]]
    return link_ids == [f"{group['linkId']}.{n}" for n in range(1, len(link_ids) + 1)]


def _answer(item: Mapping[str, Any], value: Any) -> dict[str, Any]:
    if item["type"] == "choice":
        return {"valueCoding": _option(item, value)["valueCoding"]}
    key = {"integer": "valueInteger", "date": "valueDate", "string": "valueString"}[item["type"]]
    return {key: value}


def _option(item: Mapping[str, Any], value: Any) -> dict[str, Any]:
    """The answerOption of a native value: its code, or for a number its ordinalValue."""
    for option in item["answerOption"]:
        ordinal = next((e["valueDecimal"] for e in option.get("extension", [])
                        if e["url"] == ORDINAL_VALUE), None)
        if option["valueCoding"]["code"] == str(value) or (
                isinstance(value, int) and ordinal == value):
            return option
    raise ValueError(f"{item['linkId']} has no option for this value")
