"""Request ids, JSON access logs without query strings, and security headers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Blueprint, Flask

from screening.web.auth import require

probe = Blueprint("obsprobe", __name__, url_prefix="/obsprobe")


@probe.get("/who")
@require("clinician")
def who() -> dict[str, str]:
    return {"ok": "yes"}


def log_lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def access_lines(captured: str) -> list[dict[str, Any]]:
    return [line for line in log_lines(captured) if line["logger"] == "screening.access"]


def test_sane_incoming_request_id_is_echoed(client: Any) -> None:
    response = client.get("/health", headers={"X-Request-ID": "form-42.retry_1"})
    assert response.headers["X-Request-ID"] == "form-42.retry_1"


@pytest.mark.parametrize(
    "incoming",
    [None, "", "x" * 65, "has space", "semi;colon", "ümlaut", "<script>"],
    ids=["absent", "empty", "too-long", "space", "semicolon", "non-ascii", "markup"],
)
def test_other_request_ids_are_replaced_by_a_generated_one(
    client: Any, incoming: str | None
) -> None:
    headers = {"X-Request-ID": incoming} if incoming is not None else {}
    response = client.get("/health", headers=headers)
    generated = response.headers["X-Request-ID"]
    assert generated != incoming
    assert len(generated) == 32 and int(generated, 16) >= 0


def test_each_request_gets_its_own_id(client: Any) -> None:
    ids = {client.get("/health").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


def test_access_log_is_one_json_object_without_query_string(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.get(
        "/health?email=ada%40example.org&dob=1990-04-12", headers={"X-Request-ID": "abc123"}
    )
    captured = capsys.readouterr().err
    (line,) = access_lines(captured)
    assert line["request_id"] == response.headers["X-Request-ID"] == "abc123"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/health", 200)
    assert isinstance(line["duration_ms"], float)
    assert {"ts", "level", "msg", "clinic_id", "principal"} <= set(line)
    assert "ada" not in captured and "1990" not in captured and "?" not in captured


def test_access_log_names_the_clinic_and_principal_kind(
    make_app: Any, clinic: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    app: Flask = make_app(api_blueprints=[probe])
    capsys.readouterr()
    app.test_client().get("/api/v1/obsprobe/who", headers=clinic.headers("clinician"))
    (line,) = access_lines(capsys.readouterr().err)
    assert (line["clinic_id"], line["principal"], line["status"]) == (clinic.clinic_id, "user", 200)
    assert clinic.clinician_token not in json.dumps(line)


@pytest.mark.parametrize("path", ["/health", "/no/such/path", "/api/v1/obsprobe/who"])
def test_security_headers_on_every_response(make_app: Any, path: str) -> None:
    response = make_app(api_blueprints=[probe]).test_client().get(path)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Request-ID" in response.headers


def test_log_level_is_applied(make_app: Any, capsys: pytest.CaptureFixture[str]) -> None:
    client = make_app(LOG_LEVEL="WARNING").test_client()
    capsys.readouterr()
    client.get("/health")
    assert access_lines(capsys.readouterr().err) == []
