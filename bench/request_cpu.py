"""CPU per ingest request inside one process, by component, for one or two checkouts.

Builds the service's WSGI application on a fresh SQLite file (``synchronous=FULL``) with
rate limiting off, as ``bench/ingest.py`` serves it, and calls ``app.wsgi_app`` directly in
one thread with the example submission, the way a gunicorn worker does (no HTTP parsing,
no sockets). Prints the CPU time (``time.process_time``) per request of the whole request
and of each component the request runs, measured one by one in isolation:

- ``request``: the whole ``POST /api/v1/submissions`` (what the server spends beside
  HTTP parsing, the database write included);
- ``request (no write)``: the same with the group committer's write replaced by a no-op,
  i.e. everything but the database write, and below it the same again with rate limits on
  (in memory), as production runs by default;
- ``auth``, ``json``, ``validate``, ``evaluate``, ``fingerprint``, ``jsonify``: the
  components alone.

With ``--code DIR`` (repeatable) each checkout is measured in its own subprocess with its
modules first on ``sys.path``, ``--rounds`` times in turn (each figure is the lowest of its
rounds); all are printed side by side, in one run. ``--profile N``
prints the top N functions of a cProfile of the no-write request loop instead.

Run: ``.venv/bin/python bench/request_cpu.py [--requests 3000] [--code BASE --code .]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if sys.path[0] == str(Path(__file__).resolve().parent):
    sys.path[0] = str(ROOT)  # bench/rules.py must not shadow the rules package


def _per_call_us(action: Callable[[], Any], count: int, batches: int = 5) -> float:
    """CPU microseconds per call of ``action``: the lowest of ``batches`` batches that
    share ``count`` calls (after a short warm-up)."""
    for _ in range(min(200, count)):
        action()
    size = max(1, count // batches)
    best = float("inf")
    for _ in range(batches):
        started = time.process_time()
        for _ in range(size):
            action()
        best = min(best, (time.process_time() - started) / size * 1e6)
    return best


def measure(count: int, profile: int) -> dict[str, float]:
    """Runs every measurement in this process (whose ``sys.path`` picks the checkout)."""
    import logging

    from screening import create_app
    from screening.services import accounts
    from screening.storage.db import app_state, upgrade
    from screening.storage.unit_of_work import session_scope
    from tests.api.bodies import example

    folder = tempfile.mkdtemp(prefix="screening-request-cpu-")
    url = f"sqlite:///{folder}/bench.db"
    logging.getLogger("alembic").setLevel(logging.WARNING)
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "RATE_LIMIT": "off", "LOG_LEVEL": "WARNING"})
    with session_scope(app, write=True) as session:
        clinic = accounts.create_clinic(session, slug="bench", name="Bench")
        key = accounts.create_intake_key(session, clinic, label="bench").token
    raw = json.dumps(example()).encode()
    environ_base = {
        "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/api/v1/submissions",
        "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(raw)),
        "HTTP_HOST": "127.0.0.1:8000", "HTTP_AUTHORIZATION": f"Bearer {key}",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }
    statuses: list[str] = []

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> None:
        statuses.append(status)

    def one_request(served: Any = app) -> None:
        environ = dict(environ_base)
        environ["wsgi.input"] = io.BytesIO(raw)
        for _chunk in served.wsgi_app(environ, start_response):
            pass
        if statuses.pop() != "201 CREATED":
            raise RuntimeError("the request was not created")

    results = {"request": _per_call_us(one_request, count)}
    committer = app_state(app).db.committer

    class _NoWrite:
        def submit(self, build: Any) -> None:
            return None

    database = app_state(app).db
    database.committer = _NoWrite()  # type: ignore[assignment]
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(count):
            one_request()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(profile)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(profile)
        return results
    results["request (no write)"] = _per_call_us(one_request, count)
    # The same with rate limits on (in memory, a limit no run reaches), as they are by
    # default in production; bench/ingest.py serves with them off.
    limited = create_app({"DATABASE_URL": url, "RATE_LIMIT": "1000000/minute",
                          "LOG_LEVEL": "WARNING"})
    app_state(limited).db.committer = _NoWrite()  # type: ignore[assignment]
    results["  with rate limit on"] = _per_call_us(lambda: one_request(limited), count)
    database.committer = committer
    results.update(_components(app, key, raw, count))
    return results


def _components(app: Any, key: str, raw: bytes, count: int) -> dict[str, float]:
    from flask import jsonify

    import rules
    from screening.intake.schemas import default_catalogue
    from screening.services import idempotency
    from screening.storage.db import app_state, utcnow
    from screening.web import auth

    database = app_state(app).db
    authorization = f"Bearer {key}"
    body = json.loads(raw)
    catalogue = default_catalogue()
    loaded = catalogue.load(body)
    today = utcnow().date()
    ruleset = rules.Ruleset.from_settings({})
    answer = {"id": "0" * 32, "status": "pending_review",
              "received_at": "2026-01-01T00:00:00.000000Z",
              "safety": {"show_crisis_resources": False, "message": None}}
    with app.test_request_context("/api/v1/submissions", method="POST", data=raw,
                                  content_type="application/json"):
        from screening.web.api._json import json_body

        def parse() -> Any:
            from flask import request

            request._cached_data = raw  # type: ignore[attr-defined]
            return json_body()

        return {
            "auth": _per_call_us(lambda: auth.resolve_principal(database, authorization),
                                 count),
            "json": _per_call_us(parse, count),
            "validate": _per_call_us(lambda: catalogue.load(body), count),
            "evaluate": _per_call_us(lambda: rules.evaluate(
                loaded["respondent"], loaded["answers"], today, ruleset), count),
            "fingerprint": _per_call_us(lambda: idempotency.fingerprint(body), count),
            "jsonify": _per_call_us(lambda: jsonify(answer), count),
        }


def main() -> None:
    """Measures this checkout, or each ``--code`` checkout in its own process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--code", type=Path, action="append", default=[],
                        help="a checkout to measure (repeatable; default: this one)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of each checkout, alternating; the lowest figure counts")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the top N functions of a cProfile instead")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json or args.profile or not args.code:
        results = measure(args.requests, args.profile)
        if args.json:
            print("RESULT " + json.dumps(results))
        elif not args.profile:
            _table({str(ROOT): results})
        return
    # Rounds alternate between the checkouts and each row keeps its lowest figure: on a
    # shared machine, other load only ever adds time.
    columns: dict[str, dict[str, float]] = {}
    for _ in range(args.rounds):
        for code in args.code:
            env = {**os.environ, "PYTHONPATH": f"{code.resolve()}{os.pathsep}{ROOT}",
                   "PYTHONDONTWRITEBYTECODE": "1"}
            done = subprocess.run([sys.executable, "-c", _CHILD, str(code.resolve()),
                                   str(args.requests), str(Path(__file__).resolve())],
                                  env=env, check=True,
                                  capture_output=True, text=True)
            line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1]
            result = json.loads(line.removeprefix("RESULT "))
            best = columns.setdefault(str(code.resolve()), result)
            for row, value in result.items():
                best[row] = min(best[row], value)
    _table(columns)


# The child imports this file from ROOT but the service from the checkout it measures.
_CHILD = """
import sys, json
code, count = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, code)
import importlib.util
spec = importlib.util.spec_from_file_location("request_cpu", sys.argv[3])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import screening
assert screening.__file__.startswith(code), screening.__file__
print("RESULT " + json.dumps(module.measure(count, 0)))
"""


def _table(columns: dict[str, dict[str, float]]) -> None:
    names = list(columns)
    print("CPU µs per call  " + "  ".join(f"{Path(n).name[-14:]:>14}" for n in names)
          + ("   ratio (last/first)" if len(names) > 1 else ""))
    for row in next(iter(columns.values())):
        values = [columns[n].get(row, float("nan")) for n in names]
        ratio = f"   {values[-1] / values[0]:.2f}" if len(values) > 1 else ""
        print(f"{row:<17}" + "  ".join(f"{v:14.1f}" for v in values) + ratio)


if __name__ == "__main__":
    main()
