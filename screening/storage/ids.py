"""Random version 4 UUIDs as text, drawn from the operating system's CSPRNG in blocks.

Every request gets a request id (``uuid.uuid4().hex``), and a created submission a primary
key (``str(uuid.uuid4())``), an audit event and a webhook event id. ``uuid.uuid4`` asks
``os.urandom`` for 16 bytes each time, and every such call releases the GIL: in a worker
whose threads are all busy, the caller then waits for the GIL to come back (a thread switch,
up to the interpreter's switch interval), three or four times a request, part of them
while the group committer's writer lock is held. So the bytes are drawn from
``os.urandom`` a block at a time, handed out 16 at a time under a lock, and never reused;
a forked child starts with a fresh block, so no two processes share random bytes. The
text is exactly what the ``uuid`` module writes for the same 16 bytes.
"""

from __future__ import annotations

import os
import threading

_VARIANT_MASK, _VARIANT = ~(0xC000 << 48), 0x8000 << 48  # the RFC 4122 variant
_VERSION_MASK, _VERSION_4 = ~(0xF000 << 64), 4 << 76
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
