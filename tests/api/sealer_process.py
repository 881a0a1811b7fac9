"""A sealer in a process of its own, for the kill -9 drill in ``test_audit_sealing``.

``python -m tests.api.sealer_process BATCH`` runs ``seal_job`` in a loop on
``DATABASE_URL`` until it is killed, sealing ``BATCH`` events per transaction (a small
batch means many short transactions, so a kill most likely lands inside one).
"""

from __future__ import annotations

import sys

from screening import create_app
from screening.server.sealer import seal_job
from screening.storage import audit
from screening.storage.db import app_state


def main() -> None:
    """Seals forever."""
    audit.SEAL_BATCH = int(sys.argv[1])
    state = app_state(create_app({"RATE_LIMIT": "off"}))
    while True:
        seal_job(state)


if __name__ == "__main__":
    main()
