"""Request ids and primary keys are uuid4 text exactly as the ``uuid`` module writes it."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from screening.ids import uuid4_hex, uuid4_str


@given(st.binary(min_size=16, max_size=16))
def test_same_text_as_the_uuid_module_for_the_same_bytes(random16: bytes) -> None:
    expected = uuid.UUID(bytes=random16, version=4)
    assert uuid4_hex(random16) == expected.hex
    assert uuid4_str(random16) == str(expected)


def test_fresh_ids_are_random_version_4_uuids() -> None:
    ids = {uuid4_str() for _ in range(100)}
    assert len(ids) == 100
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text
    assert uuid.UUID(hex=uuid4_hex()).version == 4
