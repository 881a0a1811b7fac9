"""Accept, then sequence (shared spec §11): requests insert audit events unsealed and take
no lock in common; the sealer chains them in insertion order and signs checkpoints; a
kept checkpoint proves the chain up to it unchanged, even against someone who rewrote the
events and ``audit_chain_head`` directly in the database."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from screening.cli import main
from screening.server.sealer import seal_job
from screening.storage import audit
from screening.storage import checkpoints as audit_checkpoints
from screening.storage.db import app_state, make_engine
from screening.storage.models import GENESIS_HASH, AuditChainHead, AuditCheckpoint, AuditEvent
from screening.storage.unit_of_work import session_scope, unit_of_work
from tests.api.bodies import SUBMISSIONS, example
from tests.api.conftest import TEST_DATABASE_URL, TenantCredentials
from tests.api.test_audit import traffic

AUDIT = "/api/v1/audit"
ROOT = Path(__file__).resolve().parents[2]


def seal(app: Flask) -> int:
    return seal_job(app_state(app))


def listed(client: FlaskClient, creds: TenantCredentials) -> list[dict[str, Any]]:
    return list(client.get(AUDIT, headers=creds.headers("admin")).get_json()["items"])


def chain(app: Flask) -> list[tuple[int | None, int]]:
    """(seq, id) of every event, in insertion order."""
    with session_scope(app, write=False) as session:
        return [(e.seq, e.id) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def record_events(app: Flask, count: int) -> None:
    with unit_of_work(app_state(app).db) as uow:
        for number in range(count):
            uow.audit(clinic_id=None, actor_type="system", actor_id=None,
                      action="test.event", request_id=f"r{number}")


def verified(app: Flask) -> list[audit.ChainProblem]:
    with session_scope(app, write=False) as session:
        return audit.verify(session)


# -- accept, then sequence -----------------------------------------------------------------

def test_requests_leave_events_unsealed_and_listed(app: Flask, client: FlaskClient,
                                                   clinic: TenantCredentials) -> None:
    sealed_before = seal(app)  # the clinic's set-up
    traffic(client, clinic)
    items = listed(client, clinic)
    assert [i["sealed"] for i in items] == [True] * sealed_before + [False] * 4
    assert all(i["seq"] is None and i["hash"] is None for i in items[sealed_before:])
    with session_scope(app, write=False) as session:
        assert session.get_one(AuditChainHead, 1).last_seq == sealed_before
        assert audit.backlog(session).count == 4


def test_sealing_chains_events_in_insertion_order_and_is_idempotent(
        app: Flask, client: FlaskClient, clinic: TenantCredentials) -> None:
    traffic(client, clinic)
    before = listed(client, clinic)
    assert seal(app) == len(before)
    after = listed(client, clinic)
    assert [i["seq"] for i in after] == list(range(1, len(before) + 1))
    assert all(i["sealed"] for i in after)
    assert [i["request_id"] for i in after] == [i["request_id"] for i in before]  # same order
    assert verified(app) == []
    assert seal(app) == 0
    assert listed(client, clinic) == after
    traffic(client, clinic)  # later events continue the chain
    assert seal(app) == 4
    assert [i["seq"] for i in listed(client, clinic)] == list(range(1, len(before) + 5))
    assert verified(app) == []


def test_sealing_in_small_batches_gives_the_same_chain(app: Flask) -> None:
    record_events(app, 25)
    with session_scope(app) as session:
        counts = [audit.seal_pending(session, batch=10) for _ in range(4)]
    assert counts == [10, 10, 5, 0]
    rows = chain(app)
    assert [seq for seq, _ in rows] == list(range(1, 26))
    assert verified(app) == []


def test_a_plan_made_before_another_sealer_moved_the_head_is_not_written(app: Flask) -> None:
    """The sealer hashes outside its write transaction; what it planned after a head
    that has moved since would fork the chain, so it is dropped and planned again."""
    record_events(app, 10)
    with session_scope(app, write=False) as session:
        stale = audit.plan_seal(session, batch=5)
    assert stale is not None and [s["new_seq"] for s in stale.seals] == [1, 2, 3, 4, 5]
    with session_scope(app) as session:
        assert audit.seal_pending(session, batch=3) == 3
    with session_scope(app) as session:
        assert audit.apply_seal(session, stale) == 0
    assert [seq for seq, _ in chain(app)] == [1, 2, 3] + [None] * 7
    assert seal(app) == 7
    assert [seq for seq, _ in chain(app)] == list(range(1, 11))
    assert verified(app) == []


def test_planning_a_seal_needs_no_write_transaction(app: Flask) -> None:
    """While another writer holds the database (SQLite's one writer lock, or the head
    row on PostgreSQL), the sealer can still read and hash what it will seal."""
    record_events(app, 4)
    with session_scope(app) as writer:
        writer.execute(text("SELECT 1 FROM audit_chain_head WHERE id = 1"
                            + ("" if app_state(app).settings.is_sqlite else " FOR UPDATE")))
        writer.execute(text("UPDATE clinics SET name = name WHERE 1 = 0"))  # holds the write
        with session_scope(app, write=False) as reader:
            plan = audit.plan_seal(reader)
    assert plan is not None and len(plan.seals) == 4
    assert plan.head == (4, plan.seals[-1]["new_hash"])


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="row locks: PostgreSQL")
def test_requests_do_not_wait_for_a_sealer_holding_the_chain_head(
        app: Flask, clinic: TenantCredentials, database_url: str) -> None:
    """With the head row locked (as a sealer holds it), ingest, reads and claims answer."""
    engine = make_engine(database_url)
    statuses: list[int] = []
    try:
        with engine.connect() as holder:
            holder.execute(text("SELECT 1 FROM audit_chain_head WHERE id = 1 FOR UPDATE"))

            def requests() -> None:
                client = app.test_client()
                created = client.post(SUBMISSIONS, json=example(),
                                      headers=clinic.headers("intake"))
                location = created.headers["Location"]
                read = client.get(location, headers=clinic.headers("clinician"))
                claim = client.post(f"{location}/claim", headers=clinic.headers("clinician"))
                statuses.extend([created.status_code, read.status_code, claim.status_code])

            worker = threading.Thread(target=requests)
            worker.start()
            worker.join(10)
            answered_while_locked = list(statuses)
            holder.rollback()
    finally:
        engine.dispose()
    worker.join(10)
    assert answered_while_locked == [201, 200, 200]


def test_two_sealers_at_once_never_fork_the_chain(make_app: Callable[..., Flask]) -> None:
    first, second = make_app(), make_app()
    record_events(first, 600)
    errors: list[BaseException] = []
    sealed: list[int] = []

    def sealer(app: Flask) -> None:
        try:
            for _ in range(30):
                with session_scope(app) as session:
                    sealed.append(audit.seal_pending(session, batch=20))
        except BaseException as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    threads = [threading.Thread(target=sealer, args=(app,)) for app in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(sealed) == 600
    assert sorted(seq for seq, _ in chain(first)) == list(range(1, 601))
    assert verified(first) == []


def test_a_killed_sealer_loses_no_event_and_seals_them_after_restart(
        app: Flask, database_url: str) -> None:
    record_events(app, 1500)
    environment = {**os.environ, "DATABASE_URL": database_url}

    def sealed_count() -> int:
        with session_scope(app, write=False) as session:
            return session.scalar(select(func.count()).where(AuditEvent.seq.is_not(None))) or 0

    def run_until(done: Callable[[int], bool]) -> int:
        process = subprocess.Popen([sys.executable, "-m", "tests.api.sealer_process", "3"],
                                   cwd=ROOT, env=environment)
        try:
            deadline = time.monotonic() + 60
            while not done(count := sealed_count()) and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        return count

    run_until(lambda count: count >= 150)
    after_kill = sealed_count()
    assert 150 <= after_kill < 1500
    assert verified(app) == []
    assert run_until(lambda count: count == 1500) == 1500
    assert sorted(seq for seq, _ in chain(app)) == list(range(1, 1501))
    assert verified(app) == []


# -- checkpoints -----------------------------------------------------------------------------

def test_checkpoint_and_public_key_endpoints(app: Flask, client: FlaskClient,
                                             clinic: TenantCredentials) -> None:
    admin = clinic.headers("admin")
    missing = client.get(f"{AUDIT}/checkpoint", headers=admin)
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"
    traffic(client, clinic)
    seal(app)
    checkpoint = client.get(f"{AUDIT}/checkpoint", headers=admin).get_json()
    key = client.get(f"{AUDIT}/public-key", headers=admin).get_json()
    assert set(checkpoint) == {"seq", "hash", "signed_at", "key_id", "signature"}
    assert checkpoint["seq"] == len(listed(client, clinic))
    assert checkpoint["hash"] == listed(client, clinic)[-1]["hash"]
    assert checkpoint["key_id"] == key["key_id"]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    message = f"{checkpoint['seq']}.{checkpoint['hash']}.{checkpoint['signed_at']}"
    public.verify(base64.b64decode(checkpoint["signature"]), message.encode())  # raises if bad


def test_a_checkpoint_is_signed_again_only_once_the_interval_passed(app: Flask) -> None:
    record_events(app, 3)
    seal(app)
    record_events(app, 3)
    seal(app)
    with session_scope(app) as session:
        assert session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 1
        session.execute(text("UPDATE audit_checkpoints SET signed_at = :then"),
                        {"then": "2026-01-01 00:00:00" if TEST_DATABASE_URL is None
                         else "2026-01-01T00:00:00Z"})
    seal(app)
    with session_scope(app, write=False) as session:
        latest = audit_checkpoints.latest(session)
        assert latest is not None and latest.seq == 6
        assert session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 2


def rechain(app: Flask) -> None:
    """What an attacker with write access does after tampering: recompute every hash and
    rewrite the head, so that the chain alone verifies again."""
    with session_scope(app) as session:
        prev_hash, last_seq = GENESIS_HASH, 0
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq))
        for event in events:
            event.prev_hash = prev_hash
            event.hash = prev_hash = audit.chain_hash(prev_hash, audit.event_fields(event))
            last_seq = event.seq or 0
            session.flush()
        head = session.get_one(AuditChainHead, 1)
        head.last_seq, head.last_hash = last_seq, prev_hash


COLUMNS = ("occurred_at, clinic_id, actor_type, actor_id, action, object_type, object_id, "
           "outcome, request_id")
TAMPERING = {
    "edit": ["UPDATE audit_events SET outcome = 'denied' WHERE seq = 2"],
    "delete": ["DELETE FROM audit_events WHERE seq = 2",
               "UPDATE audit_events SET seq = -seq WHERE seq > 2",
               "UPDATE audit_events SET seq = -seq - 1 WHERE seq < 0"],
    "insert": ["UPDATE audit_events SET seq = -seq WHERE seq >= 2",
               "UPDATE audit_events SET seq = -seq + 1 WHERE seq < 0",
               f"INSERT INTO audit_events (seq, {COLUMNS}, prev_hash, hash) "
               f"SELECT 2, {COLUMNS}, prev_hash, 'forged' FROM audit_events WHERE seq = 1"],
    "reorder": ["UPDATE audit_events SET seq = -1 WHERE seq = 2",
                "UPDATE audit_events SET seq = 2 WHERE seq = 3",
                "UPDATE audit_events SET seq = 3 WHERE seq = -1"],
    "truncate": ["DELETE FROM audit_events WHERE seq >= :checkpoint_seq"],
}


def verify_cli(*arguments: str) -> Result:
    return CliRunner().invoke(main, ["audit", "verify", *arguments])


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_tampering_under_a_kept_checkpoint_fails_verification(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, database_url: str,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    traffic(client, clinic)
    seal(app)  # signs the first checkpoint
    kept = tmp_path / "checkpoint.json"
    kept.write_text(client.get(f"{AUDIT}/checkpoint", headers=clinic.headers("admin")).text)
    checkpoint_seq = json.loads(kept.read_text())["seq"]
    traffic(client, clinic)
    seal(app)  # events after the checkpoint
    assert verify_cli("--checkpoint", str(kept)).exit_code == 0

    with session_scope(app) as session:
        for statement in TAMPERING[kind]:
            session.execute(text(statement), {"checkpoint_seq": checkpoint_seq})
    rechain(app)
    assert verified(app) == []  # the chain alone no longer shows it

    with_kept = verify_cli("--checkpoint", str(kept))
    assert with_kept.exit_code == 1, with_kept.output
    assert "checkpoint" in with_kept.stderr
    assert verify_cli().exit_code == 1  # the stored checkpoint shows it too
    with session_scope(app) as session:
        session.execute(text("DELETE FROM audit_checkpoints"))
    assert verify_cli().exit_code == 0  # without any checkpoint it would pass...
    assert verify_cli("--checkpoint", str(kept)).exit_code == 1  # ...the kept one fails it


def test_a_forged_or_foreign_checkpoint_is_refused(
        app: Flask, client: FlaskClient, clinic: TenantCredentials, database_url: str,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    traffic(client, clinic)
    seal(app)
    checkpoint = client.get(f"{AUDIT}/checkpoint", headers=clinic.headers("admin")).get_json()
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**checkpoint, "seq": checkpoint["seq"] - 1}))
    result = verify_cli("--checkpoint", str(forged))
    assert result.exit_code == 1
    assert "signature is not valid" in result.stderr
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({**checkpoint, "key_id": "0" * 16}))
    assert "another key" in verify_cli("--checkpoint", str(foreign)).stderr


@pytest.mark.parametrize("content", ["not json", "[]", '{"seq": "4"}'])
def test_an_unreadable_checkpoint_file_is_a_usage_error(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        content: str) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = verify_cli("--checkpoint", str(bad))
    assert result.exit_code == 2
    assert "--checkpoint" in result.stderr


def test_checkpoints_of_a_replaced_key_do_not_fail_verification(
        app: Flask, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    record_events(app, 3)
    seal(app)
    with session_scope(app) as session:
        session.execute(text("UPDATE audit_checkpoints SET key_id = :old"), {"old": "0" * 16})
    assert verify_cli().exit_code == 0
