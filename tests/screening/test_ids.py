"""Request ids are uuid4 text exactly as the ``uuid`` module writes it; primary keys and
webhook event ids are time-ordered uuid7 (RFC 9562)."""

from __future__ import annotations

import os
import threading
import time
import uuid

from hypothesis import given
from hypothesis import strategies as st

from screening.storage.ids import uuid4_hex, uuid4_str, uuid7_hex, uuid7_str
from screening.storage.models import new_id


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


def test_ids_never_repeat_across_blocks_and_threads() -> None:
    """Eight threads draw well past one block each: every id is new."""
    drawn: list[list[str]] = [[] for _ in range(8)]

    def draw(into: list[str]) -> None:
        into.extend(uuid4_hex() for _ in range(2000))

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [text for into in drawn for text in into]
    assert len(set(every)) == len(every) == 16000


def test_a_forked_child_draws_other_bytes_than_its_parent() -> None:
    """The block in use at a fork is dropped in the child: parent and child, drawing
    next, get different ids (they would share bytes otherwise)."""
    uuid4_hex()  # a block is in use
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, uuid4_hex().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as pipe:
        from_child = pipe.read()
    assert len(from_child) == 32
    assert from_child != uuid4_hex()


@given(st.integers(min_value=0, max_value=(1 << 48) - 1), st.binary(min_size=16, max_size=16))
def test_uuid7_carries_its_millisecond_version_variant_and_74_random_bits(
        unix_ms: int, random16: bytes) -> None:
    """RFC 9562 §5.7: unix_ts_ms (48 bits), ver 7, rand_a (12), var 0b10, rand_b (62)."""
    parsed = uuid.UUID(uuid7_str(unix_ms, random16))
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert parsed.int >> 80 == unix_ms
    random74 = int.from_bytes(random16, "big") & ((1 << 74) - 1)
    rand_a, rand_b = (parsed.int >> 64) & 0xFFF, parsed.int & ((1 << 62) - 1)
    assert (rand_a << 62) | rand_b == random74
    assert uuid7_hex(unix_ms, random16) == parsed.hex


def test_primary_keys_are_uuid7_ordered_by_the_millisecond_they_were_made() -> None:
    earlier = [new_id() for _ in range(50)]
    time.sleep(0.002)
    later = [new_id() for _ in range(50)]
    assert len(set(earlier + later)) == 100
    assert {uuid.UUID(text).version for text in earlier + later} == {7}
    assert max(earlier) < min(later)  # the text sorts as the time does
