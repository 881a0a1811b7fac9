"""``create_app``: the Flask application assembled from its parts.

Settings from the environment (a mapping given by the caller wins), database, the unit of
work of each request, the one error renderer, request ids and logs, rate limits and the
blueprints (the JSON API, FHIR and the clinician review console under ``/console``).
``app.extensions["screening"]`` holds an ``AppState`` (settings, database).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from screening.config.settings import ENV_VARS, settings_from_environment
from screening.storage import db, unit_of_work
from screening.web import auth, console, limits, observability
from screening.web import errors as rendering
from screening.web.api import register

MAX_BODY_BYTES = 64 * 1024


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Builds the application; raises ``ConfigError`` on a bad setting.

    ``config`` may hold the environment variables of ``screening.config.settings`` (e.g.
    ``DATABASE_URL``, ``RATE_LIMIT``) and any Flask setting (e.g. ``TESTING``).
    """
    app = Flask(__name__)
    settings = settings_from_environment(config, app.instance_path)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.from_mapping({k: v for k, v in (config or {}).items() if k not in ENV_VARS})

    observability.init_app(app, settings.log_level)
    database = db.init_app(settings)
    app.extensions["screening"] = db.AppState(settings=settings, db=database)
    unit_of_work.init_app(app)
    rendering.init_app(app)
    auth.init_app(app)
    limits.init_app(app, settings)
    register(app)
    console.init_app(app)
    if settings.trusted_proxies:
        # Behind reverse proxies the client address (rate limits, sign-in throttling) and
        # scheme come from their X-Forwarded-* headers; only as many hops as configured
        # are believed, so a client cannot forge its own address.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    return app
