"""A QuestionnaireResponse to the native submission body that ``POST /api/v1/submissions``
takes, so both go through the same validation, evaluation, idempotency and audit.

Only a ``completed`` or ``amended`` response to a Questionnaire this service publishes is
read (canonical ``url``, optionally ``|version``). Items are matched by linkId at the place
the Questionnaire puts them; choice answers by code or ordinalValue
(``screening.fhir.questionnaire.option_for``), never by display text. Answers pass through
unconverted otherwise, so the native schema checks their types and ranges.

Every problem becomes an ``Issue`` located by a simple FHIRPath into the response
(``QuestionnaireResponse.item[1].item[0]``) and, for an item, its linkId. ``Parsed.locate``
does the same for the native schema's error paths (``answers.phq9.q1`` → ``phq9.q1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rules.questionnaire_model import Item, ItemKind, Questionnaire
from screening.fhir.outcome import REQUIRED_MESSAGE, Issue, raise_for, refuse
from screening.fhir.questionnaire import canonical_url, list_element_link_id, option_for
from screening.schemas import Catalogue

ROOT = "QuestionnaireResponse"
RESPONDENT = "respondent"
ACCEPTED_STATUSES = ("completed", "amended")
_VALUE_KEYS = {
    ItemKind.CHOICE: "valueCoding",
    ItemKind.INTEGER: "valueInteger",
    ItemKind.DATE: "valueDate",
    ItemKind.STRING: "valueString",
}


@dataclass(frozen=True, slots=True)
class Parsed:
    """The native body of a response, and where each native path came from."""

    questionnaire: Questionnaire
    body: dict[str, Any]
    locations: Mapping[str, str] = field(default_factory=dict)

    def locate(self, native_path: str, messages: list[str]) -> Issue:
        """The issue of a native schema error at ``native_path``."""
        where = native_path
        while where and where not in self.locations:
            where = where.rpartition(".")[0]
        code = "required" if REQUIRED_MESSAGE in messages else "invalid"
        # Enable-when messages name native paths ("answers.asq.q1"); here they are linkIds.
        text = " ".join(messages).replace("answers.", "")
        return Issue(code, text, expression=self.locations.get(where, ROOT),
                     target=link_id(self.questionnaire, native_path))


def link_id(questionnaire: Questionnaire, native_path: str) -> str:
    """The linkId of a native path: ``answers.phq9.q1`` → ``phq9.q1``; a repetition index
    is dropped, an index into a list item names its element (``answers.mdq.q1.0`` →
    ``mdq.q1.1``)."""
    segments = native_path.split(".")
    if segments[0] == "answers":
        segments = segments[1:]
    path: list[str] = []
    for segment in segments:
        if not segment.isdigit():
            path.append(segment)
            continue
        try:
            listed = questionnaire.item(".".join(path))
        except KeyError:
            continue
        if listed.kind is ItemKind.CHOICE_LIST:
            return list_element_link_id(listed, int(segment))
    return ".".join(path)


def parse(resource: Any, catalogue: Catalogue) -> Parsed:
    """The native body of a QuestionnaireResponse; raises ``InvalidResource`` (400) or
    ``UnprocessableResource`` (422) with every issue found."""
    if not isinstance(resource, Mapping):
        refuse([Issue("structure", "The body must be a QuestionnaireResponse resource.")])
    if resource.get("resourceType") != ROOT:
        refuse([Issue("structure", "The body must be a QuestionnaireResponse resource.",
                      expression="resourceType")])
    raise_for(_status_issues(resource.get("status")))
    questionnaire = resolve(resource.get("questionnaire"), catalogue)
    reader = _Reader(questionnaire)
    body = reader.read(resource.get("item"))
    raise_for(reader.issues)
    return Parsed(questionnaire, body, reader.locations)


def _status_issues(status: Any) -> list[Issue]:
    where = f"{ROOT}.status"
    if status in ACCEPTED_STATUSES:
        return []
    if status in ("in-progress", "stopped", "entered-in-error"):
        return [Issue("business-rule", "Only a completed or amended response is accepted; "
                      "submit the response once it is completed.", expression=where)]
    return [Issue("structure", "status must be a QuestionnaireResponse status code.",
                  expression=where)]


def resolve(reference: Any, catalogue: Catalogue) -> Questionnaire:
    """The published questionnaire a ``questionnaire`` canonical names; 422 otherwise."""
    where = f"{ROOT}.questionnaire"
    if not isinstance(reference, str) or not reference:
        refuse([Issue("required", "questionnaire must name the Questionnaire answered.",
                      expression=where)])
    url, _, version = reference.partition("|")
    for current in catalogue.current():
        if canonical_url(current) == url:
            found = catalogue.find(current.id, version or None)
            if found is not None:
                return found
            refuse([Issue("not-found", f"Unknown version of {url}; see GET "
                          f"/fhir/Questionnaire?url={url}.", expression=where)])
    published = ", ".join(canonical_url(q) for q in catalogue.current())
    refuse([Issue("not-found", "Unknown Questionnaire: this service accepts only responses "
                  f"to its own Questionnaires ({published}), with their linkIds.",
                  expression=where)])


class _Reader:
    """Walks the response's items against the definition, collecting issues and the
    response location of every native path read."""

    def __init__(self, questionnaire: Questionnaire) -> None:
        self.questionnaire = questionnaire
        self.issues: list[Issue] = []
        self.locations: dict[str, str] = {}

    def read(self, items: Any) -> dict[str, Any]:
        top: dict[str, Any] = {}
        self._items(items, self.questionnaire.items, ROOT, top, "")
        body: dict[str, Any] = {"questionnaire": self.questionnaire.id,
                                "questionnaire_version": self.questionnaire.version}
        if RESPONDENT in top:
            body[RESPONDENT] = top.pop(RESPONDENT)
        body["answers"] = top
        _empty_lists_for_required_repeats(self.questionnaire, top)
        return body

    def _issue(self, code: str, message: str, where: str, item: Item | None = None) -> None:
        self.issues.append(Issue(code, message, expression=where,
                                 target=item.path if item is not None else None))

    def _items(self, items: Any, children: tuple[Item, ...], where: str,
               into: dict[str, Any], native: str) -> None:
        """Reads ``items`` (the ``item`` list at ``where``) into the native object ``into``
        whose native path is ``native`` ("" at the root)."""
        if items is None:
            return
        if not isinstance(items, list):
            self._issue("structure", "item must be a list.", f"{where}.item")
            return
        known = {child.path: child for child in children}
        for index, raw in enumerate(items):
            at = f"{where}.item[{index}]"
            link = raw.get("linkId") if isinstance(raw, Mapping) else None
            item = known.get(link) if isinstance(link, str) else None
            if not isinstance(link, str):
                self._issue("structure", "Every item needs a linkId.", at)
            elif item is None:
                self._issue("invalid", "No item with this linkId belongs here in the "
                            "Questionnaire.", at)
            elif not item.repeats and item.name in into:
                self._issue("invalid", "This item may occur only once.", at, item)
            else:
                assert isinstance(raw, Mapping)
                self._item(raw, item, at, into, _child_path(native, item))

    def _item(self, raw: Mapping[str, Any], item: Item, at: str, into: dict[str, Any],
              native: str) -> None:
        if item.kind is ItemKind.CHOICE_LIST:
            self._list(raw, item, at, into, native)
        elif item.kind is ItemKind.GROUP:
            if "answer" in raw:
                self._issue("structure", "A group item has no answer.", f"{at}.answer", item)
            self._group(raw, item, at, into, native)
        else:
            found, value = self._answer(raw, item, at)
            if found:
                self.locations[native] = at
                into[item.name] = value

    def _group(self, raw: Mapping[str, Any], item: Item, at: str, into: dict[str, Any],
               native: str) -> None:
        """A group with at least one answer inside; an empty one (renderers send them for
        sections left blank) is no answer at all, as in the native form."""
        group: dict[str, Any] = {}
        occurrences = into.setdefault(item.name, []) if item.repeats else None
        if occurrences is not None:
            native = f"{native}.{len(occurrences)}"
        self.locations[native] = at
        self._items(raw.get("item"), item.children, at, group, native)
        if not group:
            del self.locations[native]
        elif occurrences is not None:
            occurrences.append(group)
        else:
            into[item.name] = group

    def _answer(self, raw: Mapping[str, Any], item: Item, at: str) -> tuple[bool, Any]:
        if "item" in raw:
            self._issue("structure", "A question item has no nested items.", f"{at}.item", item)
        answers = raw.get("answer")
        if answers is None or answers == []:
            return False, None
        if not isinstance(answers, list) or not all(isinstance(a, Mapping) for a in answers):
            self._issue("structure", "answer must be a list of answer objects.",
                        f"{at}.answer", item)
            return False, None
        if len(answers) > 1:
            self._issue("invalid", "Only one answer is allowed.", f"{at}.answer[1]", item)
            return False, None
        return self._value(answers[0], item, f"{at}.answer[0]")

    def _value(self, answer: Mapping[str, Any], item: Item, at: str) -> tuple[bool, Any]:
        expected = _VALUE_KEYS[item.kind]
        if "item" in answer:
            self._issue("structure", "Answers have no nested items here.", f"{at}.item", item)
        given = [key for key in answer if key.startswith("value")]
        if given != [expected]:
            self._issue("invalid", f"Expected exactly one {expected}.", at, item)
            return False, None
        value = answer[expected]
        if item.kind is not ItemKind.CHOICE:
            return True, value
        option = option_for(item, value) if isinstance(value, Mapping) else None
        if option is None:
            self._issue("code-invalid", "Not one of the item's answerOptions.",
                        f"{at}.{expected}", item)
            return False, None
        return True, option.value

    def _list(self, raw: Mapping[str, Any], item: Item, at: str, into: dict[str, Any],
              native: str) -> None:
        """A native list item answered as a group of one question per element."""
        rows = tuple(
            Item(list_element_link_id(item, i), ItemKind.CHOICE, options=item.options)
            for i in range(item.length or 0)
        )
        answered: dict[str, Any] = {}
        self._items(raw.get("item"), rows, at, answered, native)
        if not answered:
            return
        self.locations[native] = at
        missing = [row for row in rows if row.name not in answered]
        for row in missing:
            self._issue("required", "Every row of this group must be answered once one is.",
                        at, row)
        if not missing:
            into[item.name] = [answered[row.name] for row in rows]


def _child_path(native: str, item: Item) -> str:
    """Native path of ``item`` inside the object at ``native``; a list row (``mdq.q1.3``)
    is element ``2`` of its list."""
    if not native:
        return item.path if item.path == RESPONDENT else f"answers.{item.path}"
    if item.name.isdigit():
        return f"{native}.{int(item.name) - 1}"
    return f"{native}.{item.name}"


def _empty_lists_for_required_repeats(questionnaire: Questionnaire,
                                      answers: dict[str, Any]) -> None:
    """A required repeating group with no occurrence in a completed response is an empty
    list (FHIR cannot send "answered, none"; see ``screening.fhir.questionnaire``)."""
    for item in questionnaire.walk():
        if not (item.repeats and item.required) or item.path.startswith(RESPONDENT + "."):
            continue
        *parents, name = item.path.split(".")
        node: Any = answers
        for parent in parents:
            node = node.setdefault(parent, {}) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.setdefault(name, [])
