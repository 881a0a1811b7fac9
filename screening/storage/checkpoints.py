"""Signed checkpoints of the audit chain: the service vouches for its head.

A checkpoint says "the chain had ``seq`` events, the last one's hash was ``hash``, at
``signed_at``", signed with the service's Ed25519 key over ``"<seq>.<hash>.<signed_at>"``
(signature and public key base64, as ``GET /api/v1/audit/checkpoint`` and
``/public-key`` serve them). The hash of event ``seq`` covers every event before it, so
an auditor who kept a checkpoint can later prove that nothing up to it was edited,
deleted, inserted or reordered, and that the chain was not cut back below it, even by
someone who can write to the database and rewrite ``audit_chain_head``: forging a
checkpoint for a rewritten chain needs the private key, which is not in the database.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.orm import Session

from screening.storage.audit import ChainProblem
from screening.storage.db import utcnow
from screening.storage.models import AuditChainHead, AuditCheckpoint, AuditEvent

KEY_ID_HEX_CHARS = 16
_FIELDS = ("seq", "hash", "signed_at", "key_id", "signature")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One signed checkpoint, as served and as an auditor keeps it."""

    seq: int
    hash: str
    signed_at: str
    key_id: str
    signature: str

    def message(self) -> bytes:
        """The signed bytes: ``"<seq>.<hash>.<signed_at>"``."""
        return f"{self.seq}.{self.hash}.{self.signed_at}".encode("ascii")

    def as_json(self) -> dict[str, Any]:
        """The checkpoint as ``GET /api/v1/audit/checkpoint`` answers it."""
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_json(cls, document: object) -> Checkpoint:
        """A checkpoint from its JSON form; ``ValueError`` names the first bad field."""
        if not isinstance(document, Mapping):
            raise ValueError("a checkpoint is a JSON object")
        values: dict[str, Any] = {}
        for name in _FIELDS:
            value = document.get(name)
            wanted = int if name == "seq" else str
            if not isinstance(value, wanted) or isinstance(value, bool):
                raise ValueError(f"field {name!r} is missing or of the wrong type")
            values[name] = value
        if values["seq"] < 0:
            raise ValueError("field 'seq' must not be negative")
        return cls(**values)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The service's checkpoint key (from ``Settings.audit_signing_key``)."""

    private: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """The key whose 32-byte private seed is ``seed``."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public(self) -> Ed25519PublicKey:
        """The public half, which verifies checkpoints."""
        return self.private.public_key()

    def public_raw(self) -> bytes:
        """The 32 raw bytes of the public key."""
        return self.public.public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        """A short name of the key: the first hex characters of SHA-256(public key)."""
        return hashlib.sha256(self.public_raw()).hexdigest()[:KEY_ID_HEX_CHARS]

    def public_json(self) -> dict[str, str]:
        """``{"key_id", "public_key"}`` as ``GET /api/v1/audit/public-key`` answers it."""
        return {"key_id": self.key_id,
                "public_key": base64.b64encode(self.public_raw()).decode("ascii")}


def signed_at_text(moment: dt.datetime) -> str:
    """``moment`` as the checkpoint writes it: ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(session: Session, key: SigningKey, *, now: dt.datetime | None = None) -> Checkpoint:
    """Signs the chain's current head and stores the checkpoint in ``session``'s
    transaction (the caller commits)."""
    head = session.get_one(AuditChainHead, 1)
    signed_at = (now or utcnow()).replace(microsecond=0)
    unsigned = Checkpoint(head.last_seq, head.last_hash, signed_at_text(signed_at),
                          key.key_id, "")
    signature = base64.b64encode(key.private.sign(unsigned.message())).decode("ascii")
    session.add(AuditCheckpoint(seq=unsigned.seq, hash=unsigned.hash, signed_at=signed_at,
                                key_id=unsigned.key_id, signature=signature))
    session.flush()
    return Checkpoint(unsigned.seq, unsigned.hash, unsigned.signed_at, unsigned.key_id,
                      signature)


def latest(session: Session, *, key_id: str | None = None) -> Checkpoint | None:
    """The most recently stored checkpoint (signed by ``key_id`` if given), or None."""
    query = select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
    if key_id is not None:
        query = query.where(AuditCheckpoint.key_id == key_id)
    row = session.scalars(query).first()
    if row is None:
        return None
    return Checkpoint(row.seq, row.hash, signed_at_text(row.signed_at), row.key_id,
                      row.signature)


def check(session: Session, checkpoint: Checkpoint, key: SigningKey) -> list[ChainProblem]:
    """What is wrong with the chain against ``checkpoint``: a signature that is not the
    service's, or an event ``seq`` that is missing or hashes differently (then an event up
    to it was edited, deleted, inserted or reordered, or the chain was truncated). Empty
    when the chain still holds what the checkpoint vouches for. Together with
    ``audit.verify`` (every link from the first event intact) this proves the chain up
    to the checkpoint unchanged."""
    if checkpoint.key_id != key.key_id:
        return [ChainProblem(checkpoint.seq, f"checkpoint signed by another key "
                                             f"({checkpoint.key_id}, ours is {key.key_id})")]
    try:
        key.public.verify(base64.b64decode(checkpoint.signature, validate=True),
                          checkpoint.message())
    except (InvalidSignature, ValueError):
        return [ChainProblem(checkpoint.seq, "checkpoint signature is not valid")]
    if checkpoint.seq == 0:
        return []
    stored = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == checkpoint.seq))
    if stored is None:
        return [ChainProblem(checkpoint.seq, "event of the checkpoint missing: the chain "
                                             "was truncated or renumbered")]
    if stored != checkpoint.hash:
        return [ChainProblem(checkpoint.seq, "chain differs from the checkpoint: an event "
                                             "up to it was edited, deleted, inserted or "
                                             "reordered")]
    return []
