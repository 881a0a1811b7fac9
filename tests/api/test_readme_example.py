"""The README's "Try it" walk-through works as written: its commands, run by bash with
curl against a real ``screening serve``, post the contract's example and the FHIR
example, claim the example from the queue and decide it with ``If-Match`` and every flag
acknowledged. The placeholders a reader fills in (``URL``, ``KEY``, ``TOKEN``, then ``ID``
and ``ETAG`` from the claim's answer) are filled in the same way."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.api import live_server
from tests.api.conftest import TenantCredentials
from tests.api.live_server import LiveService

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PLACEHOLDER = re.compile(r"^([A-Z]+)=(\S+)\s+#")

live_service = live_server.live_service  # the fixture, for this module


def try_it_block() -> str:
    """The first code block after the "## Try it" heading."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Try it\n"):]
    match = re.search(r"\n```\n(.*?)\n```\n", section, re.DOTALL)
    assert match is not None, "no code block under ## Try it"
    return match.group(1)


def statements(block: str) -> tuple[list[str], list[str]]:
    """The placeholder variables (in order) and the commands, each joined across its
    continuation lines and open quotes; comment lines dropped."""
    placeholders: list[str] = []
    commands: list[str] = []
    pending = ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        assignment = PLACEHOLDER.match(line)
        if not pending and assignment:
            placeholders.append(assignment.group(1))
            continue
        pending += line + "\n"
        if not line.endswith("\\") and pending.count("'") % 2 == 0:
            commands.append(pending)
            pending = ""
    assert not pending, "a command in the block is not finished"
    return placeholders, commands


def run(command: str, variables: dict[str, str]) -> str:
    """One README command in bash from the repository's folder; its standard output."""
    finished = subprocess.run(["bash", "-c", command], cwd=ROOT, env=variables,
                              capture_output=True, text=True, timeout=30, check=False)
    assert finished.returncode == 0, finished.stderr
    return finished.stdout


def http_answer(raw: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Headers and JSON body of ``curl -i`` output."""
    head, _, body = raw.replace("\r\n", "\n").partition("\n\n")
    headers = {k.strip().lower(): v.strip()
               for k, _, v in (line.partition(":") for line in head.split("\n")[1:])}
    return headers, json.loads(body)


def test_readme_walkthrough_runs_as_written_to_the_decision(
        live_service: LiveService, clinic: TenantCredentials) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    placeholders, commands = statements(try_it_block())
    assert placeholders == ["URL", "KEY", "TOKEN", "ID", "ETAG"]
    variables = {
        "PATH": "/usr/bin:/bin",
        "URL": live_service.url,
        "KEY": clinic.headers("intake")["Authorization"].removeprefix("Bearer "),
        "TOKEN": clinic.headers("clinician")["Authorization"].removeprefix("Bearer "),
    }
    assert [c.split()[:4] for c in commands] == [
        ["curl", "-s", "-X", "POST"], ["curl", "-s", "-X", "POST"],
        ["curl", "-s", "$URL/api/v1/queue", "-H"], ["curl", "-si", "-X", "POST"],
        ["curl", "-s", "-X", "POST"]]
    posted, fhir, queue, claim, decision = commands

    created = json.loads(run(posted, variables))
    assert created["status"] == "pending_review"
    assert created["safety"] == {"show_crisis_resources": False, "message": None}

    received = json.loads(run(fhir, variables))
    assert received["resourceType"] == "OperationOutcome"
    assert all(issue["severity"] == "information" for issue in received["issue"])

    listed = json.loads(run(queue, variables))
    assert [(i["priority"], i["status"]) for i in listed["items"]] == [
        ("high", "pending_review"), ("routine", "pending_review")]
    assert listed["items"][0]["id"] == created["id"]

    headers, claimed = http_answer(run(claim, variables))
    assert claimed["id"] == created["id"]
    assert [f["id"] for f in claimed["evaluation"]["flags"]] == ["uncontrolled_hypertension"]
    variables.update(ID=claimed["id"], ETAG=headers["etag"])

    decided = json.loads(run(decision, variables))
    assert decided["status"] == "decided", decided
    assert decided["decision"]["outcome"] == "needs_more_information"
    assert decided["decision"]["acknowledged_flags"] == ["uncontrolled_hypertension"]
