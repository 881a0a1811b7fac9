"""``rules.frozen.fast_init``: the faster ``__init__`` builds the same frozen objects."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from rules.frozen import fast_init
from rules.instruments.phq9 import Phq9Score
from rules.types import Evaluation


@fast_init
@dataclasses.dataclass(frozen=True, slots=True)
class _Fast:
    a: int
    b: str = "b"
    c: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class _Plain:
    a: int
    b: str = "b"
    c: tuple[int, ...] = ()


@pytest.mark.parametrize(("args", "kwargs"), [((1,), {}), ((1, "x"), {}), ((), {"a": 1, "c": (2,)}),
                                              ((1,), {"b": "y", "c": (3,)})],
                         ids=["defaults", "positional", "keywords", "mixed"])
def test_fast_init_takes_the_same_arguments_as_the_generated_one(
        args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    fast, plain = _Fast(*args, **kwargs), _Plain(*args, **kwargs)  # type: ignore[arg-type]
    assert dataclasses.astuple(fast) == dataclasses.astuple(plain)
    assert repr(fast).removeprefix("_Fast") == repr(plain).removeprefix("_Plain")


def test_fast_init_objects_stay_frozen_and_comparable() -> None:
    made = _Fast(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.a = 2  # type: ignore[misc]
    assert made == _Fast(1, "b", ())
    assert hash(made) == hash(_Fast(1))
    assert dataclasses.replace(made, b="z") == _Fast(1, "z")


def test_fast_init_keeps_the_signature() -> None:
    assert inspect.signature(_Fast) == inspect.signature(_Plain)
    with pytest.raises(TypeError):
        _Fast()  # type: ignore[call-arg]


def test_result_types_use_fast_init() -> None:
    for cls in (Phq9Score, Evaluation):
        stores = [name for name in cls.__init__.__code__.co_names if name.startswith("_set_")]
        assert stores == [f"_set_{field.name}" for field in dataclasses.fields(cls)]
