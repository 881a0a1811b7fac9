"""Submission bodies for the HTTP tests: the example of shared spec §4 and variants that
route to each priority (spec §6 routing table)."""

from __future__ import annotations

import copy
from typing import Any

SUBMISSIONS = "/api/v1/submissions"

SPEC_EXAMPLE: dict[str, Any] = {
    "questionnaire": "ketamine-intake",
    "questionnaire_version": "1",
    "respondent": {
        "given_name": "Ada", "family_name": "Byron", "date_of_birth": "1990-04-12",
        "sex_at_birth": "female", "email": "ada@example.org", "phone": "+1 555 0100",
        "external_id": "form-4711",
    },
    "answers": {
        "phq9": {"q1": 2, "q2": 3, "q3": 2, "q4": 2, "q5": 1, "q6": 2, "q7": 1, "q8": 1,
                 "q9": 0, "difficulty": 2},
        "asq": {"q1": "no", "q2": "no", "q3": "no", "q4": "no"},
        "gad7": {"q1": 2, "q2": 2, "q3": 1, "q4": 2, "q5": 1, "q6": 1, "q7": 0},
        "treatment_history": {"antidepressant_trials": [
            {"medication": "sertraline", "weeks": 10, "adequate_dose": "yes",
             "taken_as_prescribed": "yes", "response": "none"},
            {"medication": "bupropion", "weeks": 8, "adequate_dose": "yes",
             "taken_as_prescribed": "yes", "response": "partial"},
        ]},
        "medical_history": {"psychosis": "no", "aneurysm_or_avm": "no",
                            "uncontrolled_hypertension": "unsure"},
        "medications": {"benzodiazepine": "no", "maoi": "no"},
        "reproductive": {"pregnant": "not_applicable", "breastfeeding": "not_applicable"},
        "vitals": {"systolic_bp": 128, "diastolic_bp": 82},
    },
}


def example() -> dict[str, Any]:
    """A fresh copy of the spec §4 example (routes ``high``: hypertension ``unsure``)."""
    return copy.deepcopy(SPEC_EXAMPLE)


def routed(priority: str) -> dict[str, Any]:
    """A valid body that the routing table (spec §6) sends to ``priority``."""
    body = example()
    answers = body["answers"]
    answers["medical_history"]["uncontrolled_hypertension"] = "no"
    if priority == "critical":  # ASQ q5 yes (acute)
        answers["asq"].update(q1="yes", q5="yes")
    elif priority == "urgent":  # PHQ-9 item 9 >= 1
        answers["phq9"]["q9"] = 1
    elif priority == "high":  # a relative contraindication answered yes
        answers["medical_history"]["psychosis"] = "yes"
    elif priority != "routine":
        raise ValueError(priority)
    return body
