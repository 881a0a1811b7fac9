"""A fast path for loading valid submissions, compiled from the marshmallow schemas.

``Schema.load`` costs about 0.35 ms per submission, most of it marshmallow's generic
machinery (error stores, getters, hooks) rather than the checks themselves. Valid bodies
are the common case, so ``compile_loader`` turns a schema into nested closures that run
*the same checks* (the schema's own validator objects, a lone ``OneOf`` of strings or
integers as the equivalent set membership, ``IsoDate``'s own parser, the same required
and unknown-member rules) and build the same output, member order included. The
closures are conservative: on anything unexpected (a wrong type, a failing validator, a
missing or unknown member) they give up with ``Fallback`` and the caller runs
``Schema.load``, which then produces the errors exactly as before. A schema using
anything this module does not know (another field class, ``data_key``, ``allow_none``,
``load_default``, hooks, ``unknown`` other than RAISE) compiles to ``None``: no fast path.

``tests/screening/test_schema_fastpath.py`` checks that whatever the fast path accepts,
``Schema.load`` accepts with an equal result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate
from marshmallow.utils import missing

Loader = Callable[[Any], Any]


class Fallback(Exception):
    """The fast path cannot vouch for this value; use ``Schema.load``."""


class _Unsupported(Exception):
    """The schema uses something the fast path does not reproduce."""


def compile_loader(schema: Schema, allowed_hooks: frozenset[str] = frozenset()) -> Loader | None:
    """A loader equivalent to ``schema.load`` on the values it accepts (it raises
    ``Fallback`` on the others), or None when ``schema`` cannot be compiled.
    ``allowed_hooks`` names hook methods of the root schema that the caller runs itself."""
    try:
        return _schema_loader(schema, allowed_hooks)
    except _Unsupported:
        return None


def _schema_loader(schema: Schema, allowed_hooks: frozenset[str] = frozenset()) -> Loader:
    hooks = {name for registered in schema._hooks.values() for name, *_ in registered}
    if hooks - allowed_hooks or schema.unknown != RAISE or schema.many:
        raise _Unsupported(type(schema).__name__)
    members: list[tuple[str, Loader]] = []
    required: list[str] = []
    for name, field in schema.load_fields.items():
        if field.data_key is not None or field.attribute is not None:
            raise _Unsupported(name)
        members.append((name, _field_loader(field)))
        if field.required:
            required.append(name)
    known = frozenset(name for name, _ in members)

    def load(value: Any) -> dict[str, Any]:
        if type(value) is not dict or not known.issuperset(value):
            raise Fallback
        for name in required:
            if name not in value:
                raise Fallback
        return {name: loader(value[name]) for name, loader in members if name in value}

    return load


def _field_loader(field: fields.Field[Any]) -> Loader:
    if field.allow_none or field.load_default is not missing or field.dump_only:
        raise _Unsupported(repr(field))
    check = _checker(field.validators)
    kind = type(field)
    if kind is fields.Nested:
        return _nested_loader(field, check)  # type: ignore[arg-type]
    if kind is fields.List:
        return _list_loader(field, check)  # type: ignore[arg-type]
    if kind is fields.String:
        return _typed_loader(str, check, field.validators)
    if kind is fields.Integer and field.strict:  # type: ignore[attr-defined]
        return _typed_loader(int, check, field.validators)
    if getattr(field, "fast_path_safe", False):
        return _own_loader(field, check)
    raise _Unsupported(repr(field))


def _checker(validators: list[Callable[[Any], Any]]) -> Callable[[Any], None] | None:
    """The check of ``validators`` (raising ``Fallback``), or None when there are none."""
    if not validators:
        return None

    def check(value: Any) -> None:
        try:
            for validator in validators:
                if validator(value) is False:
                    raise Fallback
        except ValidationError:
            raise Fallback from None

    return check


def _typed_loader(kind: type, check: Callable[[Any], None] | None,
                  validators: list[Callable[[Any], Any]]) -> Loader:
    """Exactly ``kind`` (no bool for int, no subclasses), then the field's validators."""
    choices = _only_choices(validators)
    if choices is not None:
        # One ``OneOf``: for a value of exactly ``str`` or ``int``, membership in a set of
        # the choices is the same test as ``OneOf``'s ``in`` over its sequence, at a
        # fraction of its cost (no validator call, no exception handling).

        def load_choice(value: Any) -> Any:
            if type(value) is not kind or value not in choices:
                raise Fallback
            return value

        return load_choice
    if check is None:

        def load_plain(value: Any) -> Any:
            if type(value) is not kind:
                raise Fallback
            return value

        return load_plain

    def load(value: Any) -> Any:
        if type(value) is not kind:
            raise Fallback
        check(value)
        return value

    return load


def _only_choices(validators: list[Callable[[Any], Any]]) -> frozenset[Any] | None:
    """The choices of a lone ``OneOf`` of plain strings or integers, else None."""
    if len(validators) != 1 or type(validators[0]) is not validate.OneOf:
        return None
    choices = tuple(validators[0].choices)
    if not all(type(choice) in (str, int) for choice in choices):
        return None
    return frozenset(choices)


def _list_loader(field: fields.List[Any], check: Callable[[Any], None] | None) -> Loader:
    inner = _field_loader(field.inner)

    def load(value: Any) -> list[Any]:
        if type(value) is not list:
            raise Fallback
        loaded = [inner(element) for element in value]
        if check is not None:
            check(loaded)
        return loaded

    return load


def _nested_loader(field: fields.Nested, check: Callable[[Any], None] | None) -> Loader:
    if (field.many or field.only or field.exclude or field.unknown is not None
            or not isinstance(field.nested, Schema)):
        raise _Unsupported(repr(field))
    inner = _schema_loader(field.nested)

    def load(value: Any) -> Any:
        loaded = inner(value)
        if check is not None:
            check(loaded)
        return loaded

    return load


def _own_loader(field: fields.Field[Any], check: Callable[[Any], None] | None) -> Loader:
    """A field class that declares ``fast_path_safe``: its own ``_deserialize`` is pure."""

    def load(value: Any) -> Any:
        try:
            loaded = field._deserialize(value, None, None)
        except ValidationError:
            raise Fallback from None
        if check is not None:
            check(loaded)
        return loaded

    return load

