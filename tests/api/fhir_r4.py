"""Validation of emitted FHIR resources against the R4 structure definitions.

Structure (elements, types, cardinality, primitive formats, choice types) is checked by the
``fhir.resources`` models. Its current major (8) models R5 at the top level and keeps
R4B (4.3.0) in ``fhir.resources.R4B``; the last major whose models are R4 4.0.1 (6.4)
needs pydantic 1, which cannot live beside this project's pydantic 2. R4B changed none of
the resources this service emits (Questionnaire, QuestionnaireResponse, Patient,
Observation, Task, Bundle, OperationOutcome, CapabilityStatement), so the R4B models are the
R4 check. They do not check required value-set bindings or invariants, so ``assert_valid_r4``
adds the R4 required bindings of the elements we emit and the Questionnaire invariants
que-1, que-2, que-5, que-10 and que-12.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

ISSUE_TYPES = frozenset(
    "invalid structure required value invariant security login unknown expired forbidden "
    "suppressed processing not-supported duplicate multiple-matches not-found deleted "
    "too-long code-invalid extension too-costly business-rule conflict transient lock-error "
    "no-store exception timeout incomplete throttled informational".split()
)
ITEM_TYPES = frozenset(
    "group display boolean decimal integer date dateTime time string text url choice "
    "open-choice attachment reference quantity".split()
)
PUBLICATION_STATUS = frozenset({"draft", "active", "retired", "unknown"})
# (resource type, element path without indexes) -> the codes its required binding allows.
REQUIRED_BINDINGS: dict[tuple[str, str], frozenset[str]] = {
    ("Questionnaire", "status"): PUBLICATION_STATUS,
    ("Questionnaire", "item.type"): ITEM_TYPES,
    ("Questionnaire", "item.enableWhen.operator"): frozenset("exists = != > < >= <=".split()),
    ("Questionnaire", "item.enableBehavior"): frozenset({"all", "any"}),
    ("Questionnaire", "subjectType"): frozenset({"Patient"}),
    ("QuestionnaireResponse", "status"): frozenset(
        {"in-progress", "completed", "amended", "entered-in-error", "stopped"}),
    ("Observation", "status"): frozenset(
        "registered preliminary final amended corrected cancelled entered-in-error "
        "unknown".split()),
    ("Patient", "telecom.system"): frozenset("phone fax email pager url sms other".split()),
    ("Task", "status"): frozenset(
        "draft requested received accepted rejected ready cancelled in-progress on-hold "
        "failed completed entered-in-error".split()),
    ("Task", "intent"): frozenset(
        "unknown proposal plan order original-order reflex-order filler-order "
        "instance-order option".split()),
    ("Task", "priority"): frozenset({"routine", "urgent", "asap", "stat"}),
    ("Bundle", "type"): frozenset(
        "document message transaction transaction-response batch batch-response history "
        "searchset collection".split()),
    ("Bundle", "entry.search.mode"): frozenset({"match", "include", "outcome"}),
    ("OperationOutcome", "issue.severity"): frozenset({"fatal", "error", "warning",
                                                       "information"}),
    ("OperationOutcome", "issue.code"): ISSUE_TYPES,
    ("CapabilityStatement", "status"): PUBLICATION_STATUS,
    ("CapabilityStatement", "kind"): frozenset({"instance", "capability", "requirements"}),
    ("CapabilityStatement", "fhirVersion"): frozenset({"4.0.1"}),
    ("CapabilityStatement", "rest.mode"): frozenset({"client", "server"}),
    ("CapabilityStatement", "rest.resource.interaction.code"): frozenset(
        "read vread update patch delete history-instance history-type create "
        "search-type".split()),
    ("CapabilityStatement", "rest.resource.versioning"): frozenset(
        {"no-version", "versioned", "versioned-update"}),
    ("CapabilityStatement", "rest.resource.conditionalDelete"): frozenset(
        {"not-supported", "single", "multiple"}),
    ("CapabilityStatement", "rest.resource.searchParam.type"): frozenset(
        "number date string token reference composite quantity uri special".split()),
}
_SIMPLE_TYPES = frozenset({"boolean", "decimal", "integer", "date", "dateTime", "time",
                           "string", "text", "url", "choice", "open-choice"})


def assert_valid_r4(resource: dict[str, Any]) -> None:
    """Fails unless ``resource`` (and every resource in it) is valid R4 as described above."""
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)
    problems = list(_binding_problems(resource))
    if resource["resourceType"] == "Questionnaire":
        problems += _questionnaire_invariants(resource)
    assert problems == [], problems


def _binding_problems(resource: dict[str, Any]) -> Iterator[str]:
    kind = resource["resourceType"]
    for path, value in _leaves(resource, ""):
        if path == "entry.resource":
            continue
        allowed = REQUIRED_BINDINGS.get((kind, path))
        if allowed is not None and value not in allowed:
            yield f"{kind}.{path}: {value!r} is not in its required value set"
    for entry in resource.get("entry", []) if kind == "Bundle" else []:
        yield from _binding_problems(entry["resource"])
        if entry["resource"]["resourceType"] == "Questionnaire":
            yield from _questionnaire_invariants(entry["resource"])


def _leaves(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        if path == "entry.resource":
            return
        for key, value in node.items():
            yield from _leaves(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value, path)
    else:
        yield path, node


def _questionnaire_invariants(questionnaire: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    link_ids: list[str] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            link_ids.append(item["linkId"])
            where = item["linkId"]
            if item["type"] == "group" and not item.get("item"):
                problems.append(f"que-1: group {where} has no items")
            if "answerOption" in item and item["type"] not in ("choice", "open-choice"):
                problems.append(f"que-5: {where} has answerOption but is {item['type']}")
            if "maxLength" in item and item["type"] not in _SIMPLE_TYPES:
                problems.append(f"que-10: {where} has maxLength but is {item['type']}")
            if ("enableBehavior" in item) != (len(item.get("enableWhen", [])) > 1):
                problems.append(f"que-12: {where} enableBehavior without several enableWhen")
            walk(item.get("item", []))

    walk(questionnaire.get("item", []))
    questions = {
        c["question"] for item in _all_items(questionnaire) for c in item.get("enableWhen", [])
    }
    problems += [f"enableWhen names no item: {q}" for q in sorted(questions - set(link_ids))]
    duplicates = {x for x in link_ids if link_ids.count(x) > 1}
    if duplicates:
        problems.append(f"que-2: duplicate linkIds {sorted(duplicates)}")
    return problems


def _all_items(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in node.get("item", []):
        yield item
        yield from _all_items(item)
