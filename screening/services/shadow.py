"""Shadow evaluation (shared spec §10): what a draft ruleset would have done to the
clinic's past submissions, without changing anything stored.

Each submission received in ``[since, until)`` is evaluated under the active ruleset and
under the draft, and the two outcomes (priority, reasons, criterion statuses, flag ids)
are compared. A stored evaluation made under the active ruleset and the running code is
exactly its active outcome (``evaluate`` is deterministic), so it is read instead of
evaluated again; the database hands over only the parts compared (routing, criterion ids
and statuses, flag ids) as one small document, and of the respondent only what the rules
read (birth date, sex at birth), never names or contact details. Rows stream in batches
(``yield_per``: a server-side cursor on PostgreSQL), so memory stays flat however many
submissions there are; only reads are issued, so no write lock is held.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Integer, literal_column, select
from sqlalchemy.orm import Session
from sqlalchemy.types import JSON

import rules
from screening.models import Submission
from screening.services.rulesets import ActiveRuleset

MAX_EXAMPLES = 50
BATCH_ROWS = 2000
_PRIORITY_RANK = {p.value: p.rank for p in rules.Priority}

# (priority, reasons, ((criterion id, status), ...), (flag id, ...))
Outcome = tuple[str, tuple[str, ...], tuple[tuple[str, str], ...], tuple[str, ...]]


def outcome_of(evaluation: rules.Evaluation) -> Outcome:
    """What the shadow report compares, from a fresh evaluation."""
    routing = evaluation.routing
    return (
        routing.priority.value,
        routing.reasons,
        tuple((c.id, c.status.value) for c in evaluation.criteria),
        tuple(f.id for f in evaluation.flags),
    )


def stored_outcome(routing: Mapping[str, Any], criterion_ids: list[str],
                   statuses: list[str], flag_ids: list[str]) -> Outcome:
    """What the shadow report compares, from the parts of a stored evaluation."""
    return (routing["priority"], tuple(routing["reasons"]),
            tuple(zip(criterion_ids, statuses, strict=True)), tuple(flag_ids))


# [routing, criterion ids, criterion statuses, flag ids] of a stored evaluation, per
# dialect: one JSON document per row, built by the database.
_COMPARED = {
    "postgresql": (
        "jsonb_build_array(submissions.evaluation -> 'routing', "
        "jsonb_path_query_array(submissions.evaluation, '$.criteria[*].id'), "
        "jsonb_path_query_array(submissions.evaluation, '$.criteria[*].status'), "
        "jsonb_path_query_array(submissions.evaluation, '$.flags[*].id'))"
    ),
    # A subquery's value loses its JSON subtype; json() gives it back.
    "sqlite": (
        "json_array(json_extract(submissions.evaluation, '$.routing'), "
        "json((SELECT json_group_array(json_extract(value, '$.id')) "
        "FROM json_each(submissions.evaluation, '$.criteria'))), "
        "json((SELECT json_group_array(json_extract(value, '$.status')) "
        "FROM json_each(submissions.evaluation, '$.criteria'))), "
        "json((SELECT json_group_array(json_extract(value, '$.id')) "
        "FROM json_each(submissions.evaluation, '$.flags'))))"
    ),
}


class ShadowReport:
    """Running totals of a shadow run; ``to_dict()`` is the §10 report."""

    def __init__(self, draft_id: str, active_version: int) -> None:
        self.draft_id = draft_id
        self.active_version = active_version
        self.evaluated = 0
        self.changed = 0
        self.raised = 0
        self.lowered = 0
        self.criteria: Counter[tuple[str, str]] = Counter()
        self.flags_added: Counter[str] = Counter()
        self.flags_removed: Counter[str] = Counter()
        self.examples: list[dict[str, Any]] = []

    def add(self, submission_id: str, before: Outcome, after: Outcome) -> None:
        """Counts one submission's outcome under the active ruleset and under the draft."""
        self.evaluated += 1
        if before == after:
            return
        self.changed += 1
        before_rank, after_rank = _PRIORITY_RANK[before[0]], _PRIORITY_RANK[after[0]]
        if after_rank < before_rank:
            self.raised += 1
        elif after_rank > before_rank:
            self.lowered += 1
        if before[2] != after[2]:
            was = dict(before[2])
            for criterion, status in after[2]:
                previous = was.get(criterion)
                if previous != status:
                    self.criteria[(criterion, f"{previous}->{status}")] += 1
        if before[3] != after[3]:
            old, new = set(before[3]), set(after[3])
            self.flags_added.update(new - old)
            self.flags_removed.update(old - new)
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append({
                "submission_id": submission_id,
                "priority": [before[0], after[0]],
                "reasons": [list(before[1]), list(after[1])],
            })

    def to_dict(self) -> dict[str, Any]:
        """The §10 shadow report."""
        criteria: dict[str, dict[str, int]] = {}
        for (criterion, transition), count in sorted(self.criteria.items()):
            criteria.setdefault(criterion, {})[transition] = count
        return {
            "draft": self.draft_id,
            "active": self.active_version,
            "evaluated": self.evaluated,
            "changed": self.changed,
            "priority": {"raised": self.raised, "lowered": self.lowered},
            "criteria": criteria,
            "flags": {"added": dict(sorted(self.flags_added.items())),
                      "removed": dict(sorted(self.flags_removed.items()))},
            "examples": self.examples,
        }


def past_submissions(session: Session, clinic_id: str, since: dt.datetime | None,
                     until: dt.datetime | None) -> Iterable[Any]:
    """The clinic's submissions in ``[since, until)``, oldest first, streamed in batches
    of ``BATCH_ROWS``: id, birth date, sex at birth, answers, received_at, the code and
    settings versions of the stored evaluation, and its compared parts."""
    dialect = session.get_bind().dialect.name
    respondent, evaluation = Submission.respondent, Submission.evaluation
    query = (
        select(Submission.id, respondent["date_of_birth"].as_string(),
               respondent["sex_at_birth"].as_string(), Submission.answers,
               Submission.received_at, Submission.ruleset_version,
               evaluation["settings_version"].as_integer().cast(Integer),
               literal_column(_COMPARED[dialect], type_=JSON))
        .where(Submission.clinic_id == clinic_id)
        .order_by(Submission.received_at, Submission.id)
        .execution_options(yield_per=BATCH_ROWS)
    )
    if since is not None:
        query = query.where(Submission.received_at >= since)
    if until is not None:
        query = query.where(Submission.received_at < until)
    return session.execute(query)


def shadow(rows: Iterable[Any], active: ActiveRuleset, draft_id: str,
           proposed: rules.Ruleset) -> ShadowReport:
    """Compares every row's outcome under ``active`` and under ``proposed``."""
    report = ShadowReport(draft_id, active.version)
    current, code_version = active.ruleset, active.ruleset.ruleset_version
    evaluate = rules.evaluate
    for (submission_id, born, sex, answers, received_at, stored_code, stored_settings,
         compared) in rows:
        respondent = {"date_of_birth": born, "sex_at_birth": sex}
        received_on = received_at.date()
        if stored_settings == active.version and stored_code == code_version:
            before = stored_outcome(*compared)
        else:
            before = outcome_of(evaluate(respondent, answers, received_on, current))
        after = outcome_of(evaluate(respondent, answers, received_on, proposed))
        report.add(submission_id, before, after)
    return report
