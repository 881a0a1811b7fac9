"""The clinician review console: server-rendered HTML pages on the same services as the
API (``screening.services``), under ``/console``.

| path                                   | what                                           |
|----------------------------------------|------------------------------------------------|
| GET/POST `/console/login`              | e-mail + password (step 1)                     |
| GET/POST `/console/login/enrol`        | first sign-in: TOTP secret + QR code, confirm  |
| GET/POST `/console/login/code`         | TOTP code (step 2)                             |
| POST `/console/logout`                 | sign out (every device of the user)            |
| GET `/console/queue`                   | review queue, filters; POST `/queue/next`      |
| GET `/console/submissions/<id>`        | audited read; POST `claim`, `release`,         |
|                                        | `decision`, `notes`                            |
| GET `/console/audit`                   | audit log (admins)                             |
| GET `/console/ruleset`                 | active ruleset, draft form (admins); drafts:   |
|                                        | GET page, POST `shadow`, `activate`            |
| GET `/console/webhooks`                | webhook endpoints, recent deliveries (admins)  |

Sign-in: argon2 password hashes (``passwords``), RFC 6238 TOTP second factor (``totp``),
use cases in ``signin``; session cookie and CSRF in ``guard``; blueprint hooks and HTML
errors in ``web``; sign-in throttling in ``throttle``. The console is HTML for people and
is not part of the API contract (``openapi.yaml``).
"""

from __future__ import annotations

from flask import Flask

from screening.storage.db import app_state
from screening.web.console import (
    audit_views,
    auth_views,
    guard,
    review_views,
    ruleset_views,
    web,
    webhook_views,
)
from screening.web.console.throttle import SignInThrottle

# The views modules register their routes on the console blueprint when imported.
VIEWS = (audit_views, auth_views, review_views, ruleset_views, webhook_views)

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    """Registers the console on ``app``: cookie settings, sign-in throttles, blueprint.
    The console's static files are not counted by the API's rate limit
    (``screening.web.limits``)."""
    settings = app_state(app).settings
    guard.configure_cookie(app)
    app.extensions[auth_views.EXTENSION] = SignInThrottle(
        settings.console_login_limit, settings.redis_url
    )
    app.register_blueprint(web.bp)

