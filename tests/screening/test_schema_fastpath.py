"""The compiled fast path of submission loading (``screening.intake.fastpath``) never
accepts what marshmallow rejects, and loads to exactly what marshmallow loads (member
order included)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from screening.intake.fastpath import Fallback, compile_loader
from screening.intake.schemas import Catalogue, default_catalogue
from tests.api.bodies import example, routed
from tests.spec_example import spec_example_body

VERSION = ("ketamine-intake", "1")
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 600), st.floats(allow_nan=False),
    st.sampled_from(["yes", "no", "unsure", "female", "", "1990-04-12", "2999-01-01",
                     "19900412", "1899-12-31", "x" * 300]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["q1", "zz", "weeks"]), inner,
                                            max_size=3)),
    max_leaves=6,
)


def _bodies() -> list[dict[str, Any]]:
    return [example(), spec_example_body(), *(routed(p) for p in
                                              ("critical", "urgent", "high", "routine"))]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every member path of a JSON document (objects and lists), leaves included."""
    found: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A published-questionnaire body with one to three random edits: a value replaced,
    a member removed or an unknown member added."""
    body = copy.deepcopy(draw(st.sampled_from(_bodies())))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(body)))
        *parents, last = path
        container: Any = body
        for step in parents:
            container = container[step]
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace":
            container[last] = draw(JSON_VALUES)
        elif action == "remove" and isinstance(container, dict):
            del container[last]
        elif isinstance(container, dict):
            container[draw(st.sampled_from(["extra", "q99", "weeks"]))] = draw(JSON_VALUES)
    return body


def _marshmallow(catalogue: Catalogue, body: Any) -> dict[str, Any] | None:
    try:
        loaded: dict[str, Any] = catalogue.schema(*VERSION).load(body)
    except ValidationError:
        return None
    return loaded


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_bodies())
def test_fast_path_accepts_only_what_marshmallow_accepts_and_loads_alike(
        body: dict[str, Any]) -> None:
    catalogue = default_catalogue()
    fast = catalogue._fast_load(VERSION, body)
    slow = _marshmallow(catalogue, body)
    if fast is not None:
        assert slow is not None
        assert json.dumps(fast) == json.dumps(slow)


@pytest.mark.parametrize("body", _bodies(), ids=["example", "spec", "critical", "urgent",
                                                  "high", "routine"])
def test_valid_bodies_take_the_fast_path(body: dict[str, Any]) -> None:
    catalogue = default_catalogue()
    fast = catalogue._fast_load(VERSION, body)
    assert fast is not None
    assert json.dumps(fast) == json.dumps(_marshmallow(catalogue, body))


def test_an_enable_when_violation_falls_back_to_marshmallow() -> None:
    body = example()
    body["answers"]["asq"]["q5"] = "no"  # answered although every screen item is "no"
    catalogue = default_catalogue()
    assert catalogue._fast_load(VERSION, body) is None
    with pytest.raises(ValidationError):
        catalogue.load(body)


class _Plain(Schema):
    name = fields.String(required=True, validate=validate.Length(max=3))
    count = fields.Integer(strict=True, validate=lambda value: value != 13)


@pytest.mark.parametrize(("value", "loaded"), [
    ({"name": "abc", "count": 2}, {"name": "abc", "count": 2}),
    ({"count": 2, "name": "a"}, {"name": "a", "count": 2}),
    ({"name": "abcd"}, None),
    ({"name": "a", "count": 13}, None),
    ({"name": "a", "count": True}, None),
    ({"count": 1}, None),
    ({"name": "a", "other": 1}, None),
    (["name"], None),
], ids=["valid", "declared order", "validator", "validator returning False", "bool",
        "required", "unknown", "not an object"])
def test_compiled_loader_runs_the_schemas_own_checks(value: Any, loaded: Any) -> None:
    loader = compile_loader(_Plain())
    assert loader is not None
    if loaded is None:
        with pytest.raises(Fallback):
            loader(value)
    else:
        assert list(loader(value).items()) == list(loaded.items())


class _WithHook(Schema):
    name = fields.String()

    @validates_schema
    def _check(self, data: Any, **kwargs: Any) -> None:
        """A hook the fast path would have to run."""


@pytest.mark.parametrize("schema", [
    _WithHook(),
    Schema.from_dict({"n": fields.Float()})(),
    Schema.from_dict({"n": fields.Integer()})(),
    Schema.from_dict({"n": fields.String(allow_none=True)})(),
    Schema.from_dict({"n": fields.String(load_default="x")})(),
    Schema.from_dict({"n": fields.String(data_key="m")})(),
    Schema.from_dict({"n": fields.Nested(Schema.from_dict({})(), many=True)})(),
    Schema.from_dict({"n": fields.String()})(unknown="exclude"),
], ids=["hook", "float", "lax integer", "allow_none", "load_default", "data_key",
        "nested many", "unknown exclude"])
def test_schemas_using_anything_else_get_no_fast_path(schema: Schema) -> None:
    assert compile_loader(schema) is None
