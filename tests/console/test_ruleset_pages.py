"""The console's ruleset pages (admins): active settings with sources, a draft from the
form, its shadow report, and activation behind a confirmation naming the changes."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from rules import DEFAULT_RULESET, SETTINGS
from screening.services import rulesets
from screening.storage.unit_of_work import session_scope
from tests.api.conftest import TenantCredentials
from tests.api.test_rulesets import with_phq9_total
from tests.console.signing_in import add_console_user, csrf_of, sign_in

_DRAFT = re.compile(r"/console/ruleset/drafts/([0-9a-f-]{36})")


def text(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def admin_client(app: Flask) -> FlaskClient:
    admin = add_console_user(app, "alpha", "boss@alpha.example", "admin")
    client = app.test_client()
    sign_in(client, admin)
    return client


def form_of(settings: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The draft form as the page fills it with ``settings``, then ``changes``."""
    form: dict[str, Any] = {}
    for name, value in settings.items():
        if isinstance(value, dict):
            form.update({f"{name}.{part}": str(v) for part, v in value.items()})
        elif isinstance(value, list):
            form[name] = value
        else:
            form[name] = str(value)
    form.update(changes)
    return form


def test_the_ruleset_page_is_for_admins_and_names_every_source(
        console_app: Flask, reviewer: FlaskClient) -> None:
    assert reviewer.get("/console/ruleset").status_code == 403
    page = admin_client(console_app).get("/console/ruleset")
    assert page.status_code == 200
    shown = text(page)
    for setting in SETTINGS:
        assert setting.name in shown and setting.source in shown


def test_draft_shadow_and_confirmed_activation(
        console_app: Flask, clinic: TenantCredentials) -> None:
    for total in (12, 18):
        response = console_app.test_client().post(
            "/api/v1/submissions", json=with_phq9_total(total), headers=clinic.headers("intake"))
        assert response.status_code == 201
    client = admin_client(console_app)
    token = csrf_of(client.get("/console/ruleset"))
    defaults = DEFAULT_RULESET.settings()

    unchanged = client.post("/console/ruleset/drafts",
                            data={"csrf_token": token, **form_of(defaults)})
    assert unchanged.status_code == 422 and "Change at least one setting" in text(unchanged)
    bad = client.post("/console/ruleset/drafts",
                      data={"csrf_token": token, **form_of(defaults, phq9_threshold="30")})
    assert bad.status_code == 422 and "from 5 to 20" in text(bad)

    saved = client.post("/console/ruleset/drafts",
                        data={"csrf_token": token, **form_of(defaults, phq9_threshold="15")})
    assert saved.status_code == 303
    match = _DRAFT.search(saved.headers["Location"])
    assert match is not None
    page = f"/console/ruleset/drafts/{match.group(1)}"

    report = client.post(f"{page}/shadow", data={"csrf_token": csrf_of(client.get(page))})
    assert report.status_code == 200
    assert "2 submissions evaluated; 1 would change" in text(report)
    assert "met->not_met: 1" in text(report)

    shown = text(client.get(page))
    assert "phq9_threshold</code> from 10 to 15" in shown
    unconfirmed = client.post(f"{page}/activate",
                              data={"csrf_token": token, "etag": '"ruleset-1"'})
    assert unconfirmed.status_code == 422
    stale = client.post(f"{page}/activate",
                        data={"csrf_token": token, "etag": '"ruleset-0"', "confirm": "yes"})
    assert stale.status_code == 412
    done = client.post(f"{page}/activate",
                       data={"csrf_token": token, "etag": '"ruleset-1"', "confirm": "yes"})
    assert done.status_code == 303
    with session_scope(console_app, write=False) as session:
        active = rulesets.active_ruleset(session, clinic.clinic_id)
    assert (active.version, active.ruleset.phq9_threshold) == (2, 15)
