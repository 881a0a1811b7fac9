"""OperationOutcome bodies: errors under ``/fhir`` and the receipt of a submitted response.

Every error of the service is described once, as a problem; under ``/fhir`` the one error
renderer (``screening.web.errors``) writes it as an OperationOutcome (``from_problem``) with
the same status and headers. FHIR-specific errors
(``InvalidResource`` 400, ``UnprocessableResource`` 422) carry their issues, located by a
simple FHIRPath ``expression`` and, for questionnaire items, by linkId in ``diagnostics``.
No issue ever repeats a submitted value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from screening.errors import ScreeningError

REQUIRED_MESSAGE = "Missing data for required field."

# OperationOutcome issue types (http://hl7.org/fhir/issue-type) by HTTP status.
_STATUS_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    428: "business-rule",
    429: "throttled",
    503: "transient",
}


@dataclass(frozen=True, slots=True)
class Issue:
    """One issue: an issue-type ``code``, a value-free ``message``, where it is (a simple
    FHIRPath ``expression``) and what it is about (``target``: an item's linkId, or the name
    of a header or parameter), which ``diagnostics`` starts with; a ``hint`` on what to
    send instead ends ``diagnostics``."""

    code: str
    message: str
    expression: str | None = None
    target: str | None = None
    severity: str = "error"
    detail_coding: Mapping[str, str] | None = None
    hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``OperationOutcome.issue`` element."""
        details: dict[str, Any] = {"text": self.message}
        if self.detail_coding is not None:
            details = {"coding": [dict(self.detail_coding)], **details}
        out: dict[str, Any] = {"severity": self.severity, "code": self.code, "details": details}
        about = f"{self.target}: {self.message}" if self.target is not None else None
        diagnostics = " ".join(part for part in (about, self.hint) if part)
        if diagnostics:
            out["diagnostics"] = diagnostics
        if self.expression is not None:
            out["expression"] = [self.expression]
        return out

    @property
    def key(self) -> str:
        """The ``errors`` key of the problem rendering: the target, else the location."""
        return self.target or self.expression or "QuestionnaireResponse"


class _ResourceError(ScreeningError):
    """A submitted resource was refused; ``issues`` say where and why."""

    def __init__(self, issues: Sequence[Issue], detail: str) -> None:
        super().__init__(detail)
        self.issues = tuple(issues)

    def extra_members(self) -> dict[str, Any]:
        """``errors`` (key -> messages, as every 4xx problem of the service) and ``issue``
        (the OperationOutcome issues, read by ``from_problem``)."""
        errors: dict[str, list[str]] = {}
        for issue in self.issues:
            errors.setdefault(issue.key, []).append(issue.message)
        return {"errors": errors, "issue": [i.to_json() for i in self.issues]}


class InvalidResource(_ResourceError):
    """400: the body is not a structurally valid QuestionnaireResponse."""

    status, title, slug = 400, "Bad Request", "invalid-resource"


class UnprocessableResource(_ResourceError):
    """422: a valid QuestionnaireResponse this service cannot accept (status, unknown
    Questionnaire, missing or invalid answers)."""

    status, title, slug = 422, "Unprocessable Content", "validation-failed"


def raise_for(issues: Sequence[Issue]) -> None:
    """Refuses the resource (``refuse``) when there is any issue."""
    if issues:
        refuse(issues)


def refuse(issues: Sequence[Issue]) -> NoReturn:
    """Raises ``InvalidResource`` when any issue is structural, else
    ``UnprocessableResource``."""
    if any(issue.code == "structure" for issue in issues):
        raise InvalidResource(issues, "The request body is not a valid QuestionnaireResponse.")
    raise UnprocessableResource(issues, "The QuestionnaireResponse cannot be accepted.")


def outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    """An OperationOutcome resource of ``issues``."""
    return {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in issues]}


def information(message: str) -> dict[str, Any]:
    """An OperationOutcome with one informational issue (the receipt of a create)."""
    return outcome([Issue("informational", message, severity="information")])


def from_problem(problem: Mapping[str, Any]) -> dict[str, Any]:
    """The OperationOutcome of a problem's ``application/problem+json`` body."""
    issues = problem.get("issue")
    if isinstance(issues, list) and issues:
        return {"resourceType": "OperationOutcome", "issue": issues}
    status = problem.get("status")
    code = _STATUS_CODES.get(status, "exception") if isinstance(status, int) else "exception"
    severity = "fatal" if code == "exception" else "error"
    detail = str(problem.get("detail") or problem.get("title") or "Error")
    errors = problem.get("errors")
    if isinstance(errors, Mapping) and errors:
        return outcome(
            Issue(_code_of(messages, code), "; ".join(map(str, messages)), target=key)
            for key, messages in errors.items()
        )
    return outcome([Issue(code, detail, severity=severity)])


def _code_of(messages: Any, default: str) -> str:
    return "required" if isinstance(messages, list) and REQUIRED_MESSAGE in messages else default
