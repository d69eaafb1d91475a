"""Encrypted payloads between a job's two parties (X25519 + ChaCha20-Poly1305).

A payload is sealed to the recipient's X25519 public key with a fresh ephemeral key and nonce. The
associated data binds it to one job: chain id, market address, job id, model id and direction, so a
ciphertext copied into another job (or replayed as an output) fails to open.

Each party's X25519 key is derived from its signing key (HKDF-SHA256), so it lives wherever the
signing key lives (keystore or env var) and needs no file of its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import NgxZkError

VERSION = 1
HEADER = 1 + 32 + 12


class PayloadError(NgxZkError):
    """A payload cannot be opened: wrong key, wrong job, or tampered."""


@dataclass(frozen=True)
class JobContext:
    """What a payload is bound to."""

    chain_id: int
    market: str
    job_id: int
    model_id: int
    direction: str  # "input" (consumer -> provider) or "output" (provider -> consumer)

    def associated_data(self) -> bytes:
        return b"|".join(
            [
                b"ngx-zk/v1",
                self.direction.encode(),
                self.chain_id.to_bytes(32, "big"),
                bytes.fromhex(self.market.removeprefix("0x").lower()),
                self.job_id.to_bytes(32, "big"),
                self.model_id.to_bytes(32, "big"),
            ]
        )


def derive_key(signing_key: bytes) -> X25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"ngx-zk", info=b"x25519 encryption key v1").derive(signing_key)
    return X25519PrivateKey.from_private_bytes(seed)


def public_bytes(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _shared_key(private: X25519PrivateKey, peer: X25519PublicKey, context: bytes) -> bytes:
    secret = private.exchange(peer)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ngx-zk payload " + context).derive(secret)


def seal(recipient_public: bytes, plaintext: bytes, ctx: JobContext) -> bytes:
    if len(recipient_public) != 32:
        raise PayloadError(f"recipient encryption key has {len(recipient_public)} bytes, expected 32 (X25519)")
    ephemeral = X25519PrivateKey.generate()
    eph_pub = public_bytes(ephemeral)
    key = _shared_key(ephemeral, X25519PublicKey.from_public_bytes(recipient_public), eph_pub)
    nonce = os.urandom(12)
    return bytes([VERSION]) + eph_pub + nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, ctx.associated_data())


def open_sealed(recipient: X25519PrivateKey, payload: bytes, ctx: JobContext) -> bytes:
    if len(payload) <= HEADER + 16 or payload[0] != VERSION:
        raise PayloadError(f"job {ctx.job_id}: {ctx.direction} payload is malformed")
    eph_pub, nonce, body = payload[1:33], payload[33:45], payload[45:]
    key = _shared_key(recipient, X25519PublicKey.from_public_bytes(eph_pub), eph_pub)
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, body, ctx.associated_data())
    except InvalidTag:
        raise PayloadError(
            f"job {ctx.job_id}: {ctx.direction} payload does not open (wrong key, another job, or tampered)"
        ) from None
