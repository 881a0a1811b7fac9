"""The review queue (read-only): open submissions in review order (shared spec §3).

Review order is priority (``priority_rank`` 0 = critical first), then oldest
``received_at``, then id. Each open status is read with its own range scan of the review
index (clinic_id, status, priority_rank, received_at, id) and the two runs are merged, so a
page never sorts the whole queue.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.orm import Session, defer

from rules import Priority
from screening.services import shapes
from screening.services.paging import Page, as_int, as_str, as_time, decode_cursor, paginate
from screening.storage.models import Submission

OPEN_STATUSES = ("pending_review", "in_review")
CLAIMED_FILTERS = ("me", "unclaimed")


def review_key(submission: Submission) -> tuple[int, dt.datetime, str]:
    """The sort key of review order."""
    return (submission.priority_rank, submission.received_at, submission.id)


def list_queue(session: Session, clinic_id: str, *, priority: str | None, limit: int,
               cursor: str | None, now: dt.datetime, claimed: str | None = None,
               user_id: str | None = None) -> Page[dict[str, Any]]:
    """One page of the clinic's open submissions in review order, as summaries.

    ``priority`` must already be one of ``screening.storage.models.PRIORITIES`` and ``claimed``
    one of ``CLAIMED_FILTERS``: ``me`` keeps the live claims of ``user_id``,
    ``unclaimed`` those nobody holds a live claim on (expired leases included).
    """
    after = decode_cursor(cursor, (as_int, as_time, as_str))
    runs = [_open_run(session, clinic_id, status, priority, after, limit + 1, extra)
            for status, extra in _claim_runs(claimed, user_id, now)]
    merged = list(heapq.merge(*runs, key=review_key))[: limit + 1]
    page = paginate(merged, limit, review_key)
    return Page([shapes.summary(s, now) for s in page.items], page.next_cursor)


def _claim_runs(claimed: str | None, user_id: str | None, now: dt.datetime
                ) -> list[tuple[str, list[ColumnElement[bool]]]]:
    """The statuses to scan for a ``claimed`` filter, each with its extra conditions."""
    if claimed == "me":
        return [("in_review", [Submission.claimed_by == user_id,
                               Submission.claim_expires_at > now])]
    if claimed == "unclaimed":
        return [("pending_review", []), ("in_review", [Submission.claim_expires_at <= now])]
    return [(status, []) for status in OPEN_STATUSES]


def _open_run(session: Session, clinic_id: str, status: str, priority: str | None,
              after: Sequence[Any] | None, fetch: int,
              extra: Sequence[ColumnElement[bool]] = ()) -> list[Submission]:
    query = (
        select(Submission)
        .options(defer(Submission.respondent), defer(Submission.answers))
        .where(Submission.clinic_id == clinic_id, Submission.status == status, *extra)
        .order_by(Submission.priority_rank, Submission.received_at, Submission.id)
        .limit(fetch)
    )
    if priority is not None:
        query = query.where(Submission.priority_rank == Priority(priority).rank)
    if after is not None:
        key = tuple_(Submission.priority_rank, Submission.received_at, Submission.id)
        query = query.where(key > tuple(after))
    return list(session.scalars(query))
