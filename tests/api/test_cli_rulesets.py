"""``screening ruleset show|draft|shadow|activate`` (shared spec §10) on the test
database, through click's runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from screening.cli import main
from screening.storage.models import AuditEvent, Submission
from screening.storage.unit_of_work import session_scope
from tests.api.conftest import TenantCredentials
from tests.api.test_cli import assert_user_error, last_line
from tests.api.test_rulesets import submit, with_phq9_total


@pytest.fixture
def run_cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Runs ``screening ARGS...`` on the test database; returns click's Result."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    return lambda *args: CliRunner().invoke(main, list(args))


def settings_file(tmp_path: Path, settings: Any) -> str:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings), encoding="utf-8")
    return str(path)


def test_show_draft_shadow_and_activate(
        run_cli: Any, app: Flask, client: FlaskClient, clinic: TenantCredentials,
        tmp_path: Path) -> None:
    for total in (12, 16):
        submit(client, clinic, with_phq9_total(total))
    shown = run_cli("ruleset", "show", clinic.slug)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["version"] == 1

    drafted = run_cli("ruleset", "draft", clinic.slug, "--file",
                  settings_file(tmp_path, {"phq9_threshold": 15}))
    assert drafted.exit_code == 0, drafted.output
    draft_id = last_line(drafted)

    shadowed = run_cli("ruleset", "shadow", clinic.slug, draft_id, "--since", "2000-01-01")
    assert shadowed.exit_code == 0, shadowed.output
    report = json.loads(shadowed.stdout)
    assert (report["evaluated"], report["changed"]) == (2, 1)
    assert report["criteria"] == {"depression_moderate_to_severe": {"met->not_met": 1}}

    stale = run_cli("ruleset", "activate", clinic.slug, draft_id, "--expect-version", "7")
    assert_user_error(stale, "changed")
    activated = run_cli("ruleset", "activate", clinic.slug, draft_id)
    assert activated.exit_code == 0, activated.output
    assert "version 2" in activated.stdout
    assert json.loads(run_cli("ruleset", "show", clinic.slug).stdout)["settings"][
        "phq9_threshold"] == 15
    with session_scope(app, write=False) as session:
        actions = list(session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.startswith("ruleset."))))
        assert actions == ["ruleset.draft", "ruleset.shadow", "ruleset.activate"]
        assert all(s.evaluation["settings_version"] == 1
                   for s in session.scalars(select(Submission)))


def test_a_draft_out_of_bounds_names_the_setting(
        run_cli: Any, clinic: TenantCredentials, tmp_path: Path) -> None:
    result = run_cli("ruleset", "draft", clinic.slug, "--file",
                     settings_file(tmp_path, {"phq9_threshold": 30}))
    assert_user_error(result, "settings.phq9_threshold")
    result = run_cli("ruleset", "draft", clinic.slug, "--file", settings_file(tmp_path, [1]))
    assert_user_error(result, "settings")
