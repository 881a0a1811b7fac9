"""Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, 30-second
steps, 6 digits, one step of clock drift either way, as common authenticator apps expect.

A code is matched to its time step; the caller stores the last accepted step and passes
it back, so a code (or an earlier one) is never accepted twice. Enrolment shows the
secret and an ``otpauth://`` URI (Key Uri Format of Google Authenticator) as an inline SVG
QR code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

import segno

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
SECRET_BYTES = 20  # 160 bits, the HMAC-SHA-1 block recommended by RFC 4226 §4


def new_secret() -> str:
    """A new random secret, base32 without padding (32 characters)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    padded = secret.upper() + "=" * (-len(secret) % 8)
    return base64.b32decode(padded)


def time_step(unix_time: float) -> int:
    """The RFC 6238 time step ``T`` of a Unix time (T0 = 0)."""
    return int(unix_time // STEP_SECONDS)


def code_at(secret: str, step: int) -> str:
    """The HOTP value of ``secret`` at counter ``step`` (RFC 4226 §5.3 dynamic truncation)."""
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def normalise(code: str) -> str | None:
    """The code as typed, without spaces; None unless it is exactly six digits."""
    compact = "".join(code.split())
    if len(compact) != DIGITS or not (compact.isascii() and compact.isdigit()):
        return None
    return compact


def match_step(secret: str, code: str, unix_time: float, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side), or None. Steps at
    or before ``last_step`` never match: that is the replay protection."""
    typed = normalise(code)
    current = time_step(unix_time)
    matched = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Every candidate is compared (no early exit) so timing says nothing.
        equal = hmac.compare_digest(code_at(secret, step), typed or "x" * DIGITS)
        if equal and typed is not None and (last_step is None or step > last_step):
            matched = step
    return matched


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads from the QR code."""
    label = quote(f"{issuer}:{account}", safe="@:")
    query = urlencode({"secret": secret, "issuer": issuer, "algorithm": "SHA1",
                       "digits": DIGITS, "period": STEP_SECONDS})
    return f"otpauth://totp/{label}?{query}"


def qr_svg(uri: str, title: str) -> str:
    """The QR code of ``uri`` as inline SVG markup (no script, no style attribute)."""
    return segno.make(uri, error="m").svg_inline(
        scale=5, border=4, dark="#000", light="#fff", title=title, omitsize=False
    )
