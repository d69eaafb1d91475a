"""A fault-injection fake of a hosted RPC provider's free tier, in front of a real node (anvil).

It forwards JSON-RPC to the node, but, as Alchemy, Infura or QuickNode do: refuses an ``eth_getLogs`` over
``log_range`` blocks or returning over ``log_results`` logs, with that provider's status, code and text;
answers HTTP 429 with ``Retry-After`` past ``rate_per_s`` requests a second (a token bucket holding one
second's worth); answers HTTP 503 to every ``fail_every``-th request; and, with ``lag_blocks`` k, reads like a
node k blocks behind the head (a load balancer's lagging backend): ``eth_blockNumber`` says head - k, reads at
``latest`` (``eth_call``, ``eth_getBalance``, ``eth_getCode``, ``eth_getStorageAt``, ``eth_getBlockByNumber``, a
log query's ``toBlock``, ``eth_getTransactionCount`` at ``latest``) are served at head - k, a block number past head - k is "header not found" (a log query
up to it: "block range extends beyond current head block", geth's texts), while receipts, transactions by hash
and ``pending`` reads come from the node at the head (another backend, the one that took the transaction).
Batches count one request per call. Starlette on uvicorn (``ngx_zk.serving``), 127.0.0.1 only.

:class:`WebSocketDropFake` relays a WebSocket to the node's and cuts the connection without a close frame after
``drop_after`` subscription messages, each time a client connects (a provider's socket that drops mid-stream).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import requests
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect
from websockets.sync.server import Server, ServerConnection, serve

from ngx_zk.serving import BackgroundServer, ServingLimits, listen

STYLES = ("alchemy", "infura", "quicknode")


def range_refusal(style: str, start: int, cap: int, asked: int) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON-RPC error) a provider answers an ``eth_getLogs`` over ``asked`` blocks with, its cap ``cap``.
    Texts as these providers send them (quoted in public bug reports: go-ethereum #25343 for Alchemy, INFURA/infura
    #237 for Infura, OffchainLabs/arbitrum-sdk #609 for QuickNode's HTTP 413)."""
    if style == "alchemy":
        return 200, {
            "code": -32602,
            "message": "Log response size exceeded. You can make eth_getLogs requests with up to a "
            f"{cap} block range and no limit on the response size, or you can request any block range with a cap of "
            "10K logs in the response. Based on your parameters and the response size limit, this block range should "
            f"work: [{hex(start)}, {hex(start + cap - 1)}]",
        }
    if style == "infura":
        return 200, {"code": -32602, "message": f"range {asked} exceeds limit of {cap}"}
    return 413, {"code": -32614, "message": f"eth_getLogs is limited to a {cap:,} range"}


def results_refusal(style: str, cap: int) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON-RPC error) for an ``eth_getLogs`` whose answer holds more than ``cap`` logs."""
    if style == "infura":
        return 200, {"code": -32005, "message": f"query returned more than {cap} results"}
    if style == "alchemy":
        return 200, {
            "code": -32602,
            "message": f"Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and "
            f"no limit on the response size, or you can request any block range with a cap of {cap} logs in the response.",
        }
    return 413, {"code": -32614, "message": f"eth_getLogs is limited to {cap:,} results"}


@dataclass
class ProviderLimits:
    log_range: int | None = 10
    """Most blocks one eth_getLogs may span."""
    log_results: int | None = None
    """Most logs one eth_getLogs may return."""
    style: str = "alchemy"
    """Whose error texts: alchemy, infura, quicknode."""
    rate_per_s: float | None = 40.0
    """Requests a second before 429s (None: no limit)."""
    retry_after_s: int | None = 1
    """The Retry-After a 429 carries (None: no header)."""
    fail_every: int | None = None
    """Every so many requests, one gets HTTP 503."""
    lag_blocks: int = 0
    """Reads at ``latest`` are served this many blocks behind the head (receipts and ``pending`` are not)."""


LAGGED_AT = {
    "eth_call": 1,
    "eth_getBalance": 1,
    "eth_getCode": 1,
    "eth_getTransactionCount": 1,
    "eth_getStorageAt": 2,
    "eth_getBlockByNumber": 0,
}
"""Methods a lagging backend serves at its own head: the index of their block parameter."""


class RpcProviderFake:
    """``with RpcProviderFake(anvil_url, ProviderLimits(log_range=10)) as provider:`` point clients at ``provider.url``."""

    def __init__(self, upstream: str, limits: ProviderLimits | None = None) -> None:
        self.upstream = upstream
        self.limits = limits or ProviderLimits()
        assert self.limits.style in STYLES, self.limits.style
        self.calls: Counter[str] = Counter()
        """Requests answered, by method (a batch counts each call)."""
        self.refused: Counter[str] = Counter()
        """Refusals by kind: range, results, 429, 503."""
        self.spans: list[int] = []
        """The block span of every eth_getLogs served."""
        self._lock = threading.Lock()
        self._tokens = self.limits.rate_per_s or 0.0
        self._refilled = time.monotonic()
        self._seen = 0
        self._sessions = threading.local()
        app = Starlette(
            routes=[Route("/", self._endpoint, methods=["POST"]), Route("/{rest:path}", self._endpoint, methods=["POST"])]
        )
        self._server = BackgroundServer(app, listen("127.0.0.1", 0, 256), ServingLimits(), name="rpc-provider-fake")
        assert self._server.start(), "the fake provider did not start"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.sock.getsockname()[1]}"

    def close(self) -> None:
        self._server.stop()

    def __enter__(self) -> RpcProviderFake:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- serving ---------------------------------------------------------------------------------
    async def _endpoint(self, request: Request) -> Response:
        body = await request.body()
        status, headers, payload = await run_in_threadpool(self._answer, body)
        return Response(payload, status_code=status, headers=headers, media_type="application/json")

    def _answer(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            request = json.loads(body)
        except ValueError:
            return 400, {}, b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}'
        calls = request if isinstance(request, list) else [request]
        refusal = self._admit(len(calls))
        if refusal is not None:
            return refusal
        answers = [self._call(call) for call in calls]
        status = max(s for s, _ in answers) if not isinstance(request, list) else 200
        out = [a for _, a in answers] if isinstance(request, list) else answers[0][1]
        return status, {}, json.dumps(out).encode()

    def _admit(self, n: int) -> tuple[int, dict[str, str], bytes] | None:
        """A 429 or 503 for this request, or None to serve it."""
        limits = self.limits
        with self._lock:
            self._seen += 1
            if limits.fail_every and self._seen % limits.fail_every == 0:
                self.refused["503"] += 1
                return 503, {}, b"upstream connect error or disconnect/reset before headers"
            if limits.rate_per_s is not None:
                now = time.monotonic()
                self._tokens = min(limits.rate_per_s, self._tokens + (now - self._refilled) * limits.rate_per_s)
                self._refilled = now
                if self._tokens < n:
                    self.refused["429"] += 1
                    headers = {} if limits.retry_after_s is None else {"Retry-After": str(limits.retry_after_s)}
                    error = {"code": 429, "message": "Your app has exceeded its compute units per second capacity."}
                    return 429, headers, json.dumps({"jsonrpc": "2.0", "id": None, "error": error}).encode()
                self._tokens -= n
        return None

    def _call(self, call: Any) -> tuple[int, dict[str, Any]]:
        method = str(call.get("method", "")) if isinstance(call, dict) else ""
        with self._lock:
            self.calls[method] += 1
        if self.limits.lag_blocks:
            lagged = self._lag(method, call)
            if lagged is not None:
                return lagged
        if method == "eth_getLogs":
            refused = self._check_logs(call)
            if refused is not None:
                return refused
        answer = self._forward(call)
        if method == "eth_getLogs" and self.limits.log_results is not None:
            result = answer.get("result")
            if isinstance(result, list) and len(result) > self.limits.log_results:
                with self._lock:
                    self.refused["results"] += 1
                status, error = results_refusal(self.limits.style, self.limits.log_results)
                return status, {"jsonrpc": "2.0", "id": call.get("id"), "error": error}
        return 200, answer

    def _lag(self, method: str, call: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """Rewrite ``call`` in place to read at the lagging head, or answer it as a lagging node would."""
        if method not in LAGGED_AT and method not in ("eth_blockNumber", "eth_getLogs"):
            return None
        head = max(0, self._head() - self.limits.lag_blocks)
        if method == "eth_blockNumber":
            return 200, {"jsonrpc": "2.0", "id": call.get("id"), "result": hex(head)}
        params = list(call.get("params") or [])
        if method == "eth_getLogs":
            query = dict(params[0]) if params and isinstance(params[0], dict) else {}
            if "blockHash" in query:
                return None
            for key in ("fromBlock", "toBlock"):
                tag = query.get(key, "latest")
                if tag in ("latest", "safe", "finalized"):
                    query[key] = hex(head)
                elif isinstance(tag, str) and tag.startswith("0x") and int(tag, 16) > head:
                    error = {"code": -32000, "message": "block range extends beyond current head block"}
                    return 200, {"jsonrpc": "2.0", "id": call.get("id"), "error": error}
            call["params"] = [query, *params[1:]]
            return None
        at = LAGGED_AT[method]
        tag = params[at] if len(params) > at else "latest"
        if tag in ("latest", "safe", "finalized"):
            params[at : at + 1] = [hex(head)]
        elif isinstance(tag, str) and tag.startswith("0x") and int(tag, 16) > head:
            if method == "eth_getBlockByNumber":
                return 200, {"jsonrpc": "2.0", "id": call.get("id"), "result": None}
            return 200, {"jsonrpc": "2.0", "id": call.get("id"), "error": {"code": -32000, "message": "header not found"}}
        call["params"] = params
        with self._lock:
            self.refused["lagged"] += 1
        return None

    def _head(self) -> int:
        head = self._forward({"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []})
        return int(str(head["result"]), 16)

    def _check_logs(self, call: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        params = call.get("params") or [{}]
        query = params[0] if isinstance(params, list) and params and isinstance(params[0], dict) else {}
        if "blockHash" in query:
            span, start = 1, 0
        else:
            start, stop = self._block(query.get("fromBlock", "latest")), self._block(query.get("toBlock", "latest"))
            span = stop - start + 1
        cap = self.limits.log_range
        if cap is not None and span > cap:
            with self._lock:
                self.refused["range"] += 1
            status, error = range_refusal(self.limits.style, start, cap, span)
            return status, {"jsonrpc": "2.0", "id": call.get("id"), "error": error}
        with self._lock:
            self.spans.append(span)
        return None

    def _block(self, tag: Any) -> int:
        if isinstance(tag, str) and tag.startswith("0x"):
            return int(tag, 16)
        if tag == "earliest":
            return 0
        return self._head()

    def _forward(self, call: Any) -> dict[str, Any]:
        session = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        answer = session.post(self.upstream, json=call, timeout=30)
        return dict(answer.json())


class WebSocketDropFake:
    """``with WebSocketDropFake(anvil_ws_url, drop_after=3) as ws:`` point a client's WebSocket at ``ws.url``.

    Each connection is relayed to the node's WebSocket; after ``drop_after`` subscription messages
    (``eth_subscription``: a new head) the TCP connection is cut without a close frame, as a provider's socket
    drops. ``connections`` counts the clients that connected, ``dropped`` the connections cut."""

    def __init__(self, upstream: str, *, drop_after: int = 3) -> None:
        self.upstream, self.drop_after = upstream, drop_after
        self.connections = self.dropped = 0
        self._lock = threading.Lock()
        self._nodes: set[ClientConnection] = set()
        self._server: Server = serve(self._relay, "127.0.0.1", 0, compression=None)
        threading.Thread(target=self._server.serve_forever, name="ws-drop-fake", daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}"

    def _relay(self, client: ServerConnection) -> None:
        with self._lock:
            self.connections += 1
        try:
            with connect(self.upstream, compression=None) as node:
                self._serve(client, node)
        except (WebSocketException, OSError):
            return

    def _serve(self, client: ServerConnection, node: ClientConnection) -> None:
        with self._lock:
            self._nodes.add(node)

        def up() -> None:
            with contextlib.suppress(WebSocketException, OSError):
                for message in client:
                    node.send(message)
            node.close()  # the client left: so does the relay

        threading.Thread(target=up, name="ws-drop-fake-up", daemon=True).start()
        heads = 0
        try:
            for message in node:
                client.send(message)
                heads += '"eth_subscription"' in str(message)
                if heads >= self.drop_after:
                    with self._lock:
                        self.dropped += 1
                    client.socket.shutdown(socket.SHUT_RDWR)  # no close frame: the connection just ends
                    return
        finally:
            with self._lock:
                self._nodes.discard(node)

    def close(self) -> None:
        with self._lock:
            nodes = list(self._nodes)
        for node in nodes:
            with contextlib.suppress(Exception):
                node.close()
        self._server.shutdown()

    def __enter__(self) -> WebSocketDropFake:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
