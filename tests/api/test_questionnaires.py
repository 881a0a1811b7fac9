"""``GET /api/v1/questionnaires[/{id}]`` (shared spec §3): public, the published definition."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from rules.questionnaire import KETAMINE_INTAKE
from tests.api.conftest import TenantCredentials

QUESTIONNAIRES = "/api/v1/questionnaires"


def test_list_names_every_current_questionnaire(client: FlaskClient) -> None:
    response = client.get(QUESTIONNAIRES)
    assert response.status_code == 200
    assert response.get_json() == {
        "items": [{"id": "ketamine-intake", "version": "1", "title": KETAMINE_INTAKE.title}],
        "next_cursor": None,
    }


def test_describe_is_the_definitions_own_description(client: FlaskClient) -> None:
    response = client.get(f"{QUESTIONNAIRES}/ketamine-intake")
    assert response.status_code == 200
    body = response.get_json()
    assert body == KETAMINE_INTAKE.describe()
    assert [item["path"] for item in body["items"]][:3] == ["respondent", "phq9", "asq"]


def test_describe_a_named_version(client: FlaskClient) -> None:
    response = client.get(f"{QUESTIONNAIRES}/ketamine-intake?version=1")
    assert response.status_code == 200
    assert response.get_json()["version"] == "1"


@pytest.mark.parametrize("path", ["nope", "ketamine-intake?version=2",
                                  "ketamine-intake?version="])
def test_unknown_questionnaire_or_version_is_404(client: FlaskClient, path: str) -> None:
    response = client.get(f"{QUESTIONNAIRES}/{path}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("role", ["intake", "clinician", "admin"])
def test_every_credential_may_read_them_too(client: FlaskClient, clinic: TenantCredentials,
                                            role: str) -> None:
    for path in (QUESTIONNAIRES, f"{QUESTIONNAIRES}/ketamine-intake"):
        assert client.get(path, headers=clinic.headers(role)).status_code == 200


def test_a_bad_credential_does_not_block_a_public_read(client: FlaskClient) -> None:
    headers = {"Authorization": "Bearer ik_000000000000_wrong"}
    assert client.get(QUESTIONNAIRES, headers=headers).status_code == 200
