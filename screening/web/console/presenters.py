"""What the console pages show, computed from stored records (no Flask, no database).

The answers are labelled with the questionnaire definition they were submitted against
(``rules.questionnaire``): each row shows the question and the chosen option's wording
with the value as submitted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rules import questionnaire
from rules.questionnaire_model import Item, ItemKind, Questionnaire

PRIORITY_LABELS = {
    "critical": "CRITICAL",
    "urgent": "URGENT",
    "high": "HIGH",
    "routine": "ROUTINE",
}
CRISIS_PRIORITIES = ("critical", "urgent")
STATUS_LABELS = {
    "pending_review": "Waiting for review",
    "in_review": "In review",
    "decided": "Decided",
}
OUTCOME_LABELS = {
    "proceed_to_consultation": "Proceed to consultation",
    "not_suitable": "Not suitable",
    "needs_more_information": "Needs more information",
    "refer_to_crisis_services": "Refer to crisis services",
}
CRITERION_LABELS = {"met": "Met", "not_met": "Not met", "unknown": "Unknown"}


@dataclass(frozen=True, slots=True)
class Row:
    """One answered question: its wording, the answer's wording, the value sent."""

    label: str
    answer: str
    value: str


@dataclass(frozen=True, slots=True)
class Section:
    """One section of the questionnaire with the rows answered in it."""

    title: str
    rows: list[Row] = field(default_factory=list)


def short_id(identifier: str | None) -> str:
    """The part of a record's id a person can tell records apart by: its last eight
    characters. Ids are time-ordered (``screening.storage.ids``), so their first
    characters are the same for every record of the same minute; the end is random."""
    return (identifier or "")[-8:]


def words(identifier: str) -> str:
    """``suicide_risk_acute`` -> ``suicide risk acute``."""
    return identifier.replace("_", " ")


def reason_label(reason: str) -> str:
    """A routing reason (``flag:<id>`` or ``criterion:<id>:<status>``) in words."""
    kind, _, rest = reason.partition(":")
    if kind == "flag":
        return f"Flag: {words(rest)}"
    if kind == "criterion":
        criterion, _, status = rest.partition(":")
        return f"Criterion {words(criterion)}: {words(status)}"
    return words(reason)


def utc_time(moment: dt.datetime | None) -> str:
    """``2026-11-21 10:00 UTC`` (or an empty string)."""
    if moment is None:
        return ""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def age(received_at: dt.datetime, now: dt.datetime) -> str:
    """How long ago, coarsely: ``just now``, ``42 min ago``, ``3 h 5 min ago``,
    ``2 d 4 h ago``."""
    minutes = max(0, int((now - received_at).total_seconds() // 60))
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min ago"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h ago"


def plain(value: Any) -> str:
    """A stored value as short text: mappings as ``key = value`` pairs, lists joined."""
    if isinstance(value, Mapping):
        return "; ".join(f"{key} = {plain(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain(item) for item in value)
    if value is None:
        return "not given"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def evidence_rows(evidence: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """A criterion's evidence as (name, text) pairs; trial lists one row per trial."""
    rows: list[tuple[str, str]] = []
    for key, value in (evidence or {}).items():
        if isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
            for index, entry in enumerate(value, start=1):
                rows.append((f"{words(key)} {index}", plain(entry)))
        else:
            rows.append((words(key), plain(value)))
    return rows


def _definition(questionnaire_id: str, version: str) -> Questionnaire | None:
    try:
        return questionnaire.get(questionnaire_id, version)
    except KeyError:
        return None


def _choice_words(item: Item, value: Any) -> str:
    for option in item.options:
        if option.value == value:
            return option.display
    return str(value)


def _rows(item: Item, value: Any, prefix: str = "") -> list[Row]:
    label = prefix + (item.text or item.path)
    if item.kind is ItemKind.GROUP and item.repeats and isinstance(value, list):
        rows: list[Row] = []
        for index, entry in enumerate(value, start=1):
            rows.extend(_group_rows(item, entry, f"{label} — entry {index}: "))
        return rows or [Row(label, "none listed", "[]")]
    if item.kind is ItemKind.GROUP and isinstance(value, Mapping):
        return _group_rows(item, value, prefix)
    if item.kind is ItemKind.CHOICE:
        return [Row(label, _choice_words(item, value), plain(value))]
    if item.kind is ItemKind.CHOICE_LIST and isinstance(value, list):
        answer = ", ".join(f"{n}: {_choice_words(item, v)}" for n, v in enumerate(value, 1))
        return [Row(label, answer, plain(value))]
    return [Row(label, plain(value), plain(value))]


def _group_rows(group: Item, values: Mapping[str, Any], prefix: str = "") -> list[Row]:
    rows: list[Row] = []
    known = {child.name: child for child in group.children}
    for child in group.children:
        if child.name in values:
            rows.extend(_rows(child, values[child.name], prefix))
    for name, value in values.items():  # members the definition does not name
        if name not in known:
            rows.append(Row(prefix + f"{group.path}.{name}", plain(value), plain(value)))
    return rows


def answer_sections(questionnaire_id: str, version: str, respondent: Mapping[str, Any],
                    answers: Mapping[str, Any]) -> list[Section]:
    """The respondent and answers as submitted, section by section, in questionnaire
    order; without a known definition, raw ``path = value`` rows."""
    definition = _definition(questionnaire_id, version)
    submitted = {"respondent": respondent, **answers}
    if definition is None:
        return [Section(name, [Row(name, plain(value), plain(value))])
                for name, value in submitted.items()]
    sections = []
    for item in definition.items:
        if item.name in submitted:
            values = submitted[item.name]
            rows = (_group_rows(item, values) if isinstance(values, Mapping)
                    else [Row(item.path, plain(values), plain(values))])
            sections.append(Section(item.text or item.path, rows))
    named = {item.name for item in definition.items}
    sections += [Section(name, [Row(name, plain(value), plain(value))])
                 for name, value in submitted.items() if name not in named]
    return sections
