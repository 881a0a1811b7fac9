"""Standard Webhooks signatures (https://www.standardwebhooks.com/, "Signature scheme").

A secret is ``whsec_`` + base64 of 32 random bytes; the HMAC key is those bytes. The
signature of a delivery is ``v1,`` + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")),
and ``webhook-signature`` lists one per live secret, space-separated (during a rotation the
previous secret signs too, so a receiver can switch keys at its own pace).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A new endpoint secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


@functools.lru_cache(maxsize=256)
def _keyed(secret: str) -> hmac.HMAC:
    # The HMAC state after the key: copying it costs a third of keying a new one, and the
    # worker signs every delivery of an endpoint with the same secret.
    return hmac.new(_key(secret), digestmod=hashlib.sha256)


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 signature>`` of one delivery under ``secret``."""
    mac = _keyed(secret).copy()
    mac.update(f"{message_id}.{timestamp}.".encode())
    mac.update(body)
    return "v1," + base64.b64encode(mac.digest()).decode()


def headers(secrets_: Iterable[str], message_id: str, timestamp: int,
            body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of a delivery, signed under every secret."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret, message_id, timestamp, body) for secret in secrets_
        ),
    }
