"""FHIR R4 endpoints: ``/fhir`` (metadata, Questionnaire, QuestionnaireResponse create) and
the clinician export ``GET /api/v1/submissions/{id}/fhir``.

``bp`` lives outside ``/api/v1`` and authenticates itself the same way (deny by default;
``@public`` reads). A posted response becomes a native submission body
(``screening.web.fhir.response``) and goes through the very same schema, service, idempotency
and audit as ``POST /api/v1/submissions``. Every error under ``/fhir`` is an
OperationOutcome: the one error renderer (``screening.web.errors``) writes that format for
this path, so routing errors, 401, 413 and 429 are OperationOutcomes too.
"""

from __future__ import annotations

import json
from importlib import metadata as package_metadata
from typing import Any

from flask import Blueprint, Response, g, request
from marshmallow import ValidationError

from screening.errors import NotFound, UnsupportedMediaType
from screening.intake.schemas import default_catalogue
from screening.services import idempotency, submissions
from screening.storage import unit_of_work
from screening.storage.db import utcnow
from screening.storage.unit_of_work import get_session
from screening.web.api._json import json_body
from screening.web.auth import authenticate_request, public, require
from screening.web.fhir import CANONICAL_BASE, FHIR_JSON, bundle, outcome, response
from screening.web.fhir.capability import capability_statement
from screening.web.fhir.outcome import Issue, UnprocessableResource
from screening.web.fhir.questionnaire import canonical_url, to_resource

bp = Blueprint("fhir", __name__, url_prefix="/fhir")
bp.before_request(authenticate_request)
#: Child of the ``/api/v1`` blueprint (registered in ``screening.web.api``).
export_bp = Blueprint("fhir_export", __name__)

LOCATION = "/api/v1/submissions/{id}"
CRISIS_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/crisis-message"
OUTCOME_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/submission-outcome"


def fhir_response(resource: Any, status: int = 200) -> Response:
    """A FHIR JSON response."""
    return Response(json.dumps(resource), status=status, mimetype=FHIR_JSON)


@bp.get("/metadata")
@public
def read_metadata() -> Response:
    """The CapabilityStatement."""
    try:
        version = package_metadata.version("ketamine-intake-screening")
    except package_metadata.PackageNotFoundError:
        version = "unknown"
    return fhir_response(capability_statement(request.host_url + "fhir", version))


@bp.get("/Questionnaire/<id>")
@public
def read_questionnaire(id: str) -> Response:
    """The current version of one Questionnaire."""
    found = default_catalogue().find(id)
    if found is None:
        raise NotFound("No Questionnaire with this id.")
    return fhir_response(to_resource(found))


@bp.get("/Questionnaire")
@public
def search_questionnaires() -> Response:
    """A searchset Bundle of the Questionnaires, filtered by ``url`` (``|version``
    allowed); other parameters are ignored and left out of the ``self`` link."""
    catalogue = default_catalogue()
    wanted = request.args.get("url")
    matches = []
    for current in catalogue.current():
        if wanted is None:
            matches.append(current)
            continue
        url, _, version = wanted.partition("|")
        found = catalogue.find(current.id, version or None)
        if canonical_url(current) == url and found is not None:
            matches.append(found)
    base = request.host_url + "fhir"
    self_url = f"{base}/Questionnaire" + (f"?url={wanted}" if wanted is not None else "")
    found: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                             "total": len(matches),
                             "link": [{"relation": "self", "url": self_url}]}
    if matches:  # FHIR JSON has no empty arrays
        found["entry"] = [{"fullUrl": f"{base}/Questionnaire/{q.id}", "resource": to_resource(q),
                           "search": {"mode": "match"}} for q in matches]
    return fhir_response(found)


@bp.post("/QuestionnaireResponse")
@require("intake")
def create_questionnaire_response() -> Response:
    """201 with ``Location`` of the new submission and an OperationOutcome receipt (with
    the crisis message when one applies); ``Prefer: return=representation`` answers the
    stored response instead (the crisis message in an extension), ``return=minimal`` no
    body."""
    if not request.is_json:
        raise UnsupportedMediaType("The request body must be application/fhir+json.")
    resource = json_body()
    key = idempotency.check_key(request.headers.get(idempotency.HEADER))
    created = submissions.store_submission(
        unit_of_work.current(), g.principal, _load(resource), key, resource, received_at=utcnow(),
        request_id=g.get("request_id"))
    principal = g.principal
    if _prefer_return() == "minimal":
        answer = Response(status=created.status)
    else:
        answer = fhir_response(_created_body(created, principal.clinic_id), created.status)
    if created.submission_id is not None:
        answer.headers["Location"] = LOCATION.format(id=created.submission_id)
    if created.replayed:
        answer.headers["Idempotent-Replayed"] = "true"
    return answer


def _load(resource: Any) -> dict[str, Any]:
    """The validated native body of a posted resource, as ``POST /api/v1/submissions``
    validates it; the schema's errors are located in the response."""
    catalogue = default_catalogue()
    parsed = response.parse(resource, catalogue)
    try:
        return catalogue.load(parsed.body)
    except ValidationError as error:
        messages: dict[str, list[str]] = error.messages  # type: ignore[assignment]
        issues = [parsed.locate(path, found) for path, found in messages.items()]
        raise UnprocessableResource(
            issues, "The QuestionnaireResponse cannot be accepted.") from None


def _created_body(created: submissions.Created, clinic_id: str) -> dict[str, Any]:
    safety = created.body.get("safety") or {}
    crisis = safety.get("message") if safety.get("show_crisis_resources") else None
    if _prefer_return() == "representation" and created.submission_id is not None:
        stored = submissions.get_submission(get_session(), clinic_id, created.submission_id)
        questionnaire = default_catalogue().find(stored.questionnaire_id,
                                                 stored.questionnaire_version)
        assert questionnaire is not None
        resource = bundle.questionnaire_response(questionnaire, stored)
        if crisis:
            resource = {**resource, "extension": [{"url": CRISIS_EXTENSION,
                                                   "valueString": crisis}]}
        return resource
    issues = [_receipt("received", "Received for clinician review.")]
    if crisis:
        issues.insert(0, _receipt("show-crisis-resources", crisis))
    return outcome.outcome(issues)


def _receipt(code: str, message: str) -> Issue:
    return Issue("informational", message, severity="information",
                 detail_coding={"system": OUTCOME_SYSTEM, "code": code})


def _prefer_return() -> str | None:
    """The ``return`` preference of the ``Prefer`` header (RFC 7240), if any."""
    for preference in request.headers.get("Prefer", "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "return":
            return value.strip().strip('"').lower()
    return None


@export_bp.get("/submissions/<id>/fhir")
@require("clinician")
def export_submission(id: str) -> Response:
    """The audited full read of one submission as a FHIR Bundle."""
    submission = submissions.audited_read(unit_of_work.current(), g.principal.clinic_id,
                                          g.principal, id, g.get("request_id"),
                                          with_review=False)  # a Bundle shows neither
    questionnaire = default_catalogue().find(submission.questionnaire_id,
                                             submission.questionnaire_version)
    if questionnaire is None:
        raise NotFound("The questionnaire of this submission is no longer published.")
    return fhir_response(bundle.export(questionnaire, submission, utcnow()))
