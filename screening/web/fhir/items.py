"""Reading the items of a QuestionnaireResponse against a questionnaire definition into
the native ``respondent`` and ``answers`` (``screening.web.fhir.response`` reads the rest).

Items are matched by linkId at the place the Questionnaire puts them, or by the LOINC code
a linkId names (``/44250-9``, see ``screening.web.fhir.loinc``) anywhere above that place; the
same item answered under both is refused, naming both linkIds. Choice answers are matched
by code or ordinalValue (``screening.web.fhir.questionnaire.option_for``), never by display
text; other answers pass through unconverted, so the native schema checks them. Every
problem is an ``Issue`` located by a simple FHIRPath and, for an item, its linkId.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules.questionnaire_model import Item, ItemKind, Questionnaire
from screening.web.fhir import loinc
from screening.web.fhir.outcome import Issue
from screening.web.fhir.questionnaire import list_element_link_id, option_for

ROOT = "QuestionnaireResponse"
RESPONDENT = "respondent"
_VALUE_KEYS = {
    ItemKind.CHOICE: "valueCoding",
    ItemKind.INTEGER: "valueInteger",
    ItemKind.DATE: "valueDate",
    ItemKind.STRING: "valueString",
}


class ItemReader:
    """Walks the response's items against the definition, collecting issues and the
    response location of every native path read."""

    def __init__(self, questionnaire: Questionnaire) -> None:
        self.questionnaire = questionnaire
        self.issues: list[Issue] = []
        self.locations: dict[str, str] = {}
        # Native path -> the linkId it was first read from (ours or a LOINC code's).
        self.read_from: dict[str, str] = {}
        # Totals that LOINC forms compute themselves (PHQ-9 44261-6, GAD-7 70274-6): the
        # service scores from the item answers and never reads a sender's total.
        self.sender_totals = frozenset(
            item.total_loinc for item in questionnaire.walk() if item.total_loinc)

    def read(self, items: Any) -> dict[str, Any]:
        """The native body of the response's top-level ``item`` list; problems are left in
        ``issues``."""
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
            if not isinstance(link, str):
                self._issue("structure", "Every item needs a linkId.", at)
                continue
            assert isinstance(raw, Mapping)
            item = known.get(link)
            if item is not None:
                self._place(raw, item, link, at, into, native)
            else:
                self._by_code(raw, link, children, at, into, native)

    def _by_code(self, raw: Mapping[str, Any], link: str, children: tuple[Item, ...],
                 at: str, into: dict[str, Any], native: str) -> None:
        """An item whose linkId names a LOINC code: read as our item of that code, wherever
        below ``children`` it is (groups on the way are made, and dropped if left empty)."""
        code = loinc.code_of(link)
        if code in self.sender_totals:
            return
        if code is None:
            self._issue("invalid", "No item with this linkId belongs here in the "
                        "Questionnaire.", at)
            return
        found = loinc.chain(children, code)
        if found is None:
            self.issues.append(Issue("invalid", "No item with this LOINC code belongs here "
                                     "in the Questionnaire.", expression=at, target=link))
            return
        made: list[tuple[dict[str, Any], str]] = []
        for group in found[:-1]:
            if group.name not in into:
                into[group.name] = {}
                made.append((into, group.name))
            into, native = into[group.name], _child_path(native, group)
        self._place(raw, found[-1], link, at, into, native)
        for parent, name in reversed(made):
            if not parent[name]:
                del parent[name]

    def _place(self, raw: Mapping[str, Any], item: Item, link: str, at: str,
               into: dict[str, Any], native: str) -> None:
        """Reads ``item`` unless it was read already: a group given under our linkId and
        its LOINC code is read as one, any other item only once."""
        path = _child_path(native, item)
        first = self.read_from.get(path)
        if first is not None and not item.repeats:
            if first == link:
                self._issue("invalid", "This item may occur only once.", at, item)
                return
            if item.kind is not ItemKind.GROUP:
                self._issue("invalid", f"Answered twice, as {first} and as {link}; answer "
                            "each item once.", at, item)
                return
        self._item(raw, item, at, into, path)
        if path in self.locations and not item.repeats:
            self.read_from.setdefault(path, link)

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
        occurrences = into.setdefault(item.name, []) if item.repeats else None
        if occurrences is not None:
            native = f"{native}.{len(occurrences)}"
        # Items of a group may already have been read by LOINC code from above it.
        group: dict[str, Any] = {} if occurrences is not None else into.get(item.name, {})
        located = native not in self.locations
        if located:
            self.locations[native] = at
        self._items(raw.get("item"), item.children, at, group, native)
        if not group:
            if located:
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
    list (FHIR cannot send "answered, none"; see ``screening.web.fhir.questionnaire``)."""
    for item in questionnaire.walk():
        if not (item.repeats and item.required) or item.path.startswith(RESPONDENT + "."):
            continue
        *parents, name = item.path.split(".")
        node: Any = answers
        for parent in parents:
            node = node.setdefault(parent, {}) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.setdefault(name, [])
