"""Clinician review: decisions, notes, and a partial index of the open queue.

``decisions`` holds one final decision per submission (unique ``submission_id``);
``notes`` is append-only. ``ix_submissions_open_queue`` covers only open submissions in
review order, so ``POST /queue/next`` finds the next candidate without sorting the queue
(partial indexes: PostgreSQL ``WHERE``, SQLite ``WHERE`` since 3.8).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('pending_review', 'in_review')"
OUTCOMES = (
    "outcome IN ('proceed_to_consultation', 'not_suitable', 'needs_more_information', "
    "'refer_to_crisis_services')"
)
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("submission_id", sa.String(length=36), nullable=False),
        sa.Column("clinic_id", sa.String(length=36), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("acknowledged_flags", JSON_DOCUMENT, nullable=False),
        sa.Column("decided_by", sa.String(length=36), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ruleset_version", sa.String(length=32), nullable=False),
        sa.CheckConstraint(OUTCOMES, name=op.f("ck_decisions_outcome")),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_decisions_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_decisions_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_decisions_submission_id_submissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.UniqueConstraint("submission_id", name=op.f("uq_decisions_submission_id")),
    )
    op.create_index(op.f("ix_decisions_clinic_id"), "decisions", ["clinic_id"], unique=False)

    op.create_table(
        "notes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("submission_id", sa.String(length=36), nullable=False),
        sa.Column("clinic_id", sa.String(length=36), nullable=False),
        sa.Column("author_id", sa.String(length=36), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_notes_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_notes_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_notes_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index(op.f("ix_notes_clinic_id"), "notes", ["clinic_id"], unique=False)
    op.create_index(
        "ix_notes_submission", "notes", ["submission_id", "created_at", "id"], unique=False
    )

    op.create_index(
        "ix_submissions_open_queue",
        "submissions",
        ["clinic_id", "priority_rank", "received_at", "id"],
        unique=False,
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_submissions_open_queue", table_name="submissions")
    op.drop_index("ix_notes_submission", table_name="notes")
    op.drop_index(op.f("ix_notes_clinic_id"), table_name="notes")
    op.drop_table("notes")
    op.drop_index(op.f("ix_decisions_clinic_id"), table_name="decisions")
    op.drop_table("decisions")
