"""``screening serve`` refuses a bad setting before it binds its port (README
"Configuration"): one line naming the variable, never its value, exit status 1."""

from __future__ import annotations

import socket
import subprocess

import pytest

from tests.api.live_server import SCREENING, free_port, service_environment


@pytest.mark.parametrize(("variable", "value"), [
    ("RATE_LIMIT", "banana"),
    ("CONSOLE_LOGIN_LIMIT", "banana"),
    ("CLAIM_LEASE_MINUTES", "banana"),
])
def test_a_bad_setting_stops_serve_before_the_port_is_bound(
        database_url: str, variable: str, value: str) -> None:
    port = free_port()
    env = service_environment(database_url, **{variable: value})
    finished = subprocess.run(
        [SCREENING, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert finished.returncode == 1
    assert finished.stdout == ""
    [line] = finished.stderr.splitlines()
    assert line.startswith(f"Error: {variable} must be")
    assert value not in line
    with socket.socket() as probe:  # nobody listened: the port is still free
        probe.bind(("127.0.0.1", port))
