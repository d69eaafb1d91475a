"""The consumer's half of the data plane: upload an input, offer a job, fetch an output.

Each call checks the provider's endpoint URL first (:func:`ngx_zk.endpoint.check_endpoint`: http(s),
public addresses only off the dev chain, the connection pinned to the checked address), signs its
request for that provider (:mod:`.protocol`), sends a body only after ``100 Continue`` (so a refusal
arrives before the body is sent), refuses redirects, and bounds what it reads back. Nothing here
imports the server stack: ``ngx-zk prove-job`` stays light.
"""

from __future__ import annotations

import http.client
import select
import ssl
from typing import Any

from .. import safejson
from ..chain.types import is_dev_chain
from ..endpoint import EndpointError, check_endpoint
from ..errors import NgxZkError
from .protocol import (
    EXPECT_WAIT_S,
    MAX_ERROR_BYTES,
    MAX_RESPONSE_BYTES,
    TIMEOUT_S,
    DataPlaneError,
    fetch_headers,
    offer_headers,
    upload_headers,
)

__all__ = ["MAX_RESPONSE_BYTES", "DataPlaneError", "exchange", "fetch_output", "upload_input", "upload_offer"]


def _dev(chain_id: int, dev_chain: bool | None) -> bool:
    return is_dev_chain(chain_id) if dev_chain is None else dev_chain


def upload_input(
    endpoint: str,
    signer: Any,
    chain_id: int,
    market: str,
    job_id: int,
    sealed: bytes,
    *,
    provider: str,
    dev_chain: bool | None = None,
) -> None:
    """Upload a sealed input to ``provider``'s endpoint (the signature names ``provider``: no other endpoint
    takes it). ``dev_chain`` allows private endpoint addresses (default: chain id 31337)."""
    exchange(
        endpoint,
        "PUT",
        f"/v1/jobs/{job_id}/input",
        upload_headers(signer, chain_id, market, job_id, sealed, provider=provider),
        sealed,
        dev_chain=_dev(chain_id, dev_chain),
    )


def upload_offer(
    endpoint: str,
    signer: Any,
    chain_id: int,
    market: str,
    model_id: int,
    commitment: int,
    sealed: bytes,
    *,
    provider: str,
    dev_chain: bool | None = None,
    order: str | None = None,
) -> None:
    """Offer a job about to be posted to ``provider``: its input, sealed, with an optional gasless ``order``."""
    headers = offer_headers(signer, chain_id, market, model_id, commitment, sealed, provider=provider, order=order)
    exchange(endpoint, "PUT", f"/v1/offers/{model_id}/{commitment:064x}", headers, sealed, dev_chain=_dev(chain_id, dev_chain))


def fetch_output(
    endpoint: str, signer: Any, chain_id: int, market: str, job_id: int, *, provider: str, dev_chain: bool | None = None
) -> bytes:
    """The sealed output of ``job_id`` from ``provider``'s endpoint."""
    return exchange(
        endpoint,
        "GET",
        f"/v1/jobs/{job_id}/output",
        fetch_headers(signer, chain_id, market, job_id, provider=provider),
        None,
        dev_chain=_dev(chain_id, dev_chain),
    )


def exchange(
    endpoint: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    *,
    dev_chain: bool,
    timeout_s: float = TIMEOUT_S,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> bytes:
    """One request to a provider endpoint, checked first (:func:`ngx_zk.endpoint.check_endpoint`).

    A body is sent only after the server's ``100 Continue``; redirects are refused, answers are
    bounded to ``max_bytes`` and error bodies parsed with :mod:`ngx_zk.safejson`. Raises
    :class:`DataPlaneError` (``status`` set when the endpoint answered)."""
    try:
        target = check_endpoint(endpoint, dev_chain=dev_chain)
    except EndpointError as exc:
        raise DataPlaneError(exc.message, None, exc.hint) from None
    conn = target.connection(timeout_s)
    try:
        conn.putrequest(method, target.base_path + path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Type", "application/octet-stream")
            conn.putheader("Content-Length", str(len(body)))
            conn.putheader("Expect", "100-continue")
        conn.endheaders()
        if body is not None:
            early = _await_continue(conn)
            if early is not None:
                return _answer(endpoint, *early, max_bytes)
            conn.send(body)
        response = conn.getresponse()
        try:
            return _answer(
                endpoint, response.status, response.getheader("Location") or "", _read_bounded(response, max_bytes), max_bytes
            )
        finally:
            response.close()  # else its file keeps the socket open after conn.close()
    except (OSError, http.client.HTTPException) as exc:
        raise DataPlaneError(f"provider endpoint unreachable: {exc}") from None
    finally:
        conn.close()


def _await_continue(conn: http.client.HTTPConnection) -> tuple[int, str, bytes] | None:
    """Wait for ``100 Continue``; a final answer instead (a refusal) is returned as (status, location, body)."""
    sock = conn.sock
    pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
    if not pending and not select.select([sock], [], [], EXPECT_WAIT_S)[0]:
        return None  # a server that ignores Expect: send the body anyway
    raw = sock.makefile("rb", buffering=0)  # unbuffered: read exactly the interim answer, nothing after it
    line = raw.readline(65537)
    fields = line.split(None, 2)
    if len(fields) < 2 or not fields[0].startswith(b"HTTP/") or not fields[1].isdigit():
        raise http.client.BadStatusLine(repr(line[:80]))
    status, headers = int(fields[1]), http.client.parse_headers(raw)
    if status == 100:
        return None
    length = headers.get("Content-Length") or "0"
    data = raw.read(min(int(length) if length.isdigit() else 0, MAX_ERROR_BYTES)) or b""
    return status, headers.get("Location") or "", data


def _read_bounded(response: http.client.HTTPResponse, max_bytes: int) -> bytes:
    declared = response.getheader("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes and response.status == 200:
        raise DataPlaneError(f"provider endpoint sent {int(declared):,} bytes, above the {max_bytes:,}-byte limit")
    limit = max_bytes if response.status == 200 else MAX_ERROR_BYTES
    data = response.read(limit + 1)
    if len(data) > limit and response.status == 200:
        raise DataPlaneError(f"provider endpoint sent more than {max_bytes:,} bytes")
    return data[:limit]


def _answer(endpoint: str, status: int, location: str, data: bytes, max_bytes: int) -> bytes:
    if status == 200:
        return data
    if 300 <= status < 400:
        raise DataPlaneError(
            f"provider endpoint answered a redirect ({status} to {location[:80]!r}); redirects are not followed", status
        )
    raise DataPlaneError(f"provider endpoint refused (HTTP {status}): {_reason(data)}", status)


def _reason(data: bytes) -> str:
    """The ``error`` of a JSON error body, parsed safely; else a short printable excerpt."""
    try:
        parsed = safejson.loads(data, what="the endpoint's error body", max_bytes=MAX_ERROR_BYTES, max_depth=4)
    except NgxZkError as exc:
        return exc.message
    reason = parsed.get("error") if isinstance(parsed, dict) else None
    text = reason if isinstance(reason, str) else data.decode("utf-8", "replace")
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())[:300] or "(no reason given)"
