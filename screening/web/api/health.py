"""Liveness and readiness, outside the authenticated api blueprint."""

from __future__ import annotations

from flask import Blueprint, current_app
from sqlalchemy.exc import SQLAlchemyError

from screening.errors import ServiceUnavailable
from screening.storage.db import app_state
from screening.web import limits

bp = Blueprint("health", __name__)


@bp.get("/health")
def liveness() -> dict[str, str]:
    """200 while the process serves requests."""
    return {"status": "ok"}


@bp.get("/health/ready")
def readiness() -> dict[str, str]:
    """200 when the database answers ``SELECT 1``, else a 503 problem; says where rate
    limits are counted (a Redis that does not answer degrades them, still 200)."""
    try:
        app_state().db.ping()
    except SQLAlchemyError:
        raise ServiceUnavailable("The database is not reachable.") from None
    return {"status": "ready", "rate_limits": limits.mode(current_app)}
