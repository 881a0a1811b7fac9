"""Result types of the rules engine: immutable named tuples, JSON-serialisable.

Everything the engine returns is immutable so a stored evaluation can be trusted to be
exactly what the rules produced: each result is a ``typing.NamedTuple`` (no instance
``__dict__``) whose fields refuse assignment with ``FrozenInstanceError``, as a frozen
dataclass would. ``to_dict()`` gives the JSON shape of the API contract (shared spec §6);
nothing else in the engine knows about JSON.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from enum import StrEnum
from typing import Any, NamedTuple, NoReturn


def refuse_assignment(self: object, name: str, value: object) -> NoReturn:
    """``__setattr__`` of every result type: a result is never changed after it is built."""
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


class Status(StrEnum):
    """Tri-state outcome of an intake criterion."""

    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"


class FlagKind(StrEnum):
    """What a flag asks of the reviewing clinician."""

    SAFETY = "safety"
    ABSOLUTE_CONTRAINDICATION = "absolute_contraindication"
    RELATIVE_CONTRAINDICATION = "relative_contraindication"
    CAUTION = "caution"
    SCREEN_POSITIVE = "screen_positive"


class Priority(StrEnum):
    """Review priority, most urgent first (``rank`` 0 is the most urgent)."""

    CRITICAL = "critical"
    URGENT = "urgent"
    HIGH = "high"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        """Sort key: 0 for critical up to 3 for routine."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {
    Priority.CRITICAL: 0,
    Priority.URGENT: 1,
    Priority.HIGH: 2,
    Priority.ROUTINE: 3,
}


class Criterion(NamedTuple):
    """One intake criterion, evaluated to met / not_met / unknown with its evidence."""

    id: str
    status: Status
    detail: str
    source: str
    evidence: dict[str, Any] | None = None
    __setattr__ = refuse_assignment

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the contract; ``evidence`` only when there is some."""
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status.value,
            "detail": self.detail,
            "source": self.source,
        }
        if self.evidence is not None:
            out["evidence"] = self.evidence
        return out


class Flag(NamedTuple):
    """Something a clinician must acknowledge, with the answer or score that raised it."""

    id: str
    kind: FlagKind
    answer: Any
    detail: str
    source: str
    __setattr__ = refuse_assignment

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the contract."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "answer": self.answer,
            "detail": self.detail,
            "source": self.source,
        }


class Routing(NamedTuple):
    """Queue priority and every reason that matched, in rule order."""

    priority: Priority
    reasons: tuple[str, ...]
    __setattr__ = refuse_assignment

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the contract."""
        return {"priority": self.priority.value, "reasons": list(self.reasons)}


class Safety(NamedTuple):
    """What the intake form must show the respondent at once."""

    show_crisis_resources: bool
    message: str | None
    __setattr__ = refuse_assignment

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the contract (§5 ``safety``)."""
        return {"show_crisis_resources": self.show_crisis_resources, "message": self.message}


DEFAULT_CRISIS_MESSAGE = (
    "If you are thinking about harming yourself or are in danger now, call your local "
    "emergency number (911 in the US) or go to the nearest emergency department. You can "
    "call or text 988 to reach the 988 Suicide & Crisis Lifeline at any time."
)


class Evaluation(NamedTuple):
    """The whole, frozen result of ``rules.evaluate``.

    ``scores`` maps a section name (``phq9``, ``gad7``, …) to its score object; a score is
    present only when its section was submitted. Score objects are immutable named tuples
    with their own ``to_dict()``.
    """

    ruleset_version: str
    scores: tuple[tuple[str, Any], ...]
    criteria: tuple[Criterion, ...]
    flags: tuple[Flag, ...]
    routing: Routing
    safety: Safety
    missing: tuple[str, ...] = ()
    __setattr__ = refuse_assignment

    def score(self, name: str) -> Any | None:
        """The score object of one section, or None when that section was not submitted."""
        for key, value in self.scores:
            if key == name:
                return value
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the contract (§6 ``evaluation``)."""
        return {
            "ruleset_version": self.ruleset_version,
            "scores": {name: score.to_dict() for name, score in self.scores},
            "criteria": [c.to_dict() for c in self.criteria],
            "flags": [f.to_dict() for f in self.flags],
            "routing": self.routing.to_dict(),
            "safety": self.safety.to_dict(),
            "missing": list(self.missing),
        }
