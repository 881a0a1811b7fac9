"""Items of a QuestionnaireResponse named by LOINC code instead of by our linkId.

Publishers of LOINC-coded forms name the same LOINC items differently (``44250-9``,
``/44250-9``, ``/44249-1/44250-9``), so an item whose linkId is not one of ours is matched
by the LOINC code its linkId ends in, against the ``loinc`` codes of the questionnaire
definition (``rules.questionnaire``), never against a table of its own. Such an item may
stand where our item does or anywhere above it (at the top of the response, or in the
LOINC-coded group of its panel, ``/44249-1``), but never across a repeating group, whose
occurrence it could not name.

Only a linkId made of LOINC codes is ever repeated in a message: it holds digits, dashes
and slashes, so it cannot carry what a respondent typed.
"""

from __future__ import annotations

import re

from rules.questionnaire_model import Item, ItemKind, Questionnaire
from screening.web.fhir.questionnaire import canonical_reference

# A LOINC code: up to seven digits, a dash and the check digit.
_CODE = r"\d{1,7}-\d"
_LINK_ID = re.compile(rf"/?(?:{_CODE}/){{0,7}}({_CODE})")


def code_of(link_id: str) -> str | None:
    """The LOINC item code a linkId names (its last path segment), or None when the linkId
    is not made of LOINC codes."""
    matched = _LINK_ID.fullmatch(link_id)
    return matched.group(1) if matched else None


def chain(children: tuple[Item, ...], code: str) -> tuple[Item, ...] | None:
    """The items from one of ``children`` down to the item coded ``code`` (each the
    parent of the next), or None when no item below ``children`` has that code."""
    for child in children:
        if child.loinc == code:
            return (child,)
        if child.kind is ItemKind.GROUP and not child.repeats:
            below = chain(child.children, code)
            if below is not None:
                return (child, *below)
    return None


def submission_hint(questionnaire: Questionnaire) -> str:
    """How to submit answers to LOINC-coded forms: inside ``questionnaire``, by code."""
    coded = _coded(questionnaire.items)
    carried = ", ".join(
        f"{item.path} ({'panel ' if item.kind is ItemKind.GROUP else ''}{item.loinc})"
        for item in coded)
    return (f"Answer the {questionnaire.id} Questionnaire ({canonical_reference(questionnaire)},"
            f" GET /fhir/Questionnaire/{questionnaire.id}) with its required items; items of "
            "LOINC-coded forms are accepted inside it by code, their linkId the LOINC item "
            f"code{_example_link_id(coded)}: {carried}.")


def _coded(items: tuple[Item, ...]) -> list[Item]:
    """The outermost LOINC-coded items (a panel stands for the items it holds)."""
    found: list[Item] = []
    for item in items:
        if item.loinc is not None:
            found.append(item)
        elif not item.repeats:
            found.extend(_coded(item.children))
    return found


def _example_link_id(coded: list[Item]) -> str:
    for panel in coded:
        first = next((c for c in panel.children if c.loinc is not None), None)
        if first is not None:
            return f" (such as /{first.loinc} or /{panel.loinc}/{first.loinc})"
    return ""
