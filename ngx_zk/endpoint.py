"""Checking a provider's data-plane endpoint: the URL a provider registers on chain and consumers dial.

A provider writes any string it likes on chain, and every consumer connects to it. Unchecked, a
``file://`` endpoint was read on the consumer's machine and an address on the consumer's own network
(``http://10.0.0.1/``, ``http://169.254.169.254/``) turned consumers into a blind SSRF relay. One
validator, :func:`check_endpoint`, runs when a provider registers and before every connection:

* ``http`` or ``https`` only, a host, no user info, query or fragment, no control characters;
* the host is resolved and **every** address must be public (not private, loopback, link-local,
  multicast, unspecified or reserved), except on the local dev chain, where tests and the demo use
  127.0.0.1;
* the connection is then made to an address that was checked (:meth:`Endpoint.connection`), so a
  name that resolves differently a moment later (DNS rebinding) cannot reach another host.

Redirects are never followed: the client treats any 3xx answer as a refusal.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import NgxZkError

MAX_URL_CHARS = 512
"""Longest endpoint URL accepted (it is stored on chain and sent to every consumer)."""

Resolver = Callable[[str, int], Sequence[str]]


class EndpointError(NgxZkError):
    """A provider endpoint URL is not one a consumer may connect to."""

    def __init__(self, url: str, problem: str, hint: str | None = None) -> None:
        super().__init__(
            f"endpoint {url[:80]!r} refused: {problem}", hint or "give an http(s)://HOST:PORT URL that consumers can reach"
        )
        self.url, self.problem = url, problem


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the default resolver of :func:`check_endpoint`)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def public_address(address: str) -> bool:
    """Whether ``address`` is a globally routable unicast address (IPv4-mapped IPv6 judged as IPv4)."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved
    )


@dataclass(frozen=True)
class Endpoint:
    """A checked endpoint: where to connect (only to ``addresses``) and the Host/SNI name to use."""

    url: str
    scheme: str
    host: str
    port: int
    base_path: str
    addresses: tuple[str, ...]

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        """An HTTP(S) connection that dials the checked addresses, never a fresh lookup of the name."""
        if self.scheme == "https":
            return _PinnedHTTPS(self.host, self.port, self.addresses, timeout, ssl.create_default_context())
        return _PinnedHTTP(self.host, self.port, self.addresses, timeout)


def check_endpoint(url: str, *, dev_chain: bool, resolver: Resolver = resolve) -> Endpoint:
    """Check ``url`` as a provider endpoint; raises :class:`EndpointError` naming the problem.

    ``dev_chain`` (chain id 31337 with a dev deployment) allows private and loopback addresses."""
    if len(url) > MAX_URL_CHARS:
        raise EndpointError(url, f"longer than {MAX_URL_CHARS} characters")
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise EndpointError(url, "it contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EndpointError(url, f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise EndpointError(
            url,
            f"scheme {parts.scheme or '(none)'!r} is not http or https",
            "register an endpoint such as https://gpu1.example:8443",
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise EndpointError(url, "it carries user info (user@host)")
    if parts.query or parts.fragment:
        raise EndpointError(url, "it carries a query or fragment")
    host = parts.hostname or ""
    if not host:
        raise EndpointError(url, "it names no host")
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = tuple(resolver(host, port))
    except (OSError, UnicodeError) as exc:
        raise EndpointError(url, f"host {host!r} does not resolve ({exc})", "check the name, or register an IP address") from None
    if not addresses:
        raise EndpointError(url, f"host {host!r} resolves to no address")
    if not dev_chain:
        for address in addresses:
            if not public_address(address):
                raise EndpointError(
                    url,
                    f"host {host!r} resolves to {address}, a private, loopback, link-local, multicast or reserved address",
                    "only the local dev chain allows those",
                )
    return Endpoint(url, scheme, host, port, parts.path.rstrip("/"), addresses)


def _dial(addresses: Sequence[str], port: int, timeout: float | None) -> socket.socket:
    last: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            sock = socket.create_connection((address, port), timeout)
        except OSError as exc:
            last = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise last


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, addresses: Sequence[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        self.sock = _dial(self._addresses, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, addresses: Sequence[str], timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._addresses, self._tls = addresses, context

    def connect(self) -> None:
        sock: Any = _dial(self._addresses, self.port, self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
