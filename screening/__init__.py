"""The intake screening service (Flask application).

``create_app`` (``screening.app``) builds the application. The packages, by what each part
does: ``web`` (the HTTP surfaces: JSON API, FHIR, console; authentication, rate limits,
the one error renderer), ``services`` (what the surfaces and commands do, given a unit of
work), ``intake`` (parsing and validating questionnaires), ``storage`` (models, the unit of
work, the audit log), ``notify`` (webhooks and escalation), ``server`` (gunicorn and the
background worker), ``config`` and ``cli``. The clinical rules are the separate,
standard-library-only package ``rules``.
"""

from __future__ import annotations

from screening.app import create_app

__all__ = ["create_app"]
