"""Sign-in (e-mail + password, then a TOTP code; enrolment on the first sign-in) and
sign-out pages of the console.

Every password and code attempt counts against ``CONSOLE_LOGIN_LIMIT`` (per address and
e-mail for passwords, per account for codes; a 429 page beyond it). Refusals and the final
success are audited as ``console.login``.
"""

from __future__ import annotations

from flask import Response, current_app, flash, g, request
from markupsafe import Markup
from sqlalchemy.orm import Session

from screening.storage.db import utcnow
from screening.storage.models import Clinic, User
from screening.storage.unit_of_work import commit, get_session
from screening.web.console import guard, pages, signin, totp
from screening.web.console.throttle import SignInThrottle
from screening.web.console.web import bp, current_user, error_page, public
from screening.web.offload import off_the_loop

EXTENSION = "screening.console"
WRONG_CODE = (
    "That code is not right, or was already used. Enter the current code from your "
    "authenticator app."
)


def _throttled(*key: str) -> Response | None:
    """Counts one attempt; a 429 page when there were too many."""
    throttle: SignInThrottle = current_app.extensions[EXTENSION]
    wait = throttle.wait_seconds(*key)
    if wait is None:
        return None
    return error_page(429, "Too many sign-in attempts. Wait a minute, then try again.",
                      {"Retry-After": str(wait)})


def _restart_sign_in(message: str) -> Response:
    guard.sign_out()
    flash(message, "info")
    return pages.see_other("console.login")


@bp.get("/")
def index() -> Response:
    """The console's start page is the queue."""
    return pages.see_other("console.queue_page")


@bp.get("/login")
@public
def login() -> Response:
    """The sign-in form (straight to the queue when already signed in)."""
    if guard.signed_in_user() is not None:
        return pages.see_other("console.queue_page")
    if g.get("console_session_ended"):
        flash("Your session has ended; please sign in again.", "info")
    return pages.page("console/login.html")


@bp.post("/login")
@public
@off_the_loop  # an argon2 verification (about 50 ms) per candidate account
def login_password() -> Response:
    """Checks e-mail and password; on success asks for the second factor."""
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    clinic = request.form.get("clinic", "").strip() or None
    refused = _throttled("password", request.remote_addr or "unknown", email.lower())
    if refused is not None:
        return refused
    session = get_session()  # a read: argon2 must not hold SQLite's one writer lock
    result = signin.check_password(session, email, password, clinic)
    if not isinstance(result, signin.Account):
        signin.record_refusal(session, result, g.get("request_id"))
        commit()
        ambiguous = result.reason is signin.Refusal.AMBIGUOUS
        return pages.page("console/login.html", 403, ambiguous=ambiguous, email=email,
                     error=("This e-mail address belongs to several clinics: enter the clinic "
                            "code too." if ambiguous else
                            "The e-mail address or password is not right."))
    commit()
    guard.start_pending(result)
    target = "console.code" if result.enrolled else "console.enrol"
    return pages.see_other(target)


def _pending_user(session: Session) -> User | None:
    user_id = guard.pending_user_id()
    if user_id is None:
        return None
    return signin.active_user(session, user_id, lock=True)


def _finish(session: Session, user: User) -> Response:
    signin.record_login(session, clinic_id=user.clinic_id, user_id=user.id, success=True,
                        request_id=g.get("request_id"))
    commit()
    guard.complete_sign_in(user.id, user.session_generation)
    return pages.see_other("console.queue_page")


def _refuse_code(session: Session, user: User, template: str, **context: object) -> Response:
    signin.record_login(session, clinic_id=user.clinic_id, user_id=user.id, success=False,
                        request_id=g.get("request_id"))
    commit()
    return pages.page(template, 403, error=WRONG_CODE, **context)


def _enrolment_context(session: Session, user: User) -> dict[str, object]:
    secret = signin.enrolment_secret(user)
    clinic = session.get_one(Clinic, user.clinic_id)
    uri = totp.provisioning_uri(secret, user.email, f"Screening {clinic.name}")
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    qr = Markup(totp.qr_svg(uri, "QR code of your sign-in secret"))
    return {"secret": grouped, "qr_svg": qr, "otpauth_uri": uri}


@bp.route("/login/enrol", methods=["GET", "POST"])
@public
def enrol() -> Response:
    """First sign-in: shows a new TOTP secret (text and QR code) and confirms it with a
    first code."""
    session = get_session(write=True)
    user = _pending_user(session)
    if user is None:
        return _restart_sign_in("Your sign-in took too long; please start again.")
    if user.totp_confirmed_at is not None:
        return pages.see_other("console.code")
    context = _enrolment_context(session, user)
    if request.method == "GET":
        commit()  # keeps a newly made secret
        return pages.page("console/enrol.html", **context)
    refused = _throttled("totp", user.id)
    if refused is not None:
        return refused
    code = request.form.get("code", "")
    if signin.confirm_enrolment(session, user, code, utcnow(), g.get("request_id")):
        return _finish(session, user)
    return _refuse_code(session, user, "console/enrol.html", **context)


@bp.route("/login/code", methods=["GET", "POST"])
@public
def code() -> Response:
    """Second step of a sign-in: the current code of the enrolled authenticator."""
    session = get_session(write=True)
    user = _pending_user(session)
    if user is None:
        return _restart_sign_in("Your sign-in took too long; please start again.")
    if user.totp_confirmed_at is None:
        return pages.see_other("console.enrol")
    if request.method == "GET":
        return pages.page("console/code.html")
    refused = _throttled("totp", user.id)
    if refused is not None:
        return refused
    if signin.verify_code(user, request.form.get("code", ""), utcnow()):
        return _finish(session, user)
    return _refuse_code(session, user, "console/code.html")


@bp.post("/logout")
def logout() -> Response:
    """Signs out here and on every other device (the session generation moves on)."""
    session = get_session(write=True)
    user = signin.active_user(session, current_user().user_id, lock=True)
    if user is not None:
        signin.sign_out_everywhere(session, user, g.get("request_id"))
        commit()
    guard.sign_out()
    flash("You have signed out.", "info")
    return pages.see_other("console.login")
