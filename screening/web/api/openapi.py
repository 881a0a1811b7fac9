"""``GET /openapi.yaml``: the hand-written API contract, served as shipped in the package.

The canonical document is ``screening/openapi.yaml`` (package data, so it is in every
wheel); the repository root's ``openapi.yaml`` is a symbolic link to it for reviewers and
tools. Nothing here generates or rewrites the document.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from flask import Blueprint, Response

bp = Blueprint("openapi", __name__)

MEDIA_TYPE = "application/yaml"


@cache
def document() -> bytes:
    """The OpenAPI document's bytes, read once from the installed package."""
    return files("screening").joinpath("openapi.yaml").read_bytes()


@bp.get("/openapi.yaml")
def openapi_document() -> Response:
    """The OpenAPI 3.1 document of this API (public)."""
    return Response(document(), mimetype=MEDIA_TYPE)
