"""The provider's endpoint: an ASGI app (Starlette requests and responses) served by uvicorn in a thread.

One request, in order, spending as little as it can on a stranger:

1. the connection is admitted and its head bounded (:mod:`ngx_zk.serving`: caps, eviction, header
   deadline, a head of at most :data:`~.protocol.MAX_HEADER_BYTES`; :func:`serving_limits`);
2. the peer address may have at most ``per_peer_requests`` in flight (:class:`.admission.PeerGate`);
3. the declared length is checked, then the signature is recovered and the job read from the chain
   in a bounded thread pool (at most ``max_pending_checks`` waiting), **all before the body**;
4. the body gets one of its kind's slots (offers and inputs apart, so offers signed with throwaway
   keys cannot take what a job's consumer needs), and only then is it read: uvicorn sends
   ``100 Continue`` on the app's first read, so a refused client never sends its body. The read
   must finish within the request's deadline and keep up a minimum rate after a short grace;
5. the body's hash is checked and it is handed to the worker (in the pool: disk and callbacks).

Every answer closes its connection, so an unread body is never parsed. The worker is synchronous:
:meth:`DataPlaneServer.serve` runs uvicorn in a background thread (:class:`~ngx_zk.serving.BackgroundServer`)
and returns once the port is served; :meth:`DataPlaneServer.close` cuts every connection at once and
returns within a few seconds.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..errors import NgxZkError
from ..serving import BackgroundServer, ServingLimits, listen
from .admission import Admission, JobFacts, Limits, PeerGate, Refused, Ticket, refuse
from .mailbox import Mailbox
from .protocol import MAX_HEADER_BYTES, DataPlaneError, Offer

T = TypeVar("T")
_ROUTE = re.compile(
    r"/v1/(?:jobs/(?P<job>[0-9]{1,12})/(?P<kind>input|output)|offers/(?P<model>[0-9]{1,12})/(?P<commitment>[0-9a-fA-F]{1,64})"
    r"|proofs/(?P<proof>[0-9]{1,12}))"
)
ANSWER_GRACE_S = 1.0
"""Time past ``body_timeout_s`` for the app's own answer (408) before the connection is cut."""


def _json(status: int, payload: dict[str, Any]) -> Response:
    return Response(json.dumps(payload).encode(), status, {"connection": "close"}, "application/json")


def serving_limits(limits: Limits) -> ServingLimits:
    """The connection bounds of an endpoint with ``limits``: its clients are programs that send a head at once,
    so a late one is cut without an answer, and so is every connection when the worker stops."""
    return ServingLimits(
        max_head_bytes=MAX_HEADER_BYTES,
        head_timeout_s=limits.header_timeout_s,
        exchange_timeout_s=limits.body_timeout_s + ANSWER_GRACE_S,
        answer_late_heads=False,
        max_connections=limits.max_connections,
        per_peer_connections=limits.per_peer_connections,
        keep_alive_s=1,
        shutdown_s=0,
    )


class DataPlaneServer:
    """The provider's HTTP endpoint, run in a background thread by the worker.

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
        proofs: Callable[[int], dict[str, Any] | None] | None = None,
    ) -> None:
        self.mailbox, self.limits = mailbox, limits or Limits()
        self.proofs = proofs
        """``GET /v1/proofs/<id>``: an optimistic job's kept proof (:class:`~.proofs.ProofStore`); None serves none."""
        self.stats: Counter[str] = Counter()
        """connections, busy (no slot), evicted, timed_out, head_too_large, peer_busy, bodies_busy, slow_bodies, body_bytes, refused, accepted."""
        self.admission = Admission(
            mailbox,
            chain_id=chain_id,
            market=market,
            provider=provider,
            job_facts=job_facts,
            log=log,
            on_input=on_input,
            on_offer=on_offer,
            served_models=served_models,
            on_refused=on_refused,
            limits=self.limits,
            clock=clock,
            stats=self.stats,
        )
        self.gate = PeerGate(self.limits)
        self._pool: ThreadPoolExecutor | None = None
        self._pending_checks = 0
        self._http: BackgroundServer | None = None

    # --- the ASGI app -------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self._respond(request, request.client.host if request.client else "")
        await response(scope, receive, send)

    async def _respond(self, request: Request, peer: str) -> Response:
        route = _ROUTE.fullmatch(request.scope["path"])  # not request.url: that is rebuilt with the Host header
        if route is not None and route["proof"] is not None and request.method == "GET":
            return await self._proof(int(route["proof"]), peer)
        kind = "offer" if route is not None and route["model"] else route["kind"] if route is not None else ""
        if route is None or request.method != ("GET" if kind == "output" else "PUT"):
            return _json(404, {"error": "not found"})
        if not self.gate.enter(peer):
            self.stats["peer_busy"] += 1
            return _json(429, {"error": "too many requests in flight from this address; retry shortly"})
        deadline = asyncio.get_running_loop().time() + self.limits.body_timeout_s
        try:
            if kind == "output":
                return await self._fetch(int(route["job"]), request, peer, deadline)
            if kind == "offer":
                check = functools.partial(self.admission.authorize_offer, int(route["model"]), int(route["commitment"], 16))
            else:
                check = functools.partial(self.admission.authorize_upload, int(route["job"]))
            return await self._put(kind, check, request, peer, deadline)
        finally:
            self.gate.leave(peer)

    async def _put(self, kind: str, check: Callable[..., Ticket], request: Request, peer: str, deadline: float) -> Response:
        source = f"dataplane.{kind}"
        try:
            self.admission.length(request.headers, peer)  # cheap: refuse a bad length before any work
            ticket = await self._in_pool(deadline, peer, check, request.headers, peer)
        except Refused as refused:
            return await self._refused(source, refused)
        except NgxZkError as exc:  # the chain read failed
            return _json(502, {"error": exc.message})
        try:
            if not self.gate.start_body(ticket.action):
                self.stats["bodies_busy"] += 1
                raise refuse(503, f"this endpoint is receiving as many {kind} bodies as it takes; retry shortly", ticket.consumer)
            try:
                body = await self._read_body(request.receive, ticket, deadline)
                await self._in_pool(deadline, peer, self.admission.accept, ticket, body)
            finally:
                self.gate.end_body(ticket.action)
        except Refused as refused:
            return await self._refused(source, refused)
        except NgxZkError as exc:
            return _json(502, {"error": exc.message})
        finally:
            self.admission.release(ticket)
        return _json(200, {"ok": True})

    async def _fetch(self, job_id: int, request: Request, peer: str, deadline: float) -> Response:
        try:
            data = await self._in_pool(deadline, peer, self.admission.fetch, job_id, request.headers, peer)
        except Refused as refused:
            return await self._refused("dataplane.output", refused)
        except DataPlaneError as exc:
            return _json(exc.status or 400, {"error": exc.message})
        except NgxZkError as exc:
            return _json(502, {"error": exc.message})
        return Response(data, 200, {"connection": "close"}, "application/octet-stream")

    async def _proof(self, job_id: int, peer: str) -> Response:
        """An optimistic job's proof: public once its result is on chain, so no signature; bounded like the rest."""
        if not self.gate.enter(peer):
            self.stats["peer_busy"] += 1
            return _json(429, {"error": "too many requests in flight from this address; retry shortly"})
        try:
            kept = None
            if self.proofs is not None:
                deadline = asyncio.get_running_loop().time() + self.limits.body_timeout_s
                kept = await self._in_pool(deadline, peer, self.proofs, job_id)
        except Refused as refused:
            return _json(refused.error.status or 503, {"error": refused.error.message})
        finally:
            self.gate.leave(peer)
        if kept is None:
            return _json(
                404,
                {
                    "error": f"this provider serves no proof of job {job_id} (not an optimistic job of its own, "
                    "not submitted yet, or finished more than a day ago)"
                },
            )
        return _json(200, kept)

    async def _read_body(self, receive: Receive, ticket: Ticket, deadline: float) -> bytes:
        """Read exactly the authorized length, within the deadline and above the minimum rate (else 408)."""
        lim, loop = self.limits, asyncio.get_running_loop()
        start, got, chunks = loop.time(), 0, list[bytes]()
        while True:
            due = min(deadline, start + lim.body_grace_s + got / lim.min_body_bytes_per_s)
            try:
                async with asyncio.timeout_at(due):
                    message = await receive()  # the first read sends 100 Continue
            except TimeoutError:
                self.stats["slow_bodies"] += 1
                raise refuse(
                    408,
                    f"body too slow: {got:,} of {ticket.length:,} bytes in {loop.time() - start:.1f}s (a body must keep up "
                    f"{lim.min_body_bytes_per_s:,.0f} bytes/s after {lim.body_grace_s:.0f}s and end within {lim.body_timeout_s:.0f}s)",
                    ticket.consumer,
                ) from None
            if message["type"] != "http.request":
                raise refuse(400, f"body ended before its {ticket.length} bytes", ticket.consumer)
            chunk = message.get("body", b"")
            got += len(chunk)
            self.stats["body_bytes"] += len(chunk)
            chunks.append(chunk)
            if got > ticket.length:
                raise refuse(413, f"body is longer than its signed {ticket.length} bytes", ticket.consumer)
            if not message.get("more_body", False):
                break
        if got != ticket.length:
            raise refuse(400, f"body ended before its {ticket.length} bytes", ticket.consumer)
        return b"".join(chunks)

    async def _in_pool(self, deadline: float, peer: str, call: Callable[..., T], *args: Any) -> T:
        """Run blocking work (signature recovery, a chain read, the mailbox) in the bounded pool, within the deadline."""
        assert self._pool is not None
        if self._pending_checks >= self.limits.max_pending_checks:
            raise refuse(503, "the provider endpoint is busy; retry shortly", peer)
        self._pending_checks += 1
        try:
            async with asyncio.timeout_at(deadline):
                return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(call, *args))
        except TimeoutError:
            raise refuse(503, "the provider endpoint took too long to check this request; retry shortly", peer) from None
        finally:
            self._pending_checks -= 1

    async def _refused(self, source: str, refused: Refused) -> Response:
        if self.admission.should_report() and self._pool is not None:
            await asyncio.get_running_loop().run_in_executor(self._pool, self.admission.report, source, refused)
        return _json(refused.error.status or 400, {"error": refused.error.message})

    # --- running ------------------------------------------------------------------------------
    def live_connections(self) -> int:
        return self._http.guard.live() if self._http is not None else 0

    def serve(self, host: str, port: int) -> str:
        """Serve on ``host:port`` (0: any free port) in a background thread; returns the endpoint URL once served."""
        try:
            sock = listen(host, port, backlog=1024)
        except OSError as exc:
            raise DataPlaneError(
                f"cannot serve the data plane on {host}:{port}: {exc.strerror}", None, "pick a free port with --listen HOST:PORT"
            ) from None
        url = f"http://{host}:{int(sock.getsockname()[1])}"
        self._pool = ThreadPoolExecutor(self.limits.check_threads, thread_name_prefix="dataplane-check")
        self._http = BackgroundServer(self, sock, serving_limits(self.limits), name="dataplane", stats=self.stats)
        if not self._http.start():
            self.close()
            raise DataPlaneError(f"the data plane did not start on {host}:{port}", None, "see the worker's log")
        return url

    def close(self) -> None:
        """Stop serving: open connections are cut, and the thread ends within a few seconds."""
        if self._http is not None:
            self._http.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
