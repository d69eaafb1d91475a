"""Who may use the endpoint, and how much: authorization from the signed headers, and the quotas.

Everything here runs **before a body is read**: the server hands the headers to
:meth:`Admission.authorize_upload` / :meth:`Admission.authorize_offer` (signature, job facts from the
chain, expiry, nonce, per-consumer rate and byte quotas) and reads the body only for the
:class:`Ticket` it gets back. :class:`PeerGate` bounds what one peer address and each kind of body
may hold at once. The server runs the blocking parts (a chain read, signature recovery, the mailbox's
disk writes) in a bounded thread pool; these methods are thread-safe.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeGuard

from ..chain.types import JobStatus
from .mailbox import Mailbox
from .protocol import (
    DIGITS,
    FETCH_MAX_AGE_S,
    MAX_ORDER_HEADER,
    MAX_UPLOAD_BYTES,
    NONCE_HEX,
    OFFER_MAX_TTL_S,
    SHA256_HEX,
    DataPlaneError,
    Offer,
    message,
    offer_detail,
    recover,
    upload_detail,
)

if TYPE_CHECKING:
    from ..chain.market import Job

Headers = Mapping[str, str]
"""Request headers, looked up by lower-case name."""


@dataclass(frozen=True)
class Limits:
    """What one endpoint spends on strangers; each bound is checked before a body is read."""

    header_timeout_s: float = 10.0
    """A connection must deliver its request line and headers within this time."""
    body_timeout_s: float = 60.0
    """After its headers, a request must be authorized, deliver its whole body and take its answer within this time."""
    body_grace_s: float = 3.0
    """An accepted body may start slowly for this long; after it, it must keep up ``min_body_bytes_per_s``."""
    min_body_bytes_per_s: float = 16 * 1024
    """Slowest average rate a body may arrive at after ``body_grace_s`` (a trickled body is cut: HTTP 408)."""
    max_connections: int = 256
    """Connections open at once; beyond, the oldest one still sending its headers is closed, else 503."""
    per_peer_connections: int = 32
    """Connections one peer address may hold; beyond, its own oldest one still in its headers is closed."""
    per_peer_requests: int = 8
    """Requests one peer address may have in flight (being authorized, sending a body, answered); beyond, 429."""
    max_offer_bodies: int = 8
    """Offer bodies being received at once (any key can sign an offer); beyond, 503 before reading."""
    max_upload_bodies: int = 32
    """Input bodies being received at once (only a job's consumer can sign one); beyond, 503 before reading."""
    check_threads: int = 4
    """Threads that recover signatures, read job facts from the chain and write the mailbox."""
    max_pending_checks: int = 64
    """Requests waiting for one of those threads; beyond, 503 at once."""
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
    status: str
    """The job's :class:`~ngx_zk.chain.types.JobStatus` (a ``str``: its name on chain)."""
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


@dataclass
class Ticket:
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


class Refused(Exception):
    """A refusal with the sender it is attributed to (for the journal)."""

    def __init__(self, error: DataPlaneError, sender: str) -> None:
        super().__init__(error.message)
        self.error, self.sender = error, sender


def refuse(status: int, text: str, sender: str) -> Refused:
    return Refused(DataPlaneError(text, status), sender)


class PeerGate:
    """Requests in flight per peer address, and bodies in flight per kind (offer, input).

    Used on the server's event loop only (no lock): a peer over its share is refused before any
    signature is recovered or chain read made, and a body beyond its kind's slots is refused before
    a byte of it is read, so slow senders with throwaway keys cannot hold what honest uploads need."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._requests: Counter[str] = Counter()
        self._bodies: Counter[str] = Counter()

    def enter(self, peer: str) -> bool:
        if self._requests[peer] >= self.limits.per_peer_requests:
            return False
        self._requests[peer] += 1
        return True

    def leave(self, peer: str) -> None:
        self._requests[peer] -= 1
        if self._requests[peer] <= 0:
            del self._requests[peer]

    def start_body(self, kind: str) -> bool:
        cap = self.limits.max_offer_bodies if kind == "offer" else self.limits.max_upload_bodies
        if self._bodies[kind] >= cap:
            return False
        self._bodies[kind] += 1
        return True

    def end_body(self, kind: str) -> None:
        self._bodies[kind] -= 1


class Admission:
    """The endpoint's rules: who may upload, offer or fetch what, and the quotas that bound them.

    ``job_facts`` reads a job from the chain; ``on_input``/``on_offer`` hand accepted payloads to the
    worker; ``on_refused(source, reason, sender)`` journals refusals (rate-limited)."""

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        chain_id: int,
        market: str,
        provider: str,
        job_facts: Callable[[int], JobFacts],
        log: Callable[..., None],
        on_input: Callable[[int], None],
        on_offer: Callable[[Offer], bool] | None,
        served_models: Collection[int] | None,
        on_refused: Callable[[str, str, str], None] | None,
        limits: Limits,
        clock: Callable[[], float],
        stats: Counter[str],
    ) -> None:
        self.mailbox, self.chain_id, self.market, self.provider = mailbox, chain_id, market, provider
        self.job_facts, self.log, self.on_input, self.on_offer = job_facts, log, on_input, on_offer
        self.served_models = None if served_models is None else frozenset(served_models)
        self.on_refused, self.limits, self.clock, self.stats = on_refused, limits, clock, stats
        self._lock = threading.Lock()
        self._reserved: Counter[tuple[str, str]] = Counter()  # (consumer, "count"|"bytes") of uploads in flight
        self._offers: dict[str, deque[float]] = {}  # consumer -> times of its recent offers
        self._nonces: dict[tuple[str, str], float] = {}  # (consumer, nonce) -> expiry
        self._refusal_times: deque[float] = deque()

    def _message(self, job_id: int, action: str, detail: str) -> str:
        return message(self.chain_id, self.market, job_id, action, detail, provider=self.provider)

    def length(self, headers: Headers, peer: str) -> int:
        """The declared body length: present, decimal, within the upload limit (else refused unread)."""
        if headers.get("transfer-encoding") is not None:
            raise refuse(411, "send the body with a Content-Length, not Transfer-Encoding", peer)
        raw = headers.get("content-length")
        if raw is None:
            raise refuse(411, "a Content-Length header is required", peer)
        if not DIGITS.fullmatch(raw) or not 0 < int(raw) <= self.limits.max_upload_bytes:
            raise refuse(413, f"upload must be 1..{self.limits.max_upload_bytes} bytes (Content-Length {raw[:20]!r})", peer)
        return int(raw)

    # --- uploads and offers (headers only) ------------------------------------------------------
    def authorize_upload(self, job_id: int, headers: Headers, peer: str) -> Ticket:
        """Check an input upload from its headers: size, signature, job, model, claim window, quotas."""
        length = self.length(headers, peer)
        signature, digest = headers.get("x-ngx-signature"), (headers.get("x-ngx-content-sha256") or "").lower()
        if not signature:
            raise refuse(401, "missing X-NGX-Signature", peer)
        signer = recover(self._message(job_id, "input", upload_detail(digest, length)), signature)
        facts = self.job_facts(job_id)
        if not facts.speaks_for_consumer(signer):
            raise refuse(
                403,
                "signature is not from the job's consumer (or its deliverer) over this body's X-NGX-Content-SHA256 "
                "and length, for this provider",
                signer or peer,
            )
        if not SHA256_HEX.fullmatch(digest):
            raise refuse(400, "X-NGX-Content-SHA256 must be 64 hex digits", signer)
        mine = facts.status == JobStatus.CLAIMED and (facts.provider or "").lower() == self.provider.lower()
        if not mine:
            if facts.status != JobStatus.OPEN:
                raise refuse(409, f"job {job_id} is {facts.status}, not Open or Claimed by this provider", signer)
            if self.served_models is not None and facts.model_id not in self.served_models:
                raise refuse(409, f"job {job_id} is for model {facts.model_id}, which this provider does not serve", signer)
            if facts.claim_deadline is not None and self.clock() >= facts.claim_deadline:
                raise refuse(409, f"job {job_id}'s claim window has closed", signer)
        ticket = Ticket("input", signer, length, digest, job_id=job_id, extra={"offered": not mine})
        self._reserve(ticket)
        return ticket

    def authorize_offer(self, model_id: int, commitment: int, headers: Headers, peer: str) -> Ticket:
        """Check an offer from its headers: size, expiry, nonce, signature, model, per-consumer rate."""
        length = self.length(headers, peer)
        if self.on_offer is None:
            raise refuse(404, "this endpoint takes no offers", peer)
        signature, digest = headers.get("x-ngx-signature"), (headers.get("x-ngx-content-sha256") or "").lower()
        expires_raw, nonce = headers.get("x-ngx-expires") or "", (headers.get("x-ngx-nonce") or "").lower()
        if not signature:
            raise refuse(401, "missing X-NGX-Signature", peer)
        if not DIGITS.fullmatch(expires_raw) or not NONCE_HEX.fullmatch(nonce) or not SHA256_HEX.fullmatch(digest):
            raise refuse(
                400, "an offer needs X-NGX-Expires (unix seconds), X-NGX-Nonce (16-64 hex digits) and X-NGX-Content-SHA256", peer
            )
        expires, now = int(expires_raw), self.clock()
        if expires <= now:
            raise refuse(401, "offer expired; sign a fresh one", peer)
        if expires > now + self.limits.offer_max_ttl_s + self.limits.clock_skew_s:
            raise refuse(400, f"offer expires more than {self.limits.offer_max_ttl_s:.0f}s from now", peer)
        order = headers.get("x-ngx-order") or ""
        if len(order) > MAX_ORDER_HEADER:
            raise refuse(400, f"X-NGX-Order is longer than {MAX_ORDER_HEADER} characters", peer)
        detail = offer_detail(model_id, commitment, digest, length, expires, nonce)
        consumer = recover(self._message(0, "offer", detail), signature)
        claimed = (headers.get("x-ngx-consumer") or "").lower()
        if consumer is None or consumer.lower() != claimed:
            raise refuse(
                403, "signature is not by X-NGX-Consumer over this offer for this provider (a replayed or moved offer?)", peer
            )
        if self.served_models is not None and model_id not in self.served_models:
            raise refuse(404, f"model {model_id} is not served here", consumer)
        self._count_offer(consumer, nonce, expires, now)
        return Ticket("offer", consumer, length, digest, model_id=model_id, commitment=commitment, extra={"order": order})

    def _count_offer(self, consumer: str, nonce: str, expires: int, now: float) -> None:
        """Spend one of the consumer's offers in this window and its nonce (only once its signature held)."""
        who = consumer.lower()
        with self._lock:
            if len(self._nonces) >= self.limits.max_nonces:  # forget the nonces of expired offers
                self._nonces = {key: until for key, until in self._nonces.items() if until > now}
            if (who, nonce) in self._nonces:
                raise refuse(409, "offer replayed: this nonce was used already", consumer)
            if len(self._nonces) >= self.limits.max_nonces:
                raise refuse(503, "too many offers in flight; try later", consumer)
            recent = self._offers.setdefault(who, deque())
            while recent and recent[0] <= now - self.limits.offer_window_s:
                recent.popleft()
            if len(recent) >= self.limits.offers_per_consumer:
                raise refuse(
                    429,
                    f"{consumer} made {len(recent)} offers in the last {self.limits.offer_window_s:.0f}s, the most one consumer may",
                    consumer,
                )
            recent.append(now)
            self._nonces[(who, nonce)] = float(expires)

    def offer_kept(self, consumer: str) -> None:
        """Give back one offer of ``consumer``'s window: it was kept (its job was posted and adopted).

        The window bounds the proofs a consumer can make a provider run for jobs it never posts; an
        offer that became a posted job cost the provider nothing it is not paid for, so a consumer
        that keeps its offers may make one after another."""
        with self._lock:
            recent = self._offers.get(consumer.lower())
            if recent:
                recent.popleft()

    def offers_made(self, consumer: str) -> int:
        """Offers ``consumer`` made in the current window (what a replay would have spent)."""
        with self._lock:
            cutoff = self.clock() - self.limits.offer_window_s
            return sum(1 for t in self._offers.get(consumer.lower(), ()) if t > cutoff)

    def _reserve(self, ticket: Ticket) -> None:
        """Hold quota for an upload before its body is read (released when it is stored or fails)."""
        lim, who = self.limits, ticket.consumer.lower()
        with self._lock:
            mine, mine_bytes = self.mailbox.usage(who)
            total, total_bytes = self.mailbox.usage()
            old = self.mailbox.held(ticket.job_id)  # a consumer resending its input replaces it
            resend = old is not None and old[0] == who
            count = mine + self._reserved[(who, "count")] + (0 if resend else 1)
            size = mine_bytes + self._reserved[(who, "bytes")] + ticket.length - (old[1] if old is not None and resend else 0)
            if count > lim.consumer_max_pending or size > lim.consumer_max_bytes:
                raise refuse(
                    429,
                    f"{ticket.consumer} already has {mine} inputs ({mine_bytes:,} bytes) waiting here; a consumer may keep "
                    f"{lim.consumer_max_pending} inputs and {lim.consumer_max_bytes:,} bytes",
                    ticket.consumer,
                )
            reserved_count = sum(v for (_, k), v in self._reserved.items() if k == "count")
            reserved_bytes = sum(v for (_, k), v in self._reserved.items() if k == "bytes")
            if (
                total + reserved_count + 1 > lim.mailbox_max_inputs
                or total_bytes + reserved_bytes + ticket.length > lim.mailbox_max_bytes
            ):
                raise refuse(503, "this provider's mailbox is full; try later", ticket.consumer)
            self._reserved[(who, "count")] += 1
            self._reserved[(who, "bytes")] += ticket.length
            ticket.reserved = True

    def release(self, ticket: Ticket) -> None:
        if ticket.reserved:
            with self._lock:
                who = ticket.consumer.lower()
                self._reserved[(who, "count")] -= 1
                self._reserved[(who, "bytes")] -= ticket.length
                self._reserved += Counter()  # drop zero entries
                ticket.reserved = False

    # --- after the body -----------------------------------------------------------------------
    def accept(self, ticket: Ticket, body: bytes) -> None:
        """Keep an authorized body whose hash matches what was signed."""
        try:
            if hashlib.sha256(body).hexdigest() != ticket.sha256:
                raise refuse(403, "body does not match the signed X-NGX-Content-SHA256", ticket.consumer)
            if ticket.action == "input":
                self.mailbox.put(ticket.job_id, "input", body, owner=ticket.consumer)
                self.log("dataplane.input", job_id=ticket.job_id, bytes=len(body), offered=ticket.extra["offered"])
                self.on_input(ticket.job_id)
            else:
                assert self.on_offer is not None
                order = ticket.extra.get("order", "")
                if not self.on_offer(Offer(ticket.consumer, ticket.model_id, ticket.commitment, body, time.time(), order)):
                    raise refuse(
                        429,
                        f"offer refused: model {ticket.model_id} not served here, or the provider holds all the offers it takes",
                        ticket.consumer,
                    )
                self.log("dataplane.offer", model_id=ticket.model_id, bytes=len(body), order=bool(order))
            self.stats["accepted"] += 1
        finally:
            self.release(ticket)
        if ticket.action == "input" and self.limits.input_max_age_s > 0:
            for job_id in self.mailbox.sweep(self.limits.input_max_age_s):
                self.log("dataplane.swept", job_id=job_id)

    # --- fetches ------------------------------------------------------------------------------
    def fetch(self, job_id: int, headers: Headers, peer: str) -> bytes:
        """The sealed output of a job, for its consumer (or deliverer) with a fresh signed timestamp."""
        signature, timestamp = headers.get("x-ngx-signature"), headers.get("x-ngx-timestamp") or ""
        try:
            stamp = float(timestamp)
        except ValueError:
            stamp = math.nan
        if not math.isfinite(stamp) or len(timestamp) > 32:
            raise refuse(400, "X-NGX-Timestamp must be a finite number of unix seconds", peer)
        if abs(self.clock() - stamp) > FETCH_MAX_AGE_S:
            raise refuse(401, "request too old; sign a fresh timestamp", peer)
        if not signature:
            raise refuse(401, "missing X-NGX-Signature", peer)
        signer = recover(self._message(job_id, "output", timestamp), signature)
        facts = self.job_facts(job_id)
        if not facts.speaks_for_consumer(signer):
            raise refuse(403, "signature is not from the job's consumer or its deliverer, for this provider", signer or peer)
        served = (JobStatus.CLAIMED, JobStatus.SUBMITTED, JobStatus.CHALLENGED, JobStatus.SETTLED)  # Submitted: optimistic
        if facts.status not in served or (facts.provider or "").lower() != self.provider.lower():
            raise refuse(409, f"job {job_id} is {facts.status}, not Claimed, Submitted or Settled by this provider", signer)
        data = self.mailbox.get(job_id, "output")
        if data is None:
            raise DataPlaneError(f"no output for job {job_id} yet", 404)
        self.mailbox.mark_fetched(job_id)
        return data

    def should_report(self) -> bool:
        """Count a refusal; whether to report it (journal, log): not when refusals flood in."""
        self.stats["refused"] += 1
        now = time.monotonic()
        with self._lock:
            while self._refusal_times and self._refusal_times[0] < now - 60:
                self._refusal_times.popleft()
            if len(self._refusal_times) >= self.limits.refusals_per_minute:
                return False
            self._refusal_times.append(now)
            return True

    def report(self, source: str, exc: Refused) -> None:
        """Log and journal a refusal (blocking: the journal is a database)."""
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
