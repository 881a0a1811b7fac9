"""``screening serve`` as a real process on 127.0.0.1, on the test database.

For what only the production HTTP server shows: chunked bodies, and the errors gunicorn
answers itself (oversized headers, overlong request lines, malformed requests). Import the
``live_service`` fixture into a test module to use it; one server serves the whole run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from screening.config.settings import ENV_VARS

SCREENING = str(Path(sys.executable).parent / "screening")


@dataclass(frozen=True, slots=True)
class LiveService:
    """A running ``screening serve``: where it listens and where its output goes."""

    host: str
    port: int
    log: Path

    def output(self) -> str:
        """Everything the server has written to stdout and stderr so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://{self.host}:{self.port}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def service_environment(database_url: str, **settings: str) -> dict[str, str]:
    """The test process's environment without the service's own variables, plus the
    database, no rate limit, a fixed console key and ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env.update(DATABASE_URL=database_url, RATE_LIMIT="off", SECRET_KEY="k" * 40)
    env.update(settings)
    return env


def start(env: Mapping[str, str], port: int, log: object) -> subprocess.Popen[bytes]:
    """``screening serve`` with one web worker on ``port``, in its own process group.
    Without the background worker: it would seal, deliver and escalate on the shared test
    database behind the other tests' backs (its own tests start workers themselves)."""
    return subprocess.Popen(
        [SCREENING, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--no-worker"],
        env=dict(env), stdout=log, stderr=log, start_new_session=True)  # type: ignore[arg-type]


def wait_ready(process: subprocess.Popen[bytes], url: str) -> None:
    """Until ``url`` answers; fails if the process ends first or 30 s pass."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"screening serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"screening serve did not answer {url}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's own process group, SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=25)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def live_service(database_url: str) -> Iterator[LiveService]:
    """``screening serve`` on a free port of 127.0.0.1 for the whole run."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "serve.log"
        with log_path.open("wb") as log:
            process = start(service_environment(database_url), port, log)
            try:
                wait_ready(process, f"http://127.0.0.1:{port}/health")
                yield LiveService("127.0.0.1", port, log_path)
            finally:
                stop(process)
