"""The direct data plane between a job's consumer and its provider (HTTP, payloads sealed end to end).

The provider's worker serves, at the endpoint it registered on chain::

    PUT /v1/offers/<model>/<commitment>
                               before posting, a consumer offers a job: its input, sealed to the
                               provider; the worker proves at once, and claims the job with that
                               input commitment when the consumer posts it (job id 0 in the seal).
                               With ``X-NGX-Order`` (a signed gasless order, :mod:`ngx_zk.chain.orders`)
                               the consumer posts nothing: the worker fills the order itself
    PUT /v1/jobs/<id>/input    the consumer uploads its input, sealed to the provider's X25519 key:
                               once this provider claimed the job, or earlier, while it is open
                               (claim window running) for a model this provider serves
    GET /v1/jobs/<id>/output   the consumer fetches the output, sealed to the consumer's X25519 key
    GET /v1/proofs/<id>        anyone fetches an optimistic job's proof (public once its result is on chain;
                               served until a day after the job finished: :mod:`.proofs`)

Every request is signed by the consumer for this chain, market **and provider**; the server checks
the signature, the job (or the offer's expiry and nonce), the quotas and the size from the headers
alone, before reading the body, then reads exactly the signed length and checks the hash. Payloads
are opaque ciphertext here: :mod:`ngx_zk.crypto` binds them to the job.

Read in this order:

* :mod:`.protocol`: what is signed, the headers, the limits both sides share, ``DataPlaneError``;
* :mod:`.client`: the consumer's calls (``upload_input``, ``upload_offer``, ``fetch_output``);
  the consumer imports only this half;
* :mod:`.mailbox`: the worker's inputs and outputs on disk;
* :mod:`.admission`: authorization from the headers, per-consumer quotas, per-peer gates;
* :mod:`.server`: the ASGI app the worker starts (``DataPlaneServer``), on :mod:`ngx_zk.serving`
  (connection caps, eviction and the header deadline on uvicorn's h11 protocol, in a background thread).

The provider's side (``DataPlaneServer``, ``Mailbox``, ``JobFacts``, ``Limits``) is loaded on first use:
importing this package loads only the protocol and the client, never uvicorn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .client import exchange, fetch_output, upload_input, upload_offer
from .protocol import (
    MAX_PENDING_OFFERS,
    MAX_RESPONSE_BYTES,
    MAX_UPLOAD_BYTES,
    PROTOCOL,
    DataPlaneError,
    Offer,
    fetch_headers,
    message,
    offer_headers,
    recover,
    sign,
    upload_headers,
)

if TYPE_CHECKING:
    from .admission import JobFacts, Limits
    from .mailbox import Mailbox
    from .server import DataPlaneServer

_SERVER_SIDE = {"DataPlaneServer": "server", "JobFacts": "admission", "Limits": "admission", "Mailbox": "mailbox"}

__all__ = [
    "MAX_PENDING_OFFERS",
    "MAX_RESPONSE_BYTES",
    "MAX_UPLOAD_BYTES",
    "PROTOCOL",
    "DataPlaneError",
    "DataPlaneServer",
    "JobFacts",
    "Limits",
    "Mailbox",
    "Offer",
    "exchange",
    "fetch_headers",
    "fetch_output",
    "message",
    "offer_headers",
    "recover",
    "sign",
    "upload_headers",
    "upload_input",
    "upload_offer",
]


def __getattr__(name: str) -> Any:
    """The provider's side, loaded on first use (the consumer's path never loads uvicorn)."""
    if name in _SERVER_SIDE:
        return getattr(importlib.import_module(f"{__name__}.{_SERVER_SIDE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
