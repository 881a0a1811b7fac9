"""Submission bodies for the HTTP tests: the example of shared spec §4 and variants that
route to each priority (spec §6 routing table)."""

from __future__ import annotations

import copy
from typing import Any

from tests.spec_example import spec_example_body

SUBMISSIONS = "/api/v1/submissions"

SPEC_EXAMPLE: dict[str, Any] = spec_example_body()


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
