"""Production serving: gunicorn run in-process with the application factory.

gunicorn's own access log stays off: the application writes one JSON line per request
(``screening.web.observability``) with the path but never the query string. Each worker builds
its own application (no preloading), so no database connection crosses a fork.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from screening.app import create_app
from screening.server.worker import PARENT_ENV


class GunicornApp(BaseApplication):  # type: ignore[misc]
    """gunicorn serving the Flask app that ``factory`` builds (in each worker)."""

    def __init__(self, options: dict[str, Any], factory: Callable[[], Flask]):
        self.options = options
        self.factory = factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.factory()


def server_options(host: str, port: int, workers: int) -> dict[str, Any]:
    """gunicorn settings for ``screening serve``: ``workers`` processes, each serving its
    requests from one loop (``screening.server.loop_worker``)."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "screening.server.loop_worker.LoopWorker",
        "accesslog": None,
        "errorlog": "-",
        "graceful_timeout": 20,
        "timeout": 30,
        "proc_name": "screening",
        "control_socket_disable": True,
    }


def run(*, host: str, port: int, workers: int, background_worker: bool = True) -> None:
    """Serves until interrupted; with ``background_worker``, a ``screening worker``
    process runs beside the web workers and stops with the server."""
    worker = _start_worker() if background_worker else None
    try:
        GunicornApp(server_options(host, port, workers), create_app).run()
    finally:
        if worker is not None:
            worker.terminate()  # SIGTERM: it finishes the deliveries in flight
            worker.wait(timeout=30)


def _start_worker() -> subprocess.Popen[bytes]:
    environment = {**os.environ, PARENT_ENV: str(os.getpid())}
    # -P: the worker imports the service from where the web workers do (the installed
    # package, or PYTHONPATH), never from a ``screening/`` in the working directory.
    return subprocess.Popen([sys.executable, "-P", "-m", "screening", "worker"],
                            env=environment)
