"""HTTP API assembly: the authenticated ``/api/v1`` parent blueprint and the public routes.

Deny by default: ``auth.authenticate_request`` runs before every view of the parent
blueprint *and of every child blueprint registered on it*; a view opts out with
``@public`` (``from screening.web.auth import public``). Routes outside ``/api/v1`` (health,
``/openapi.yaml``, the FHIR endpoints under ``/fhir``, which authenticate the same way) are
registered directly on the application in ``register``.

To add endpoints under ``/api/v1``:

1. write a module ``screening/web/api/<name>.py`` with its own
   ``bp = Blueprint("<name>", __name__)`` (no ``url_prefix`` needed, or a sub-prefix such
   as ``url_prefix="/submissions"``) and views decorated with ``@require("clinician")``,
   ``@require("intake")``, ``@require("admin")`` or ``@public``;
2. import it at the top of this module and add it in ``_child_blueprints`` below (its ``bp``).

The parent blueprint is built afresh for every application (``create_blueprint``): Flask
forbids registering children on a blueprint after it has been registered on one app, and
tests create many apps. Child blueprints may stay module-level singletons.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from screening.web.api import (
    audit,
    fhir,
    health,
    openapi,
    questionnaires,
    queue,
    review,
    rulesets,
    submissions,
    webhooks,
)
from screening.web.auth import authenticate_request, public, require

__all__ = ["create_blueprint", "public", "register", "require"]

URL_PREFIX = "/api/v1"


def _child_blueprints() -> list[Blueprint]:
    """Blueprints mounted under ``/api/v1``."""
    return [submissions.bp, queue.bp, review.bp, audit.bp, questionnaires.bp, fhir.export_bp,
            rulesets.bp, webhooks.bp]


def create_blueprint() -> Blueprint:
    """A new ``api`` parent blueprint with authentication and every child registered."""
    bp = Blueprint("api", __name__, url_prefix=URL_PREFIX)
    bp.before_request(authenticate_request)
    for child in _child_blueprints():
        bp.register_blueprint(child)
    return bp


def register(app: Flask) -> None:
    """Registers the api blueprint and the public routes outside it on ``app``."""
    app.register_blueprint(create_blueprint())
    app.register_blueprint(fhir.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
