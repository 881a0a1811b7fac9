"""The worker job that seals waiting audit events into the chain and signs checkpoints.

Requests only insert their audit events (``screening.storage.audit``); this job, run by the
worker every ``SEAL_INTERVAL_SECONDS``, gives them their place in the hash chain,
``audit.SEAL_BATCH`` events at a time, so an event is sealed within about two seconds of
the write it records. Each batch is planned (read and hashed) outside any write
transaction and written in a short one (``audit.plan_seal``, ``audit.apply_seal``): on
SQLite the writer lock that requests wait for is held only for the writes. A killed job
loses nothing: its open transaction rolls back and the events wait for the next run.
Several sealers (one per worker) may run at once; the chain head lock makes them take
turns, and a plan made after a head another sealer has since moved is made again.

Whenever the chain has grown and the last checkpoint is ``CHECKPOINT_INTERVAL`` old (or
there is none), the job signs a new one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from screening.storage import audit
from screening.storage import checkpoints as audit_checkpoints
from screening.storage.db import AppState, utcnow
from screening.storage.models import AuditChainHead, AuditCheckpoint

SEAL_INTERVAL_SECONDS = 1.0
CHECKPOINT_INTERVAL = dt.timedelta(seconds=60)
MAX_BATCHES_PER_RUN = 50  # a run ends even under a flood, so other jobs get their turn


def seal_job(state: AppState) -> int:
    """Seals the events waiting now (up to ``MAX_BATCHES_PER_RUN`` batches), signs a
    checkpoint when one is due, and returns how many events it sealed."""
    sealed = 0
    with state.db.read_sessions() as session:
        waiting = audit.backlog(session).count
    for _ in range(MAX_BATCHES_PER_RUN if waiting else 0):
        with state.db.read_sessions() as session:
            plan = audit.plan_seal(session, batch=audit.SEAL_BATCH)
        if plan is None:
            break
        with state.db.write_sessions.begin() as session:
            count = audit.apply_seal(session, plan)
        sealed += count
        if count and count < audit.SEAL_BATCH:
            break
    with state.db.read_sessions() as session:
        due = _checkpoint_due(session, utcnow())
    if due:
        key = audit_checkpoints.SigningKey.from_seed(state.settings.audit_signing_key)
        with state.db.write_sessions.begin() as session:
            audit_checkpoints.sign(session, key)
    return sealed


def _checkpoint_due(session: Session, now: dt.datetime) -> bool:
    """True when the chain has grown since the last checkpoint and that one is
    ``CHECKPOINT_INTERVAL`` old, or there is none."""
    last_seq = session.scalar(select(AuditChainHead.last_seq).where(AuditChainHead.id == 1))
    last = session.execute(
        select(AuditCheckpoint.seq, AuditCheckpoint.signed_at)
        .order_by(AuditCheckpoint.id.desc()).limit(1)).first()
    if last is None:
        return bool(last_seq)
    return bool(last_seq and last_seq > last.seq and now - last.signed_at >= CHECKPOINT_INTERVAL)
