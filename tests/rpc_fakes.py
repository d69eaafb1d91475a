"""A JSON-RPC proxy that injects transport faults a real node cannot be made to produce on demand.

It forwards every request to a real node (anvil) unless a rule says otherwise: answer HTTP 500, 503
or 429, drop the connection, hang (bounded), forward the request and then drop the answer (the
node acted, the client never hears), or forward it and answer ``null`` (a node that counted a mined
transaction before it serves its receipt: anvil does so under load, for a moment). It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("500", "503", "429", "drop", "hang", "drop-after-forward", "null-result")
HANG_LIMIT_S = 10.0
"""A hanging request is released after this long, or at close(), whichever comes first."""


@dataclass
class Rule:
    fault: str
    times: int | None  # None: forever
    method: str | None  # None: every method


class FlakyRpcProxyFake:
    """``with FlakyRpcProxyFake(upstream) as proxy: proxy.fail("503", times=2)`` and point a client at ``proxy.url``."""

    def __init__(self, upstream: str, *, chain_id: int | None = None) -> None:
        self.upstream = upstream
        self.chain_id = chain_id
        """When set, eth_chainId answers this id (a node of another chain)."""
        self.methods: list[str] = []
        """Every request received, in order, by JSON-RPC method."""
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy._handle(self, body)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="flaky-rpc", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail(self, fault: str, *, times: int | None = 1, method: str | None = None) -> None:
        """Apply ``fault`` to the next ``times`` requests (of ``method``, if given); ``times=None``: forever."""
        assert fault in FAULTS, fault
        with self._lock:
            self._rules.append(Rule(fault, times, method))

    def heal(self) -> None:
        with self._lock:
            self._rules.clear()

    def count(self, method: str) -> int:
        return self.methods.count(method)

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FlakyRpcProxyFake:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _fault_for(self, method: str) -> str | None:
        with self._lock:
            for rule in self._rules:
                if rule.method in (None, method) and (rule.times is None or rule.times > 0):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule.fault
        return None

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        try:
            request = json.loads(body)
            method = str(request.get("method", "")) if isinstance(request, dict) else "batch"
        except ValueError:
            method = "?"
        self.methods.append(method)
        fault = self._fault_for(method)
        if fault in ("500", "503", "429"):
            handler.send_response(int(fault))
            if fault == "429":
                handler.send_header("Retry-After", "0")
            handler.send_header("Content-Length", "5")
            handler.end_headers()
            handler.wfile.write(b"fault")
            return
        if fault == "hang":
            self._released.wait(HANG_LIMIT_S)
            return  # no answer: the connection closes
        if fault == "drop":
            return
        with urllib.request.urlopen(
            urllib.request.Request(self.upstream, data=body, headers={"Content-Type": "application/json"}), timeout=10
        ) as response:
            status, answer = response.status, response.read()
        if fault == "drop-after-forward":
            return
        if fault == "null-result":
            answer = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": None}).encode()
        if self.chain_id is not None and method == "eth_chainId":
            answer = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": hex(self.chain_id)}).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(answer)))
        handler.end_headers()
        handler.wfile.write(answer)
