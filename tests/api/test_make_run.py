"""``make run`` as the README says: ``PORT=`` and ``HOST=`` choose where it serves, and the
demo's printed hints name that address."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from tests.api.live_server import free_port, service_environment, stop, wait_ready

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_serves_on_the_port_and_host_given(tmp_path: Path) -> None:
    port = free_port()
    env = service_environment(f"sqlite:///{tmp_path / 'run.db'}")
    # -o: the virtual environment the suite runs in counts as installed.
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", "run",
               f"PORT={port}", "HOST=127.0.0.1"]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_ready(process, f"http://127.0.0.1:{port}/health/ready")
        finally:
            stop(process)
        log.seek(0)
        output = log.read().decode(errors="replace")
    assert f"--port {port}" in output
    assert f"review console   http://127.0.0.1:{port}/console/login" in output
    assert "database upgraded from an empty database" in output
