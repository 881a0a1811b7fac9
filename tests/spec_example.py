"""The submission example of the contract (spec §4), kept once in ``examples/submission.json``
(the README's walk-through posts that file) and read from there by every test."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EXAMPLE_FILE = Path(__file__).resolve().parents[1] / "examples" / "submission.json"
_EXAMPLE: dict[str, Any] = json.loads(EXAMPLE_FILE.read_text(encoding="utf-8"))


def spec_example_body() -> dict[str, Any]:
    """A fresh copy of the whole request body of spec §4."""
    return copy.deepcopy(_EXAMPLE)
