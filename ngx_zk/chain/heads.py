"""New-block notifications: ``eth_subscribe("newHeads")`` over the node's WebSocket.

Waiting for a job by polling costs a round trip per look and, on a sub-second job, either latency
(a long interval) or CPU that the proof needs (a short one: the machine proving is often the one
waiting). A subscription wakes the waiter the moment a block lands and costs nothing in between.
Nodes serve WebSocket on the HTTP port (anvil) or on their own URL (``NGX_ZK_WS_URL``); where
neither answers, :class:`NewHeads` stays unavailable and callers keep polling. A subscription that was up
and dropped (a provider's socket does, mid-stream) is made again, after a pause that doubles up to
``RECONNECT_MAX_S``; callers poll in between.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

CONNECT_TIMEOUT_S = 2.0
RECONNECT_FIRST_S = 0.5
"""The first pause before subscribing again after a drop; it doubles while tries fail."""
RECONNECT_MAX_S = 30.0


def ws_url_for(rpc_url: str, configured: str | None = None) -> str | None:
    """The WebSocket URL to try: the configured one ("off": none), else the RPC URL with a ws scheme."""
    if configured:
        return None if configured == "off" else configured
    for http, ws in (("http://", "ws://"), ("https://", "wss://")):
        if rpc_url.startswith(http):
            return ws + rpc_url.removeprefix(http)
    return None


class NewHeads:
    """Calls ``on_head`` (from a background thread) for every new block the node announces.

    ``available`` says whether the subscription is up; it turns False while a dropped connection is being
    made again, and the caller's polling carries on. ``close()`` ends it."""

    def __init__(self, ws_url: str | None, on_head: Callable[[], None]) -> None:
        self.on_head = on_head
        self.available = False
        self.ever_up = False
        """The subscription was up once: a drop is followed by tries to subscribe again."""
        self.connections = 0
        """Subscriptions made (1 + the reconnections)."""
        self._conn: ClientConnection | None = None
        self._closed = False
        if ws_url is None:
            return
        subscribed = threading.Event()
        threading.Thread(target=self._listen, args=(ws_url, subscribed), name="new-heads", daemon=True).start()
        subscribed.wait(2 * CONNECT_TIMEOUT_S)

    def _listen(self, ws_url: str, subscribed: threading.Event) -> None:
        pause = RECONNECT_FIRST_S
        while not self._closed:
            if self._subscribe(ws_url, subscribed):
                pause = RECONNECT_FIRST_S  # it was up: the next drop starts the pauses again
            elif not self.ever_up:
                return  # this node never served a subscription: callers poll
            if self._closed:
                return
            time.sleep(pause)
            pause = min(2 * pause, RECONNECT_MAX_S)

    def _subscribe(self, ws_url: str, subscribed: threading.Event) -> bool:
        """One connection: True once it subscribed (it has since dropped or been closed)."""
        up = False
        try:
            with connect(ws_url, open_timeout=CONNECT_TIMEOUT_S, close_timeout=1) as conn:
                conn.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}))
                if "result" not in json.loads(conn.recv(timeout=CONNECT_TIMEOUT_S)) or self._closed:
                    return False
                self._conn, self.available, self.ever_up, up = conn, True, True, True
                self.connections += 1
                subscribed.set()
                for message in conn:
                    if '"eth_subscription"' in str(message):
                        self.on_head()
        except (OSError, TimeoutError, WebSocketException, ValueError):
            pass
        finally:
            subscribed.set()
            self._conn = None
            if self.available:
                self.available = False
                self.on_head()  # let the waiter notice and poll until the subscription is back
        return up

    def close(self) -> None:
        self._closed = True
        self.available = False
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def __enter__(self) -> NewHeads:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
