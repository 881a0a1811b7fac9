"""Accessibility of the console pages: WCAG 2.1 AA contrast of every colour pair the
stylesheet uses for text (success criterion 1.4.3, 4.5:1), a label for every form field
(1.3.1 / 4.1.2), a page language (3.1.1), a skip link (2.4.1), one h1 per page, and the
priority written out, never shown by colour alone (1.4.1)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.bodies import routed
from tests.api.conftest import TenantCredentials
from tests.api.reviewing import submit
from tests.console.signing_in import csrf_of

CSS = Path(__file__).resolve().parents[2] / "screening/web/console/static/console.css"
WCAG_AA_TEXT = 4.5


def css_colours() -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", CSS.read_text()))


def luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of ``#rrggbb``."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


WHITE, HEADER, BUTTON, CRISIS_TINT = "#ffffff", "#1f2a37", "#0b3d91", "#fff1f1"
# (foreground, background) as the stylesheet pairs them; names are its custom properties.
PAIRS = [
    ("text", "background"), ("muted", "background"), ("muted", "surface"),
    ("link", "background"), ("link", "surface"), ("error", "background"), ("error", "surface"),
    ("success", "background"), (WHITE, "critical-bg"), (WHITE, "urgent-bg"),
    ("high-text", "high-bg"), ("text", "routine-bg"), (WHITE, HEADER), ("#d6dbe1", HEADER),
    (WHITE, BUTTON), (BUTTON, WHITE), ("critical-bg", CRISIS_TINT), ("text", CRISIS_TINT),
    ("link", CRISIS_TINT), ("muted", CRISIS_TINT),
]


@pytest.mark.parametrize(("foreground", "background"), PAIRS,
                         ids=[f"WCAG 1.4.3: {f} on {b}" for f, b in PAIRS])
def test_text_colours_meet_wcag_aa_contrast(foreground: str, background: str) -> None:
    colours = css_colours()
    ratio = contrast(colours.get(foreground, foreground), colours.get(background, background))
    assert ratio >= WCAG_AA_TEXT, f"{ratio:.2f}:1"


def test_contrast_formula_matches_wcag_reference_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


class PageAudit(HTMLParser):
    """Collects what the checks below need from one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.labelled: set[str] = set()
        self.fields: list[tuple[str, str | None]] = []
        self.h1 = 0
        self.skip_link = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.lang = attributes.get("lang")
        elif tag == "label" and attributes.get("for"):
            self.labelled.add(attributes["for"] or "")
        elif tag in ("input", "select", "textarea") and attributes.get("type") != "hidden":
            self.fields.append((tag, attributes.get("id")))
        elif tag == "h1":
            self.h1 += 1
        elif tag == "a" and attributes.get("href") == "#main":
            self.skip_link = True


def audited(client: FlaskClient, path: str) -> PageAudit:
    response = client.get(path)
    assert response.status_code == 200, path
    audit = PageAudit()
    audit.feed(response.get_data(as_text=True))
    return audit


@pytest.fixture
def submission_id(console_app: Flask, clinic: TenantCredentials) -> str:
    return submit(console_app.test_client(), clinic, routed("critical"))


def test_every_page_has_language_skip_link_one_h1_and_a_label_for_each_field(
    console_client: FlaskClient, reviewer: FlaskClient, submission_id: str
) -> None:
    pages = [audited(console_client, "/console/login")]
    token = csrf_of(reviewer.get("/console/queue"))
    reviewer.post("/console/queue/next", data={"csrf_token": token})  # shows the decision form
    pages += [audited(reviewer, "/console/queue"),
              audited(reviewer, f"/console/submissions/{submission_id}")]
    for page in pages:
        assert page.lang == "en" and page.skip_link and page.h1 == 1
        unlabelled = [field for field in page.fields if field[1] not in page.labelled]
        assert unlabelled == []
    assert len(pages[2].fields) >= 6  # the note, outcome radios, rationale, flag boxes


def test_priority_is_written_out_not_only_coloured(
    reviewer: FlaskClient, submission_id: str
) -> None:
    page = reviewer.get("/console/queue").get_data(as_text=True)
    badge = re.search(r'<span class="badge badge-critical">.*?</span>(\w+)</span>', page)
    assert badge and badge.group(1) == "CRITICAL"
