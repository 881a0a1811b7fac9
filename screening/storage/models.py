"""All tables of the service. Migrations (``migrations/versions``) are the only way the
schema is made; ``alembic check`` against this module must find no difference.

Enumerated columns are short strings guarded by CHECK constraints (portable across SQLite
and PostgreSQL and cheap to extend in a migration).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from screening.storage.db import Base, UTCDateTime, utcnow
from screening.storage.ids import uuid7_str

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first audit event and the initial chain head."""

JsonDocument = JSON().with_variant(JSONB(), "postgresql")
# SQLite only autoincrements an INTEGER PRIMARY KEY.
BigIntegerPK = BigInteger().with_variant(Integer(), "sqlite")


def new_id() -> str:
    """A new primary key: a time-ordered UUID (version 7) string of 36 characters."""
    return uuid7_str()


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


USER_ROLES = ("clinician", "admin")
SUBMISSION_STATUSES = ("pending_review", "in_review", "decided")
PRIORITIES = ("critical", "urgent", "high", "routine")
IDEMPOTENCY_STATUSES = ("in_flight", "completed")
ACTOR_TYPES = ("intake_key", "user", "anonymous", "system")
AUDIT_OUTCOMES = ("success", "denied", "error")
DECISION_OUTCOMES = (
    "proceed_to_consultation",
    "not_suitable",
    "needs_more_information",
    "refer_to_crisis_services",
)
OPEN_STATUSES = ("pending_review", "in_review")


class Clinic(Base):
    """A tenant: owns keys, users and submissions; nothing crosses clinics."""

    __tablename__ = "clinics"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The active ``RulesetVersion.version``: an activation bumps it, and every app server's
    # cached ruleset is checked against it (screening.services.rulesets).
    ruleset_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class RulesetVersion(Base):
    """One immutable version of a clinic's ruleset settings (shared spec §10).

    ``settings`` holds only what the clinic set; every other setting is the code's
    default (``rules.SETTINGS``). Activation adds a row; no row is ever changed.
    """

    __tablename__ = "ruleset_versions"
    __table_args__ = (
        UniqueConstraint("clinic_id", "version"),
        CheckConstraint("version >= 1", name="version"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"))
    version: Mapped[int] = mapped_column(Integer)
    settings: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    draft_id: Mapped[str | None] = mapped_column(String(36))
    activated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    activated_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))


class RulesetDraft(Base):
    """Proposed changes (a partial settings map) over a clinic's active ruleset; shadowed
    over past submissions before it is activated, at most once."""

    __tablename__ = "ruleset_drafts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    activated_version: Mapped[int | None] = mapped_column(Integer)


class IntakeKey(Base):
    """A clinic's intake source credential (``ik_<public_id>_<secret>``)."""

    __tablename__ = "intake_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    label: Mapped[str | None] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class User(Base):
    """A clinician or admin of one clinic."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("clinic_id", "email"),
        CheckConstraint(_in("role", USER_ROLES), name="role"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Review console sign-in (screening.web.console): an argon2 hash, a TOTP secret confirmed
    # by a first valid code, the last accepted TOTP time step (a code is never accepted
    # twice), and a generation that signing out bumps so every earlier cookie is dead.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApiToken(Base):
    """A user's personal API token (``ut_<public_id>_<secret>``)."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Submission(Base):
    """A completed questionnaire with its stored evaluation and review state.

    ``version`` starts at 1 and is bumped on every change; the ETag derives from it.
    """

    __tablename__ = "submissions"
    __table_args__ = (
        Index(
            "ix_submissions_review_order",
            "clinic_id",
            "status",
            "priority_rank",
            "received_at",
            "id",
        ),
        Index("ix_submissions_listing", "clinic_id", "received_at", "id"),
        # Listing filtered by status, newest first (migration 0004).
        Index("ix_submissions_status_listing", "clinic_id", "status", "received_at", "id"),
        # Open submissions only, in review order: ``queue/next`` walks it from the front.
        Index(
            "ix_submissions_open_queue",
            "clinic_id",
            "priority_rank",
            "received_at",
            "id",
            postgresql_where=text(_in("status", OPEN_STATUSES)),
            sqlite_where=text(_in("status", OPEN_STATUSES)),
        ),
        # Open critical and urgent submissions: what the worker's escalation job scans.
        Index(
            "ix_submissions_open_crisis",
            "priority_rank",
            "received_at",
            postgresql_where=text(_in("status", OPEN_STATUSES) + " AND priority_rank <= 1"),
            sqlite_where=text(_in("status", OPEN_STATUSES) + " AND priority_rank <= 1"),
        ),
        CheckConstraint(_in("status", SUBMISSION_STATUSES), name="status"),
        CheckConstraint(_in("priority", PRIORITIES), name="priority"),
        CheckConstraint("priority_rank BETWEEN 0 AND 3", name="priority_rank"),
        CheckConstraint("version >= 1", name="version"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"))
    questionnaire_id: Mapped[str] = mapped_column(String(100))
    questionnaire_version: Mapped[str] = mapped_column(String(32))
    respondent: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    answers: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    evaluation: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    ruleset_version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), default="pending_review")
    priority: Mapped[str] = mapped_column(String(16))
    priority_rank: Mapped[int] = mapped_column(SmallInteger)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    claimed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    claim_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    # How many times ``submission.escalated`` was raised for it (screening.notify.escalation).
    # A server default only: the ingest driver's INSERT need not name it.
    escalation_level: Mapped[int] = mapped_column(Integer, server_default="0")

    decision: Mapped[Decision | None] = relationship(back_populates="submission")
    notes: Mapped[list[Note]] = relationship(
        back_populates="submission", order_by="(Note.created_at, Note.id)"
    )


class IdempotencyRecord(Base):
    """The first response to an ``Idempotency-Key`` of a clinic, replayed on retries."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        UniqueConstraint("clinic_id", "key"),
        CheckConstraint(_in("status", IDEMPOTENCY_STATUSES), name="status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="in_flight")
    response_status: Mapped[int | None] = mapped_column(SmallInteger)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    submission_id: Mapped[str | None] = mapped_column(ForeignKey("submissions.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class Decision(Base):
    """A clinician's final decision on a submission (one per submission, never changed;
    corrections are notes). Keeps the ruleset version the decided-on evaluation was made
    with."""

    __tablename__ = "decisions"
    __table_args__ = (CheckConstraint(_in("outcome", DECISION_OUTCOMES), name="outcome"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), unique=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(32))
    rationale: Mapped[str | None] = mapped_column(Text)
    acknowledged_flags: Mapped[list[str]] = mapped_column(JsonDocument)
    decided_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ruleset_version: Mapped[str] = mapped_column(String(32))

    submission: Mapped[Submission] = relationship(back_populates="decision")


class Note(Base):
    """A clinician's free-text note on a submission; append-only."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_submission", "submission_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"))
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="notes")


class AuditEvent(Base):
    """One append-only audit event (see ``screening.storage.audit``). A request inserts it unsealed
    (``seq``, ``prev_hash`` and ``hash`` NULL); the sealer later gives it its place in the
    hash chain. ``id`` is the insertion order only, never part of the chain."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_object", "object_type", "object_id"),
        Index("ix_audit_events_unsealed", "id", sqlite_where=text("seq IS NULL"),
              postgresql_where=text("seq IS NULL")),
        CheckConstraint(_in("actor_type", ACTOR_TYPES), name="actor_type"),
        CheckConstraint(_in("outcome", AUDIT_OUTCOMES), name="outcome"),
    )

    id: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    clinic_id: Mapped[str | None] = mapped_column(ForeignKey("clinics.id"), index=True)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """The single row (id 1) holding the last sealed event's seq and hash; the sealer
    locks it so the chain never forks."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)


class AuditCheckpoint(Base):
    """A signed statement of the chain's head at one moment (see
    ``screening.storage.checkpoints``): Ed25519 over ``"<seq>.<hash>.<signed_at>"``."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(88))


WEBHOOK_EVENT_TYPES = ("submission.created", "submission.escalated", "submission.decided")
"""Event types an endpoint can subscribe to; ``webhook.test`` goes to its one endpoint."""
WEBHOOK_ALL_EVENT_TYPES = (*WEBHOOK_EVENT_TYPES, "webhook.test")
DELIVERY_STATES = ("pending", "delivered", "failed", "cancelled")


class WebhookEndpoint(Base):
    """A clinic's webhook receiver. The secret must sign every delivery, so it is kept as
    issued (not hashed); during a rotation the previous one signs too until it expires."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint(_in("min_priority", PRIORITIES), name="min_priority"),
        Index("ix_webhook_endpoints_clinic", "clinic_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"))
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JsonDocument)
    min_priority: Mapped[str] = mapped_column(String(16), default="routine")
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class WebhookEvent(Base):
    """The transactional outbox: one row per event, written in the transaction of the
    change it reports. The worker fans it out into deliveries (``dispatched_at``)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        CheckConstraint(_in("type", WEBHOOK_ALL_EVENT_TYPES), name="type"),
        # Undispatched events only, oldest first: what the worker scans every tick.
        Index(
            "ix_webhook_events_undispatched",
            "seq",
            postgresql_where=text("dispatched_at IS NULL"),
            sqlite_where=text("dispatched_at IS NULL"),
        ),
    )

    seq: Mapped[int] = mapped_column(BigIntegerPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"))
    submission_id: Mapped[str | None] = mapped_column(String(36))
    priority: Mapped[str | None] = mapped_column(String(16))
    # Set for an event meant for one endpoint only (``webhook.test``).
    endpoint_id: Mapped[str | None] = mapped_column(String(36))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """One event for one endpoint: its state, attempts and the last outcome. A worker
    sending it has pushed ``next_attempt_at`` past the attempt's end (a lease), so no
    other worker takes it meanwhile, and a worker that dies leaves it to be retried."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_in("state", DELIVERY_STATES), name="state"),
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_log", "endpoint_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id"))
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(SmallInteger)
    last_error: Mapped[str | None] = mapped_column(String(32))
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    first_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    event: Mapped[WebhookEvent] = relationship()


class WorkerLease(Base):
    """A named lease: on SQLite the one worker holding ``worker`` works, others idle."""

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
