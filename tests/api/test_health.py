"""Liveness and readiness (spec §3): public, outside /api/v1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from screening import create_app
from screening.db import app_state


def test_liveness(client: Any) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readiness_when_the_database_answers(client: Any) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json == {"status": "ready"}


def test_readiness_is_a_503_problem_when_the_database_is_unreachable(tmp_path: Path) -> None:
    unreachable = f"sqlite:///{tmp_path / 'missing-dir' / 'screening.db'}"
    app = create_app({"DATABASE_URL": unreachable, "RATE_LIMIT": "off", "TESTING": True})
    try:
        response = app.test_client().get("/health/ready")
    finally:
        app_state(app).db.dispose()
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.json["detail"] == "The database is not reachable."
    assert "missing-dir" not in response.get_data(as_text=True)


def test_health_needs_no_credential_and_is_never_rate_limited(make_app: Any) -> None:
    client = make_app(RATE_LIMIT="1/minute").test_client()
    statuses = {client.get("/health").status_code for _ in range(5)}
    assert statuses == {200}
