"""One module per validated instrument: scoring exactly as its published manual says.

Each module exposes ``SECTION`` (its key in ``answers``), ``SOURCE`` (the citation),
``ITEMS`` (the keys counted in its total), a frozen ``<Name>Score`` with ``to_dict()`` and
``score(section)``. Sections arrive validated, but the scorers are total: an absent item is
unknown, never 0, so an incomplete form never yields a total and a cut-off is reported as
crossed only when it certainly is.

The helpers below are shared by the summed instruments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Band = tuple[int, int, str]


def answered_sum(section: Mapping[str, Any], items: tuple[str, ...]) -> tuple[int, int]:
    """The sum of the answered items and the number of items left unanswered.

    A key that is absent or holds None counts as unanswered.
    """
    points = 0
    missing = 0
    for key in items:
        value = section.get(key)
        if value is None:
            missing += 1
        else:
            points += value
    return points, missing


def band_of(total: int, bands: tuple[Band, ...]) -> str:
    """The name of the band ``(low, high, name)`` that holds ``total``.

    Raises ValueError for a total outside every band: scores are sums of in-domain answers,
    so that would be a programming error, never a patient's answer.
    """
    for low, high, name in bands:
        if low <= total <= high:
            return name
    raise ValueError(f"total {total} lies outside the instrument's bands")


def at_least(points: int, missing: int, item_max: int, cutoff: int) -> bool | None:
    """Whether the total certainly reaches ``cutoff``: True, False, or None when it depends
    on the unanswered items (each worth 0 to ``item_max``)."""
    if points >= cutoff:
        return True
    if points + missing * item_max < cutoff:
        return False
    return None
