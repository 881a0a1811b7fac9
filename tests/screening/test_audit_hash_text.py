"""The text of a moment that every audit chain hash covers (``audit.iso_utc``): fixed
width, UTC, microseconds always written. Chains sealed by earlier releases must verify
unchanged, so it is pinned here."""

from __future__ import annotations

import datetime as dt

import pytest

from screening.storage.audit import iso_utc

PARIS = dt.timezone(dt.timedelta(hours=1))


@pytest.mark.parametrize(("moment", "text"), [
    pytest.param(dt.datetime(2026, 12, 8, 2, 7, 41, 123456, tzinfo=dt.UTC),
                 "2026-12-08T02:07:41.123456Z", id="utc-with-microseconds"),
    pytest.param(dt.datetime(2026, 12, 8, 2, 7, 41, tzinfo=dt.UTC),
                 "2026-12-08T02:07:41.000000Z", id="whole-second-keeps-six-digits"),
    pytest.param(dt.datetime(2028, 2, 29, 0, 30, 0, 5, tzinfo=PARIS),
                 "2028-02-28T23:30:00.000005Z", id="offset-converted-to-utc-across-29-february"),
])
def test_the_hashed_text_of_a_moment_is_the_one_earlier_releases_sealed(
        moment: dt.datetime, text: str) -> None:
    assert iso_utc(moment) == text
    assert iso_utc(moment) == moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
