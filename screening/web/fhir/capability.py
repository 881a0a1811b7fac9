"""The CapabilityStatement of ``GET /fhir/metadata``: exactly the FHIR interactions served.

``INTERACTIONS`` is the one list of them; a test compares it with the routes of the
``/fhir`` blueprint, so the statement cannot claim more or less than the server does.
"""

from __future__ import annotations

from typing import Any

from screening.web.fhir import FHIR_JSON, FHIR_VERSION

#: (resource type, interaction, HTTP method, path below /fhir) of every FHIR interaction.
INTERACTIONS = (
    ("Questionnaire", "read", "GET", "/Questionnaire/<id>"),
    ("Questionnaire", "search-type", "GET", "/Questionnaire"),
    ("QuestionnaireResponse", "create", "POST", "/QuestionnaireResponse"),
)
SEARCH_PARAMETERS = {
    "Questionnaire": (
        ("url", "uri", "The canonical URL, optionally with |version."),
    ),
}
RELEASED = "2026-11-21"

_DOCUMENTATION = {
    "Questionnaire": "The intake questionnaires, generated from the same definition as the "
                     "native API; linkIds are the native field paths. Public.",
    "QuestionnaireResponse": "A completed or amended response to a published Questionnaire "
                             "is validated, evaluated and queued for clinician review exactly "
                             "as a native submission; items carrying a LOINC code may be "
                             "answered under linkIds naming that code (/44250-9). Needs an "
                             "intake key. Answers 201 with "
                             "Location /api/v1/submissions/{id} and an OperationOutcome "
                             "carrying the crisis message when one applies; "
                             "Prefer: return=representation answers the stored response. "
                             "Idempotency-Key is honoured as on the native API.",
}


def capability_statement(implementation_url: str, software_version: str) -> dict[str, Any]:
    """The CapabilityStatement of this server at ``implementation_url``."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": RELEASED,
        "publisher": "Intake screening service",
        "kind": "instance",
        "software": {"name": "ketamine-intake-screening", "version": software_version},
        "implementation": {"description": "Intake screening for IV ketamine clinics",
                           "url": implementation_url},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "rest": [{
            "mode": "server",
            "documentation": "Errors are OperationOutcomes. The clinician export of a "
                             "submission (a Bundle) is GET /api/v1/submissions/{id}/fhir "
                             "on the native API.",
            "security": {"cors": False,
                         "description": "Authorization: Bearer <intake key> for creating "
                                        "responses; reads of Questionnaires are public."},
            "resource": [_resource(kind) for kind in _resource_types()],
        }],
    }


def _resource_types() -> list[str]:
    return list(dict.fromkeys(kind for kind, *_ in INTERACTIONS))


def _resource(kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": kind,
        "documentation": _DOCUMENTATION[kind],
        "interaction": [{"code": code} for k, code, *_ in INTERACTIONS if k == kind],
        "versioning": "no-version",
        "readHistory": False,
        "updateCreate": False,
        "conditionalCreate": False,
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
    }
    parameters = SEARCH_PARAMETERS.get(kind, ())
    if parameters:
        out["searchParam"] = [{"name": n, "type": t, "documentation": d}
                              for n, t, d in parameters]
    return out
