"""Every result type of the rules engine is immutable and plain: no instance ``__dict__``,
assignment refused with ``FrozenInstanceError``, and no code generated at run time."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import rules
from rules.instruments.asq import AsqScore
from rules.instruments.audit_c import AuditCScore
from rules.instruments.cssrs import CssrsScore
from rules.instruments.dast10 import Dast10Score
from rules.instruments.gad7 import Gad7Score
from rules.instruments.mdq import MdqScore
from rules.instruments.pcl5 import Pcl5Score
from rules.instruments.phq9 import Phq9Score
from rules.types import Criterion, Evaluation, Flag, Routing, Safety

RESULT_TYPES = (AsqScore, AuditCScore, CssrsScore, Dast10Score, Gad7Score, MdqScore,
                Pcl5Score, Phq9Score, Criterion, Evaluation, Flag, Routing, Safety)


@pytest.mark.parametrize("cls", RESULT_TYPES, ids=lambda cls: cls.__name__)
def test_result_types_refuse_assignment_and_have_no_instance_dict(cls: type) -> None:
    made = cls(*[None] * len(cls._fields))  # type: ignore[attr-defined]
    for name in cls._fields:  # type: ignore[attr-defined]
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(made, name, "changed")
        assert getattr(made, name) is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.added = 1  # type: ignore[attr-defined]
    assert not hasattr(made, "__dict__")


def test_defaults_and_keywords_build_the_same_result() -> None:
    assert Criterion("adult", rules.Status.MET, "d", "s") == Criterion(
        id="adult", status=rules.Status.MET, detail="d", source="s", evidence=None)
    assert Evaluation("v", (), (), (), None, None).missing == ()  # type: ignore[arg-type]


def test_rules_build_no_code_at_run_time() -> None:
    root = Path(rules.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for call in ("exec(", "eval(", "compile("):
            assert call not in text, f"{path.name} calls {call}"
