"""Audit events are inserted unsealed and sealed into the chain later; signed checkpoints.

A request used to lock the chain head to append its events, so every write of every app
server queued on one row. Now a request inserts its events with ``seq``, ``prev_hash``
and ``hash`` NULL, and the sealer assigns them in insertion order (``id``, the former
``seq`` column renamed, so the order of existing events is kept; on PostgreSQL its
sequence is moved past them). Existing events keep
their ``seq`` and ``hash`` unchanged (``id`` is not hashed), so the chain verifies as
before. ``audit_checkpoints`` holds the signed heads.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("seq", new_column_name="id", existing_type=_ID,
                           existing_nullable=False)
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=True)
        batch.alter_column("hash", existing_type=sa.String(64), nullable=True)
    op.execute("UPDATE audit_events SET seq = id")
    if op.get_bind().dialect.name == "postgresql":
        # The locked append gave seq explicitly, so the column's sequence never moved; the
        # next id must follow the existing events.
        op.execute("SELECT setval(pg_get_serial_sequence('audit_events', 'id'), "
                   "COALESCE(MAX(id), 0) + 1, false) FROM audit_events")
    with op.batch_alter_table("audit_events") as batch:
        batch.create_unique_constraint("uq_audit_events_seq", ["seq"])
        batch.create_index("ix_audit_events_unsealed", ["id"], unique=False,
                           sqlite_where=sa.text("seq IS NULL"),
                           postgresql_where=sa.text("seq IS NULL"))
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=88), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )


def downgrade() -> None:
    unsealed = op.get_bind().execute(
        sa.text("SELECT COUNT(*) FROM audit_events WHERE seq IS NULL")).scalar_one()
    if unsealed:
        raise RuntimeError(f"{unsealed} audit events are not sealed yet: run the sealer, "
                           "then downgrade")
    op.drop_table("audit_checkpoints")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("ix_audit_events_unsealed")
        batch.drop_constraint("uq_audit_events_seq", type_="unique")
    op.execute("UPDATE audit_events SET id = seq")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("seq")
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(64), nullable=False)
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("id", new_column_name="seq", existing_type=_ID,
                           existing_nullable=False)
