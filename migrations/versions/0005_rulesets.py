"""Clinic rulesets: immutable settings versions, drafts, and the clinic's active version.

``ruleset_versions`` holds one immutable row per clinic and version (1, 2, ...) with the
settings the clinic set; ``ruleset_drafts`` holds proposed changes until one is activated;
``clinics.ruleset_version`` names the active version. Each clinic's crisis message moves
from ``clinics.crisis_message`` into its settings version 1 (a clinic without one gets an
empty version 1: every setting at its default).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:30:00
"""

import datetime as dt
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_clinics = sa.table(
    "clinics", sa.column("id", sa.String), sa.column("crisis_message", sa.Text),
    sa.column("ruleset_version", sa.Integer),
)
_versions = sa.table(
    "ruleset_versions", sa.column("id", sa.String), sa.column("clinic_id", sa.String),
    sa.column("version", sa.Integer), sa.column("settings", _JSON),
    sa.column("activated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "ruleset_drafts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("clinic_id", sa.String(length=36), nullable=False),
        sa.Column("settings", _JSON, nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"],
                                name=op.f("fk_ruleset_drafts_clinic_id_clinics")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_ruleset_drafts_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ruleset_drafts")),
    )
    op.create_index(op.f("ix_ruleset_drafts_clinic_id"), "ruleset_drafts", ["clinic_id"],
                    unique=False)
    op.create_table(
        "ruleset_versions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("clinic_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("settings", _JSON, nullable=False),
        sa.Column("draft_id", sa.String(length=36), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_by", sa.String(length=36), nullable=True),
        sa.CheckConstraint("version >= 1", name=op.f("ck_ruleset_versions_version")),
        sa.ForeignKeyConstraint(["activated_by"], ["users.id"],
                                name=op.f("fk_ruleset_versions_activated_by_users")),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"],
                                name=op.f("fk_ruleset_versions_clinic_id_clinics")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ruleset_versions")),
        sa.UniqueConstraint("clinic_id", "version",
                            name=op.f("uq_ruleset_versions_clinic_id_version")),
    )
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(
            sa.Column("ruleset_version", sa.Integer(), server_default="1", nullable=False)
        )
    connection = op.get_bind()
    now = dt.datetime.now(dt.UTC)
    if connection.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # as screening.storage.db.UTCDateTime stores it
    rows = [
        {"id": str(uuid.uuid4()), "clinic_id": clinic_id, "version": 1,
         "settings": {"crisis_message": message} if message else {}, "activated_at": now}
        for clinic_id, message in connection.execute(
            sa.select(_clinics.c.id, _clinics.c.crisis_message))
    ]
    if rows:
        op.bulk_insert(_versions, rows)
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("crisis_message")


def downgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(sa.Column("crisis_message", sa.Text(), nullable=True))
    connection = op.get_bind()
    active = connection.execute(
        sa.select(_versions.c.clinic_id, _versions.c.settings)
        .join(_clinics, _clinics.c.id == _versions.c.clinic_id)
        .where(_versions.c.version == _clinics.c.ruleset_version)
    )
    for clinic_id, settings in active:
        message = (settings or {}).get("crisis_message")
        if message:
            connection.execute(
                _clinics.update().where(_clinics.c.id == clinic_id)
                .values(crisis_message=message)
            )
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("ruleset_version")
    op.drop_table("ruleset_versions")
    op.drop_index(op.f("ix_ruleset_drafts_clinic_id"), table_name="ruleset_drafts")
    op.drop_table("ruleset_drafts")
