"""The README's walk-through works as written: ``examples/submission.json`` (the contract
example) posts with 201, and a clinician can claim it from the queue."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.api.conftest import TenantCredentials
from tests.spec_example import EXAMPLE_FILE


def test_readme_walkthrough_posts_then_claims(
    client: FlaskClient, clinic: TenantCredentials
) -> None:
    created = client.post(
        "/api/v1/submissions",
        data=EXAMPLE_FILE.read_bytes(),
        headers={
            **clinic.headers("intake"),
            "Content-Type": "application/json",
            "Idempotency-Key": "form-4711-attempt-1",
        },
    )
    assert created.status_code == 201
    assert created.get_json()["safety"] == {"show_crisis_resources": False, "message": None}

    queue = client.get("/api/v1/queue", headers=clinic.headers("clinician"))
    assert [item["id"] for item in queue.get_json()["items"]] == [created.get_json()["id"]]

    claimed = client.post("/api/v1/queue/next", headers=clinic.headers("clinician"))
    assert claimed.status_code == 200
    assert claimed.headers["ETag"]
    body = claimed.get_json()
    assert body["priority"] == "high"
    assert body["evaluation"]["routing"]["reasons"] == ["flag:uncontrolled_hypertension"]
