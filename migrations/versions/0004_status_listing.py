"""An index for listing submissions by status, newest first.

``GET /api/v1/submissions?status=…`` filters on status and orders by
``received_at DESC, id DESC``. The listing index (clinic_id, received_at, id) alone makes
a rare status (say ``in_review``, 1 % of a clinic's history) read thousands of rows per
page; (clinic_id, status, received_at, id) reads just the page.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 18:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_submissions_status_listing",
        "submissions",
        ["clinic_id", "status", "received_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_submissions_status_listing", table_name="submissions")
