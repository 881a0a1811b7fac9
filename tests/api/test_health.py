"""Liveness and readiness (spec §3): public, outside /api/v1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from screening import create_app
from screening.storage.db import app_state


def test_liveness(client: Any) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readiness_when_the_database_answers(client: Any) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "rate_limits": "off"}


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


REDIS_OWN_DB = "redis://127.0.0.1:6379/11"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def warnings_about_redis(stderr: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "screening.limits"]


@pytest.mark.parametrize(("settings", "mode"), [
    pytest.param({"RATE_LIMIT": "off"}, "off", id="RATE_LIMIT off"),
    pytest.param({"RATE_LIMIT": "5/minute"}, "per_worker", id="no REDIS_URL"),
    pytest.param({"RATE_LIMIT": "5/minute", "REDIS_URL": REDIS_OWN_DB}, "shared",
                 id="REDIS_URL answers"),
])
def test_readiness_says_where_rate_limits_are_counted(
        make_app: Any, settings: dict[str, str], mode: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    response = make_app(**settings).test_client().get("/health/ready")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "rate_limits": mode}
    assert warnings_about_redis(capsys.readouterr().err) == []


def test_an_unreachable_redis_is_logged_once_by_name_and_readiness_says_per_worker(
        make_app: Any, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app(RATE_LIMIT="5/minute", REDIS_URL=UNREACHABLE_REDIS)
    started = warnings_about_redis(capsys.readouterr().err)
    assert [(w["level"], w["msg"]) for w in started] == [
        ("WARNING", "REDIS_URL does not answer: rate limits are counted per worker")]
    client = app.test_client()
    for _ in range(2):
        response = client.get("/health/ready")
        assert response.status_code == 200
        assert response.json == {"status": "ready", "rate_limits": "per_worker"}
    later = capsys.readouterr().err
    assert warnings_about_redis(later) == []
    assert "127.0.0.1:1" not in json.dumps(started) + later
