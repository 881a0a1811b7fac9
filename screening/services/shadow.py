"""Shadow evaluation (shared spec §10): what a draft ruleset would have done to the
clinic's past submissions, without changing anything stored.

Each submission received in ``[since, until)`` is evaluated under the active ruleset and
under the draft, and the two outcomes (priority, reasons, criterion statuses, flag ids)
are compared. A stored evaluation made under the active ruleset and the running code is
exactly its active outcome (``evaluate`` is deterministic), so it is read instead of
evaluated again; the database hands over only the parts compared (routing, criteria,
flags) as one JSON text, and of the respondent only what the rules read (birth date, sex
at birth), never names or contact details. Rows stream in batches
(``yield_per``: a server-side cursor on PostgreSQL), so memory stays flat however many
submissions there are; only reads are issued, so no write lock is held.

The draft's outcome is not always a whole evaluation either. Each setting reaches a known
part of the compared outcome (``REACHES``: one criterion, or the blood-pressure or
older-adult flag); the crisis message, escalation times and required sections reach none
of it. When the stored outcome is read, only the parts the changed settings reach are
evaluated again, with the rules' own functions, and routing is re-derived by the rules'
own table when a criterion status or a flag changed. Tests check this equals a full
evaluation for random rulesets, drafts and answers; a setting not in ``REACHES`` or
``REACHES_NOTHING`` (a new one) makes every row evaluate in full.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy import Integer, Text, cast, literal_column, select
from sqlalchemy.orm import Session

import rules
from rules.contraindications import ANSWER_RULES, age_flags, blood_pressure_flags
from rules.criteria import (
    adult_from_age,
    age_in_years,
    depression_moderate_to_severe,
    prior_treatment_failure,
)
from rules.routing import route
from screening.services.rulesets import ActiveRuleset
from screening.storage.models import Submission

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


def stored_outcome(compared: list[Any]) -> Outcome:
    """What the shadow report compares, from the parts of a stored evaluation: either
    ``[routing, criteria, flags]`` as stored (SQLite) or ``[routing, criterion ids,
    criterion statuses, flag ids]`` (PostgreSQL picks them out itself)."""
    if len(compared) == 3:
        routing, criteria, flags = compared
        return (routing["priority"], tuple(routing["reasons"]),
                tuple([(c["id"], c["status"]) for c in criteria]),
                tuple([f["id"] for f in flags]))
    routing, criterion_ids, statuses, flag_ids = compared
    return (routing["priority"], tuple(routing["reasons"]),
            tuple(zip(criterion_ids, statuses, strict=True)), tuple(flag_ids))


# The compared parts of a stored evaluation as one JSON text per row. PostgreSQL picks out
# the ids and statuses on its own core; SQLite hands over the stored lists, parsed once (a
# json_each per list parsed the evaluation again for each and cost more than decoding
# them here). Both arrive as text and are decoded with orjson in the loop, which costs
# less per row than a JSON column's result processing.
_COMPARED = {
    "postgresql": (
        "CAST(jsonb_build_array(submissions.evaluation -> 'routing', "
        "jsonb_path_query_array(submissions.evaluation, '$.criteria[*].id'), "
        "jsonb_path_query_array(submissions.evaluation, '$.criteria[*].status'), "
        "jsonb_path_query_array(submissions.evaluation, '$.flags[*].id')) AS TEXT)"
    ),
    "sqlite": "json_extract(submissions.evaluation, '$.routing', '$.criteria', '$.flags')",
}

# The part of the compared outcome each setting can change, and the settings that reach
# none of it (the crisis message is shown, not compared; the others are not read by
# ``rules.evaluate``).
REACHES: Mapping[str, str] = {
    "min_age_years": "adult",
    "phq9_threshold": "depression_moderate_to_severe",
    "min_failed_trials": "prior_treatment_failure",
    "min_trial_weeks": "prior_treatment_failure",
    "bp_elevated": "blood_pressure",
    "bp_severe": "blood_pressure",
    "older_adult_age": "older_adult",
}
REACHES_NOTHING = frozenset({"crisis_message", "escalation_minutes", "required_sections"})
_BLOOD_PRESSURE_FLAGS = frozenset({"blood_pressure_severe", "blood_pressure_elevated"})
_SCREEN_FLAGS = ("bipolar_screen_positive", "ptsd_screen_positive", "alcohol_screen_positive",
                 "drug_screen_positive")
# Every flag id in the order ``rules.evaluate`` raises them, with its kind (routing reads
# only the id and the kind of a flag).
_FLAG_KINDS: Mapping[str, rules.FlagKind] = {
    "suicide_risk_acute": rules.FlagKind.SAFETY,
    "suicide_risk": rules.FlagKind.SAFETY,
    "blood_pressure_severe": rules.FlagKind.SAFETY,
    "blood_pressure_elevated": rules.FlagKind.CAUTION,
    **{rule.id: rule.kind for rule in ANSWER_RULES},
    "older_adult": rules.FlagKind.CAUTION,
    **dict.fromkeys(_SCREEN_FLAGS, rules.FlagKind.SCREEN_POSITIVE),
}
_FLAG_ORDER = {flag_id: position for position, flag_id in enumerate(_FLAG_KINDS)}
# What routing reads of a flag or a criterion, built once: its id and kind, its id and status.
_FLAG_FOR_ROUTING = {i: rules.Flag(i, kind, None, "", "") for i, kind in _FLAG_KINDS.items()}
_CRITERION_FOR_ROUTING: dict[tuple[str, str], rules.Criterion] = {}


def _criterion_for_routing(criterion: tuple[str, str]) -> rules.Criterion:
    found = _CRITERION_FOR_ROUTING.get(criterion)
    if found is None:
        found = _CRITERION_FOR_ROUTING[criterion] = rules.Criterion(
            criterion[0], rules.Status(criterion[1]), "", "")
    return found


def reached(current: rules.Ruleset, proposed: rules.Ruleset) -> frozenset[str] | None:
    """The parts of the compared outcome the draft's changed settings can reach; None when
    a changed setting is in neither ``REACHES`` nor ``REACHES_NOTHING``."""
    before, after = current.settings(), proposed.settings()
    parts = set()
    for name, value in after.items():
        if value == before[name] or name in REACHES_NOTHING:
            continue
        if name not in REACHES:
            return None
        parts.add(REACHES[name])
    return frozenset(parts)


def redo(before: Outcome, parts: frozenset[str], respondent: Mapping[str, Any],
         answers: Mapping[str, Any], received_on: dt.date, ruleset: rules.Ruleset) -> Outcome:
    """The outcome under ``ruleset`` of a submission whose outcome is ``before`` under a
    ruleset that differs only in settings reaching ``parts``: those parts are evaluated
    again, and routing re-derived when anything changed."""
    criteria, flag_ids = before[2], before[3]
    age = None
    if "adult" in parts or "older_adult" in parts:
        age = age_in_years(respondent, received_on)
    statuses = dict(criteria)
    if "adult" in parts:
        statuses["adult"] = adult_from_age(age, ruleset).status.value
    if "depression_moderate_to_severe" in parts:
        statuses["depression_moderate_to_severe"] = depression_moderate_to_severe(
            answers, ruleset).status.value
    if "prior_treatment_failure" in parts:
        statuses["prior_treatment_failure"] = prior_treatment_failure(
            answers, ruleset).status.value
    new_criteria = tuple(statuses.items())
    new_flags = flag_ids
    if "blood_pressure" in parts or "older_adult" in parts:
        kept = [i for i in flag_ids if not (
            ("blood_pressure" in parts and i in _BLOOD_PRESSURE_FLAGS)
            or ("older_adult" in parts and i == "older_adult"))]
        if "blood_pressure" in parts:
            kept.extend(f.id for f in blood_pressure_flags(answers, ruleset))
        if "older_adult" in parts:
            kept.extend(f.id for f in age_flags(age, ruleset))
        new_flags = tuple(sorted(kept, key=_FLAG_ORDER.__getitem__))
    if new_criteria == criteria and new_flags == flag_ids:
        return before
    routing = route([_FLAG_FOR_ROUTING[i] for i in new_flags],
                    [_criterion_for_routing(c) for c in new_criteria])
    return (routing.priority.value, routing.reasons, new_criteria, new_flags)


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
    settings versions of the stored evaluation, and its compared parts (answers and
    compared parts as JSON text)."""
    dialect = session.get_bind().dialect.name
    respondent, evaluation = Submission.respondent, Submission.evaluation
    query = (
        select(Submission.id, respondent["date_of_birth"].as_string(),
               respondent["sex_at_birth"].as_string(), cast(Submission.answers, Text),
               Submission.received_at, Submission.ruleset_version,
               evaluation["settings_version"].as_integer().cast(Integer),
               literal_column(_COMPARED[dialect], type_=Text))
        .where(Submission.clinic_id == clinic_id)
        .order_by(Submission.received_at, Submission.id)
        .execution_options(yield_per=BATCH_ROWS)
    )
    if since is not None:
        query = query.where(Submission.received_at >= since)
    if until is not None:
        query = query.where(Submission.received_at < until)
    # Plain rows from the session's connection: the ORM's result machinery adds nothing
    # to a select of columns but costs more per row than the rest of the loop.
    return session.connection().execute(query)


def shadow(rows: Iterable[Any], active: ActiveRuleset, draft_id: str,
           proposed: rules.Ruleset) -> ShadowReport:
    """Compares every row's outcome under ``active`` and under ``proposed``."""
    report = ShadowReport(draft_id, active.version)
    current, code_version = active.ruleset, active.ruleset.ruleset_version
    parts = reached(current, proposed)
    evaluate = rules.evaluate
    for (submission_id, born, sex, answers_json, received_at, stored_code, stored_settings,
         compared) in rows:
        respondent = {"date_of_birth": born, "sex_at_birth": sex}
        answers = orjson.loads(answers_json)
        received_on = received_at.date()
        if stored_settings == active.version and stored_code == code_version:
            before = stored_outcome(orjson.loads(compared))
            if parts is not None:
                after = redo(before, parts, respondent, answers, received_on, proposed)
                report.add(submission_id, before, after)
                continue
        else:
            before = outcome_of(evaluate(respondent, answers, received_on, current))
        after = outcome_of(evaluate(respondent, answers, received_on, proposed))
        report.add(submission_id, before, after)
    return report
