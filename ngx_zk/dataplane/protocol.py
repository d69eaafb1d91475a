"""The data plane's wire protocol: what is signed, the headers that carry it, and the size limits.

Every request carries ``X-NGX-Signature``, an EIP-191 signature by the consumer over :func:`message`:
the protocol version, chain id, market, **the provider the request is for**, job id, action and a
detail (for uploads the body's ``X-NGX-Content-SHA256`` and length; for offers also the model,
commitment, ``X-NGX-Expires`` and ``X-NGX-Nonce``; for fetches a finite ``X-NGX-Timestamp``). An offer
also names its signer in ``X-NGX-Consumer``. Naming the provider means a request seen by one
provider (or on the wire) cannot be replayed to another: the signature no longer recovers to the
consumer, so the other endpoint refuses it and nothing of the consumer's quota there is spent.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from ..chain.signer import recover_text_signer
from ..errors import NgxZkError

PROTOCOL = "ngx-zk dataplane v3"
"""v3: the signed message names the provider (v2 did not: an offer could be replayed to any provider)."""
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
MAX_PENDING_OFFERS = 8
"""Offers of jobs not yet posted that one endpoint holds at once; more are refused (HTTP 429)."""
FETCH_MAX_AGE_S = 300
"""How far a fetch's signed timestamp may be from the server's clock, either way."""
OFFER_MAX_TTL_S = 600
"""Latest expiry an offer may carry, from now; offers expiring later are refused."""
OFFER_TTL_S = 120
"""Expiry the client puts on its offers."""
TIMEOUT_S = 10
MAX_ERROR_BYTES = 64 * 1024
"""Largest error body a client reads from a provider."""
MAX_RESPONSE_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
"""Largest output a client reads from a provider."""
EXPECT_WAIT_S = 3.0
"""How long a client waits for ``100 Continue`` (or a refusal) before it sends a body anyway."""
MAX_ORDER_HEADER = 4096
"""Longest ``X-NGX-Order`` header an endpoint takes (an order with one commitment is about 1.2 KiB)."""
MAX_HEADER_BYTES = 16 * 1024
"""Longest request line plus headers an endpoint reads (an order header and a signature fit easily)."""

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
NONCE_HEX = re.compile(r"[0-9a-f]{16,64}")
DIGITS = re.compile(r"[0-9]{1,12}")


class DataPlaneError(NgxZkError):
    """The provider's endpoint refused a request or could not be reached."""

    def __init__(self, message: str, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


@dataclass(frozen=True)
class Offer:
    """A consumer's offer of a job it is about to post: the input sealed to this provider."""

    consumer: str
    model_id: int
    commitment: int
    payload: bytes
    received: float
    order: str = ""
    """The ``X-NGX-Order`` header as sent (unparsed, at most :data:`MAX_ORDER_HEADER` characters): a gasless
    order for the worker to fill instead of waiting for the consumer's post."""


def offer_detail(model_id: int, commitment: int, sha256: str, length: int, expires: int, nonce: str) -> str:
    return f"model {model_id}|commitment {commitment:064x}|sha256 {sha256}|length {length}|expires {expires}|nonce {nonce}"


def upload_detail(sha256: str, length: int) -> str:
    return f"sha256 {sha256}|length {length}"


def message(chain_id: int, market: str, job_id: int, action: str, detail: str, *, provider: str) -> str:
    """The text a consumer signs: it names the chain, the market and the provider the request is for."""
    return f"{PROTOCOL}|chain {chain_id}|market {market.lower()}|provider {provider.lower()}|job {job_id}|{action}|{detail}"


def sign(signer: Any, text: str) -> str:
    signed = signer.sign_text(text)
    return "0x" + bytes(signed.signature).hex()


def recover(text: str, signature: str) -> str | None:
    return recover_text_signer(text, signature)


def upload_headers(signer: Any, chain_id: int, market: str, job_id: int, body: bytes, *, provider: str) -> dict[str, str]:
    """The signed headers of an input upload (the signature covers the body's sha256 and length)."""
    digest = hashlib.sha256(body).hexdigest()
    text = message(chain_id, market, job_id, "input", upload_detail(digest, len(body)), provider=provider)
    return {"X-NGX-Signature": sign(signer, text), "X-NGX-Content-SHA256": digest}


def offer_headers(
    signer: Any,
    chain_id: int,
    market: str,
    model_id: int,
    commitment: int,
    body: bytes,
    *,
    provider: str,
    expires: int | None = None,
    nonce: str | None = None,
    order: str | None = None,
) -> dict[str, str]:
    """The signed headers of an offer: body hash and length, an expiry and a fresh nonce (and a gasless
    ``order``, which carries its own EIP-712 signature)."""
    digest = hashlib.sha256(body).hexdigest()
    expires = int(time.time()) + OFFER_TTL_S if expires is None else expires
    nonce = secrets.token_hex(16) if nonce is None else nonce
    detail = offer_detail(model_id, commitment, digest, len(body), expires, nonce)
    headers = {
        "X-NGX-Signature": sign(signer, message(chain_id, market, 0, "offer", detail, provider=provider)),
        "X-NGX-Content-SHA256": digest,
        "X-NGX-Expires": str(expires),
        "X-NGX-Nonce": nonce,
        "X-NGX-Consumer": signer.address,
    }
    if order:
        headers["X-NGX-Order"] = order
    return headers


def fetch_headers(signer: Any, chain_id: int, market: str, job_id: int, *, provider: str) -> dict[str, str]:
    stamp = f"{time.time():.3f}"
    text = message(chain_id, market, job_id, "output", stamp, provider=provider)
    return {"X-NGX-Signature": sign(signer, text), "X-NGX-Timestamp": stamp}
