"""What both HTTP servers (the provider's data plane, the explorer) stand on: uvicorn in a thread, guarded.

uvicorn times out only idle keep-alive connections, bounds only a head that h11 buffers *incomplete*
(a whole 200 KiB head read in one go passes), and its ``limit_concurrency`` answers 503 once
connections reach the cap, which lets a crowd of unfinished requests lock honest ones out. So every
connection goes through :class:`ConnectionGuard` and :class:`GuardedH11`, set by one
:class:`ServingLimits`:

* at most ``max_connections`` in all and ``per_peer_connections`` per peer address; at either cap the
  oldest connection still in its head, or idle between requests (of that peer, at the per-peer cap),
  is closed to make room, and only when there is none is the newcomer answered 503. An honest client
  sends its head at once, so a flood of idle or dribbling connections only ever evicts itself;
* a head must be in within ``head_timeout_s`` of its first byte (of the connection, for the first
  request), and is counted before h11 parses it: a whole head over ``max_head_bytes`` gets a 431
  (h11 answers 400 to one still incomplete past that size);
* optionally the whole request within ``request_timeout_s`` of its first byte (408), and the exchange
  within ``exchange_timeout_s`` of its head (cut: the app failed to answer, or the client to read).

:class:`BackgroundServer` runs uvicorn on an event loop in a daemon thread (so no signal handlers),
with access logs off and uvicorn's per-request warnings (a stranger's malformed requests) kept out of
the log. Only the server modules import this one: ``ngx-zk --help`` never loads uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import ClassVar

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

START_S = 10.0
"""Longest wait for uvicorn to serve the port."""
STOP_S = 5.0
"""Longest a stop takes beyond the grace it gives answers in flight."""
_HEAD_END = re.compile(rb"\n\r?\n")  # h11's own end of a head


def flat_error(status: int, message: str) -> object:
    """``{"error": message}``: the JSON body of an answer the guard gives itself."""
    return {"error": message}


@dataclass(frozen=True)
class ServingLimits:
    """What one server spends on a stranger's connections before its app sees a request."""

    max_head_bytes: int = 16 * 1024
    """The largest request line plus headers (431 beyond; h11 answers 400 to one arriving in pieces)."""
    head_timeout_s: float = 10.0
    """A request's head must be in within this time of its first byte (of the connection, for the first)."""
    request_timeout_s: float | None = None
    """The whole request (head and body) must be in within this time of its first byte, else a 408."""
    exchange_timeout_s: float | None = None
    """After its head, a request must be answered within this time, else its connection is cut."""
    answer_late_heads: bool = True
    """A head past its deadline gets a 408 (a browser shows it); False: the connection is cut without a word."""
    max_connections: int = 512
    """Connections open at once; beyond, the oldest one still in its head (or idle) is closed, else 503."""
    per_peer_connections: int = 128
    """Connections one peer address may hold; beyond, its own oldest one still in its head is closed."""
    keep_alive_s: int = 5
    """Seconds an idle keep-alive connection is kept."""
    shutdown_s: int = 5
    """Seconds a stop gives answers in flight before their connections are cut (0: cut at once)."""
    error_json: Callable[[int, str], object] = flat_error
    """The JSON body of the guard's own answers (503, 408, 431), in the server's error shape."""

    def answer(self, status: int, message: str) -> bytes:
        """A whole HTTP/1.1 answer that closes its connection."""
        body = json.dumps(self.error_json(status, message)).encode()
        retry = "Retry-After: 1\r\n" if status == 503 else ""
        head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: application/json\r\n"
        return (head + f"Content-Length: {len(body)}\r\n{retry}Connection: close\r\n\r\n").encode() + body


class ConnectionGuard:
    """Admits and evicts the connections of one server; lives on its event loop (no lock)."""

    def __init__(self, limits: ServingLimits, stats: Counter[str] | None = None) -> None:
        self.limits = limits
        self.stats: Counter[str] = Counter() if stats is None else stats
        """connections, busy (refused 503), evicted, timed_out, head_too_large."""
        self._open: dict[GuardedH11, str] = {}  # connection -> peer, oldest first
        self._per_peer: Counter[str] = Counter()

    def live(self) -> int:
        """Connections open now."""
        return len(self._open)

    def admit(self, conn: GuardedH11, peer: str) -> bool:
        """Take a new connection, making room by closing the oldest one still in its head; False: refuse it."""
        self.stats["connections"] += 1
        at_peer_cap = self._per_peer[peer] >= self.limits.per_peer_connections
        if (at_peer_cap or len(self._open) >= self.limits.max_connections) and not self._evict(peer if at_peer_cap else None):
            self.stats["busy"] += 1
            return False
        self._open[conn] = peer
        self._per_peer[peer] += 1
        return True

    def leave(self, conn: GuardedH11) -> None:
        peer = self._open.pop(conn, None)
        if peer is not None:
            self._per_peer[peer] -= 1
            if self._per_peer[peer] <= 0:
                del self._per_peer[peer]

    def close_all(self) -> None:
        """Cut every connection still open (the end of a stop)."""
        for conn in list(self._open):
            conn.cut()

    def _evict(self, peer: str | None) -> bool:
        victim = next((c for c, p in self._open.items() if c.in_head() and (peer is None or p == peer)), None)
        if victim is None:
            return False
        victim.cut()
        self.stats["evicted"] += 1
        return True


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with each connection admitted by :attr:`guard` and each request timed and measured."""

    guard: ClassVar[ConnectionGuard]
    _deadline: asyncio.TimerHandle | None = None  # the head's, then the rest of the request's
    _exchange: asyncio.TimerHandle | None = None  # from the head until the answer is sent
    _phase = "idle"  # idle (between requests), head, body (the rest of the request), answer
    _started = 0.0  # loop time of the request's first byte
    _head_bytes = 0
    _tail = b""  # the last bytes of the head so far: its end may straddle two reads

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.guard.admit(self, self.client[0] if self.client else ""):
            transport.write(self.guard.limits.answer(503, "too many connections; retry shortly"))
            transport.close()
            return
        self._begin()

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return  # refused, evicted or timed out: nothing more is parsed
        if self.conn.their_state is h11.IDLE:
            self._begin()
            if not self._head_fits(data):
                return
        super().data_received(data)
        self._track()

    def on_response_complete(self) -> None:
        if self._exchange is not None:
            self._exchange.cancel()
            self._exchange = None
        self._phase = "idle"
        pending = self.conn.trailing_data[0]
        if pending and self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self._begin()  # a pipelined request, parsed by uvicorn as soon as this call returns
            self._head_fits(pending)
        super().on_response_complete()
        self._track()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timers()
        self.guard.leave(self)
        super().connection_lost(exc)

    def in_head(self) -> bool:
        """Whether no request is being handled here (one may be arriving): a connection the guard may close."""
        return self.conn.their_state is h11.IDLE

    def cut(self) -> None:
        """Close at once, without an answer."""
        self._stop_timers()
        self.guard.leave(self)
        self.transport.abort()

    def _begin(self) -> None:
        """A request starts (its first byte; the connection, for the first): its head's deadline runs."""
        if self._phase == "idle":
            self._phase, self._started, self._head_bytes, self._tail = "head", self.loop.time(), 0, b""
            self._deadline = self.loop.call_at(self._started + self.guard.limits.head_timeout_s, self._late, "head")

    def _head_fits(self, data: bytes) -> bool:
        """Count the head's bytes before h11 parses them; a whole head over the bound is refused (431)."""
        seen = self._tail + data
        end = _HEAD_END.search(seen)
        self._head_bytes += end.end() - len(self._tail) if end else len(data)
        self._tail = seen[-2:]
        if end is None or self._head_bytes <= self.guard.limits.max_head_bytes:
            return True
        self.guard.stats["head_too_large"] += 1
        self._refuse(431, f"request head larger than {self.guard.limits.max_head_bytes:,} bytes")
        return False

    def _track(self) -> None:
        """After h11 has read: once the head is in, the rest of the request and the exchange get their deadlines."""
        limits, their = self.guard.limits, self.conn.their_state
        if self._phase == "head" and their is not h11.IDLE:
            self._phase = "body"
            self._cancel_deadline()
            if limits.exchange_timeout_s is not None:
                self._exchange = self.loop.call_later(limits.exchange_timeout_s, self._late, "exchange")
            if limits.request_timeout_s is not None and their is h11.SEND_BODY:
                self._deadline = self.loop.call_at(self._started + limits.request_timeout_s, self._late, "body")
        if self._phase == "body" and their is not h11.SEND_BODY:
            self._phase = "answer"
            self._cancel_deadline()

    def _late(self, phase: str) -> None:
        if phase == "exchange":
            self._exchange = None
        else:
            self._deadline = None
        if self.transport.is_closing():
            return
        self.guard.stats["timed_out"] += 1
        if phase == "exchange" or (phase == "head" and not self.guard.limits.answer_late_heads):
            self.cut()
        else:
            self._refuse(408, "request too slow")

    def _refuse(self, status: int, message: str) -> None:
        """Answer with ``status`` unless an answer to this request has begun, and close."""
        ours, theirs = self.conn.our_state, self.conn.their_state
        if ours in (h11.IDLE, h11.SEND_RESPONSE) or ours is theirs is h11.DONE:  # DONE: a pipelined request's head
            self.transport.write(self.guard.limits.answer(status, message))
        self._stop_timers()
        self.guard.leave(self)
        self.transport.close()

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _stop_timers(self) -> None:
        self._cancel_deadline()
        if self._exchange is not None:
            self._exchange.cancel()
            self._exchange = None


def guarded_h11(guard: ConnectionGuard) -> type[GuardedH11]:
    """The :class:`GuardedH11` class for uvicorn's ``http`` setting, its connections under ``guard``."""

    class Guarded(GuardedH11):
        pass

    Guarded.guard = guard
    return Guarded


def listen(host: str, port: int, backlog: int) -> socket.socket:
    """A listening socket on ``host:port`` (0: any free port). Raises ``OSError`` (``socket.gaierror``: the host
    does not resolve) for the caller to word."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class BackgroundServer:
    """uvicorn serving ``app`` on ``sock`` from a daemon thread, its connections under ``limits``."""

    def __init__(
        self, app: ASGIApp, sock: socket.socket, limits: ServingLimits, *, name: str, stats: Counter[str] | None = None
    ) -> None:
        self.sock, self.limits, self.name = sock, limits, name
        self.guard = ConnectionGuard(limits, stats)
        config = uvicorn.Config(
            app,
            http=guarded_h11(self.guard),
            ws="none",  # an upgraded connection would leave the guard
            lifespan="off",
            loop="asyncio",
            interface="asgi3",
            log_config=None,
            log_level="error",  # uvicorn warns on every malformed request: a stranger could flood the log
            access_log=False,
            server_header=False,
            proxy_headers=False,  # the peer is the socket's address, never what X-Forwarded-For claims
            limit_concurrency=2 * limits.max_connections,  # a backstop for tasks outliving their connections
            timeout_keep_alive=limits.keep_alive_s,
            timeout_graceful_shutdown=limits.shutdown_s + 1,  # a cut connection's task gets a second to see it
            h11_max_incomplete_event_size=limits.max_head_bytes,
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, timeout_s: float = START_S) -> bool:
        """Serve in a background thread; True once the port accepts connections, False (stopped) if it did not
        within ``timeout_s``."""
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        if not self.server.started:
            self.stop()
        return self.server.started

    def stop(self) -> None:
        """Stop accepting and close idle connections; answers in flight get ``limits.shutdown_s``, then are cut.
        Returns within ``shutdown_s + STOP_S`` seconds."""
        thread, loop, self._thread = self._thread, self._loop, None
        if thread is None:
            return
        self.server.should_exit = True
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(loop.call_later, self.limits.shutdown_s, self.guard.close_all)
        thread.join(self.limits.shutdown_s + STOP_S / 2)
        if thread.is_alive():
            self.server.force_exit = True
            thread.join(STOP_S / 2)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            try:
                await self.server.serve(sockets=[self.sock])
            finally:
                self.guard.close_all()  # what the stop's grace left open

        try:
            asyncio.run(main())
        finally:
            self.sock.close()


__all__ = ["BackgroundServer", "ConnectionGuard", "GuardedH11", "ServingLimits", "flat_error", "guarded_h11", "listen"]
