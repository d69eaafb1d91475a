"""The explorer's HTTP server (:class:`ExplorerServer`: uvicorn, h11) over its state (:class:`~.app.Explorer`).

Bounds a stranger cannot push past (:func:`serving_limits`, enforced by :mod:`ngx_zk.serving`): request
heads of at most 16 KiB and a whole request (head and body) within ``request_timeout_s`` of its first
byte (408), at most ``max_connections`` connections and ``PER_PEER_CONNECTIONS`` from one address
(the oldest one still in its head is closed to make room, else 503); bodies of at most 1 KiB
(:class:`~.api.BoundedBody`), at most ``REVERIFY_QUEUE`` re-verifications queued (429 beyond), and a
graceful stop that waits at most ``SHUTDOWN_S`` for answers in flight.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from ..serving import BackgroundServer, ServingLimits, listen
from . import ExplorerError
from .api import BoundedBody, create_app
from .app import REVERIFY_QUEUE, ApiError, Explorer, ReverifyQueue

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 10.0
"""Seconds from a request's first byte until its head and body must be in (a slow sender is dropped)."""
KEEP_ALIVE_S = 5
"""Seconds an idle keep-alive connection is kept."""
MAX_CONNECTIONS = 512
"""Most connections at once; beyond, the oldest one still in its head is closed, else a 503."""
PER_PEER_CONNECTIONS = 128
"""Most connections from one address (a browser opens up to 6 a site: room for many behind one NAT)."""
MAX_HEAD_BYTES = 16 * 1024
"""The largest request line plus headers accepted (431 beyond)."""
SHUTDOWN_S = 5
"""Seconds a stop waits for answers in flight."""


def serving_limits(request_timeout_s: float = REQUEST_TIMEOUT_S, max_connections: int = MAX_CONNECTIONS) -> ServingLimits:
    """The connection bounds of an explorer: a public site, so a late request gets a 408 a browser can show."""
    return ServingLimits(
        max_head_bytes=MAX_HEAD_BYTES,
        head_timeout_s=request_timeout_s,
        request_timeout_s=request_timeout_s,
        max_connections=max_connections,
        per_peer_connections=min(PER_PEER_CONNECTIONS, max_connections),
        keep_alive_s=KEEP_ALIVE_S,
        shutdown_s=SHUTDOWN_S,
        error_json=lambda status, message: {"error": {"status": status, "message": message}},  # the API's shape
    )


def _bind(host: str, port: int, backlog: int) -> socket.socket:
    """The listening socket, or one clear error (a busy port, an address this machine does not have)."""
    try:
        return listen(host, port, backlog)
    except socket.gaierror as exc:
        raise ExplorerError(f"cannot listen on {host}: {exc.strerror}", "pass an address of this machine with --host") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ExplorerError(
                f"port {port} on {host} is already in use",
                "stop what listens there, or pick another with --port (0: any free port)",
            ) from None
        raise ExplorerError(f"cannot listen on {host}:{port}: {exc.strerror}", "check --host and --port") from None


class ExplorerServer:
    """The HTTP server (uvicorn in a background thread) and, when there is a chain, the indexer following it."""

    def __init__(
        self,
        app: Explorer,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        poll_s: float = 1.0,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.app, self.poll_s = app, poll_s
        self.sock = _bind(host, port, max_connections)
        self.http = BackgroundServer(
            BoundedBody(create_app(app)), self.sock, serving_limits(request_timeout_s, max_connections), name="http"
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"

    def start(self, on_sync: Callable[[Any], None] | None = None, timeout_s: float = 30.0) -> None:
        """Serve (and follow the chain) in background threads; returns once the server accepts connections."""
        indexer = self.app.indexer
        if indexer is not None:

            def synced(result: Any) -> None:
                self.app.head = result.head
                if on_sync is not None:
                    on_sync(result)

            follow = threading.Thread(
                target=indexer.follow,
                args=(self._stop,),
                kwargs={"poll_s": self.poll_s, "on_sync": synced},
                name="indexer",
                daemon=True,
            )
            self._threads.append(follow)
            follow.start()
        if not self.http.start(timeout_s):
            url = self.url
            self.stop()
            raise ExplorerError(f"the explorer's HTTP server did not start on {url}", "see the log above")

    def stop(self) -> None:
        """Stop accepting, answer what is in flight (at most ``SHUTDOWN_S``), stop the indexer; joins with a bound."""
        self._stop.set()
        self.http.stop()
        for thread in self._threads:
            thread.join(timeout=SHUTDOWN_S + 5)
        self.sock.close()


__all__ = ["REVERIFY_QUEUE", "ApiError", "Explorer", "ExplorerServer", "ReverifyQueue"]
