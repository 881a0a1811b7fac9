"""``/api/v1/questionnaires``: the questionnaires an intake form may submit (public)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from screening.errors import NotFound
from screening.intake.schemas import default_catalogue
from screening.web.auth import public

bp = Blueprint("questionnaires", __name__)


@bp.get("/questionnaires")
@public
def list_questionnaires() -> dict[str, Any]:
    """Every questionnaire at its current version (a single page)."""
    items = [{"id": q.id, "version": q.version, "title": q.title}
             for q in default_catalogue().current()]
    return {"items": items, "next_cursor": None}


@bp.get("/questionnaires/<id>")
@public
def describe_questionnaire(id: str) -> dict[str, Any]:
    """One questionnaire's items and answer domains; ``?version=`` picks an older one."""
    found = default_catalogue().find(id, request.args.get("version"))
    if found is None:
        raise NotFound("No questionnaire with this id and version.")
    return found.describe()
