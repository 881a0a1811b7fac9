"""JSON shapes of stored objects, as the API contract spells them (shared spec §3, §6).

List and queue items (``summary``) never carry respondent details or answers; only the
audited full read (``full_record``) does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import joinedload

from screening.storage.models import AuditEvent, Decision, Note, Submission


def json_time(moment: dt.datetime) -> str:
    """A UTC timestamp as the contract writes it: ``2026-11-21T10:00:00Z``."""
    # (isoformat costs a third less than strftime, on every answer and delivery)
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")[:19] + "Z"


def etag(submission: Submission) -> str:
    """The strong ``ETag`` of the submission's current version."""
    return f'"{submission.id}-v{submission.version}"'


def claim(submission: Submission, now: dt.datetime) -> dict[str, str] | None:
    """The live review lease, or None when nobody holds one (an expired lease is none)."""
    expires = submission.claim_expires_at
    if submission.claimed_by is None or expires is None or expires <= now:
        return None
    return {"holder": submission.claimed_by, "expires_at": json_time(expires)}


def reasons(submission: Submission) -> list[str]:
    """Every routing reason of the stored evaluation, in rule order."""
    routing = submission.evaluation.get("routing") or {}
    return list(routing.get("reasons", []))


def summary(submission: Submission, now: dt.datetime) -> dict[str, Any]:
    """A list or queue item: no answers, no respondent details."""
    return {
        "id": submission.id,
        "received_at": json_time(submission.received_at),
        "status": submission.status,
        "priority": submission.priority,
        "reasons": reasons(submission),
        "claim": claim(submission, now),
        "escalation_level": submission.escalation_level,
    }


# Loader options for a query of submissions that ``full_record`` will show: their decision
# and notes come joined in the same query, in the caller's transaction. A response built
# after the commit then begins no second transaction (on PostgreSQL a BEGIN, two queries
# and a ROLLBACK more per claim, read or decision; on SQLite a write session's new
# transaction waited in the writers' queue again behind ingest), and the request makes
# no separate round trip for each.
FULL_RECORD_OPTIONS = (joinedload(Submission.decision), joinedload(Submission.notes))


def full_record(submission: Submission, now: dt.datetime) -> dict[str, Any]:
    """The full read of one submission (audited by the caller)."""
    return {
        "id": submission.id,
        "questionnaire": submission.questionnaire_id,
        "questionnaire_version": submission.questionnaire_version,
        "received_at": json_time(submission.received_at),
        "status": submission.status,
        "priority": submission.priority,
        "reasons": reasons(submission),
        "respondent": submission.respondent,
        "answers": submission.answers,
        "evaluation": submission.evaluation,
        "claim": claim(submission, now),
        "escalation_level": submission.escalation_level,
        "decision": decision(submission.decision),
        "notes": [note(n) for n in submission.notes],
    }


def decision(recorded: Decision | None) -> dict[str, Any] | None:
    """The clinician's final decision as the full read shows it; None before one."""
    if recorded is None:
        return None
    return {
        "outcome": recorded.outcome,
        "rationale": recorded.rationale,
        "acknowledged_flags": list(recorded.acknowledged_flags),
        "decided_by": recorded.decided_by,
        "decided_at": json_time(recorded.decided_at),
        "ruleset_version": recorded.ruleset_version,
    }


def note(recorded: Note) -> dict[str, Any]:
    """One clinician's note (``author`` is the user id)."""
    return {
        "id": recorded.id,
        "author": recorded.author_id,
        "created_at": json_time(recorded.created_at),
        "text": recorded.text,
    }


def audit_event(event: AuditEvent) -> dict[str, Any]:
    """One audit event of ``GET /api/v1/audit``; ``seq`` and ``hash`` are null and
    ``sealed`` false until the sealer has chained it."""
    return {
        "seq": event.seq,
        "occurred_at": json_time(event.occurred_at),
        "clinic_id": event.clinic_id,
        "actor_type": event.actor_type,
        "actor_id": event.actor_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "outcome": event.outcome,
        "request_id": event.request_id,
        "hash": event.hash,
        "sealed": event.seq is not None,
    }
