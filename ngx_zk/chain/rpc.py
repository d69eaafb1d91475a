"""JSON-RPC over HTTP with retries and failover: :class:`FailoverProvider`.

A long-running worker meets nodes that refuse connections, time out, answer 5xx or 429. A request
that is safe to repeat is retried on the current node with backoff, then the next configured URL
takes over (once it has shown the same chain id), and if every node fails the caller gets one
:class:`RpcError` line naming each node's fault.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import requests
from eth_typing import URI
from web3 import HTTPProvider
from web3.types import RPCEndpoint

from ..errors import RpcError

RPC_TIMEOUT_S = 10
"""One JSON-RPC request waits this long for an answer."""
RPC_TRIES = 3
"""Attempts per node for a request that is safe to repeat, before failing over to the next URL."""
RPC_BACKOFF_S = 0.25
"""First pause between attempts; it doubles each time (a 429's Retry-After wins, up to RETRY_AFTER_CAP_S)."""
RETRY_AFTER_CAP_S = 5.0


NODE_SIGNS = frozenset({"eth_sendTransaction", "eth_sign", "eth_signTransaction", "eth_signTypedData", "eth_signTypedData_v4"})


def safe_to_repeat(method: str) -> bool:
    """Reads, and eth_sendRawTransaction (the same signed bytes cannot apply twice). Not anvil_*/evm_*."""
    return method.startswith(("eth_", "net_", "web3_")) and method not in NODE_SIGNS


class FailoverProvider(HTTPProvider):
    """HTTP JSON-RPC over a list of nodes: the current one is retried with exponential backoff on
    connection errors, timeouts, HTTP 5xx and 429 (honouring Retry-After); then the next node takes
    over, for this request and the ones after it, once it has shown the same chain id."""

    def __init__(
        self, urls: Sequence[str], *, timeout_s: float = RPC_TIMEOUT_S, tries: int = RPC_TRIES, backoff_s: float = RPC_BACKOFF_S
    ) -> None:
        if not urls:
            raise RpcError("no RPC URL configured", "set --rpc-url or NGX_ZK_RPC_URL")
        # web3 asks eth_chainId before every call and transaction it validates (14 round trips per
        # posted job, measured); every node here must serve one chain id, so one answer is kept
        super().__init__(
            urls[0],
            request_kwargs={"timeout": timeout_s},
            exception_retry_configuration=None,
            cache_allowed_requests=True,
            cacheable_requests={RPCEndpoint("eth_chainId")},
            request_cache_validation_threshold=None,
        )
        self.urls = list(urls)
        self.timeout_s, self.tries, self.backoff_s = timeout_s, max(1, tries), backoff_s
        self.chain_id: int | None = None
        """Set once connected: a node serving another chain id is never failed over to."""
        self._checked: set[str] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return str(self.endpoint_uri)

    def pin(self, chain_id: int) -> None:
        """Connected to ``chain_id`` through the current node: other nodes must show the same id."""
        self.chain_id = chain_id
        self._checked.add(self.url)

    def _make_request(self, method: RPCEndpoint, request_data: bytes) -> bytes:
        repeatable = safe_to_repeat(method)
        failures: list[str] = []
        for _ in range(len(self.urls)):
            url = self.url
            fault = self._check_chain(url)
            if fault is None:
                for attempt in range(self.tries if repeatable else 1):
                    try:
                        return self._request_session_manager.make_post_request(
                            URI(url), request_data, **self.get_request_kwargs()
                        )
                    except (requests.RequestException, OSError) as exc:
                        fault, pause = self._describe(exc), self.backoff_s * 2**attempt
                        retry_after = _retry_after(exc)
                        if isinstance(exc, requests.HTTPError) and retry_after is None and not _transient(exc):
                            break  # 4xx other than 429: this node will not answer better next time
                    if attempt + 1 < (self.tries if repeatable else 1):
                        time.sleep(min(retry_after, RETRY_AFTER_CAP_S) if retry_after is not None else pause)
                failures.append(f"{url}: {fault}" + (f" x{self.tries}" if repeatable and self.tries > 1 else ""))
            else:
                failures.append(f"{url}: {fault}")
            self._fail_over(url)
            if not repeatable:
                break  # may have reached the node: the caller decides; later requests use the next node
        raise RpcError(
            f"{method} failed on every RPC node ({'; '.join(failures)})",
            "check the node(s) in --rpc-url / NGX_ZK_RPC_URL; list several, comma-separated, to fail over",
        )

    def _fail_over(self, url: str) -> None:
        with self._lock:
            if self.url == url and len(self.urls) > 1:
                self.endpoint_uri = URI(self.urls[(self.urls.index(url) + 1) % len(self.urls)])

    def _check_chain(self, url: str) -> str | None:
        """None if ``url`` may serve requests; else why not (checked once per node)."""
        if url in self._checked or self.chain_id is None:
            return None
        try:
            raw = self._request_session_manager.make_post_request(
                URI(url), self.encode_rpc_request(RPCEndpoint("eth_chainId"), []), **self.get_request_kwargs()
            )
            chain_id = int(str(self.decode_rpc_response(raw)["result"]), 16)
        except (requests.RequestException, OSError, KeyError, ValueError) as exc:
            return self._describe(exc)
        if chain_id != self.chain_id:
            return f"serves chain id {chain_id}, expected {self.chain_id}"
        self._checked.add(url)
        return None

    def _describe(self, exc: BaseException) -> str:
        """A few words for one failed request, without the noise of urllib3's messages."""
        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            code = exc.response.status_code
            return f"HTTP {code}" + (" (rate limited)" if code == 429 else "")
        if isinstance(exc, requests.Timeout):
            return f"no answer within {self.timeout_s:g}s"
        text = str(exc)
        if "refused" in text.lower():
            return "connection refused"
        if any(
            sign in text for sign in ("NameResolutionError", "Name or service not known", "nodename nor servname", "getaddrinfo")
        ):
            return "host name not found (DNS)"
        if isinstance(exc, requests.ConnectionError):
            return "connection dropped"
        return type(exc).__name__


def _transient(exc: requests.HTTPError) -> bool:
    return exc.response is not None and (exc.response.status_code >= 500 or exc.response.status_code == 429)


def _retry_after(exc: BaseException) -> float | None:
    if isinstance(exc, requests.HTTPError) and exc.response is not None and exc.response.status_code == 429:
        try:
            return max(0.0, float(exc.response.headers.get("Retry-After", "")))
        except ValueError:
            return None  # an HTTP date, or nothing: the normal backoff
    return None
