"""Console pages over HTTP: the queue in review order with priority written out, the
submission page (an audited read, like the API's), the review actions through the same
services, the admin audit page, security headers, and no patient data in any URL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from screening.storage.models import AuditEvent
from screening.storage.unit_of_work import session_scope
from tests.api.bodies import routed
from tests.api.conftest import TenantCredentials
from tests.api.reviewing import add_clinician, events, path, stored, submit
from tests.console.signing_in import ConsoleLogin, add_console_user, csrf_of, sign_in

ROW = re.compile(r'data-submission-id="([0-9a-f-]{36})"')
URL_ATTRIBUTE = re.compile(r'(?:href|action|src)="([^"]*)"')
CANARY = {"given_name": "Zebulon", "family_name": "Quixotefield", "email": "zq@canary.example",
          "phone": "+1 555 0199", "external_id": "canary-0042"}


def body_for(priority: str) -> dict[str, Any]:
    body = routed(priority)
    body["respondent"].update(CANARY)
    return body


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def queue_ids(client: FlaskClient, query: str = "") -> list[str]:
    response = client.get("/console/queue" + query)
    assert response.status_code == 200
    return ROW.findall(text(response))


def post_form(client: FlaskClient, page: str, action: str, **form: Any) -> TestResponse:
    """Posts a form of ``page`` with that page's CSRF token."""
    token = csrf_of(client.get(page))
    return client.post(action, data={"csrf_token": token, **form})


def detail(submission_id: str) -> str:
    return f"/console/submissions/{submission_id}"


def etag_on(client: FlaskClient, submission_id: str) -> str:
    match = re.search(r'name="etag" value="([^"]+)"', text(client.get(detail(submission_id))))
    assert match, "no decision form"
    return match.group(1).replace("&#34;", '"')


@pytest.fixture
def by_priority(console_app: Flask, clinic: TenantCredentials) -> dict[str, str]:
    """One submission per priority, sent routine first so arrival order is reversed."""
    api = console_app.test_client()
    return {p: submit(api, clinic, body_for(p)) for p in ("routine", "high", "urgent", "critical")}


def test_queue_lists_crisis_cases_first_with_the_priority_written_out(
    reviewer: FlaskClient, by_priority: dict[str, str]
) -> None:
    assert queue_ids(reviewer) == [by_priority[p]
                                   for p in ("critical", "urgent", "high", "routine")]
    page = text(reviewer.get("/console/queue"))
    for label in ("CRITICAL", "URGENT", "HIGH", "ROUTINE"):
        assert f"</span>{label}</span>" in page
    critical_row = page[page.index(f'data-submission-id="{by_priority["critical"]}"') - 80:]
    assert "crisis" in critical_row[:120]
    assert "Flag: suicide risk acute" in page
    assert "nobody" in page


def test_queue_names_each_submission_by_a_short_id_of_its_own(
    reviewer: FlaskClient, by_priority: dict[str, str]
) -> None:
    """Ids made in the same minute share their first characters (time-ordered): the
    short id a clinician reads is the random end, different for each submission."""
    page = text(reviewer.get("/console/queue"))
    shown = {submission_id[-8:] for submission_id in by_priority.values()}
    assert len(shown) == 4
    for short in shown:
        assert f">{short}<" in page


def test_queue_filters_by_priority_and_by_claim(
    reviewer: FlaskClient, by_priority: dict[str, str]
) -> None:
    assert queue_ids(reviewer, "?priority=urgent") == [by_priority["urgent"]]
    assert queue_ids(reviewer, "?claimed=me") == []
    post_form(reviewer, "/console/queue", "/console/queue/next")
    assert queue_ids(reviewer, "?claimed=me") == [by_priority["critical"]]
    assert by_priority["critical"] not in queue_ids(reviewer, "?claimed=unclaimed")
    bad = reviewer.get("/console/queue?priority=whenever")
    assert bad.status_code == 422 and bad.mimetype == "text/html"


def test_claim_next_opens_the_most_urgent_submission_held_by_me(
    console_app: Flask, reviewer: FlaskClient, by_priority: dict[str, str],
    clinician_login: ConsoleLogin,
) -> None:
    response = post_form(reviewer, "/console/queue", "/console/queue/next")
    assert response.status_code == 303
    assert response.headers["Location"] == detail(by_priority["critical"])
    assert stored(console_app, by_priority["critical"]).claimed_by == clinician_login.user_id
    page = text(reviewer.get("/console/queue"))
    assert "you" in page and "Record decision" not in page


def test_nothing_to_claim_says_so(reviewer: FlaskClient, clinic: TenantCredentials) -> None:
    response = post_form(reviewer, "/console/queue", "/console/queue/next")
    assert response.status_code == 303 and response.headers["Location"] == "/console/queue"
    assert "Nothing is waiting" in text(reviewer.get("/console/queue"))


def test_each_view_of_a_submission_page_is_audited_like_the_api_read(
    console_app: Flask, reviewer: FlaskClient, by_priority: dict[str, str],
    clinician_login: ConsoleLogin, clinic: TenantCredentials,
) -> None:
    submission_id = by_priority["high"]
    assert reviewer.get(detail(submission_id)).status_code == 200
    reviewer.get(detail(submission_id))
    console_app.test_client().get(path(submission_id), headers=clinic.headers("clinician"))
    reads = events(console_app, "submission.read")
    assert [(e.actor_type, e.actor_id, e.object_type, e.object_id, e.outcome)
            for e in reads[:2]] == [
        ("user", clinician_login.user_id, "submission", submission_id, "success")] * 2
    assert (reads[2].actor_type, reads[2].object_type) == ("user", "submission")
    assert all(e.request_id for e in reads)


def test_submission_page_shows_scores_criteria_flags_and_answers_with_sources(
    reviewer: FlaskClient, by_priority: dict[str, str]
) -> None:
    page = text(reviewer.get(detail(by_priority["critical"])))
    assert "crisis-banner" in page and "Suicide risk acute" in page
    assert "<th scope=\"row\">PHQ9</th>" in page and "moderate" in page
    assert "status-met" in page and "Kroenke, Spitzer &amp; Williams 2001" in page
    assert "asq.q1 = yes; asq.q5 = yes" in page  # the flag's answer
    assert "NIMH Ask Suicide-Screening Questions" in page  # the flag's source
    assert "Nearly every day" in page and "Quixotefield" in page  # answers as submitted
    assert "Claim this submission to record a decision." in page


def test_decision_needs_every_flag_acknowledged_then_leaves_the_queue(
    console_app: Flask, reviewer: FlaskClient, by_priority: dict[str, str]
) -> None:
    submission_id = by_priority["critical"]
    post_form(reviewer, detail(submission_id), f"{detail(submission_id)}/claim")
    etag = etag_on(reviewer, submission_id)
    action = f"{detail(submission_id)}/decision"
    incomplete = post_form(reviewer, detail(submission_id), action,
                           outcome="refer_to_crisis_services", etag=etag)
    assert incomplete.status_code == 422
    assert "Every flag must be acknowledged" in text(incomplete)
    assert 'value="refer_to_crisis_services" checked' in text(incomplete)
    assert stored(console_app, submission_id).status == "in_review"

    done = post_form(reviewer, detail(submission_id), action, etag=etag,
                     outcome="refer_to_crisis_services", rationale="Called the person.",
                     acknowledged_flags=["suicide_risk_acute"])
    assert done.status_code == 303 and done.headers["Location"] == "/console/queue"
    assert stored(console_app, submission_id).status == "decided"
    assert submission_id not in queue_ids(reviewer)
    page = text(reviewer.get(detail(submission_id)))
    assert "Refer to crisis services" in page and "Called the person." in page
    assert [e.outcome for e in events(console_app, "submission.decide")] == ["success"]


@pytest.mark.parametrize(("etag", "status"), [("stale", 412), ("", 428)],
                         ids=["stale version 412", "no version 428"])
def test_decision_on_a_version_not_shown_is_refused(
    console_app: Flask, reviewer: FlaskClient, by_priority: dict[str, str], etag: str,
    status: int,
) -> None:
    submission_id = by_priority["routine"]
    post_form(reviewer, detail(submission_id), f"{detail(submission_id)}/claim")
    sent = f'"{submission_id}-v1"' if etag == "stale" else ""
    response = post_form(reviewer, detail(submission_id), f"{detail(submission_id)}/decision",
                         outcome="needs_more_information", etag=sent)
    assert response.status_code == status
    assert "The decision was not recorded" in text(response)
    assert stored(console_app, submission_id).status == "in_review"


def test_another_clinicians_claim_blocks_my_decision_and_is_shown(
    console_app: Flask, reviewer: FlaskClient, by_priority: dict[str, str],
    clinic: TenantCredentials,
) -> None:
    submission_id = by_priority["high"]
    colleague = add_clinician(console_app, clinic, "colleague")
    api = console_app.test_client()
    assert api.post(path(submission_id, "claim"), headers=colleague.headers).status_code == 200
    page = text(reviewer.get(detail(submission_id)))
    assert "colleague@alpha.example" in page and "Another clinician holds" in page
    refused = post_form(reviewer, detail(submission_id), f"{detail(submission_id)}/decision",
                        outcome="needs_more_information", etag=f'"{submission_id}-v2"',
                        acknowledged_flags=["psychosis"])
    assert refused.status_code == 303
    assert "holding the live claim" in text(reviewer.get(detail(submission_id)))
    assert [e.outcome for e in events(console_app, "submission.decide")] == ["denied"]


def test_release_returns_the_submission_to_the_queue(
    console_app: Flask, reviewer: FlaskClient, by_priority: dict[str, str]
) -> None:
    submission_id = by_priority["urgent"]
    post_form(reviewer, detail(submission_id), f"{detail(submission_id)}/claim")
    response = post_form(reviewer, detail(submission_id), f"{detail(submission_id)}/release")
    assert response.status_code == 303 and response.headers["Location"] == "/console/queue"
    assert stored(console_app, submission_id).status == "pending_review"
    assert submission_id in queue_ids(reviewer, "?claimed=unclaimed")


def test_notes_are_added_and_a_blank_note_is_refused(
    console_app: Flask, reviewer: FlaskClient, by_priority: dict[str, str]
) -> None:
    submission_id = by_priority["routine"]
    action = f"{detail(submission_id)}/notes"
    blank = post_form(reviewer, detail(submission_id), action, text="   ")
    assert blank.status_code == 422 and "Must not be blank." in text(blank)
    added = post_form(reviewer, detail(submission_id), action, text="Left a voicemail.")
    assert added.status_code == 303
    assert "Left a voicemail." in text(reviewer.get(detail(submission_id)))
    assert len(events(console_app, "note.create")) == 1


def test_another_clinics_submission_is_not_found(
    console_app: Flask, reviewer: FlaskClient, other_clinic: TenantCredentials
) -> None:
    theirs = submit(console_app.test_client(), other_clinic, body_for("routine"))
    for page in (detail(theirs), detail("00000000-0000-4000-8000-000000000000")):
        response = reviewer.get(page)
        assert response.status_code == 404 and response.mimetype == "text/html"
    claim = post_form(reviewer, "/console/queue", f"{detail(theirs)}/claim")
    assert claim.status_code == 404
    assert stored(console_app, theirs).claimed_by is None


def test_audit_page_is_for_admins_only(
    console_app: Flask, reviewer: FlaskClient, by_priority: dict[str, str]
) -> None:
    assert reviewer.get("/console/audit").status_code == 403
    admin = add_console_user(console_app, "alpha", "boss@alpha.example", "admin")
    client = console_app.test_client()
    sign_in(client, admin)
    page = client.get("/console/audit")
    assert page.status_code == 200 and "submission.create" in text(page)
    only_one = text(client.get(f"/console/audit?submission_id={by_priority['high']}"))
    assert only_one.count("submission.create") == 1
    assert client.get("/console/audit?submission_id=nope").status_code == 422


def test_console_pages_send_a_strict_policy_and_no_inline_script(
    reviewer: FlaskClient, by_priority: dict[str, str]
) -> None:
    for page in ("/console/audit", "/console/queue", detail(by_priority["high"])):
        response = reviewer.get(page)
        headers = response.headers
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        scripts = re.findall(r"<script[^>]*>", text(response))
        assert scripts and all(" src=" in tag for tag in scripts)
        assert ' style="' not in text(response) and " on" + "click=" not in text(response)
    for asset, mimetype in (("console.css", "text/css"), ("console.js", "text/javascript")):
        with reviewer.get(f"/console/static/{asset}") as served:
            assert served.status_code == 200 and served.mimetype == mimetype


def test_patient_data_never_appears_in_a_url(
    console_app: Flask, reviewer: FlaskClient, by_priority: dict[str, str]
) -> None:
    submission_id = by_priority["critical"]
    seen: list[str] = []
    for page in ("/console/queue", detail(submission_id)):
        seen += URL_ATTRIBUTE.findall(text(reviewer.get(page)))
    claim = post_form(reviewer, detail(submission_id), f"{detail(submission_id)}/claim")
    seen.append(claim.headers["Location"])
    with session_scope(console_app, write=False) as session:
        seen += [e.object_id or "" for e in session.scalars(select(AuditEvent))]
    assert seen
    for value in CANARY.values():
        assert not [url for url in seen if value.lower() in url.lower()]
        assert not [url for url in seen if value.replace(" ", "%20").lower() in url.lower()]
