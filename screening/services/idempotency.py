"""``Idempotency-Key`` for submissions (shared spec §5), backed by the database.

The UNIQUE (clinic_id, key) constraint is the only arbiter; nothing is checked before it
is inserted, so parallel requests with one key cannot both win.

1. ``begin`` inserts an ``in_flight`` record and commits it at once, so that concurrent
   requests see it. Losing the insert means another request owns the key: its record
   decides the answer (different body → 422, still in flight → 409, completed → replay).
2. The caller creates the submission and calls ``complete`` in the same transaction, so
   the submission and the stored response are committed together or not at all.

``claim`` is step 1 in the caller's unit of work, which it commits (by the group
committer, the insert shares a commit with concurrent requests); losing it raises the
same IntegrityError, and ``answer_from_owner`` decides as above.

A worker that dies between the two steps leaves an ``in_flight`` record; after
``ABANDONED_AFTER`` another request may take it over with a conditional UPDATE (only one
can). A record past ``expires_at`` (at least 24 h) is reused the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from screening.errors import Conflict, Unprocessable
from screening.storage.models import IdempotencyRecord, new_id
from screening.storage.unit_of_work import UnitOfWork

HEADER = "Idempotency-Key"
KEEP_FOR = dt.timedelta(hours=24)
ABANDONED_AFTER = dt.timedelta(seconds=60)
_KEY = re.compile(r"[!-~]{1,255}")


@dataclass(frozen=True, slots=True)
class Replay:
    """The stored first response to a key."""

    status: int
    body: dict[str, Any]
    submission_id: str | None


def check_key(raw: str | None) -> str | None:
    """The header's key, None when absent; 422 naming the header unless it is 1 to 255
    printable ASCII characters (no spaces)."""
    if raw is None:
        return None
    if not _KEY.fullmatch(raw):
        raise Unprocessable(
            {HEADER: ["Must be 1 to 255 printable ASCII characters without spaces."]},
            "The Idempotency-Key header is invalid.",
        )
    return raw


def fingerprint(body: Any) -> str:
    """sha256 (hex) of the canonical JSON of a parsed request body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def claim(uow: UnitOfWork, clinic_id: str, key: str, fingerprint: str,
          now: dt.datetime) -> str | None:
    """Inserts the key's in-flight record and commits ``uow``, so concurrent requests see
    it before the work starts: the record's id, or None when another request
    owns the key (then ask ``answer_from_owner``). The UNIQUE (clinic_id, key) constraint
    decides, never a check-then-insert."""
    row = {"id": new_id(), "clinic_id": clinic_id, "key": key, "fingerprint": fingerprint,
           "status": "in_flight", "response_status": None, "response_body": None,
           "submission_id": None, "created_at": now, "expires_at": now + KEEP_FOR}

    uow.insert(IdempotencyRecord.__table__, row)  # type: ignore[arg-type]
    try:
        uow.commit()
    except IntegrityError:
        return None
    return str(row["id"])


def answer_from_owner(session: Session, clinic_id: str, key: str, fingerprint: str,
                      now: dt.datetime) -> IdempotencyRecord | Replay:
    """The answer when another request owns ``key``: a replay, 422, 409, or the record
    taken over (committed) when the owner abandoned it."""
    owner = session.scalars(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.clinic_id == clinic_id, IdempotencyRecord.key == key)
        .execution_options(populate_existing=True)
    ).one()
    if owner.expires_at > now and owner.fingerprint != fingerprint:
        raise Unprocessable(
            {HEADER: ["This key was already used with a different request body."]},
            "The Idempotency-Key was already used with a different request body.",
        )
    stored = owner.response_status is not None and owner.response_body is not None
    if owner.status == "completed" and stored and owner.expires_at > now:
        return Replay(owner.response_status, owner.response_body, owner.submission_id)  # type: ignore[arg-type]
    if _take_over(session, owner.id, fingerprint, now):
        session.refresh(owner)
        return owner
    raise Conflict(
        "A request with this Idempotency-Key is still being processed; retry later.",
        headers={"Retry-After": "1"},
    )


def _take_over(session: Session, record_id: str, fingerprint: str, now: dt.datetime) -> bool:
    """Claims an abandoned or expired record; True for exactly one caller."""
    table = IdempotencyRecord
    reusable = or_(
        and_(table.status == "in_flight", table.created_at < now - ABANDONED_AFTER),
        table.expires_at <= now,
    )
    result = session.execute(
        update(table)
        .where(table.id == record_id, reusable)
        .values(status="in_flight", fingerprint=fingerprint, created_at=now,
                expires_at=now + KEEP_FOR, response_status=None, response_body=None,
                submission_id=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


def release_id(session: Session, record_id: str) -> None:
    """Drops an in-flight record whose request failed, so a retry need not wait for
    ``ABANDONED_AFTER``. Commits."""
    session.execute(
        delete(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id, IdempotencyRecord.status == "in_flight")
        .execution_options(synchronize_session=False)
    )
    session.commit()
