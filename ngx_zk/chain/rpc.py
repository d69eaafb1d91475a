"""JSON-RPC over HTTP with retries and failover: :class:`FailoverProvider`.

A long-running worker meets nodes that refuse connections, time out, answer 5xx or 429. A request
that is safe to repeat is retried on the current node with backoff, then the next configured URL
takes over (once it has shown the same chain id), and if every node fails the caller gets one
:class:`RpcError` line naming each node's fault.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import requests
from eth_typing import URI
from web3 import HTTPProvider
from web3.types import RPCEndpoint

from .. import safejson
from ..errors import InputError, RpcError

RPC_TIMEOUT_S = 10
"""One JSON-RPC request waits this long for an answer."""
RPC_TRIES = 3
"""Attempts per node for a request that is safe to repeat, before failing over to the next URL."""
RPC_BACKOFF_S = 0.25
"""First pause between attempts; it doubles each time."""
RETRY_AFTER_CAP_S = 5.0
"""Longest single wait a 429's Retry-After gets (a provider asking for more is asked again sooner)."""
RATE_LIMIT_PATIENCE = 4
"""A request waits out up to this many 429s per try (each as its Retry-After says, else with a doubling
backoff) before they count as failed tries: a rate limit is a reason to slow down, not to give up."""


NODE_SIGNS = frozenset({"eth_sendTransaction", "eth_sign", "eth_signTransaction", "eth_signTypedData", "eth_signTypedData_v4"})


def safe_to_repeat(method: str) -> bool:
    """Reads, and eth_sendRawTransaction (the same signed bytes cannot apply twice). Not anvil_*/evm_*."""
    return method.startswith(("eth_", "net_", "web3_")) and method not in NODE_SIGNS


class FailoverProvider(HTTPProvider):
    """HTTP JSON-RPC over a list of nodes: the current one is retried with exponential backoff on
    connection errors, timeouts, HTTP 5xx and 429 (honouring Retry-After); then the next node takes
    over, for this request and the ones after it, once it has shown the same chain id. A URL it names
    (in errors, in web3's debug log) has its API key masked (:func:`mask_url`)."""

    logger = logging.getLogger("ngx_zk.chain.rpc.provider")

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
        for url in urls:
            _SECRETS.update(secret_parts(url))
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
        tries = self.tries if repeatable else 1
        failures: list[str] = []
        for _ in range(len(self.urls)):
            url = self.url
            fault = self._check_chain(url)
            if fault is None:
                attempt = limited = 0
                while True:
                    try:
                        return self._request_session_manager.make_post_request(
                            URI(url), request_data, **self.get_request_kwargs()
                        )
                    except (requests.RequestException, OSError) as exc:
                        answer = _rpc_error_body(exc)
                        if answer is not None:
                            return answer  # a JSON-RPC error sent with a 4xx status: the node's answer, not a fault
                        fault, retry_after = self._describe(exc), _retry_after(exc)
                        if retry_after is not None:
                            if limited < RATE_LIMIT_PATIENCE * self.tries:
                                # rate limited: nothing was done; wait as told (else back off) without using a try
                                time.sleep(min(retry_after or self.backoff_s * 2**limited, RETRY_AFTER_CAP_S))
                                limited += 1
                                continue
                        elif isinstance(exc, requests.HTTPError) and not _transient(exc):
                            break  # 4xx other than 429: this node will not answer better next time
                        elif isinstance(exc, requests.ReadTimeout) and url not in self._checked:
                            break  # it took the connection but never answered yet: waiting twice more only adds 20 s
                    attempt += 1
                    if attempt >= tries:
                        break
                    time.sleep(self.backoff_s * 2 ** (attempt - 1))
                failures.append(f"{mask_url(url)}: {fault}" + (f" x{attempt + limited}" if attempt + limited > 1 else ""))
            else:
                failures.append(f"{mask_url(url)}: {fault}")
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


_KEEP_SEGMENT = re.compile(r"[A-Za-z][A-Za-z-]{0,11}|v\d{1,2}|\d{1,6}")
MASK = "***"


def mask_url(url: str) -> str:
    """``url`` safe to print: an API key in its path (``https://host/v3/KEY``), query (``?apikey=KEY``),
    user info or fragment replaced by ``***``; the scheme, host and port (which node) stay readable.

    A path segment survives only if it looks like a route word (``v3``, ``rpc``, ``eth-mainnet``)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK  # not a URL we can take apart: print none of it
    if not parts.scheme or not host:
        return MASK if url.strip() else url
    netloc = (f"{MASK}@" if parts.username or parts.password else "") + (f"[{host}]" if ":" in host else host)
    netloc += f":{port}" if port is not None else ""
    path = "/".join(seg if not seg or _KEEP_SEGMENT.fullmatch(seg) else MASK for seg in parts.path.split("/"))
    query = "&".join(f"{pair.split('=', 1)[0]}={MASK}" if "=" in pair else MASK for pair in parts.query.split("&") if pair)
    return urlunsplit((parts.scheme, netloc, path, query, MASK if parts.fragment else ""))


_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")


def mask_urls(text: str) -> str:
    """``text`` with every URL in it passed through :func:`mask_url`."""

    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        tail = len(url) - len(url.rstrip(".,;:)]}"))  # punctuation after a URL is the sentence's
        return mask_url(url[: len(url) - tail]) + url[len(url) - tail :]

    return _URL_IN_TEXT.sub(one, text)


def secret_parts(url: str) -> set[str]:
    """The pieces of ``url`` that :func:`mask_url` hides (path keys, query values, user info, fragment)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return set()
    found = {seg for seg in parts.path.split("/") if seg and not _KEEP_SEGMENT.fullmatch(seg)}
    found |= {pair.split("=", 1)[-1] for pair in parts.query.split("&") if pair}
    found |= {x for x in (parts.username, parts.password, parts.fragment) if x}
    return {x for x in found if len(x) >= MIN_SECRET}


MIN_SECRET = 6
"""Shorter pieces of a URL are not searched for in log records (they would match ordinary words)."""
_SECRETS: set[str] = set()
"""The secret pieces of every RPC URL this process was given: log records that name them are masked."""


class MaskUrls(logging.Filter):
    """A log filter that masks API keys in a record's message: of URLs (web3 logs its endpoint, and the
    session it caches per endpoint, at debug level) and the pieces of known RPC URLs (urllib3 logs the
    request path alone)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_urls(message)
        for secret in sorted(_SECRETS, key=len, reverse=True):
            masked = masked.replace(secret, MASK)
        if masked != message:
            record.msg, record.args = masked, None
        return True


LOGGERS_NAMING_URLS = (
    "ngx_zk.chain.rpc.provider",
    "web3._utils.http_session_manager.HTTPSessionManager",
    "urllib3.connectionpool",
)
"""Loggers whose debug records name the endpoint (URL or request path): :class:`MaskUrls` guards each."""


def _transient(exc: requests.HTTPError) -> bool:
    return exc.response is not None and (exc.response.status_code >= 500 or exc.response.status_code == 429)


def _retry_after(exc: BaseException) -> float | None:
    """For a 429, the seconds its Retry-After asks for (0 when it gives none, or an HTTP date); else None."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None and exc.response.status_code == 429:
        try:
            return max(0.0, float(exc.response.headers.get("Retry-After", "")))
        except ValueError:
            return 0.0
    return None


def _rpc_error_body(exc: BaseException) -> bytes | None:
    """The body of a 400/413/422 answer that is a JSON-RPC error object: providers send their limits
    this way (QuickNode: HTTP 413 with "eth_getLogs is limited to a 10,000 range")."""
    if not isinstance(exc, requests.HTTPError) or exc.response is None:
        return None
    if exc.response.status_code not in ANSWERING_STATUSES:
        return None
    body = exc.response.content
    try:
        answer = safejson.loads(body, what="an RPC error body", max_bytes=MAX_ERROR_BODY, max_depth=8)
    except InputError:
        return None
    answers = answer if isinstance(answer, list) else [answer]
    if answers and all(isinstance(a, dict) and isinstance(a.get("error"), dict) for a in answers):
        return bytes(body)
    return None


ANSWERING_STATUSES = frozenset({400, 413, 422})
"""4xx statuses whose JSON-RPC error body is the node's answer to the request (a 401/403, a key refused, fails over)."""
MAX_ERROR_BODY = 64 * 1024
"""A 4xx body larger than this is not read as a JSON-RPC error."""


for _name in LOGGERS_NAMING_URLS:
    logging.getLogger(_name).addFilter(MaskUrls())
