"""The ceiling for ``bench/ingest.py``: a bare Flask app that parses the same JSON body and
answers 201, served by gunicorn with exactly the service's settings
(``screening.server.gunicorn.server_options``: worker class and count).

Run: ``.venv/bin/python bench/bare_app.py --port 8001 --workers 2``.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parents[1])

from flask import Flask, jsonify, request  # noqa: E402

from screening.server.gunicorn import GunicornApp, server_options  # noqa: E402


def create_bare_app() -> Flask:
    """POST /api/v1/submissions parses the JSON body and answers 201; /health answers."""
    app = Flask(__name__)

    @app.post("/api/v1/submissions")
    def create() -> Any:
        body = request.get_json()
        answered = {"id": str(uuid.uuid4()), "status": "pending_review",
                    "sections": len(body.get("answers", {}))}
        return jsonify(answered), 201

    @app.get("/health")
    def health() -> Any:
        return {"status": "ok"}

    return app


def main() -> None:
    """Serve the bare app until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    options = server_options("127.0.0.1", args.port, args.workers)
    GunicornApp({**options, "proc_name": "bench-bare"}, create_bare_app).run()


if __name__ == "__main__":
    main()
