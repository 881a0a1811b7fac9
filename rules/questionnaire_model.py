"""The shape of a questionnaire definition: items, answer domains, enable-when.

One definition (``rules.questionnaire.KETAMINE_INTAKE``) is the single source for the
native JSON validation schemas, the published questionnaire document and the FHIR R4
Questionnaire. Paths are the native JSON field paths (``phq9.q1``,
``treatment_history.antidepressant_trials.weeks``) and double as FHIR ``linkId``s.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class ItemKind(StrEnum):
    """What kind of value an item holds in the native JSON."""

    GROUP = "group"  # an object whose members are the children
    CHOICE = "choice"  # one value from ``options`` (str or int)
    INTEGER = "integer"  # a whole number within minimum..maximum
    DATE = "date"  # an ISO 8601 calendar date (YYYY-MM-DD)
    STRING = "string"  # free text up to ``max_length``
    CHOICE_LIST = "choice_list"  # a JSON list of exactly ``length`` choices (MDQ q1)


@dataclass(frozen=True, slots=True)
class Option:
    """One permitted answer of a choice item.

    ``value`` is the native JSON value (``2`` for a PHQ-9 item, ``"yes"`` for ASQ);
    ``code`` is its string form, used as the FHIR ``valueCoding.code``; ``ordinal`` is the
    numeric score where the instrument has one; ``loinc`` is the LOINC answer code (LA…)
    where LOINC has one. ``loinc_aliases`` are other LOINC answer codes that publishers use
    for the very same answer: accepted when reading responses, never published.
    """

    value: int | str
    display: str
    ordinal: int | None = None
    loinc: str | None = None
    loinc_aliases: tuple[str, ...] = ()

    @property
    def code(self) -> str:
        """The option's native value as a string."""
        return str(self.value)


@dataclass(frozen=True, slots=True)
class EnableWhen:
    """The item is enabled when the answer at ``path`` equals ``equals``."""

    path: str
    equals: int | str


@dataclass(frozen=True, slots=True)
class Item:
    """One question or group of the questionnaire.

    ``enable_when`` conditions combine with ``enable_behavior`` (``any`` or ``all``); an
    item whose conditions are false must not be answered, except with one of the values in
    ``accept_when_disabled``: safety answers (suicide risk) that a form may ask outside the
    skip pattern, accepted and evaluated, never refused. ``text`` is None where the
    instrument's wording is licensed (C-SSRS, MDQ, DAST-10): those items are numbered only.
    ``total_loinc`` (on an instrument's group) is the LOINC code of the instrument's total
    score, which the service computes itself and never reads from a response.
    """

    path: str
    kind: ItemKind
    text: str | None = None
    required: bool = False
    options: tuple[Option, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    length: int | None = None
    repeats: bool = False
    children: tuple[Item, ...] = ()
    enable_when: tuple[EnableWhen, ...] = ()
    enable_behavior: str = "any"
    accept_when_disabled: tuple[int | str, ...] = ()
    loinc: str | None = None
    total_loinc: str | None = None

    @property
    def name(self) -> str:
        """The last segment of the path: the JSON member name."""
        return self.path.rsplit(".", 1)[-1]

    def option_values(self) -> tuple[int | str, ...]:
        """The permitted native values of a choice item."""
        return tuple(o.value for o in self.options)


@dataclass(frozen=True, slots=True)
class Questionnaire:
    """A versioned questionnaire: top-level items are the sections of ``answers`` plus
    ``respondent``."""

    id: str
    version: str
    title: str
    items: tuple[Item, ...]
    # A read-only mapping by default so that a definition built at import cannot be changed.
    loinc: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def walk(self) -> Iterator[Item]:
        """Every item, depth first, parents before children."""
        stack = list(reversed(self.items))
        while stack:
            item = stack.pop()
            yield item
            stack.extend(reversed(item.children))

    def item(self, path: str) -> Item:
        """The item at a native path; KeyError when there is none."""
        for candidate in self.walk():
            if candidate.path == path:
                return candidate
        raise KeyError(path)

    def describe(self) -> dict[str, Any]:
        """A plain JSON description of the questionnaire for ``GET /api/v1/questionnaires/{id}``."""
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "items": [_describe_item(i) for i in self.items],
        }


def _describe_item(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {"path": item.path, "kind": item.kind.value, "required": item.required}
    if item.text is not None:
        out["text"] = item.text
    if item.options:
        out["options"] = [
            {k: v for k, v in (("value", o.value), ("display", o.display),
                               ("ordinal", o.ordinal), ("loinc", o.loinc)) if v is not None}
            for o in item.options
        ]
    for key in ("minimum", "maximum", "max_length", "length", "loinc", "total_loinc"):
        value = getattr(item, key)
        if value is not None:
            out[key] = value
    if item.repeats:
        out["repeats"] = True
    if item.enable_when:
        out["enable_when"] = [{"path": c.path, "equals": c.equals} for c in item.enable_when]
        out["enable_behavior"] = item.enable_behavior
    if item.accept_when_disabled:
        out["accept_when_disabled"] = list(item.accept_when_disabled)
    if item.children:
        out["items"] = [_describe_item(c) for c in item.children]
    return out
