"""Browser tests of the review console: the real application served over HTTP on
127.0.0.1 (a werkzeug server in a thread, on the test database) and driven by Debian's
chromium through Playwright. Playwright's own browser downloads are never used.

Without chromium (or the playwright package) the tests skip locally with the reason, and
fail under CI (``CI=true``), where ``make test`` installs chromium first.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.api.conftest import *  # noqa: F403  (the API tests' fixtures, here too)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TABLET = {"width": 768, "height": 1024}


def unavailable(reason: str) -> None:
    """Fails under CI (where `make test` installs chromium), else skips with the reason."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, once per test run; Playwright starts it with a fresh
    temporary profile (user data dir) and removes it afterwards."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing (make browser installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


class _QuietHandler(WSGIRequestHandler):
    """The application logs every request itself; werkzeug's own lines are noise."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass(frozen=True, slots=True)
class LiveServer:
    """A running application and its base URL."""

    app: Flask
    url: str


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], LiveServer]]:
    """Serves apps on free ports of 127.0.0.1 until the test ends."""
    servers: list[BaseWSGIServer] = []

    def start(app: Flask) -> LiveServer:
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return LiveServer(app, f"http://127.0.0.1:{server.server_port}")

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) with a tablet-sized viewport."""
    context = browser.new_context(viewport=TABLET)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
