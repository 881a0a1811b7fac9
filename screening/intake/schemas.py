"""Request schemas of ``POST /api/v1/submissions``, generated from a questionnaire definition.

The definition (``rules.questionnaire_model.Questionnaire``) is the single source of the
request shape. Every item becomes a marshmallow field of its kind with a strict type (no
``"2"`` for ``2``, no ``true`` for ``1``), its answer domain and its required flag; a group
becomes a nested schema and a repeating group a list of them. Unknown members are rejected
at every level. Enable-when conditions may refer to other groups, so the root schema checks
them (``screening.intake.enable_when``) against the request as sent.

Schemas are built once per questionnaire version by ``Catalogue``, each with a compiled
fast path for valid bodies (``screening.intake.fastpath``; errors always come from
marshmallow). Errors are collected all
at once and flattened to dotted paths (``answers.phq9.q1``,
``answers.treatment_history.antidepressant_trials.0.weeks``). No message repeats the
submitted value: the built-in messages used here never interpolate the input, and the
custom ones below do not either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from rules.questionnaire import CURRENT_VERSION, QUESTIONNAIRES
from rules.questionnaire_model import Item, ItemKind, Option, Questionnaire
from screening.intake.enable_when import RESPONDENT, Conditionals
from screening.intake.fastpath import Fallback, Loader, compile_loader

__all__ = [
    "Catalogue",
    "MAX_REPEATS",
    "ROOT_ERROR_KEY",
    "default_catalogue",
    "flatten_errors",
    "submission_schema",
]

MAX_REPEATS = 50
EARLIEST_DATE = date(1900, 1, 1)
ROOT_ERROR_KEY = "_schema"
UNKNOWN_NAME = "<unknown>"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Every member name of a definition has this shape; an unknown member named otherwise could
# be a value (an email, a date) sent in the wrong place, so its name is not repeated.
_MEMBER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class IsoDate(fields.Field[str]):
    """A calendar date written exactly ``YYYY-MM-DD``, from 1900-01-01 up to today (UTC).

    The loaded value stays the ISO string: the stored answers are the native JSON.
    """

    fast_path_safe = True  # ``_deserialize`` is pure: screening.intake.fastpath may call it
    default_error_messages = {
        "invalid": "Not a valid date; expected YYYY-MM-DD.",
        "too_early": "Must not be before 1900-01-01.",
        "future": "Must not be in the future.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        # date.fromisoformat alone would also take "20200101" and week dates.
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
            raise self.make_error("invalid")
        try:
            day = date.fromisoformat(value)
        except ValueError as error:
            raise self.make_error("invalid") from error
        if day < EARLIEST_DATE:
            raise self.make_error("too_early")
        if day > datetime.now(UTC).date():
            raise self.make_error("future")
        return value


class _StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class _SubmissionSchema(_StrictSchema):
    """Root of a submission: the questionnaire reference, ``respondent`` and ``answers``.

    Subclasses generated per questionnaire add the two groups; ``conditionals`` holds the
    enable-when rules of that questionnaire.
    """

    questionnaire = fields.String(required=True)
    questionnaire_version = fields.String()

    def __init__(self, conditionals: Conditionals, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conditionals = conditionals

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _check_enable_when(self, data: Any, original_data: Any, **kwargs: Any) -> None:
        if not isinstance(original_data, Mapping):
            return
        errors = self.conditionals.errors(original_data)
        if errors:
            raise ValidationError(errors)


_ROOT_HOOKS = frozenset({"_check_enable_when"})  # run by Catalogue._fast_load itself


def _choice(options: tuple[Option, ...], **kwargs: Any) -> fields.Field[Any]:
    values = tuple(o.value for o in options)
    one_of = validate.OneOf(values)
    if all(isinstance(v, str) for v in values):
        return fields.String(validate=one_of, **kwargs)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return fields.Integer(strict=True, validate=one_of, **kwargs)
    raise ValueError("a choice item's options must be all integers or all strings")


def _scalar(item: Item, **kwargs: Any) -> fields.Field[Any]:
    """The field of a non-group item (without repetition)."""
    if item.kind is ItemKind.CHOICE:
        return _choice(item.options, **kwargs)
    if item.kind is ItemKind.CHOICE_LIST:
        length = validate.Length(equal=item.length) if item.length is not None else None
        return fields.List(_choice(item.options, required=True), validate=length, **kwargs)
    if item.kind is ItemKind.INTEGER:
        has_range = item.minimum is not None or item.maximum is not None
        in_range = validate.Range(min=item.minimum, max=item.maximum) if has_range else None
        return fields.Integer(strict=True, validate=in_range, **kwargs)
    if item.kind is ItemKind.DATE:
        return IsoDate(**kwargs)
    if item.kind is ItemKind.STRING:
        longest = validate.Length(max=item.max_length) if item.max_length is not None else None
        return fields.String(validate=longest, **kwargs)
    raise ValueError(f"no field for item kind {item.kind}")


def _field(item: Item) -> fields.Field[Any]:
    """The field of one item; an item with enable-when is never statically required
    (``Conditionals`` requires it only while enabled)."""
    required = item.required and not item.enable_when
    if item.kind is ItemKind.GROUP:
        single: fields.Field[Any] = fields.Nested(_group_schema(item))
    else:
        single = _scalar(item)
    if item.repeats:
        single = fields.List(single, validate=validate.Length(max=MAX_REPEATS))
    single.required = required
    return single


def _group_schema(group: Item) -> Schema:
    members = {child.name: _field(child) for child in group.children}
    schema_class = _StrictSchema.from_dict(members, name=f"Group[{group.path}]")
    return schema_class()


def submission_schema(questionnaire: Questionnaire) -> _SubmissionSchema:
    """Build the root schema of one questionnaire version.

    The top-level item named ``respondent`` becomes the ``respondent`` member; every other
    top-level item is a section of ``answers``. Costly: ``Catalogue`` calls it once per
    version.
    """
    respondent = [i for i in questionnaire.items if i.path == RESPONDENT]
    if len(respondent) != 1 or respondent[0].kind is not ItemKind.GROUP:
        raise ValueError("a questionnaire needs exactly one top-level 'respondent' group")
    sections = {i.name: _field(i) for i in questionnaire.items if i.path != RESPONDENT}
    answers_schema = _StrictSchema.from_dict(sections, name=f"Answers[{questionnaire.id}]")
    members = {
        "respondent": fields.Nested(_group_schema(respondent[0]), required=True),
        "answers": fields.Nested(answers_schema(), required=True),
    }
    name = f"Submission[{questionnaire.id}@{questionnaire.version}]"
    schema_class = type(name, (_SubmissionSchema,), members)
    return schema_class(Conditionals.of(questionnaire))


class Catalogue:
    """The questionnaires this service accepts, each version with its schema built once.

    The current version of an id is the one named in ``current``, else the one given last.
    """

    def __init__(self, questionnaires: Iterable[Questionnaire],
                 current: Mapping[str, str] | None = None) -> None:
        self._versions: dict[tuple[str, str], Questionnaire] = {}
        self._current: dict[str, Questionnaire] = {}
        self._schemas: dict[tuple[str, str], _SubmissionSchema] = {}
        self._fast: dict[tuple[str, str], Loader | None] = {}
        for q in questionnaires:
            self._versions[(q.id, q.version)] = q
            self._current[q.id] = q
            schema = self._schemas[(q.id, q.version)] = submission_schema(q)
            self._fast[(q.id, q.version)] = compile_loader(schema, _ROOT_HOOKS)
        for qid, version in (current or {}).items():
            self._current[qid] = self._versions[(qid, version)]

    def current(self) -> list[Questionnaire]:
        """The current version of every questionnaire, in the order given."""
        return list(self._current.values())

    def find(self, questionnaire_id: str, version: str | None = None) -> Questionnaire | None:
        """One version of a questionnaire (the current one when ``version`` is None)."""
        if version is None:
            return self._current.get(questionnaire_id)
        return self._versions.get((questionnaire_id, version))

    def schema(self, questionnaire_id: str, version: str) -> Schema:
        """The submission schema of one version (KeyError when there is none)."""
        return self._schemas[(questionnaire_id, version)]

    def load(self, body: Any) -> dict[str, Any]:
        """Validate a submission body; return it as canonical native JSON with the
        ``questionnaire_version`` that applies filled in.

        Raises ``marshmallow.ValidationError`` whose ``messages`` map every offending
        dotted path to its messages (``flatten_errors``).
        """
        questionnaire = self._questionnaire_of(body)
        version = (questionnaire.id, questionnaire.version)
        schema = self._schemas[version]
        loaded = self._fast_load(version, body)
        if loaded is None:
            try:
                loaded = schema.load(body)
            except ValidationError as error:
                raise ValidationError(flatten_errors(error.messages)) from None
        loaded["questionnaire_version"] = questionnaire.version
        return loaded

    def _fast_load(self, version: tuple[str, str], body: Any) -> dict[str, Any] | None:
        """The compiled fast path (None: let marshmallow decide and explain)."""
        fast = self._fast[version]
        if fast is None:
            return None
        try:
            loaded: dict[str, Any] = fast(body)
        except Fallback:
            return None
        if self._schemas[version].conditionals.errors(body):
            return None
        return loaded

    def _questionnaire_of(self, body: Any) -> Questionnaire:
        if not isinstance(body, Mapping):
            raise ValidationError({ROOT_ERROR_KEY: ["Invalid input type."]})
        errors: dict[str, list[str]] = {}
        qid = body.get("questionnaire")
        version = body.get("questionnaire_version")
        if "questionnaire" not in body:
            errors["questionnaire"] = ["Missing data for required field."]
        elif not isinstance(qid, str):
            errors["questionnaire"] = ["Not a valid string."]
        elif qid not in self._current:
            errors["questionnaire"] = ["Unknown questionnaire."]
        if "questionnaire_version" in body and not isinstance(version, str):
            errors["questionnaire_version"] = ["Not a valid string."]
        if errors:
            raise ValidationError(errors)
        found = self.find(qid, version)
        if found is None:
            raise ValidationError({"questionnaire_version": ["Unknown questionnaire version."]})
        return found


@cache
def default_catalogue() -> Catalogue:
    """The catalogue of the published questionnaires (built on first use)."""
    every_version = (q for versions in QUESTIONNAIRES.values() for q in versions.values())
    return Catalogue(every_version, CURRENT_VERSION)


def flatten_errors(messages: Any) -> dict[str, list[str]]:
    """Flatten marshmallow's nested error messages to ``{"a.b.0.c": [messages]}``.

    A ``_schema`` level (an error of the object itself) is named by the object's path; an
    unknown member whose name does not look like a field name is shown as ``<unknown>``.
    """
    flat: dict[str, list[str]] = {}
    _flatten(messages, "", flat)
    return flat


def _flatten(node: Any, path: str, out: dict[str, list[str]]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == ROOT_ERROR_KEY:
                child = path
            else:
                name = _shown_name(key)
                child = f"{path}.{name}" if path else name
            _flatten(value, child, out)
    elif isinstance(node, list):
        for value in node:
            _flatten(value, path, out)
    else:
        out.setdefault(path or ROOT_ERROR_KEY, []).append(str(node))


def _shown_name(key: str | int) -> str:
    if isinstance(key, int) or _MEMBER_NAME.fullmatch(key):
        return str(key)
    return UNKNOWN_NAME
