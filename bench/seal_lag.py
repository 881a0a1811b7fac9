"""How long audit events wait to be sealed while a benchmarked service runs: the
service's own worker (started by ``screening serve``) seals them; this only reads the
age of the oldest waiting event on ``DATABASE_URL`` every ``SEAL_INTERVAL_SECONDS``. On
SIGTERM it prints one JSON line: samples, the largest and the 99th percentile of those
ages (seconds), and the waiting events left.

Run: ``.venv/bin/python bench/seal_lag.py`` (with ``DATABASE_URL`` set).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType

sys.path[0] = str(Path(__file__).resolve().parents[1])

from screening import create_app  # noqa: E402
from screening.server.sealer import SEAL_INTERVAL_SECONDS  # noqa: E402
from screening.storage import audit  # noqa: E402
from screening.storage.db import app_state, utcnow  # noqa: E402

_stop = False


def _on_term(_signum: int, _frame: FrameType | None) -> None:
    global _stop
    _stop = True


def main() -> None:
    """Samples until SIGTERM, then prints what it measured."""
    signal.signal(signal.SIGTERM, _on_term)
    state = app_state(create_app({"RATE_LIMIT": "off"}))
    ages: list[float] = []
    while not _stop:
        started = time.monotonic()
        with state.db.read_sessions() as session:
            ages.append(audit.backlog(session).oldest_age_seconds(utcnow()))
        time.sleep(max(0.0, SEAL_INTERVAL_SECONDS - (time.monotonic() - started)))
    with state.db.read_sessions() as session:
        left = audit.backlog(session).count
    ordered = sorted(ages) or [0.0]
    print(json.dumps({"samples": len(ages), "max_wait_s": ordered[-1],
                      "p99_wait_s": ordered[int(0.99 * (len(ordered) - 1))],
                      "waiting": left}), flush=True)


if __name__ == "__main__":
    main()
