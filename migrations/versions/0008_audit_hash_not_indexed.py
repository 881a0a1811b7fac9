"""The audit events' ``hash`` column loses its unique index.

Sealing writes each event's hash, a SHA-256 that lands on a random page of that index:
sealing 1,000 events wrote 553 pages to SQLite's write-ahead log with the index and 93
without it, at 56.5 against 38.9 µs of the sealer's CPU per event, on a log of 20,000
sealed events (``bench/seal_pages.py``, one run); the pages grow with the log. No query
looks events up by hash, and what the index promised proves nothing: ``screening audit
verify`` recomputes every hash from its event and the one before, which any edit breaks.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 15:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_constraint("uq_audit_events_hash", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.create_unique_constraint("uq_audit_events_hash", ["hash"])
