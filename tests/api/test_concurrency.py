"""Concurrent reviewers (shared spec §3: ``queue/next`` claims atomically), on whichever
engine the run uses (SQLite by default, PostgreSQL with ``TEST_DATABASE_URL``).

Ten reviewer threads, each with its own test client (so its own requests, sessions and
connections), drain a queue of 1,000 seeded submissions through ``POST /queue/next`` until
204: every submission is handed out exactly once, none is lost, no call fails, and
no thread hangs (a deadlock fails the test instead of stalling the suite).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from screening.storage import audit
from screening.storage.models import Submission
from screening.storage.unit_of_work import session_scope
from tests.api.bodies import routed
from tests.api.conftest import TenantCredentials
from tests.api.reviewing import NEXT, Clinician, add_clinician, events, path, seed

REVIEWERS = 10
QUEUE_SIZE = 1000
HANG_SECONDS = 300.0  # a deadlock detector, not a speed goal (bench/ measures speed)
PRIORITY_RANK = {"critical": 0, "urgent": 1, "high": 2, "routine": 3}


def run_threads(count: int, work: Callable[[int], None]) -> None:
    """Runs ``work(i)`` in ``count`` threads released together. Fails (instead of
    hanging) when a thread is still running after ``HANG_SECONDS``."""
    barrier = threading.Barrier(count)
    failures: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as error:  # reported to the test below
            failures.append(error)

    threads = [threading.Thread(target=guarded, args=(i,), daemon=True) for i in range(count)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, HANG_SECONDS - (time.monotonic() - started)))
    assert not any(thread.is_alive() for thread in threads), "a reviewer is stuck"
    assert failures == []


def test_ten_reviewers_drain_1000_submissions_each_handed_out_exactly_once(
        app: Flask, clinic: TenantCredentials) -> None:
    bodies = [routed(priority) for priority in PRIORITY_RANK]
    seeded = seed(app, clinic.clinic_id, bodies, QUEUE_SIZE)
    reviewers = [add_clinician(app, clinic, f"reviewer{i}") for i in range(REVIEWERS)]
    handed: list[list[dict[str, Any]]] = [[] for _ in range(REVIEWERS)]
    statuses: list[Counter[int]] = [Counter() for _ in range(REVIEWERS)]

    def review(index: int) -> None:
        client = app.test_client()
        while True:
            response = client.post(NEXT, headers=reviewers[index].headers)
            statuses[index][response.status_code] += 1
            if response.status_code != 200:
                return
            handed[index].append(response.get_json())

    run_threads(REVIEWERS, review)

    every = [item["id"] for items in handed for item in items]
    assert sum(statuses, Counter()) == Counter({200: QUEUE_SIZE, 204: REVIEWERS})
    assert len(every) == len(set(every)) == QUEUE_SIZE
    assert set(every) == set(seeded)
    for reviewer, items in zip(reviewers, handed, strict=True):
        assert all(item["claim"]["holder"] == reviewer.user_id for item in items)
        keys = [(PRIORITY_RANK[item["priority"]], item["received_at"]) for item in items]
        assert keys == sorted(keys), "a reviewer was handed a later submission first"
    assert_stored_claims_match(app, reviewers, handed)


def assert_stored_claims_match(app: Flask, reviewers: list[Clinician],
                               handed: list[list[dict[str, Any]]]) -> None:
    """Every submission is in review, version 2, held by the reviewer it was handed to;
    one claim event each; the audit chain is intact."""
    holder_of = {item["id"]: reviewer.user_id
                 for reviewer, items in zip(reviewers, handed, strict=True) for item in items}
    with session_scope(app, write=False) as session:
        rows = session.execute(
            select(Submission.id, Submission.claimed_by, Submission.status, Submission.version)
        ).all()
        assert {row.id: row.claimed_by for row in rows} == holder_of
        assert {(row.status, row.version) for row in rows} == {("in_review", 2)}
        assert audit.verify(session) == []
        assert session.scalar(select(func.count()).select_from(Submission)) == QUEUE_SIZE
    assert len(events(app, "submission.claim")) == QUEUE_SIZE


def test_ten_clinicians_claiming_one_submission_at_once_one_wins(
        app: Flask, clinic: TenantCredentials) -> None:
    [submission_id] = seed(app, clinic.clinic_id, [routed("urgent")], 1)
    clinicians = [add_clinician(app, clinic, f"clinician{i}") for i in range(REVIEWERS)]
    statuses: list[int] = [0] * REVIEWERS

    def claim(index: int) -> None:
        response = app.test_client().post(path(submission_id, "claim"),
                                          headers=clinicians[index].headers)
        statuses[index] = response.status_code

    run_threads(REVIEWERS, claim)
    assert sorted(statuses) == [200] + [409] * (REVIEWERS - 1)
    winner = clinicians[statuses.index(200)]
    with session_scope(app, write=False) as session:
        stored = session.get_one(Submission, submission_id)
        assert (stored.claimed_by, stored.version) == (winner.user_id, 2)
    outcomes = Counter(event.outcome for event in events(app, "submission.claim"))
    assert outcomes == Counter({"success": 1, "denied": REVIEWERS - 1})
