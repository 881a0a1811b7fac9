"""The console blueprint and what every console request goes through.

Before a view: a POST must carry the session's CSRF token (400 otherwise); every view
but the sign-in pages and static files needs a live signed-in session (else a redirect to
the sign-in page, saying why when a session just ended). After it: a Content-Security-
Policy that allows the console's own stylesheet and script and nothing else (no inline
script), on top of the headers every response gets (``screening.web.observability``).
Errors under ``/console`` render as HTML pages, never as problem+json
(``screening.web.errors``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    request,
)
from werkzeug.http import HTTP_STATUS_CODES

from screening.web.console import guard, pages, presenters
from screening.web.errors import Problem, render, under

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint(
    "console",
    __name__,
    url_prefix=guard.CONSOLE_PATH,
    template_folder="templates",
    static_folder="static",
)


def public(view: F) -> F:
    """Marks a console view that needs no signed-in session (the sign-in steps)."""
    view.__dict__["console_public"] = True
    return view


def admin_only(view: F) -> F:
    """403 page unless the signed-in user is an admin."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user().is_admin:
            return error_page(403, "Only an admin may open this page.")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def current_user() -> guard.ConsoleUser:
    """The signed-in user of this request (set before every non-public view)."""
    user: guard.ConsoleUser = g.console_user
    return user


@bp.before_request
def _guard() -> Response | None:
    if request.method == "POST":
        guard.check_csrf(request.form.get(guard.CSRF_FIELD))
    view = current_app.view_functions.get(request.endpoint or "")
    if request.endpoint == "console.static" or getattr(view, "console_public", False):
        return None
    user = guard.signed_in_user()
    if user is None:
        if g.get("console_session_ended"):
            flash("Your session has ended; please sign in again.", "info")
        return pages.see_other("console.login")
    g.console_user = user
    g.principal = guard.principal_of(user)
    return None


@bp.after_app_request
def _policy(response: Response) -> Response:
    # App-wide so that the error page of a path under /console no route matched is
    # covered too.
    if under(request.path, guard.CONSOLE_PATH):
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


@bp.app_template_global()
def csrf_token() -> str:
    """The hidden field value every console form sends."""
    return guard.csrf_token()


@bp.context_processor
def _page_context() -> dict[str, Any]:
    return {
        "console_user": g.get("console_user"),
        "idle_seconds": int(guard.idle_seconds()),
        "csrf_field": guard.CSRF_FIELD,
        "labels": presenters,
    }


def error_page(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """An HTML error page with ``status`` (the console's format of the one renderer)."""
    return render(Problem(status, HTTP_STATUS_CODES.get(status, "Error"), detail,
                          headers=headers or {}))
