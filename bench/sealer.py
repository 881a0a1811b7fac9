"""The audit sealer beside a benchmarked service: runs ``seal_job`` every
``SEAL_INTERVAL_SECONDS`` on ``DATABASE_URL``, as the worker does, and measures how long
events wait to be sealed. After a first run (the backlog from before the load), it reads
the age of the oldest waiting event before each run;
on SIGTERM it prints one JSON line: runs, events sealed, the largest and the 99th
percentile of those ages (seconds), and the waiting events left.

Run: ``.venv/bin/python bench/sealer.py`` (with ``DATABASE_URL`` set).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType

sys.path[0] = str(Path(__file__).resolve().parents[1])

from screening import audit, create_app  # noqa: E402
from screening.audit_sealer import SEAL_INTERVAL_SECONDS, seal_job  # noqa: E402
from screening.db import app_state, utcnow  # noqa: E402

_stop = False


def _on_term(_signum: int, _frame: FrameType | None) -> None:
    global _stop
    _stop = True


def main() -> None:
    """Seals until SIGTERM, then prints what it measured."""
    signal.signal(signal.SIGTERM, _on_term)
    state = app_state(create_app({"RATE_LIMIT": "off"}))
    ages: list[float] = []
    sealed = seal_job(state)  # what waited before the load began is not measured
    while not _stop:
        started = time.monotonic()
        with state.db.read_sessions() as session:
            ages.append(audit.backlog(session).oldest_age_seconds(utcnow()))
        sealed += seal_job(state)
        time.sleep(max(0.0, SEAL_INTERVAL_SECONDS - (time.monotonic() - started)))
    with state.db.read_sessions() as session:
        left = audit.backlog(session).count
    ordered = sorted(ages) or [0.0]
    print(json.dumps({"runs": len(ages), "sealed": sealed, "max_wait_s": ordered[-1],
                      "p99_wait_s": ordered[int(0.99 * (len(ordered) - 1))],
                      "waiting": left}), flush=True)


if __name__ == "__main__":
    main()
