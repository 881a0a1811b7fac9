"""The `screening` command (spec §2) against a migrated database, through click's runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Blueprint, Flask, g
from sqlalchemy import select, text

from screening.cli import main
from screening.server.gunicorn import server_options
from screening.server.sealer import seal_job
from screening.storage.db import app_state
from screening.storage.models import Clinic, RulesetVersion, User
from screening.storage.unit_of_work import session_scope
from screening.web.auth import require


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Runs ``screening ARGS...`` on the test database; returns click's Result."""
    monkeypatch.setenv("DATABASE_URL", database_url)

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, list(args))

    return run


def last_line(result: Result) -> str:
    return result.stdout.strip().splitlines()[-1]


def assert_user_error(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


probe = Blueprint("cliprobe", __name__, url_prefix="/cliprobe")


@probe.get("/intake")
@require("intake")
def intake_only() -> dict[str, str]:
    return {"clinic_id": g.principal.clinic_id}


@probe.get("/admin")
@require("admin")
def admin_only() -> dict[str, str]:
    return {"clinic_id": g.principal.clinic_id}


def test_clinic_key_and_user_creation_give_working_credentials(
    cli: Any, make_app: Any
) -> None:
    app: Flask = make_app(api_blueprints=[probe])
    created = cli("clinics", "create", "north", "--name", "North Clinic")
    assert created.exit_code == 0, created.output
    key = last_line(cli("keys", "create", "north", "--label", "web form"))
    token = last_line(cli("users", "create", "north", "Dr.Who@North.example", "--role", "admin"))
    assert key.startswith("ik_") and token.startswith("ut_")

    client = app.test_client()
    with session_scope(app, write=False) as session:
        assert session.scalars(select(User.email)).all() == ["dr.who@north.example"]
        clinic_id = session.scalars(select(Clinic.id)).one()
    for path, secret in (("intake", key), ("admin", token)):
        response = client.get(
            f"/api/v1/cliprobe/{path}", headers={"Authorization": f"Bearer {secret}"}
        )
        assert response.status_code == 200
        assert response.json == {"clinic_id": clinic_id}


def test_crisis_message_is_stored_in_settings_version_one(cli: Any, app: Flask) -> None:
    cli("clinics", "create", "east", "--name", "East", "--crisis-message", "Call 988 now.")
    with session_scope(app, write=False) as session:
        version = session.scalars(select(RulesetVersion)).one()
        assert (version.version, version.settings) == (1, {"crisis_message": "Call 988 now."})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("keys", "create", "nowhere"), "No clinic with the slug 'nowhere'"),
        (("users", "create", "nowhere", "a@b.example", "--role", "admin"), "No clinic"),
        (("clinics", "create", "Bad Slug!", "--name", "X"), "slug"),
        (("keys", "revoke", "000000000000"), "No intake key"),
    ],
    ids=["key-unknown-clinic", "user-unknown-clinic", "bad-slug", "revoke-unknown"],
)
def test_user_errors_are_one_line_without_traceback(
    cli: Any, args: tuple[str, ...], message: str
) -> None:
    assert_user_error(cli(*args), message)


def test_duplicates_are_refused(cli: Any) -> None:
    assert cli("clinics", "create", "west", "--name", "West").exit_code == 0
    assert_user_error(cli("clinics", "create", "west", "--name", "West"), "already exists")
    assert cli("users", "create", "west", "a@west.example", "--role", "clinician").exit_code == 0
    duplicate = cli("users", "create", "west", "A@West.example", "--role", "admin")
    assert_user_error(duplicate, "already a user")


def test_bad_usage_exits_2(cli: Any) -> None:
    result = cli("users", "create", "west", "a@west.example", "--role", "superuser")
    assert result.exit_code == 2


def test_bad_configuration_is_a_user_error(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIM_LEASE_MINUTES", "zero")
    assert_user_error(cli("demo"), "CLAIM_LEASE_MINUTES")


def test_demo_prints_credentials_and_if_empty_leaves_existing_data(cli: Any) -> None:
    first = cli("demo", "--if-empty")
    assert first.exit_code == 0, first.output
    for label in ("intake key", "clinician token", "admin token"):
        assert label in first.stdout
    assert "ik_" in first.stdout and first.stdout.count("ut_") == 2
    second = cli("demo", "--if-empty")
    assert second.exit_code == 0
    assert "not added" in second.stdout


def test_audit_verify_passes_then_detects_an_edited_event(cli: Any, app: Flask) -> None:
    cli("demo")
    waiting = cli("audit", "verify")
    assert waiting.exit_code == 0, waiting.output
    assert waiting.stdout.splitlines()[0] == "audit chain OK (0 sealed events)"
    assert waiting.stdout.splitlines()[1].startswith("7 events waiting to be sealed, the oldest")
    seal_job(app_state(app))
    ok = cli("audit", "verify")
    assert ok.exit_code == 0, ok.output
    # demo sets a console password too
    assert ok.stdout.splitlines() == ["audit chain OK (7 sealed events)",
                                      "0 events waiting to be sealed"]
    with session_scope(app) as session:
        session.execute(text("UPDATE audit_events SET outcome = 'denied' WHERE seq = 3"))
    broken = cli("audit", "verify")
    assert broken.exit_code == 1
    assert "seq 3" in broken.stderr


def test_audit_verify_detects_a_deleted_event(cli: Any, app: Flask) -> None:
    cli("demo")
    seal_job(app_state(app))
    with session_scope(app) as session:
        session.execute(text("DELETE FROM audit_events WHERE seq = 6"))
    broken = cli("audit", "verify")
    assert broken.exit_code == 1
    assert "seq 6" in broken.stderr


def test_db_upgrade_migrates_an_empty_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    seeded = runner.invoke(main, ["demo", "--if-empty"])
    assert seeded.exit_code == 0, seeded.output
    assert "created" in seeded.stdout


def test_serve_options_keep_gunicorns_access_log_off() -> None:
    options = server_options("127.0.0.1", 8000, 2)
    assert options["bind"] == "127.0.0.1:8000"
    assert options["workers"] == 2
    assert options["accesslog"] is None


# -- db upgrade: what it did, and why it could not -------------------------------------

def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from screening.storage.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def test_db_upgrade_says_from_which_revision_to_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from screening.storage.db import upgrade

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == (
        f"database upgraded from an empty database to revision {head_revision()}, "
        "the latest schema")
    again = runner.invoke(main, ["db", "upgrade"])
    assert again.stdout.strip() == (
        f"database is at the latest schema (revision {head_revision()}); nothing to do")
    older = f"sqlite:///{tmp_path / 'older.db'}"
    upgrade(older, "0002")
    monkeypatch.setenv("DATABASE_URL", older)
    later = runner.invoke(main, ["db", "upgrade"])
    assert later.stdout.strip() == (
        f"database upgraded from revision 0002 to revision {head_revision()}, the latest schema")


def postgres_server() -> str:
    """``postgresql+psycopg://user@host:port`` of the test server (TEST_DATABASE_URL's,
    else the local default); skips when none answers."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from tests.api.conftest import TEST_DATABASE_URL

    url = make_url(TEST_DATABASE_URL or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    engine = create_engine(url)
    try:
        with engine.connect():
            pass
    except Exception:
        pytest.skip("no PostgreSQL server answers")
    finally:
        engine.dispose()
    server = url.set(database=None).render_as_string(hide_password=False)
    return server.rstrip("/")


def test_db_upgrade_of_a_postgresql_database_that_does_not_exist_says_so(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"{postgres_server()}/no_such_database_i11")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert_user_error(result, "the database named by DATABASE_URL does not exist")
    assert "no_such_database_i11" not in result.output
    assert "migrated" not in result.output


@pytest.mark.parametrize(("url", "message"), [
    ("postgresql+psycopg://admin:s3cret-pw@127.0.0.1:1/screening",
     "cannot connect to the database server of DATABASE_URL"),
    ("postgresql+psycopg://admin:s3cret-pw@no-such-host.invalid:5432/screening",
     "its host name is unknown"),
])
def test_db_upgrade_that_cannot_connect_says_so_without_the_url(
    monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert_user_error(result, message)
    assert "s3cret-pw" not in result.output and "admin" not in result.output


def test_db_upgrade_of_an_sqlite_file_in_a_missing_folder_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert_user_error(result, "cannot open the SQLite file of DATABASE_URL")
