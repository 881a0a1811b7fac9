"""Bulk seeding of submissions for ``bench/queue.py``: one ``INSERT ... SELECT`` over a
generated series (PostgreSQL ``generate_series``, SQLite a recursive CTE), then ANALYZE.

The mix is a clinic that has worked through most of its history: 90 % decided, 9 %
pending review, 1 % in review (half of those leases live, half expired); priorities 2 %
critical, 8 % urgent, 30 % high, 60 % routine; received over the past year. Every row
carries the real evaluation of a body routed to its priority (``rules.evaluate``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from typing import Any

import rules
from tests.api.bodies import routed

SPREAD_SECONDS = 365 * 24 * 3600


def evaluations() -> dict[str, str]:
    """The stored evaluation JSON of a body routed to each priority."""
    found: dict[str, str] = {}
    for priority in rules.Priority:
        body = routed(priority.value)
        evaluation = rules.evaluate(body["respondent"], body["answers"], dt.date.today())
        assert evaluation.routing.priority is priority
        found[priority.value] = json.dumps(evaluation.to_dict())
    return found


def _fragments(mod: str) -> dict[str, str]:
    """SQL over the series number ``g``; ``mod`` is the modulo operator as the driver
    wants it written (``%`` for sqlite3, ``%%`` for psycopg with parameters)."""
    status = (f"CASE WHEN g {mod} 100 < 90 THEN 'decided' "
              f"WHEN g {mod} 100 < 99 THEN 'pending_review' ELSE 'in_review' END")
    bucket = f"((g * 7) {mod} 50)"
    return {
        "status": status,
        "priority": (f"CASE WHEN {bucket} < 1 THEN 'critical' WHEN {bucket} < 5 THEN 'urgent' "
                     f"WHEN {bucket} < 20 THEN 'high' ELSE 'routine' END"),
        "rank": (f"CASE WHEN {bucket} < 1 THEN 0 WHEN {bucket} < 5 THEN 1 "
                 f"WHEN {bucket} < 20 THEN 2 ELSE 3 END"),
        "evaluation": (f"CASE WHEN {bucket} < 1 THEN :critical WHEN {bucket} < 5 THEN :urgent "
                       f"WHEN {bucket} < 20 THEN :high ELSE :routine END"),
        "offset": f"((g * 7919) {mod} {SPREAD_SECONDS})",
        "lease_live": f"((g / 100) {mod} 2 = 0)",
        "micros": f"((g * 31) {mod} 1000000)",
        "uuid_sqlite": ("lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || "
                        "substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(2)) || '-' || "
                        "hex(randomblob(6)))"),
    }


_INSERT = """
    INSERT INTO submissions (id, clinic_id, questionnaire_id, questionnaire_version,
        respondent, answers, evaluation, ruleset_version, status, priority,
        priority_rank, received_at, version, claimed_by, claim_expires_at, decided_at)
    SELECT {id}, :clinic, 'ketamine-intake', '1', {respondent}, {answers},
        {evaluation_json}, '{ruleset}', {status}, {priority}, {rank}, {received}, 1,
        CASE WHEN {status} = 'in_review' THEN :holder END,
        CASE WHEN {status} = 'in_review' THEN
            CASE WHEN {lease_live} THEN {tomorrow} ELSE {hour_ago} END END,
        CASE WHEN {status} = 'decided' THEN {now} END
    FROM {series}
"""


def _params(clinic_id: str, holder_id: str, first: int, last: int) -> dict[str, Any]:
    return {**evaluations(), "clinic": clinic_id, "holder": holder_id, "first": first,
            "last": last}


def seed_postgres(connection: Any, clinic_id: str, holder_id: str, first: int,
                  last: int) -> None:
    """Inserts rows ``first..last`` of the series and analyzes (psycopg connection)."""
    parts = _fragments("%%")
    sql = _INSERT.format(
        id="gen_random_uuid()::text", respondent="'{\"given_name\": \"Bench\"}'::jsonb",
        answers="'{}'::jsonb", evaluation_json=f"({parts['evaluation']})::jsonb",
        ruleset=rules.RULESET_VERSION,
        received=f"now() - make_interval(secs => {parts['offset']})",
        tomorrow="now() + interval '1 day'", hour_ago="now() - interval '1 hour'",
        now="now()", series="generate_series(:first::bigint, :last::bigint) AS g", **parts)
    sql = re.sub(r"(?<![:\w]):([a-z]+)\b", r"%(\1)s", sql)
    with connection.cursor() as cursor:
        cursor.execute(sql, _params(clinic_id, holder_id, first, last))
        cursor.execute("ANALYZE submissions")  # allowed in a transaction, unlike VACUUM
        connection.commit()


def _sqlite_time(moment: str, micros: str) -> str:
    # UTCDateTime on SQLite: naive UTC text, fixed width, microseconds.
    return f"printf('%s.%06d', strftime('%Y-%m-%d %H:%M:%S', {moment}), {micros})"


def seed_sqlite(path: str, clinic_id: str, holder_id: str, first: int, last: int) -> None:
    """Inserts rows ``first..last`` of the series into the SQLite file at ``path``."""
    parts = _fragments("%")
    micros = parts["micros"]
    sql = _INSERT.format(
        id=parts["uuid_sqlite"], respondent="'{\"given_name\": \"Bench\"}'",
        answers="'{}'", evaluation_json=parts["evaluation"], ruleset=rules.RULESET_VERSION,
        received=_sqlite_time(f"'now', '-' || {parts['offset']} || ' seconds'", micros),
        tomorrow=_sqlite_time("'now', '+1 day'", micros),
        hour_ago=_sqlite_time("'now', '-1 hour'", micros),
        now=_sqlite_time("'now'", micros), series="series", **parts)
    sql = ("WITH RECURSIVE series(g) AS (SELECT :first UNION ALL SELECT g + 1 FROM series "
           "WHERE g < :last)" + sql)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA cache_size = -262144")  # 256 MiB for the index builds
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(sql, _params(clinic_id, holder_id, first, last))
        connection.execute("COMMIT")
        connection.execute("ANALYZE")
    finally:
        connection.close()
