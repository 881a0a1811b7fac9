"""A response made by an SDC renderer from the published Questionnaire is read back as the
native submission it was filled from.

``fhir_fixtures/lhc-forms-40.1.3-response.json`` is what LHC-Forms 40.1.3 (the NLM SDC
renderer) produced after rendering ``GET /fhir/Questionnaire/ketamine-intake`` and being
filled with ``RENDERED`` (``fhir_fixtures/lforms_roundtrip.js``, run by hand: the suite does
not need Node). LHC-Forms reported no validity error on the filled form, and 14 on the empty
one: exactly the required questions (date of birth, PHQ-9 1-9, ASQ 1-4; ASQ 5 disabled).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from screening.intake.schemas import default_catalogue
from screening.web.fhir.response import parse
from tests.api.bodies import routed
from tests.api.fhir_r4 import assert_valid_r4

LHC_FORMS_RESPONSE = Path(__file__).parent / "fhir_fixtures" / "lhc-forms-40.1.3-response.json"


def rendered() -> dict[str, Any]:
    """The submission LHC-Forms was filled with: acute ASQ (critical), every MDQ row, all of
    PCL-5, part of C-SSRS, two antidepressant trials."""
    body = routed("critical")
    body["answers"]["mdq"] = {"q1": ["yes", "no"] * 6 + ["yes"], "q2": "yes", "q3": "serious"}
    body["answers"]["pcl5"] = {f"q{n}": n % 5 for n in range(1, 21)}
    body["answers"]["cssrs"] = {"q1": "yes", "q6": "no"}
    return body


def test_lhc_forms_response_is_valid_r4_and_reads_back_as_the_submission() -> None:
    resource = json.loads(LHC_FORMS_RESPONSE.read_text(encoding="utf-8"))
    assert_valid_r4(resource)
    catalogue = default_catalogue()
    assert catalogue.load(parse(resource, catalogue).body) == catalogue.load(rendered())
