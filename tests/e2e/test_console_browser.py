"""The review console in headless chromium, as a clinician on a tablet uses it: sign in
with a TOTP second factor, claim the most urgent submission, acknowledge its flags, decide,
and see it leave the queue; and the refusals: a wrong TOTP code, a form without its CSRF
token, a session left idle. Screenshots of the queue and of a submission page are saved
in ``tests/artifacts/``."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from screening.web.console import totp
from tests.api.bodies import routed
from tests.api.conftest import TenantCredentials
from tests.api.reviewing import events, stored, submit
from tests.console.signing_in import ConsoleLogin, add_console_user, next_code
from tests.e2e.conftest import LiveServer, unavailable

SECRET_KEY = "e2e-console-" + "k" * 40


def crisis_body() -> dict[str, Any]:
    """Routed critical (ASQ q5 yes), with a contraindication and a caution flag too."""
    body = routed("critical")
    body["answers"]["medical_history"]["psychosis"] = "yes"
    body["answers"]["medications"]["benzodiazepine"] = "unsure"
    return body


@pytest.fixture
def scene(make_app: Callable[..., Flask], clinic: TenantCredentials,
          serve: Callable[[Flask], LiveServer]) -> Callable[..., tuple[LiveServer, dict[str, str]]]:
    """Starts the app (with ``config``) on a free port, with three submissions."""

    def start(**config: str) -> tuple[LiveServer, dict[str, str]]:
        app = make_app(SECRET_KEY=SECRET_KEY, **config)
        api = app.test_client()
        ids = {"routine": submit(api, clinic, routed("routine")),
               "high": submit(api, clinic, routed("high")),
               "critical": submit(api, clinic, crisis_body())}
        return serve(app), ids

    return start


def reviewer(server: LiveServer) -> ConsoleLogin:
    return add_console_user(server.app, "alpha", "reviewer@alpha.example", "clinician")


def enter_password(page: Any, server: LiveServer, login: ConsoleLogin) -> None:
    page.goto(server.url + "/console/login")
    page.get_by_label("E-mail address").fill(login.email)
    page.get_by_label("Password").fill(login.password)
    page.get_by_role("button", name="Continue").click()


def read_secret(page: Any, login: ConsoleLogin) -> None:
    page.wait_for_url("**/console/login/enrol")
    login.secret = page.locator("#totp-secret").inner_text().replace(" ", "")


def sign_in_first_time(page: Any, server: LiveServer, login: ConsoleLogin) -> None:
    enter_password(page, server, login)
    read_secret(page, login)
    page.get_by_label("Enter the 6-digit code the app shows").fill(next_code(login))
    page.get_by_role("button", name="Confirm and sign in").click()
    page.wait_for_url("**/console/queue")


def sign_in_again(page: Any, server: LiveServer, login: ConsoleLogin) -> None:
    enter_password(page, server, login)
    page.wait_for_url("**/console/login/code")
    page.get_by_label("6-digit code from your authenticator app").fill(next_code(login))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/queue")


def queue_ids(page: Any) -> list[str]:
    return [row.get_attribute("data-submission-id")
            for row in page.locator("tr.queue-row").all()]


def test_clinician_signs_in_with_totp_claims_the_top_submission_decides_and_it_leaves(
    page: Any, scene: Callable[..., tuple[LiveServer, dict[str, str]]], artifacts: Path
) -> None:
    server, ids = scene()
    login = reviewer(server)
    sign_in_first_time(page, server, login)

    assert queue_ids(page) == [ids["critical"], ids["high"], ids["routine"]]
    expect(page.locator("tr.queue-row").first).to_contain_text("CRITICAL")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.screenshot(path=str(artifacts / "console-queue.png"), full_page=True)

    page.get_by_role("button", name="Claim next").focus()
    page.keyboard.press("Enter")  # the keyboard alone claims
    page.wait_for_url(f"**/console/submissions/{ids['critical']}")
    expect(page.locator(".crisis-banner")).to_contain_text("CRITICAL")
    page.screenshot(path=str(artifacts / "console-submission.png"), full_page=True)
    page.screenshot(path=str(artifacts / "console-submission-top.png"))

    flags = [flag["id"] for flag in stored(server.app, ids["critical"]).evaluation["flags"]]
    assert len(flags) >= 3
    for flag in flags:
        page.locator(f"#ack-{flag}").check()
    page.get_by_label("Refer to crisis services").check()
    page.get_by_label("Rationale").fill("Spoke with the person; crisis team involved.")
    page.locator("#decision").screenshot(path=str(artifacts / "console-decision.png"))
    page.get_by_role("button", name="Record decision").click()

    page.wait_for_url("**/console/queue")
    expect(page.get_by_text("Decision recorded")).to_be_visible()
    assert queue_ids(page) == [ids["high"], ids["routine"]]
    decided = stored(server.app, ids["critical"])
    assert decided.status == "decided" and decided.decided_at is not None
    reads = [e for e in events(server.app, "submission.read") if e.actor_id == login.user_id]
    assert reads, "the page view was not audited"


def test_a_wrong_totp_code_is_refused(
    page: Any, scene: Callable[..., tuple[LiveServer, dict[str, str]]]
) -> None:
    server, _ = scene()
    login = reviewer(server)
    enter_password(page, server, login)
    read_secret(page, login)
    secret = login.secret or ""
    window = {totp.code_at(secret, totp.time_step(time.time()) + d) for d in (-1, 0, 1, 2)}
    wrong = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in window)
    page.get_by_label("Enter the 6-digit code the app shows").fill(wrong)
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    assert page.url.endswith("/console/login/enrol")
    page.goto(server.url + "/console/queue")
    assert page.url.endswith("/console/login")
    denied = [e for e in events(server.app, "console.login") if e.outcome == "denied"]
    assert [e.actor_id for e in denied] == [login.user_id]


def test_a_form_without_its_csrf_token_is_refused(
    page: Any, scene: Callable[..., tuple[LiveServer, dict[str, str]]]
) -> None:
    server, ids = scene()
    sign_in_first_time(page, server, reviewer(server))
    page.evaluate("document.querySelectorAll('input[name=csrf_token]')"
                  ".forEach(field => field.remove())")
    page.get_by_role("button", name="Claim next").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bad Request")
    expect(page.get_by_text("missing its security token")).to_be_visible()
    assert stored(server.app, ids["critical"]).claimed_by is None


def test_an_idle_session_is_refused_and_the_page_leaves_patient_data(
    page: Any, scene: Callable[..., tuple[LiveServer, dict[str, str]]]
) -> None:
    server, ids = scene(CONSOLE_IDLE_MINUTES="0.05")  # 3 seconds
    login = reviewer(server)
    sign_in_first_time(page, server, login)
    page.wait_for_timeout(3500)
    page.get_by_role("button", name="Claim next").click()
    page.wait_for_url("**/console/login")
    expect(page.get_by_text("Your session has ended")).to_be_visible()
    assert stored(server.app, ids["critical"]).claimed_by is None

    sign_in_again(page, server, login)
    # Idle past the limit, the page's script leaves for the sign-in page by itself.
    page.wait_for_url("**/console/login", timeout=15_000)
    expect(page.get_by_text("Your session has ended")).to_be_visible()


def test_without_chromium_ci_fails_and_a_developer_is_told_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run in CI: no chromium"):
        unavailable("no chromium")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no chromium"):
        unavailable("no chromium")
