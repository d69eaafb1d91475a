"""The direct data plane between a job's consumer and its provider (HTTP, payloads sealed end to end).

The provider's worker serves, at the endpoint it registered on chain::

    PUT /v1/offers/<model>/<commitment>
                               before posting, a consumer offers a job: its input, sealed to the
                               provider; the worker proves at once, and claims the job with that
                               input commitment when the consumer posts it (job id 0 in the seal)
    PUT /v1/jobs/<id>/input    the consumer uploads its input, sealed to the provider's X25519 key:
                               once this provider claimed the job, or earlier, while it is open
    GET /v1/jobs/<id>/output   the consumer fetches the output, sealed to the consumer's X25519 key

Every request carries ``X-NGX-Signature``: an EIP-191 signature by the job's consumer address over
the chain id, market, job id, action and (for uploads) the sha256 of the body, or (for fetches) a
timestamp. The server checks it against the consumer recorded on chain, that the job is open or
claimed by this provider, and the size limit, before it keeps anything. Payloads are opaque ciphertext here;
:mod:`ngx_zk.crypto` binds them to the job so a payload moved to another job does not open.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct

from .errors import NgxZkError
from .files import write_private

MAX_UPLOAD_BYTES = 4 * 1024 * 1024
MAX_PENDING_OFFERS = 8
"""Offers of jobs not yet posted that one endpoint holds at once; more are refused (HTTP 429)."""
FETCH_MAX_AGE_S = 300
TIMEOUT_S = 10


class DataPlaneError(NgxZkError):
    """The provider's endpoint refused a request or could not be reached."""

    def __init__(self, message: str, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


@dataclass(frozen=True)
class JobFacts:
    """What the server needs from the chain to authorize a request."""

    consumer: str
    provider: str | None
    status: str  # the JobStatus name on chain


@dataclass(frozen=True)
class Offer:
    """A consumer's offer of a job it is about to post: the input sealed to this provider."""

    consumer: str
    model_id: int
    commitment: int
    payload: bytes
    received: float


def offer_detail(model_id: int, commitment: int, body: bytes) -> str:
    return f"model {model_id}|commitment {commitment:064x}|{hashlib.sha256(body).hexdigest()}"


def message(chain_id: int, market: str, job_id: int, action: str, detail: str) -> str:
    return f"ngx-zk dataplane v1|chain {chain_id}|market {market.lower()}|job {job_id}|{action}|{detail}"


def sign(signer: Any, text: str) -> str:
    signed = signer.sign_text(text)
    return "0x" + bytes(signed.signature).hex()


def recover(text: str, signature: str) -> str | None:
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=signature))
    except (ValueError, TypeError):
        return None


class Mailbox:
    """The worker's side of the data plane: received inputs and outputs ready to fetch, on disk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, job_id: int, kind: str) -> Path:
        return self.folder / f"{job_id}.{kind}"

    def put(self, job_id: int, kind: str, data: bytes) -> None:
        write_private(self._path(job_id, kind), data)

    def get(self, job_id: int, kind: str) -> bytes | None:
        path = self._path(job_id, kind)
        return path.read_bytes() if path.is_file() else None

    def mark_fetched(self, job_id: int) -> None:
        self._path(job_id, "fetched").touch()

    def unfetched_outputs(self, job_ids: list[int]) -> list[int]:
        return [j for j in job_ids if self._path(j, "output").is_file() and not self._path(j, "fetched").is_file()]


class DataPlaneServer:
    """The provider's HTTP endpoint, run in a background thread by the worker."""

    def __init__(self, mailbox: Mailbox, *, chain_id: int, market: str, provider: str,
                 job_facts: Callable[[int], JobFacts], log: Callable[..., None],
                 on_input: Callable[[int], None] = lambda _: None, on_offer: Callable[[Offer], bool] | None = None) -> None:
        self.mailbox, self.chain_id, self.market, self.provider = mailbox, chain_id, market, provider
        self.job_facts, self.log, self.on_input, self.on_offer = job_facts, log, on_input, on_offer
        self._server: ThreadingHTTPServer | None = None

    def authorize(self, job_id: int, action: str, detail: str, signature: str | None) -> JobFacts:
        if not signature:
            raise DataPlaneError("missing X-NGX-Signature", 401)
        facts = self.job_facts(job_id)
        signer = recover(message(self.chain_id, self.market, job_id, action, detail), signature)
        if signer is None or signer.lower() != facts.consumer.lower():
            raise DataPlaneError("signature is not from the job's consumer", 403)
        offered = action == "input" and facts.status == "Open"
        allowed = ("Claimed",) if action == "input" else ("Claimed", "Settled")
        if not offered and (facts.status not in allowed or (facts.provider or "").lower() != self.provider.lower()):
            raise DataPlaneError(f"job {job_id} is {facts.status}, not {' or '.join(allowed)} by this provider", 409)
        return facts

    def handle_upload(self, job_id: int, body: bytes, signature: str | None) -> None:
        facts = self.authorize(job_id, "input", hashlib.sha256(body).hexdigest(), signature)
        self.mailbox.put(job_id, "input", body)
        self.log("dataplane.input", job_id=job_id, bytes=len(body), offered=facts.status == "Open")
        self.on_input(job_id)

    def handle_offer(self, model_id: int, commitment: int, body: bytes, signature: str | None) -> None:
        """Take an offer (no job on chain yet: the signature names the consumer the job must come from)."""
        if self.on_offer is None:
            raise DataPlaneError("this endpoint takes no offers", 404)
        if not signature:
            raise DataPlaneError("missing X-NGX-Signature", 401)
        consumer = recover(message(self.chain_id, self.market, 0, "offer", offer_detail(model_id, commitment, body)), signature)
        if consumer is None:
            raise DataPlaneError("bad signature", 403)
        if not self.on_offer(Offer(consumer, model_id, commitment, body, time.time())):
            raise DataPlaneError(f"offer refused: model {model_id} not served here, or {MAX_PENDING_OFFERS} offers pending", 429)
        self.log("dataplane.offer", model_id=model_id, bytes=len(body))

    def handle_fetch(self, job_id: int, timestamp: str, signature: str | None) -> bytes:
        try:
            age = abs(time.time() - float(timestamp))
        except ValueError:
            raise DataPlaneError("bad X-NGX-Timestamp", 400) from None
        if age > FETCH_MAX_AGE_S:
            raise DataPlaneError("request too old; sign a fresh timestamp", 401)
        self.authorize(job_id, "output", timestamp, signature)
        data = self.mailbox.get(job_id, "output")
        if data is None:
            raise DataPlaneError(f"no output for job {job_id} yet", 404)
        self.mailbox.mark_fetched(job_id)
        return data

    def serve(self, host: str, port: int) -> str:
        plane = self

        class Handler(BaseHTTPRequestHandler):
            def _job(self, suffix: str) -> int | None:
                parts = self.path.strip("/").split("/")
                if len(parts) == 4 and parts[:2] == ["v1", "jobs"] and parts[3] == suffix and parts[2].isdigit():
                    return int(parts[2])
                return None

            def _reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _error(self, exc: DataPlaneError) -> None:
                self._reply(exc.status or 400, json.dumps({"error": exc.message}).encode())

            def _offer(self) -> tuple[int, int] | None:
                parts = self.path.strip("/").split("/")
                if len(parts) == 4 and parts[:2] == ["v1", "offers"] and parts[2].isdigit():
                    try:
                        return int(parts[2]), int(parts[3], 16)
                    except ValueError:
                        return None
                return None

            def do_PUT(self) -> None:
                job_id, offer = self._job("input"), self._offer()
                if job_id is None and offer is None:
                    return self._reply(404, b'{"error": "not found"}')
                length = int(self.headers.get("Content-Length") or 0)
                if length <= 0 or length > MAX_UPLOAD_BYTES:
                    return self._error(DataPlaneError(f"upload must be 1..{MAX_UPLOAD_BYTES} bytes", 413))
                body = self.rfile.read(length)
                try:
                    if offer is not None:
                        plane.handle_offer(*offer, body, self.headers.get("X-NGX-Signature"))
                    else:
                        assert job_id is not None
                        plane.handle_upload(job_id, body, self.headers.get("X-NGX-Signature"))
                except DataPlaneError as exc:
                    return self._error(exc)
                except NgxZkError as exc:
                    return self._error(DataPlaneError(exc.message, 502))
                self._reply(200, b'{"ok": true}')
                return None

            def do_GET(self) -> None:
                job_id = self._job("output")
                if job_id is None:
                    return self._reply(404, b'{"error": "not found"}')
                try:
                    data = plane.handle_fetch(job_id, self.headers.get("X-NGX-Timestamp", ""), self.headers.get("X-NGX-Signature"))
                except DataPlaneError as exc:
                    return self._error(exc)
                except NgxZkError as exc:
                    return self._error(DataPlaneError(exc.message, 502))
                self._reply(200, data, "application/octet-stream")
                return None

            def log_message(self, format: str, *args: Any) -> None:
                pass

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise DataPlaneError(f"cannot serve the data plane on {host}:{port}: {exc.strerror}", None,
                                 "pick a free port with --listen HOST:PORT") from None
        threading.Thread(target=self._server.serve_forever, daemon=True, name="dataplane").start()
        return f"http://{host}:{int(self._server.server_address[1])}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# --- consumer side ---------------------------------------------------------------------------------
def upload_input(endpoint: str, signer: Any, chain_id: int, market: str, job_id: int, sealed: bytes) -> None:
    text = message(chain_id, market, job_id, "input", hashlib.sha256(sealed).hexdigest())
    request = urllib.request.Request(f"{endpoint.rstrip('/')}/v1/jobs/{job_id}/input", data=sealed, method="PUT",
                                     headers={"X-NGX-Signature": sign(signer, text), "Content-Type": "application/octet-stream"})
    _send(request)


def upload_offer(endpoint: str, signer: Any, chain_id: int, market: str, model_id: int, commitment: int, sealed: bytes) -> None:
    text = message(chain_id, market, 0, "offer", offer_detail(model_id, commitment, sealed))
    request = urllib.request.Request(f"{endpoint.rstrip('/')}/v1/offers/{model_id}/{commitment:064x}", data=sealed, method="PUT",
                                     headers={"X-NGX-Signature": sign(signer, text), "Content-Type": "application/octet-stream"})
    _send(request)


def fetch_output(endpoint: str, signer: Any, chain_id: int, market: str, job_id: int) -> bytes:
    stamp = f"{time.time():.3f}"
    text = message(chain_id, market, job_id, "output", stamp)
    request = urllib.request.Request(f"{endpoint.rstrip('/')}/v1/jobs/{job_id}/output", method="GET",
                                     headers={"X-NGX-Signature": sign(signer, text), "X-NGX-Timestamp": stamp})
    return _send(request)


def _send(request: urllib.request.Request) -> bytes:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read()).get("error", exc.reason)
        except (ValueError, AttributeError):
            reason = exc.reason
        raise DataPlaneError(f"provider endpoint refused: {reason}", exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        raise DataPlaneError(f"provider endpoint unreachable: {getattr(exc, 'reason', exc)}") from None
