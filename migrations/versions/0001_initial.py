"""Initial schema: clinics, credentials, submissions, idempotency records, audit chain.

Generated with autogenerate against screening.storage.models, then reviewed: indexes created
without batch mode (plain CREATE INDEX works on every engine), the audit chain head seeded
with its single genesis row.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 19:27:26.027973
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

GENESIS_HASH = "0" * 64

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_chain_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_audit_chain_head_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_head'))
    )
    chain_head = sa.table(
        'audit_chain_head',
        sa.column('id', sa.Integer()),
        sa.column('last_seq', sa.BigInteger()),
        sa.column('last_hash', sa.String()),
    )
    op.bulk_insert(chain_head, [{'id': 1, 'last_seq': 0, 'last_hash': GENESIS_HASH}])
    op.create_table('clinics',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('slug', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('crisis_message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinics')),
    sa.UniqueConstraint('slug', name=op.f('uq_clinics_slug'))
    )
    op.create_table('audit_events',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('clinic_id', sa.String(length=36), nullable=True),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=True),
    sa.Column('object_id', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint("actor_type IN ('intake_key', 'user', 'anonymous', 'system')", name=op.f('ck_audit_events_actor_type')),
    sa.CheckConstraint("outcome IN ('success', 'denied', 'error')", name=op.f('ck_audit_events_outcome')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_audit_events_clinic_id_clinics')),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_events_hash'))
    )
    op.create_index(op.f('ix_audit_events_clinic_id'), 'audit_events', ['clinic_id'], unique=False)
    op.create_index('ix_audit_events_object', 'audit_events', ['object_type', 'object_id'], unique=False)

    op.create_table('intake_keys',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('clinic_id', sa.String(length=36), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_intake_keys_clinic_id_clinics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_keys')),
    sa.UniqueConstraint('public_id', name=op.f('uq_intake_keys_public_id'))
    )
    op.create_index(op.f('ix_intake_keys_clinic_id'), 'intake_keys', ['clinic_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('clinic_id', sa.String(length=36), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('clinician', 'admin')", name=op.f('ck_users_role')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_users_clinic_id_clinics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('clinic_id', 'email', name=op.f('uq_users_clinic_id_email'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('public_id', name=op.f('uq_api_tokens_public_id'))
    )
    op.create_index(op.f('ix_api_tokens_user_id'), 'api_tokens', ['user_id'], unique=False)

    op.create_table('submissions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('clinic_id', sa.String(length=36), nullable=False),
    sa.Column('questionnaire_id', sa.String(length=100), nullable=False),
    sa.Column('questionnaire_version', sa.String(length=32), nullable=False),
    sa.Column('respondent', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('answers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('evaluation', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('ruleset_version', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('priority_rank', sa.SmallInteger(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=36), nullable=True),
    sa.Column('claim_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.CheckConstraint("priority IN ('critical', 'urgent', 'high', 'routine')", name=op.f('ck_submissions_priority')),
    sa.CheckConstraint("status IN ('pending_review', 'in_review', 'decided')", name=op.f('ck_submissions_status')),
    sa.CheckConstraint('priority_rank BETWEEN 0 AND 3', name=op.f('ck_submissions_priority_rank')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_submissions_version')),
    sa.ForeignKeyConstraint(['claimed_by'], ['users.id'], name=op.f('fk_submissions_claimed_by_users')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_submissions_clinic_id_clinics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submissions'))
    )
    op.create_index('ix_submissions_listing', 'submissions', ['clinic_id', 'received_at', 'id'], unique=False)
    op.create_index('ix_submissions_review_order', 'submissions', ['clinic_id', 'status', 'priority_rank', 'received_at', 'id'], unique=False)

    op.create_table('idempotency_records',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('clinic_id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('response_status', sa.SmallInteger(), nullable=True),
    sa.Column('response_body', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('submission_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('in_flight', 'completed')", name=op.f('ck_idempotency_records_status')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_idempotency_records_clinic_id_clinics')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_idempotency_records_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_records')),
    sa.UniqueConstraint('clinic_id', 'key', name=op.f('uq_idempotency_records_clinic_id_key'))
    )
    op.create_index(op.f('ix_idempotency_records_expires_at'), 'idempotency_records', ['expires_at'], unique=False)



def downgrade() -> None:
    op.drop_index(op.f('ix_idempotency_records_expires_at'), table_name='idempotency_records')

    op.drop_table('idempotency_records')
    op.drop_index('ix_submissions_review_order', table_name='submissions')
    op.drop_index('ix_submissions_listing', table_name='submissions')

    op.drop_table('submissions')
    op.drop_index(op.f('ix_api_tokens_user_id'), table_name='api_tokens')

    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_index(op.f('ix_intake_keys_clinic_id'), table_name='intake_keys')

    op.drop_table('intake_keys')
    op.drop_index('ix_audit_events_object', table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_clinic_id'), table_name='audit_events')

    op.drop_table('audit_events')
    op.drop_table('clinics')
    op.drop_table('audit_chain_head')
