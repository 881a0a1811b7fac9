"""Enable-when rules of a questionnaire, checked against a submission as sent.

An item with enable-when conditions may be answered only while they hold (``any`` or
``all`` of them), except with a value of its ``accept_when_disabled`` (a safety answer,
never refused); while they hold, a required item must be answered. The conditions name
definition paths (``asq.q1``); inside a repeating group a condition on a sibling item
refers to the same repetition. A condition compares type and value, so ``true`` never
equals ``1`` and ``"1"`` never equals ``1``.

Error messages name the condition from the definition, never a submitted value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rules.questionnaire_model import Item, Questionnaire

RESPONDENT = "respondent"
REQUIRED_MESSAGE = "Missing data for required field."
_ABSENT = object()

Path = tuple[str | int, ...]


def body_path(definition_path: str) -> str:
    """The dotted request path of a definition path (answer sections sit in ``answers``)."""
    if definition_path == RESPONDENT or definition_path.startswith(RESPONDENT + "."):
        return definition_path
    return f"answers.{definition_path}"


@dataclass(frozen=True, slots=True)
class _Rule:
    segments: tuple[str, ...]
    prefixes: tuple[str, ...]  # the definition path of each prefix of ``segments``
    # Each condition: the path's segments, the definition path of each of its prefixes
    # (built once here, not on every request) and the value it must equal.
    conditions: tuple[tuple[tuple[str, ...], tuple[str, ...], int | str], ...]
    needs_all: bool
    required: bool
    accept_when_disabled: tuple[int | str, ...]
    message: str

    def enabled(self, root: Mapping[str, Any], repeating: frozenset[str],
                indexes: Mapping[str, int]) -> bool:
        results = (
            _same(_value_at(root, path, prefixes, repeating, indexes), equals)
            for path, prefixes, equals in self.conditions
        )
        return all(results) if self.needs_all else any(results)


@dataclass(frozen=True, slots=True)
class Conditionals:
    """The enable-when rules of one questionnaire, prepared once."""

    rules: tuple[_Rule, ...]
    repeating: frozenset[str]

    @classmethod
    def of(cls, questionnaire: Questionnaire) -> Conditionals:
        """Collect every item with enable-when conditions."""
        rules = tuple(_rule(item) for item in questionnaire.walk() if item.enable_when)
        repeating = frozenset(item.path for item in questionnaire.walk() if item.repeats)
        return cls(rules, repeating)

    def errors(self, body: Mapping[str, Any]) -> dict[str | int, Any]:
        """Marshmallow-style nested errors: answered while disabled, or required and
        missing while enabled. Empty when every rule holds."""
        if not self.rules:
            return {}
        root = _document(body)
        errors: dict[str | int, Any] = {}
        for rule in self.rules:
            for where, container, indexes in self._containers(root, rule):
                answered = rule.segments[-1] in container
                if answered and not _accepted_anyway(rule, container[rule.segments[-1]]) \
                        and not rule.enabled(root, self.repeating, indexes):
                    message = rule.message
                elif not answered and rule.required and rule.enabled(
                        root, self.repeating, indexes):
                    message = REQUIRED_MESSAGE
                else:
                    continue
                _put(errors, _request_path(where + (rule.segments[-1],)), message)
        return errors

    def _containers(
        self, root: Mapping[str, Any], rule: _Rule
    ) -> Iterator[tuple[Path, Mapping[str, Any], dict[str, int]]]:
        """Every object in the request that holds (or would hold) ``rule``'s item, with
        its concrete path and the repetition index of each repeating ancestor."""
        states: list[tuple[Path, Mapping[str, Any], dict[str, int]]] = [((), root, {})]
        for name, definition_path in zip(rule.segments[:-1], rule.prefixes, strict=False):
            reached = []
            for where, container, indexes in states:
                value = container.get(name)
                if definition_path in self.repeating and isinstance(value, list):
                    for i, element in enumerate(value):
                        if isinstance(element, Mapping):
                            reached.append(
                                (where + (name, i), element, {**indexes, definition_path: i}))
                elif definition_path not in self.repeating and isinstance(value, Mapping):
                    reached.append((where + (name,), value, indexes))
            states = reached
        yield from states


def _prefixes(segments: tuple[str, ...]) -> tuple[str, ...]:
    """The definition path of each prefix of ``segments``: ``("a", "a.b", "a.b.c")``."""
    return tuple(".".join(segments[: depth + 1]) for depth in range(len(segments)))


def _rule(item: Item) -> _Rule:
    conditions = tuple(
        (segments, _prefixes(segments), c.equals)
        for c in item.enable_when
        for segments in (tuple(c.path.split(".")),)
    )
    needs_all = item.enable_behavior == "all"
    joiner = " and " if needs_all else " or "
    text = joiner.join(f"{body_path(c.path)} is {json.dumps(c.equals)}" for c in item.enable_when)
    segments = tuple(item.path.split("."))
    return _Rule(
        segments=segments,
        prefixes=_prefixes(segments),
        conditions=conditions,
        needs_all=needs_all,
        required=item.required,
        accept_when_disabled=item.accept_when_disabled,
        message=f"Must not be answered unless {text}.",
    )


def _accepted_anyway(rule: _Rule, value: Any) -> bool:
    """Whether ``value`` is a safety answer accepted even while the item is disabled."""
    return any(_same(value, accepted) for accepted in rule.accept_when_disabled)


def _document(body: Mapping[str, Any]) -> dict[str, Any]:
    """The request seen as the definition sees it: answer sections and ``respondent``
    side by side."""
    answers = body.get("answers")
    respondent = body.get(RESPONDENT)
    root: dict[str, Any] = dict(answers) if isinstance(answers, Mapping) else {}
    root[RESPONDENT] = respondent if isinstance(respondent, Mapping) else {}
    return root


def _value_at(root: Mapping[str, Any], segments: tuple[str, ...], prefixes: tuple[str, ...],
              repeating: frozenset[str], indexes: Mapping[str, int]) -> Any:
    node: Any = root
    last = len(segments) - 1
    for depth, name in enumerate(segments):
        if not isinstance(node, Mapping) or name not in node:
            return _ABSENT
        node = node[name]
        definition_path = prefixes[depth]
        if depth < last and definition_path in repeating:
            index = indexes.get(definition_path)
            if index is None or not isinstance(node, list) or index >= len(node):
                return _ABSENT
            node = node[index]
    return node


def _same(value: Any, equals: int | str) -> bool:
    return type(value) is type(equals) and value == equals


def _request_path(where: Path) -> Path:
    if where and where[0] == RESPONDENT:
        return where
    return ("answers", *where)


def _put(errors: dict[str | int, Any], path: Path, message: str) -> None:
    node = errors
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node.setdefault(path[-1], []).append(message)
