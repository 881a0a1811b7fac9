"""The rules a clinician's decision must satisfy (shared spec §7), as a pure function of
the stored evaluation and the decision: no database, no Flask."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RATIONALE_MAX_CHARS = 4000


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    """A decision whose shape (types, enum, lengths) the caller has already checked."""

    outcome: str
    rationale: str | None
    acknowledged_flags: tuple[str, ...]


def decision_errors(
    evaluation: Mapping[str, Any], request: DecisionRequest
) -> dict[str, list[str]]:
    """The 422 ``errors`` of a decision on ``evaluation`` (empty when it may be recorded).

    Every flag of the stored evaluation must be acknowledged, and only those (shared spec
    §7). A rationale is required for ``not_suitable``, and for ``proceed_to_consultation``
    when an absolute contraindication was flagged. Unknown ids are named by their position
    in the request, never repeated.
    """
    flags = evaluation.get("flags") or []
    raised = [flag["id"] for flag in flags]
    errors: dict[str, list[str]] = {}
    for index, flag_id in enumerate(request.acknowledged_flags):
        if flag_id not in raised:
            errors[f"acknowledged_flags.{index}"] = [
                "Not a flag of this submission's evaluation."
            ]
    missing = [flag_id for flag_id in raised if flag_id not in request.acknowledged_flags]
    if missing:
        errors["acknowledged_flags"] = [
            f"Every flag must be acknowledged; not acknowledged: {', '.join(missing)}."
        ]
    if _rationale_required(request.outcome, flags) and not (request.rationale or "").strip():
        errors["rationale"] = [_RATIONALE_REQUIRED[request.outcome]]
    return errors


_RATIONALE_REQUIRED = {
    "not_suitable": "Required when the outcome is not_suitable.",
    "proceed_to_consultation": (
        "Required for proceed_to_consultation when an absolute contraindication was flagged."
    ),
}


def _rationale_required(outcome: str, flags: list[dict[str, Any]]) -> bool:
    if outcome == "not_suitable":
        return True
    return outcome == "proceed_to_consultation" and any(
        flag.get("kind") == "absolute_contraindication" for flag in flags
    )
