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

Every request carries ``X-NGX-Signature``: an EIP-191 signature by the consumer over the chain id,
market, job id, action and a detail: for uploads the body's ``X-NGX-Content-SHA256`` and length, for
offers also the model, commitment, ``X-NGX-Expires`` and ``X-NGX-Nonce``, for fetches a finite
``X-NGX-Timestamp``. The server checks the signature, the job (or the offer's expiry and nonce), the
quotas and the size **from the headers alone, before reading the body**; then it reads exactly the
signed length and checks the hash. Clients send ``Expect: 100-continue`` so a refusal reaches them
before the body is sent. Payloads are opaque ciphertext here: :mod:`ngx_zk.crypto` binds them to the
job, so a payload moved to another job does not open.

Strangers are bounded: per-connection header and body deadlines, a cap on connections (the oldest
connection still sending its headers makes room for a new one; beyond that new ones get 503),
per-consumer byte and upload quotas, and a mailbox bounded in bytes and inputs. Responses read by
the client are bounded too, and error bodies are parsed with :func:`ngx_zk.safejson.loads`.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import math
import re
import secrets
import select
import socket
import ssl
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from . import safejson
from .chain.devnet import DEV_CHAIN_ID
from .chain.signer import recover_text_signer
from .endpoint import EndpointError, check_endpoint
from .errors import NgxZkError
from .files import write_private

if TYPE_CHECKING:
    from .chain.market import Job

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
PROTOCOL = "ngx-zk dataplane v2"
MAX_ORDER_HEADER = 4096
"""Longest ``X-NGX-Order`` header an endpoint takes (an order with one commitment is about 1.2 KiB)."""
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NONCE = re.compile(r"[0-9a-f]{16,64}")
_DIGITS = re.compile(r"[0-9]{1,12}")


class DataPlaneError(NgxZkError):
    """The provider's endpoint refused a request or could not be reached."""

    def __init__(self, message: str, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """What one endpoint spends on strangers; each bound is checked before a body is read."""

    header_timeout_s: float = 10.0
    """A connection must deliver its request line and headers within this time."""
    body_timeout_s: float = 60.0
    """An accepted upload must deliver its whole body (and take its answer) within this time."""
    max_connections: int = 32
    """Connections served at once (one thread each); beyond, the oldest still in its headers is closed."""
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    consumer_max_bytes: int = 16 * 1024 * 1024
    """Bytes of inputs one consumer address may keep in the mailbox (uploads in flight count)."""
    consumer_max_pending: int = 4
    """Inputs one consumer address may keep in the mailbox (uploads in flight count)."""
    mailbox_max_bytes: int = 256 * 1024 * 1024
    mailbox_max_inputs: int = 256
    input_max_age_s: float = 24 * 3600
    """Inputs older than this are swept from the mailbox (the worker also discards final jobs)."""
    offers_per_consumer: int = 2
    """Offers one consumer address may make per ``offer_window_s``."""
    offer_window_s: float = 120.0
    offer_max_ttl_s: float = OFFER_MAX_TTL_S
    clock_skew_s: float = 30.0
    """Tolerance for consumers' clocks on offer expiries."""
    max_nonces: int = 10_000
    """Offer nonces remembered at once (each until its offer expires); beyond, offers get 503."""
    refusals_per_minute: int = 60
    """Refusals reported through ``on_refused``/the log per minute; more are only counted."""


@dataclass(frozen=True)
class JobFacts:
    """What the server needs from the chain to authorize a request.

    ``model_id`` and ``claim_deadline`` (chain time) are needed to take inputs for open jobs: an
    open job's input is taken only for a served model while its claim window runs."""

    consumer: str
    provider: str | None
    status: str  # the JobStatus name on chain
    model_id: int | None = None
    claim_deadline: float | None = None
    deliverer: str | None = None
    """Who else may hand over the input and fetch the output: the party a contract consumer named."""

    @classmethod
    def from_job(cls, job: Job, deliverer: str | None = None) -> JobFacts:
        return cls(job.consumer, job.provider, job.status.value, job.model_id, float(job.claim_deadline), deliverer)

    def speaks_for_consumer(self, signer: str | None) -> TypeGuard[str]:
        """Whether ``signer`` may act for the job's consumer: the consumer itself, or its deliverer."""
        return signer is not None and signer.lower() in {self.consumer.lower(), (self.deliverer or "").lower()} - {""}


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


def message(chain_id: int, market: str, job_id: int, action: str, detail: str) -> str:
    return f"{PROTOCOL}|chain {chain_id}|market {market.lower()}|job {job_id}|{action}|{detail}"


def sign(signer: Any, text: str) -> str:
    signed = signer.sign_text(text)
    return "0x" + bytes(signed.signature).hex()


def recover(text: str, signature: str) -> str | None:
    return recover_text_signer(text, signature)


def upload_headers(signer: Any, chain_id: int, market: str, job_id: int, body: bytes) -> dict[str, str]:
    """The signed headers of an input upload (the signature covers the body's sha256 and length)."""
    digest = hashlib.sha256(body).hexdigest()
    text = message(chain_id, market, job_id, "input", upload_detail(digest, len(body)))
    return {"X-NGX-Signature": sign(signer, text), "X-NGX-Content-SHA256": digest}


def offer_headers(
    signer: Any,
    chain_id: int,
    market: str,
    model_id: int,
    commitment: int,
    body: bytes,
    *,
    expires: int | None = None,
    nonce: str | None = None,
    order: str | None = None,
) -> dict[str, str]:
    """The signed headers of an offer: body hash and length, an expiry and a fresh nonce (and a gasless
    ``order``, which carries its own EIP-712 signature)."""
    digest = hashlib.sha256(body).hexdigest()
    expires = int(time.time()) + OFFER_TTL_S if expires is None else expires
    nonce = secrets.token_hex(16) if nonce is None else nonce
    text = message(chain_id, market, 0, "offer", offer_detail(model_id, commitment, digest, len(body), expires, nonce))
    headers = {
        "X-NGX-Signature": sign(signer, text),
        "X-NGX-Content-SHA256": digest,
        "X-NGX-Expires": str(expires),
        "X-NGX-Nonce": nonce,
    }
    if order:
        headers["X-NGX-Order"] = order
    return headers


def fetch_headers(signer: Any, chain_id: int, market: str, job_id: int) -> dict[str, str]:
    stamp = f"{time.time():.3f}"
    return {"X-NGX-Signature": sign(signer, message(chain_id, market, job_id, "output", stamp)), "X-NGX-Timestamp": stamp}


# --- the mailbox -----------------------------------------------------------------------------------
class Mailbox:
    """The worker's side of the data plane: received inputs and outputs ready to fetch, on disk.

    Each input remembers its owner (the consumer that uploaded it) so quotas survive a restart;
    :meth:`discard` removes everything of a job once it is final."""

    KINDS = ("input", "output", "fetched", "owner")

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._inputs: dict[int, tuple[str, int]] = {}  # job id -> (owner, bytes)
        for path in folder.glob("*.input"):
            if path.stem.isdigit():
                owner = folder / f"{path.stem}.owner"
                self._inputs[int(path.stem)] = (owner.read_text().strip() if owner.is_file() else "", path.stat().st_size)

    def _path(self, job_id: int, kind: str) -> Path:
        return self.folder / f"{job_id}.{kind}"

    def put(self, job_id: int, kind: str, data: bytes, *, owner: str = "") -> None:
        with self._lock:
            if kind == "input":
                write_private(self._path(job_id, "owner"), owner.lower().encode())
            write_private(self._path(job_id, kind), data)
            if kind == "input":
                self._inputs[job_id] = (owner.lower(), len(data))

    def get(self, job_id: int, kind: str) -> bytes | None:
        path = self._path(job_id, kind)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def mark_fetched(self, job_id: int) -> None:
        self._path(job_id, "fetched").touch()

    def unfetched_outputs(self, job_ids: list[int]) -> list[int]:
        return [j for j in job_ids if self._path(j, "output").is_file() and not self._path(j, "fetched").is_file()]

    def release_input(self, job_id: int) -> None:
        """Drop the job's input and its quota entry, keeping an output that waits for its consumer.

        Call when the job is final: a settled job's input must not count against its consumer's
        quota (the consumer keeps the input it committed to; a disclosure needs nothing from here)."""
        with self._lock:
            for kind in ("input", "owner"):
                self._path(job_id, kind).unlink(missing_ok=True)
            self._inputs.pop(job_id, None)

    def inputs_held(self) -> list[int]:
        """Ids of the jobs whose input the mailbox holds."""
        with self._lock:
            return list(self._inputs)

    def discard(self, job_id: int) -> None:
        """Remove the job's input, output and marks (call when the job is final and its output fetched or not needed)."""
        with self._lock:
            for kind in self.KINDS:
                self._path(job_id, kind).unlink(missing_ok=True)
            self._inputs.pop(job_id, None)

    def held(self, job_id: int) -> tuple[str, int] | None:
        """(owner, bytes) of the job's input, if the mailbox holds one."""
        with self._lock:
            return self._inputs.get(job_id)

    def usage(self, owner: str | None = None) -> tuple[int, int]:
        """(inputs, bytes) held for ``owner``, or for everyone."""
        with self._lock:
            held = [size for who, size in self._inputs.values() if owner is None or who == owner.lower()]
            return len(held), sum(held)

    def sweep(self, max_age_s: float, now: float | None = None) -> list[int]:
        """Discard the jobs whose input is older than ``max_age_s``; returns their ids."""
        cutoff = (time.time() if now is None else now) - max_age_s
        with self._lock:
            old = []
            for job_id in list(self._inputs):
                try:
                    if self._path(job_id, "input").stat().st_mtime < cutoff:
                        old.append(job_id)
                except FileNotFoundError:
                    old.append(job_id)
            for job_id in old:
                self.discard(job_id)
            return old


# --- the server ------------------------------------------------------------------------------------
@dataclass
class _Conn:
    sock: socket.socket
    peer: str
    deadline: float
    evictable: bool = True  # still sending its headers: no request was authorized yet
    closed: bool = False


@dataclass
class _Ticket:
    """An upload or offer authorized from its headers; its body is read only after this."""

    action: str
    consumer: str
    length: int
    sha256: str
    job_id: int = 0
    model_id: int = 0
    commitment: int = 0
    reserved: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class _Refused(Exception):
    """A refusal with the sender it is attributed to (for the journal)."""

    def __init__(self, error: DataPlaneError, sender: str) -> None:
        super().__init__(error.message)
        self.error, self.sender = error, sender


class DataPlaneServer:
    """The provider's HTTP endpoint, run in background threads by the worker.

    Beyond the worker's wiring (``job_facts``, ``on_input``, ``on_offer``): ``served_models`` (model ids
    this worker serves: uploads for open jobs and offers of other models are refused; ``None`` takes
    any model), ``on_refused(source, reason, sender)`` (the worker journals refusals), ``limits`` and
    ``clock`` (wall time, for offer expiry and the claim window)."""

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        chain_id: int,
        market: str,
        provider: str,
        job_facts: Callable[[int], JobFacts],
        log: Callable[..., None],
        on_input: Callable[[int], None] = lambda _: None,
        on_offer: Callable[[Offer], bool] | None = None,
        served_models: Collection[int] | None = None,
        on_refused: Callable[[str, str, str], None] | None = None,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mailbox, self.chain_id, self.market, self.provider = mailbox, chain_id, market, provider
        self.job_facts, self.log, self.on_input, self.on_offer = job_facts, log, on_input, on_offer
        self.served_models = None if served_models is None else frozenset(served_models)
        self.on_refused, self.limits, self.clock = on_refused, limits or Limits(), clock
        self.stats: Counter[str] = Counter()
        """connections, busy (refused: no slot), evicted, timed_out, body_bytes, refused, accepted."""
        self._server: _Server | None = None
        self._cond = threading.Condition()
        self._conns: dict[socket.socket, _Conn] = {}
        self._lock = threading.Lock()
        self._reserved: Counter[tuple[str, str]] = Counter()  # (consumer, "count"|"bytes") of uploads in flight
        self._offers: dict[str, deque[float]] = {}  # consumer -> times of its recent offers
        self._nonces: dict[tuple[str, str], float] = {}  # (consumer, nonce) -> expiry
        self._refusal_times: deque[float] = deque()
        self._stopping = False

    # --- authorization (headers only) ---------------------------------------------------------
    def _length(self, headers: Any) -> int:
        raw = headers.get("Content-Length") or ""
        if not _DIGITS.fullmatch(raw) or not 0 < int(raw) <= self.limits.max_upload_bytes:
            raise DataPlaneError(f"upload must be 1..{self.limits.max_upload_bytes} bytes (Content-Length {raw[:20]!r})", 413)
        return int(raw)

    def authorize_upload(self, job_id: int, headers: Any, peer: str) -> _Ticket:
        """Check an input upload from its headers: size, signature, job, model, claim window, quotas."""
        length = self._length(headers)
        signature, digest = headers.get("X-NGX-Signature"), (headers.get("X-NGX-Content-SHA256") or "").lower()
        if not signature:
            raise _Refused(DataPlaneError("missing X-NGX-Signature", 401), peer)
        facts = self.job_facts(job_id)
        signer = recover(message(self.chain_id, self.market, job_id, "input", upload_detail(digest, length)), signature)
        if not facts.speaks_for_consumer(signer):
            raise _Refused(
                DataPlaneError(
                    "signature is not from the job's consumer (or its deliverer) over this body's "
                    "X-NGX-Content-SHA256 and length",
                    403,
                ),
                signer or peer,
            )
        if not _SHA256.fullmatch(digest):
            raise _Refused(DataPlaneError("X-NGX-Content-SHA256 must be 64 hex digits", 400), signer)
        mine = facts.status == "Claimed" and (facts.provider or "").lower() == self.provider.lower()
        if not mine:
            if facts.status != "Open":
                raise _Refused(
                    DataPlaneError(f"job {job_id} is {facts.status}, not Open or Claimed by this provider", 409), signer
                )
            if self.served_models is not None and facts.model_id not in self.served_models:
                raise _Refused(
                    DataPlaneError(f"job {job_id} is for model {facts.model_id}, which this provider does not serve", 409), signer
                )
            if facts.claim_deadline is not None and self.clock() >= facts.claim_deadline:
                raise _Refused(DataPlaneError(f"job {job_id}'s claim window has closed", 409), signer)
        ticket = _Ticket("input", signer, length, digest, job_id=job_id, extra={"offered": not mine})
        self._reserve(ticket)
        return ticket

    def authorize_offer(self, model_id: int, commitment: int, headers: Any, peer: str) -> _Ticket:
        """Check an offer from its headers: size, expiry, nonce, signature, model, per-consumer rate."""
        length = self._length(headers)
        if self.on_offer is None:
            raise _Refused(DataPlaneError("this endpoint takes no offers", 404), peer)
        signature, digest = headers.get("X-NGX-Signature"), (headers.get("X-NGX-Content-SHA256") or "").lower()
        expires_raw, nonce = headers.get("X-NGX-Expires") or "", (headers.get("X-NGX-Nonce") or "").lower()
        if not signature:
            raise _Refused(DataPlaneError("missing X-NGX-Signature", 401), peer)
        if not _DIGITS.fullmatch(expires_raw) or not _NONCE.fullmatch(nonce) or not _SHA256.fullmatch(digest):
            raise _Refused(
                DataPlaneError(
                    "an offer needs X-NGX-Expires (unix seconds), X-NGX-Nonce (16-64 hex digits) and X-NGX-Content-SHA256", 400
                ),
                peer,
            )
        expires, now = int(expires_raw), self.clock()
        if expires <= now:
            raise _Refused(DataPlaneError("offer expired; sign a fresh one", 401), peer)
        if expires > now + self.limits.offer_max_ttl_s + self.limits.clock_skew_s:
            raise _Refused(DataPlaneError(f"offer expires more than {self.limits.offer_max_ttl_s:.0f}s from now", 400), peer)
        detail = offer_detail(model_id, commitment, digest, length, expires, nonce)
        consumer = recover(message(self.chain_id, self.market, 0, "offer", detail), signature)
        if consumer is None:
            raise _Refused(DataPlaneError("bad signature", 403), peer)
        if self.served_models is not None and model_id not in self.served_models:
            raise _Refused(DataPlaneError(f"model {model_id} is not served here", 404), consumer)
        order = headers.get("X-NGX-Order") or ""
        if len(order) > MAX_ORDER_HEADER:
            raise _Refused(DataPlaneError(f"X-NGX-Order is longer than {MAX_ORDER_HEADER} characters", 400), consumer)
        with self._lock:
            if len(self._nonces) >= self.limits.max_nonces:  # forget the nonces of expired offers
                self._nonces = {key: until for key, until in self._nonces.items() if until > now}
            if (consumer.lower(), nonce) in self._nonces:
                raise _Refused(DataPlaneError("offer replayed: this nonce was used already", 409), consumer)
            if len(self._nonces) >= self.limits.max_nonces:
                raise _Refused(DataPlaneError("too many offers in flight; try later", 503), consumer)
            recent = self._offers.setdefault(consumer.lower(), deque())
            while recent and recent[0] <= now - self.limits.offer_window_s:
                recent.popleft()
            if len(recent) >= self.limits.offers_per_consumer:
                raise _Refused(
                    DataPlaneError(
                        f"{consumer} made {len(recent)} offers in the last "
                        f"{self.limits.offer_window_s:.0f}s, the most one consumer may",
                        429,
                    ),
                    consumer,
                )
            recent.append(now)
            self._nonces[(consumer.lower(), nonce)] = float(expires)
        return _Ticket("offer", consumer, length, digest, model_id=model_id, commitment=commitment, extra={"order": order})

    def _reserve(self, ticket: _Ticket) -> None:
        """Hold quota for an upload before its body is read (released when it is stored or fails)."""
        lim, who = self.limits, ticket.consumer.lower()
        with self._lock:
            mine, mine_bytes = self.mailbox.usage(who)
            total, total_bytes = self.mailbox.usage()
            old = self.mailbox.held(ticket.job_id)  # a consumer resending its input replaces it
            replaced = old[1] if old is not None and old[0] == who else 0
            count = mine + self._reserved[(who, "count")] + (0 if old is not None and old[0] == who else 1)
            size = mine_bytes + self._reserved[(who, "bytes")] + ticket.length - replaced
            if count > lim.consumer_max_pending or size > lim.consumer_max_bytes:
                raise _Refused(
                    DataPlaneError(
                        f"{ticket.consumer} already has {mine} inputs ({mine_bytes:,} bytes) waiting here; "
                        f"a consumer may keep {lim.consumer_max_pending} inputs and "
                        f"{lim.consumer_max_bytes:,} bytes",
                        429,
                    ),
                    ticket.consumer,
                )
            if (
                total + sum(v for (_, k), v in self._reserved.items() if k == "count") + 1 > lim.mailbox_max_inputs
                or total_bytes + sum(v for (_, k), v in self._reserved.items() if k == "bytes") + ticket.length
                > lim.mailbox_max_bytes
            ):
                raise _Refused(DataPlaneError("this provider's mailbox is full; try later", 503), ticket.consumer)
            self._reserved[(who, "count")] += 1
            self._reserved[(who, "bytes")] += ticket.length
            ticket.reserved = True

    def _release(self, ticket: _Ticket) -> None:
        if ticket.reserved:
            with self._lock:
                who = ticket.consumer.lower()
                self._reserved[(who, "count")] -= 1
                self._reserved[(who, "bytes")] -= ticket.length
                self._reserved += Counter()  # drop zero entries
                ticket.reserved = False

    # --- after the body -----------------------------------------------------------------------
    def accept(self, ticket: _Ticket, body: bytes) -> None:
        """Keep an authorized body whose hash matches what was signed."""
        try:
            if hashlib.sha256(body).hexdigest() != ticket.sha256:
                raise _Refused(DataPlaneError("body does not match the signed X-NGX-Content-SHA256", 403), ticket.consumer)
            if ticket.action == "input":
                self.mailbox.put(ticket.job_id, "input", body, owner=ticket.consumer)
                self.log("dataplane.input", job_id=ticket.job_id, bytes=len(body), offered=ticket.extra["offered"])
                self.on_input(ticket.job_id)
            else:
                assert self.on_offer is not None
                offer = Offer(
                    ticket.consumer, ticket.model_id, ticket.commitment, body, time.time(), ticket.extra.get("order", "")
                )
                if not self.on_offer(offer):
                    raise _Refused(
                        DataPlaneError(
                            f"offer refused: model {ticket.model_id} not served here, or {MAX_PENDING_OFFERS} offers pending", 429
                        ),
                        ticket.consumer,
                    )
                self.log("dataplane.offer", model_id=ticket.model_id, bytes=len(body), order=bool(offer.order))
            self.stats["accepted"] += 1
        finally:
            self._release(ticket)
        if ticket.action == "input" and self.limits.input_max_age_s > 0:
            for job_id in self.mailbox.sweep(self.limits.input_max_age_s):
                self.log("dataplane.swept", job_id=job_id)

    def fetch(self, job_id: int, headers: Any, peer: str) -> bytes:
        signature, timestamp = headers.get("X-NGX-Signature"), headers.get("X-NGX-Timestamp") or ""
        try:
            stamp = float(timestamp)
        except ValueError:
            stamp = math.nan
        if not math.isfinite(stamp) or len(timestamp) > 32:
            raise _Refused(DataPlaneError("X-NGX-Timestamp must be a finite number of unix seconds", 400), peer)
        if abs(self.clock() - stamp) > FETCH_MAX_AGE_S:
            raise _Refused(DataPlaneError("request too old; sign a fresh timestamp", 401), peer)
        if not signature:
            raise _Refused(DataPlaneError("missing X-NGX-Signature", 401), peer)
        facts = self.job_facts(job_id)
        signer = recover(message(self.chain_id, self.market, job_id, "output", timestamp), signature)
        if not facts.speaks_for_consumer(signer):
            raise _Refused(DataPlaneError("signature is not from the job's consumer or its deliverer", 403), signer or peer)
        if facts.status not in ("Claimed", "Settled") or (facts.provider or "").lower() != self.provider.lower():
            raise _Refused(
                DataPlaneError(f"job {job_id} is {facts.status}, not Claimed or Settled by this provider", 409), signer
            )
        data = self.mailbox.get(job_id, "output")
        if data is None:
            raise DataPlaneError(f"no output for job {job_id} yet", 404)
        self.mailbox.mark_fetched(job_id)
        return data

    def refused(self, source: str, exc: _Refused) -> None:
        """Count a refusal; report it (journal, log) unless refusals flood in."""
        self.stats["refused"] += 1
        now = time.monotonic()
        with self._lock:
            while self._refusal_times and self._refusal_times[0] < now - 60:
                self._refusal_times.popleft()
            if len(self._refusal_times) >= self.limits.refusals_per_minute:
                return
            self._refusal_times.append(now)
        self.log(
            "dataplane.refused",
            level="warning",
            source=source,
            status=exc.error.status,
            reason=exc.error.message,
            sender=exc.sender,
        )
        if self.on_refused is not None:
            self.on_refused(source, exc.error.message, exc.sender)

    # --- connections --------------------------------------------------------------------------
    def _admit(self, sock: socket.socket, peer: str) -> bool:
        """Take a new connection if a slot is free, making room by closing the oldest one still in its headers."""
        with self._cond:
            self.stats["connections"] += 1
            if len(self._conns) >= self.limits.max_connections:
                idle = [c for c in self._conns.values() if c.evictable and not c.closed]
                if idle:
                    victim = min(idle, key=lambda c: c.deadline)
                    victim.closed = True
                    _hang_up(victim.sock)
                    self.stats["evicted"] += 1
                wait_until = time.monotonic() + 0.5
                while len(self._conns) >= self.limits.max_connections and time.monotonic() < wait_until:
                    self._cond.wait(wait_until - time.monotonic())
                if len(self._conns) >= self.limits.max_connections:
                    self.stats["busy"] += 1
                    return False
            self._conns[sock] = _Conn(sock, peer, time.monotonic() + self.limits.header_timeout_s)
            self._cond.notify_all()
            return True

    def _phase(self, sock: socket.socket, timeout_s: float) -> None:
        """The connection finished its headers: it may no longer be evicted, and gets a new deadline."""
        with self._cond:
            conn = self._conns.get(sock)
            if conn is not None:
                conn.evictable, conn.deadline = False, time.monotonic() + timeout_s
                self._cond.notify_all()
        sock.settimeout(timeout_s)

    def _leave(self, sock: socket.socket) -> None:
        with self._cond:
            self._conns.pop(sock, None)
            self._cond.notify_all()

    def _reap(self) -> None:
        """Close connections past their deadline (a slow sender cannot outlast it by dribbling bytes)."""
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                for conn in self._conns.values():
                    if not conn.closed and conn.deadline <= now:
                        conn.closed = True
                        _hang_up(conn.sock)
                        self.stats["timed_out"] += 1
                live = [c.deadline for c in self._conns.values() if not c.closed]
                self._cond.wait(max(0.01, min(live) - now) if live else 1.0)

    def live_connections(self) -> int:
        with self._cond:
            return len(self._conns)

    def serve(self, host: str, port: int) -> str:
        try:
            self._server = _Server((host, port), _handler_for(self), self)
        except OSError as exc:
            raise DataPlaneError(
                f"cannot serve the data plane on {host}:{port}: {exc.strerror}", None, "pick a free port with --listen HOST:PORT"
            ) from None
        self._stopping = False
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True, name="dataplane").start()
        threading.Thread(target=self._reap, daemon=True, name="dataplane-reaper").start()
        return f"http://{host}:{int(self._server.server_address[1])}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._cond:
            self._stopping = True
            for conn in self._conns.values():
                _hang_up(conn.sock)
            self._cond.notify_all()


def _hang_up(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _busy_reply(sock: socket.socket) -> None:
    body = b'{"error": "the provider endpoint is busy; retry shortly"}'
    head = (
        f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Retry-After: 1\r\nConnection: close\r\n\r\n"
    )
    try:
        sock.setblocking(False)
        sock.send(head.encode() + body)
    except OSError:
        pass
    sock.close()


class _Server(HTTPServer):
    """An HTTP server with one thread per admitted connection and a cap on them (no thread for the refused)."""

    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], plane: DataPlaneServer) -> None:
        self.plane = plane
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.plane._admit(request, str(client_address[0])):
            _busy_reply(request)
            return
        threading.Thread(target=self._serve_one, args=(request, client_address), daemon=True, name="dataplane-conn").start()

    def _serve_one(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # a connection that breaks (reset, hung up on) ends; the server goes on
            self.plane.stats["broken"] += 1
        finally:
            self.plane._leave(request)
            self.shutdown_request(request)


def _handler_for(plane: DataPlaneServer) -> type[BaseHTTPRequestHandler]:
    lim = plane.limits

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # for Expect: 100-continue; one request per connection all the same
        timeout = lim.header_timeout_s
        _ticket: _Ticket | None = None

        def _route(self) -> tuple[str, int, int] | None:
            parts = self.path.strip("/").split("/")
            if len(parts) != 4 or parts[0] != "v1" or not _DIGITS.fullmatch(parts[2]):
                return None
            if parts[1] == "jobs" and parts[3] in ("input", "output"):
                return parts[3], int(parts[2]), 0
            if parts[1] == "offers" and re.fullmatch(r"[0-9a-fA-F]{1,64}", parts[3]):
                return "offer", int(parts[2]), int(parts[3], 16)
            return None

        def _reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
            plane._phase(self.connection, lim.body_timeout_s)
            self.close_connection = True
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def _error(self, exc: DataPlaneError) -> None:
            self._reply(exc.status or 400, json.dumps({"error": exc.message}).encode())

        def _refuse(self, source: str, refused: _Refused) -> None:
            plane.refused(source, refused)
            self._error(refused.error)

        def _authorize_put(self) -> _Ticket | None:
            """Authorize from the headers; on refusal answer and close without reading the body."""
            plane._phase(self.connection, lim.header_timeout_s)
            route = self._route()
            if self.command != "PUT" or route is None or route[0] not in ("input", "offer"):
                self._reply(404, b'{"error": "not found"}')
                return None
            kind, number, commitment = route
            peer = str(self.client_address[0])
            try:
                if kind == "offer":
                    return plane.authorize_offer(number, commitment, self.headers, peer)
                return plane.authorize_upload(number, self.headers, peer)
            except _Refused as refused:
                self._refuse(f"dataplane.{kind}", refused)
            except DataPlaneError as exc:
                self._refuse(f"dataplane.{kind}", _Refused(exc, peer))
            except NgxZkError as exc:
                self._error(DataPlaneError(exc.message, 502))
            return None

        def handle(self) -> None:
            try:
                super().handle()
            finally:
                if self._ticket is not None:  # the client left between authorization and its body
                    plane._release(self._ticket)

        def handle_expect_100(self) -> bool:
            if self.command != "PUT":
                return super().handle_expect_100()
            self._ticket = self._authorize_put()
            if self._ticket is None:
                return False
            self.send_response_only(100)
            self.end_headers()
            return True

        def do_PUT(self) -> None:
            ticket = self._ticket or self._authorize_put()
            if ticket is None:
                return
            try:
                plane._phase(self.connection, lim.body_timeout_s)
                body = self._read_exactly(ticket.length)
                if body is None:
                    raise _Refused(DataPlaneError(f"body ended before its {ticket.length} bytes", 400), ticket.consumer)
                plane.accept(ticket, body)
            except _Refused as refused:
                return self._refuse(f"dataplane.{ticket.action}", refused)
            except NgxZkError as exc:
                return self._error(DataPlaneError(exc.message, 502))
            finally:
                plane._release(ticket)
            self._reply(200, b'{"ok": true}')

        def _read_exactly(self, length: int) -> bytes | None:
            chunks, left = [], length
            while left:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    return None
                plane.stats["body_bytes"] += len(chunk)
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)

        def do_GET(self) -> None:
            plane._phase(self.connection, lim.header_timeout_s)
            route = self._route()
            if route is None or route[0] != "output":
                return self._reply(404, b'{"error": "not found"}')
            peer = str(self.client_address[0])
            try:
                data = plane.fetch(route[1], self.headers, peer)
            except _Refused as refused:
                return self._refuse("dataplane.output", refused)
            except DataPlaneError as exc:
                return self._error(exc)
            except NgxZkError as exc:
                return self._error(DataPlaneError(exc.message, 502))
            self._reply(200, data, "application/octet-stream")
            return None

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# --- consumer side ---------------------------------------------------------------------------------
def _dev(chain_id: int, dev_chain: bool | None) -> bool:
    return chain_id == DEV_CHAIN_ID if dev_chain is None else dev_chain


def upload_input(
    endpoint: str, signer: Any, chain_id: int, market: str, job_id: int, sealed: bytes, *, dev_chain: bool | None = None
) -> None:
    """Upload a sealed input. ``dev_chain`` allows private endpoint addresses (default: chain id 31337)."""
    exchange(
        endpoint,
        "PUT",
        f"/v1/jobs/{job_id}/input",
        upload_headers(signer, chain_id, market, job_id, sealed),
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
    dev_chain: bool | None = None,
    order: str | None = None,
) -> None:
    headers = offer_headers(signer, chain_id, market, model_id, commitment, sealed, order=order)
    exchange(endpoint, "PUT", f"/v1/offers/{model_id}/{commitment:064x}", headers, sealed, dev_chain=_dev(chain_id, dev_chain))


def fetch_output(endpoint: str, signer: Any, chain_id: int, market: str, job_id: int, *, dev_chain: bool | None = None) -> bytes:
    return exchange(
        endpoint,
        "GET",
        f"/v1/jobs/{job_id}/output",
        fetch_headers(signer, chain_id, market, job_id),
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
