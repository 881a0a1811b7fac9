"""The ``screening`` command: migrate, manage clinics and credentials, serve, verify.

User errors (unknown clinic, duplicate email, bad configuration) print one line on stderr
and exit 1 (2 for bad usage, as click does); never a traceback. Commands that create a
secret print it as the last line of stdout so scripts can capture it with ``tail -n 1``.
"""

from __future__ import annotations

import json
import secrets
import string
import sys
from typing import Any

import click

from screening.cli.rulesets import ruleset
from screening.cli.support import cli_app, cli_session, user_errors
from screening.cli.webhooks import webhooks, worker
from screening.config.settings import settings_from_environment
from screening.server.gunicorn import run
from screening.services import accounts
from screening.storage import audit as audit_log
from screening.storage import checkpoints as audit_checkpoints
from screening.storage.db import app_state, upgrade, utcnow
from screening.storage.diagnosis import schema_revision
from screening.storage.unit_of_work import session_scope
from screening.web.console import signin


@click.group()
def main() -> None:
    """Intake screening service for IV ketamine clinics."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@user_errors
def db_upgrade() -> None:
    """Migrate DATABASE_URL to the latest schema (Alembic)."""
    app = cli_app()
    url = app_state(app).settings.database_url
    app_state(app).db.dispose()
    before = schema_revision(url)
    upgrade(url)
    after = schema_revision(url)
    if before == after:
        click.echo(f"database is at the latest schema (revision {after}); nothing to do")
    else:
        start = "an empty database" if before is None else f"revision {before}"
        click.echo(f"database upgraded from {start} to revision {after}, the latest schema")


@main.group()
def clinics() -> None:
    """Clinics (tenants)."""


@clinics.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Display name of the clinic.")
@click.option("--crisis-message", default=None, help="Crisis text shown to respondents.")
@user_errors
def clinics_create(slug: str, name: str, crisis_message: str | None) -> None:
    """Create the clinic SLUG."""
    with cli_session() as session:
        clinic = accounts.create_clinic(
            session, slug=slug, name=name, crisis_message=crisis_message
        )
        click.echo(f"created clinic {clinic.slug} ({clinic.id})")


@main.group()
def keys() -> None:
    """Intake keys (credentials of a clinic's intake forms)."""


@keys.command("create")
@click.argument("slug")
@click.option("--label", default=None, help="What the key is for, e.g. 'web form'.")
@user_errors
def keys_create(slug: str, label: str | None) -> None:
    """Issue an intake key for clinic SLUG; the last line is the key (shown once)."""
    with cli_session() as session:
        clinic = accounts.get_clinic(session, slug)
        issued = accounts.create_intake_key(session, clinic, label=label)
    click.echo(f"intake key {issued.public_id} for clinic {slug} (store it now, shown once):")
    click.echo(issued.token)


@keys.command("revoke")
@click.argument("public_id")
@user_errors
def keys_revoke(public_id: str) -> None:
    """Revoke the intake key PUBLIC_ID (the 12 hex characters after 'ik_')."""
    with cli_session() as session:
        accounts.revoke_intake_key(session, public_id)
    click.echo(f"revoked intake key {public_id}")


@main.group()
def users() -> None:
    """Clinicians and admins."""


@users.command("create")
@click.argument("slug")
@click.argument("email")
@click.option("--role", type=click.Choice(["clinician", "admin"]), required=True)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read a review console password from standard input (one line).",
)
@user_errors
def users_create(slug: str, email: str, role: str, password_stdin: bool) -> None:
    """Create a user of clinic SLUG; the last line is their API token (shown once)."""
    password = _password_from_stdin() if password_stdin else None
    with cli_session() as session:
        clinic = accounts.get_clinic(session, slug)
        issued = accounts.create_user(session, clinic, email=email, role=role)
        if password is not None:
            signin.set_password(session, issued.owner_id, password)
    if password is not None:
        click.echo("console password set; a TOTP code is set up at the first console sign-in")
    click.echo(f"{role} {issued.owner_id} of clinic {slug}; API token (shown once):")
    click.echo(issued.token)


def _password_from_stdin() -> str:
    """The first line of standard input without its line ending (never echoed)."""
    line = sys.stdin.readline()
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        raise click.ClickException("--password-stdin: standard input held no password")
    return password


@users.command("set-password")
@click.argument("slug")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the new console password from standard input (one line).")
@user_errors
def users_set_password(slug: str, email: str, password_stdin: bool) -> None:
    """Set (or reset) the review console password of EMAIL in clinic SLUG; their console
    sessions end."""
    password = _password_from_stdin()
    with cli_session() as session:
        user = accounts.get_user(session, accounts.get_clinic(session, slug), email)
        signin.set_password(session, user.id, password)
    click.echo(f"console password set for user {user.id}")


@users.command("reset-totp")
@click.argument("slug")
@click.argument("email")
@user_errors
def users_reset_totp(slug: str, email: str) -> None:
    """Forget the TOTP device of EMAIL in clinic SLUG (a lost phone): the next console
    sign-in enrols a new one."""
    with cli_session() as session:
        user = accounts.get_user(session, accounts.get_clinic(session, slug), email)
        signin.reset_totp(session, user.id)
    click.echo(f"TOTP device forgotten for user {user.id}; enrol again at the next sign-in")


@users.command("revoke-token")
@click.argument("public_id")
@user_errors
def users_revoke_token(public_id: str) -> None:
    """Revoke the API token PUBLIC_ID (the 12 hex characters after 'ut_')."""
    with cli_session() as session:
        accounts.revoke_user_token(session, public_id)
    click.echo(f"revoked API token {public_id}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--no-worker", is_flag=True,
              help="Do not start the background worker (webhooks, escalation, audit sealing).")
@user_errors
def serve(host: str, port: int, workers: int, no_worker: bool) -> None:
    """Serve the API with gunicorn (production server) and one background worker."""
    # Fail fast on bad configuration, before the port is bound or any worker starts;
    # RATE_LIMIT too, which the application of the other commands turns off.
    settings_from_environment(None, cli_app().instance_path)
    run(host=host, port=port, workers=workers, background_worker=not no_worker)


@main.command()
@click.option("--if-empty", is_flag=True, help="Do nothing when any clinic exists.")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True,
              help="Where the service will answer (printed in the hints).")
@user_errors
def demo(if_empty: bool, url: str) -> None:
    """Seed the demo clinic 'demo' and print its intake key, user tokens and a review
    console sign-in for its clinician."""
    console_password = _demo_password()
    with cli_session() as session:
        if if_empty and accounts.clinic_count(session) > 0:
            click.echo("clinics exist already; demo data not added")
            return
        clinic = accounts.create_clinic(session, slug="demo", name="Demo Clinic")
        key = accounts.create_intake_key(session, clinic, label="demo intake form")
        clinician = accounts.create_user(
            session, clinic, email="clinician@demo.example", role="clinician"
        )
        admin = accounts.create_user(session, clinic, email="admin@demo.example", role="admin")
        signin.set_password(session, clinician.owner_id, console_password)
    click.echo("demo clinic 'demo' created; these secrets are shown once:")
    click.echo(f"  intake key       {key.token}")
    click.echo(f"  clinician token  {clinician.token}  (clinician@demo.example)")
    click.echo(f"  admin token      {admin.token}  (admin@demo.example)")
    click.echo(f"  review console   {url.rstrip('/')}/console/login")
    click.echo(f"  console sign-in  clinician@demo.example  password {console_password}")
    click.echo("                   (a TOTP authenticator is set up at the first sign-in)")


def _demo_password() -> str:
    """A random console password of letters and digits in groups (easy to type)."""
    alphabet = string.ascii_lowercase + string.digits
    groups = ("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))
    return "-".join(groups)


@main.group()
def audit() -> None:
    """Audit log."""


@audit.command("verify")
@click.option("--checkpoint", "checkpoint_file", type=click.File("r", encoding="utf-8"),
              help="A checkpoint saved from GET /api/v1/audit/checkpoint: also prove that "
                   "no event up to it was edited, deleted, inserted or reordered, and that "
                   "the chain was not truncated below it.")
@user_errors
def audit_verify(checkpoint_file: Any) -> None:
    """Check the audit hash chain (and the latest checkpoint stored with this key); report
    the events still waiting to be sealed. Exit 1 if anything is broken."""
    given = _read_checkpoint(checkpoint_file) if checkpoint_file is not None else None
    app = cli_app()
    key = audit_checkpoints.SigningKey.from_seed(app_state(app).settings.audit_signing_key)
    try:
        with session_scope(app, write=False) as session:
            problems = audit_log.verify(session)
            # Checkpoints of an earlier key stay in the table after the key is replaced.
            stored = audit_checkpoints.latest(session, key_id=key.key_id)
            for checkpoint in (stored, given):
                if checkpoint is not None:
                    problems += audit_checkpoints.check(session, checkpoint, key)
            backlog = audit_log.backlog(session)
            total = audit_log.count(session)
    finally:
        app_state(app).db.dispose()
    if problems:
        first, *others = sorted(problems, key=lambda problem: problem.seq)
        click.echo(f"audit chain BROKEN at seq {first.seq}: {first.reason}", err=True)
        for problem in others:
            click.echo(f"  also seq {problem.seq}: {problem.reason}", err=True)
        sys.exit(1)
    sealed = total - backlog.count
    against = f"; matches the checkpoint at seq {given.seq}" if given is not None else ""
    click.echo(f"audit chain OK ({sealed} sealed events{against})")
    age = backlog.oldest_age_seconds(utcnow())
    click.echo(f"{backlog.count} events waiting to be sealed"
               + (f", the oldest for {age:.1f} s" if backlog.count else ""))


def _read_checkpoint(handle: Any) -> Any:
    try:
        return audit_checkpoints.Checkpoint.from_json(json.load(handle))
    except ValueError as error:  # json.JSONDecodeError is one
        raise click.BadParameter(f"not a checkpoint ({error})", param_hint="--checkpoint") from None


main.add_command(ruleset)
main.add_command(webhooks)
main.add_command(worker)
