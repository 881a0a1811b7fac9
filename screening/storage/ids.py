"""UUIDs as text: random version 4 (request ids) and time-ordered version 7 (primary keys
and webhook event ids), their random bits drawn from the operating system's CSPRNG in
blocks.

Every request gets a request id (``uuid.uuid4().hex``), and a created submission a primary
key, an audit event and a webhook event id. ``uuid.uuid4`` asks ``os.urandom`` for 16
bytes each time, and every such call releases the GIL: in a worker whose threads are all
busy, the caller then waits for the GIL to come back (a thread switch, up to the
interpreter's switch interval), three or four times a request, part of them while the
group committer's writer lock is held. So the bytes are drawn from ``os.urandom`` a block
at a time, handed out 16 at a time under a lock, and never reused; a forked child starts
with a fresh block, so no two processes share random bytes. The text of a version 4 UUID
is exactly what the ``uuid`` module writes for the same 16 bytes.

Keys are version 7 (RFC 9562 §5.7: 48 bits of Unix time in milliseconds, then 74 random
bits): a table's new rows land together at the end of each index on their id instead of
on a random page each. A transaction of eight submissions wrote 104 pages to SQLite's
write-ahead log with random keys and 43 with time-ordered ones: 53 against 22 KiB written
and fsynced, and 315 against 182 µs of CPU, per submission (``bench/ids.py``, one run).
74 random bits keep an id as unguessable as any caller needs; the time it tells is the
record's own creation time, which its reader sees anyway.
"""

from __future__ import annotations

import os
import threading
import time

_VARIANT_MASK, _VARIANT = ~(0xC000 << 48), 0x8000 << 48  # the RFC 4122 variant
_VERSION_MASK, _VERSION_4 = ~(0xF000 << 64), 4 << 76
_VERSION_7 = 7 << 76
_RANDOM_74 = (1 << 74) - 1
_BLOCK_BYTES = 16 * 256


class _RandomBlocks:
    """16 random bytes at a time from ``os.urandom`` blocks; safe under threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._block = b""
        self._at = 0

    def take16(self) -> bytes:
        with self._lock:
            at = self._at
            if at + 16 > len(self._block):
                self._block, at = os.urandom(_BLOCK_BYTES), 0
            self._at = at + 16
            return self._block[at:at + 16]

    def forget(self) -> None:
        """Drops the current block (in a forked child, whose parent may still use it)."""
        self._lock = threading.Lock()
        self._block, self._at = b"", 0


_RANDOM = _RandomBlocks()
os.register_at_fork(after_in_child=_RANDOM.forget)


def uuid4_hex(random16: bytes | None = None) -> str:
    """``uuid.UUID(bytes=random16, version=4).hex`` (``random16``: 16 random bytes, by
    default the next 16 from the CSPRNG blocks)."""
    value = int.from_bytes(random16 if random16 is not None else _RANDOM.take16(), "big")
    value = (value & _VARIANT_MASK & _VERSION_MASK) | _VARIANT | _VERSION_4
    return f"{value:032x}"


def uuid4_str(random16: bytes | None = None) -> str:
    """``str(uuid.UUID(bytes=random16, version=4))``: 36 characters with hyphens."""
    h = uuid4_hex(random16)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid7_hex(unix_ms: int | None = None, random16: bytes | None = None) -> str:
    """A version 7 UUID in hex: ``unix_ms`` (default: now) in the first 48 bits, then the
    version, 74 of the bits of ``random16`` (default: the next 16 from the CSPRNG
    blocks) and the RFC 9562 variant."""
    if unix_ms is None:
        unix_ms = time.time_ns() // 1_000_000
    bits = int.from_bytes(random16 if random16 is not None else _RANDOM.take16(), "big")
    bits &= _RANDOM_74
    value = ((unix_ms & 0xFFFF_FFFF_FFFF) << 80) | _VERSION_7 | ((bits >> 62) << 64) \
        | _VARIANT | (bits & ((1 << 62) - 1))
    return f"{value:032x}"


def uuid7_str(unix_ms: int | None = None, random16: bytes | None = None) -> str:
    """``uuid7_hex`` as 36 characters with hyphens."""
    h = uuid7_hex(unix_ms, random16)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
