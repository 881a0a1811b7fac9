"""Bearer credentials (spec §1): 401 for missing/invalid/revoked, 403 for a valid credential
without the right; secrets stored only as hashes; every failure audited."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Blueprint, Flask, g
from sqlalchemy import select

from screening.services import accounts
from screening.services import credentials as secrets
from screening.storage import audit
from screening.storage.models import ApiToken, AuditEvent, IntakeKey
from screening.storage.unit_of_work import session_scope
from screening.web.auth import public, require

probe = Blueprint("authprobe", __name__, url_prefix="/authprobe")


def _whoami() -> dict[str, Any]:
    principal = g.principal
    return {"kind": principal.kind, "clinic_id": principal.clinic_id, "role": principal.role}


@probe.get("/intake")
@require("intake")
def intake_only() -> dict[str, Any]:
    return _whoami()


@probe.get("/clinician")
@require("clinician")
def clinician_only() -> dict[str, Any]:
    return _whoami()


@probe.get("/admin")
@require("admin")
def admin_only() -> dict[str, Any]:
    return _whoami()


@probe.get("/anyone")
def any_credential() -> dict[str, Any]:
    return _whoami()


@probe.get("/public")
@public
def open_to_all() -> dict[str, str]:
    return {"hello": "world"}


@pytest.fixture
def probe_app(make_app: Any) -> Flask:
    return make_app(api_blueprints=[probe])


def auth_failures(app: Flask) -> list[AuditEvent]:
    with session_scope(app, write=False) as session:
        statement = select(AuditEvent).where(AuditEvent.action == "auth.failed")
        return list(session.scalars(statement))


def assert_401(response: Any) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-token",
        "Bearer ik_000000000000_" + "A" * 43,
        "Bearer ut_000000000000_" + "A" * 43,
    ],
    ids=["absent", "empty", "no-token", "basic", "malformed", "unknown-key", "unknown-token"],
)
def test_missing_or_invalid_credential_is_401_and_audited(
    probe_app: Flask, clinic: Any, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = probe_app.test_client().get("/api/v1/authprobe/anyone", headers=headers)
    assert_401(response)
    (event,) = auth_failures(probe_app)
    assert (event.actor_type, event.outcome, event.clinic_id) == ("anonymous", "denied", None)
    assert event.request_id == response.headers["X-Request-ID"]


def test_wrong_secret_for_a_known_key_is_401_and_names_the_clinic(
    probe_app: Flask, clinic: Any
) -> None:
    kind, public_id, _ = clinic.intake_key.split("_", 2)
    forged = f"{kind}_{public_id}_{'B' * 43}"
    assert_401(probe_app.test_client().get("/api/v1/authprobe/anyone", headers=bearer(forged)))
    (event,) = auth_failures(probe_app)
    assert event.clinic_id == clinic.clinic_id


def test_revoked_intake_key_is_401(probe_app: Flask, clinic: Any) -> None:
    with session_scope(probe_app) as session:
        accounts.revoke_intake_key(session, clinic.intake_key.split("_")[1])
    response = probe_app.test_client().get(
        "/api/v1/authprobe/intake", headers=clinic.headers("intake")
    )
    assert_401(response)
    assert auth_failures(probe_app)[0].clinic_id == clinic.clinic_id


def test_revoked_user_token_is_401(probe_app: Flask, clinic: Any) -> None:
    with session_scope(probe_app) as session:
        accounts.revoke_user_token(session, clinic.clinician_token.split("_")[1])
    response = probe_app.test_client().get(
        "/api/v1/authprobe/clinician", headers=clinic.headers("clinician")
    )
    assert_401(response)


def test_disabled_user_is_401(probe_app: Flask, clinic: Any) -> None:
    with session_scope(probe_app) as session:
        accounts.disable_user(session, clinic.admin_id)
    response = probe_app.test_client().get(
        "/api/v1/authprobe/admin", headers=clinic.headers("admin")
    )
    assert_401(response)


@pytest.mark.parametrize(
    ("path", "role", "status"),
    [
        ("intake", "intake", 200),
        ("intake", "clinician", 403),
        ("intake", "admin", 403),
        ("clinician", "intake", 403),
        ("clinician", "clinician", 200),
        ("clinician", "admin", 200),
        ("admin", "intake", 403),
        ("admin", "clinician", 403),
        ("admin", "admin", 200),
    ],
)
def test_roles_spec_section_1(
    probe_app: Flask, clinic: Any, path: str, role: str, status: int
) -> None:
    response = probe_app.test_client().get(
        f"/api/v1/authprobe/{path}", headers=clinic.headers(role)
    )
    assert response.status_code == status
    if status == 403:
        assert response.mimetype == "application/problem+json"
    else:
        assert response.json["clinic_id"] == clinic.clinic_id
    assert auth_failures(probe_app) == []


def test_principal_carries_the_credentials_clinic(
    probe_app: Flask, clinic: Any, other_clinic: Any
) -> None:
    client = probe_app.test_client()
    for tenant in (clinic, other_clinic):
        response = client.get("/api/v1/authprobe/anyone", headers=tenant.headers("admin"))
        assert response.json == {"kind": "user", "clinic_id": tenant.clinic_id, "role": "admin"}


def test_public_view_needs_no_credential(probe_app: Flask) -> None:
    response = probe_app.test_client().get("/api/v1/authprobe/public")
    assert response.status_code == 200
    assert auth_failures(probe_app) == []


def test_health_is_outside_the_authenticated_blueprint(client: Any) -> None:
    assert client.get("/health").status_code == 200


def test_bearer_scheme_is_case_insensitive(probe_app: Flask, clinic: Any) -> None:
    headers = {"Authorization": f"bearer {clinic.clinician_token}"}
    response = probe_app.test_client().get("/api/v1/authprobe/anyone", headers=headers)
    assert response.status_code == 200


def test_only_hashes_of_secrets_are_stored(app: Flask, clinic: Any) -> None:
    with session_scope(app, write=False) as session:
        stored = [k.secret_hash for k in session.scalars(select(IntakeKey))]
        stored += [t.secret_hash for t in session.scalars(select(ApiToken))]
    tokens = (clinic.intake_key, clinic.clinician_token, clinic.admin_token)
    for token in tokens:
        secret = token.split("_", 2)[2]
        assert secret not in stored and token not in stored
        assert secrets.hash_secret(secret) in stored


def test_generated_tokens_follow_the_format_and_carry_32_random_bytes() -> None:
    new = secrets.generate(secrets.INTAKE_KEY)
    parsed = secrets.parse(new.token)
    assert parsed is not None
    assert (parsed.kind, parsed.public_id) == ("ik", new.public_id)
    assert len(parsed.secret) >= 43  # token_urlsafe(32): 32 bytes -> 43 characters
    assert secrets.matches(parsed.secret, new.secret_hash)
    assert not secrets.matches(parsed.secret, None)
    altered = ("y" if parsed.secret[0] == "x" else "x") + parsed.secret[1:]
    assert not secrets.matches(altered, new.secret_hash)
    assert secrets.generate(secrets.INTAKE_KEY).token != new.token


def test_failed_authentications_keep_the_audit_chain_intact(probe_app: Flask) -> None:
    client = probe_app.test_client()
    for _ in range(3):
        assert_401(client.get("/api/v1/authprobe/anyone"))
    with session_scope(probe_app, write=False) as session:
        assert audit.verify(session) == []
        assert audit.count(session) == 3


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_no_credential_state_leaks_between_requests_of_one_app_context(
    probe_app: Flask, clinic: Any
) -> None:
    client = probe_app.test_client()
    with probe_app.app_context():
        ok = client.get("/api/v1/authprobe/admin", headers=clinic.headers("admin"))
        assert ok.status_code == 200
        assert_401(client.get("/api/v1/authprobe/admin"))
