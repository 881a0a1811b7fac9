"""Random version 4 UUIDs as text, without building ``uuid.UUID`` objects.

Every request gets a request id (``uuid.uuid4().hex``) and every created row a primary key
(``str(uuid.uuid4())``); building the ``UUID`` object and formatting it costs several
times drawing the random bytes. These give exactly the same text for the same bytes.
"""

from __future__ import annotations

import os

_VARIANT_MASK, _VARIANT = ~(0xC000 << 48), 0x8000 << 48  # the RFC 4122 variant
_VERSION_MASK, _VERSION_4 = ~(0xF000 << 64), 4 << 76


def uuid4_hex(random16: bytes | None = None) -> str:
    """``uuid.UUID(bytes=random16, version=4).hex`` (``random16``: 16 random bytes, by
    default fresh from ``os.urandom``)."""
    value = int.from_bytes(random16 if random16 is not None else os.urandom(16), "big")
    value = (value & _VARIANT_MASK & _VERSION_MASK) | _VARIANT | _VERSION_4
    return f"{value:032x}"


def uuid4_str(random16: bytes | None = None) -> str:
    """``str(uuid.UUID(bytes=random16, version=4))``: 36 characters with hyphens."""
    h = uuid4_hex(random16)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
