"""The explorer's HTTP server played by an attacker over raw sockets (no chain: an empty index is enough).

Each attack here worked against the hand-written http.server explorer: a negative Content-Length read
the body until the client hung up, unfinished requests held a thread each for ever, a trickled body
held its connection, and any site's page could queue re-verifications without bound.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ngx_zk.explorer.db import Database
from ngx_zk.explorer.server import REVERIFY_QUEUE, Explorer, ExplorerServer

TIMEOUT_S = 2.0
"""The request timeout these servers run with (the default is 10 s)."""


@dataclass
class Served:
    app: Explorer
    host: str
    port: int

    def connect(self, timeout: float = 5.0) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=timeout)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    app = Explorer(Database(str(tmp_path / "explorer.sqlite")))
    server = ExplorerServer(app, "127.0.0.1", 0, request_timeout_s=TIMEOUT_S)
    server.start()
    host, port = server.sock.getsockname()[:2]
    try:
        yield Served(app, host, port)
    finally:
        server.stop()
        app.db.close()


def read_answer(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes or ``timeout`` passes with the answer still incomplete."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            length = next(
                (int(v) for k, _, v in (h.partition(b":") for h in head.split(b"\r\n")) if k.lower() == b"content-length"), None
            )
            if sep and length is not None and len(body) >= length:
                return data
    except TimeoutError:
        return data


def status_of(answer: bytes) -> int | None:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


def request(served: Served, head: str, body: bytes = b"", timeout: float = TIMEOUT_S) -> bytes:
    with served.connect() as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + body)
        return read_answer(sock, timeout)


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


SAME_SITE = "Host: {host}:{port}\r\nOrigin: http://{host}:{port}\r\nSec-Fetch-Site: same-origin\r\nContent-Type: application/json"


def test_bad_content_lengths_are_refused_at_once_without_reading_the_body(served: Served) -> None:
    """A negative length made the old server read until the client hung up (unbounded memory); an oversized
    one must be refused before its body is read; an absent one means no body."""
    verify = f"POST /api/v1/jobs/1/verify HTTP/1.1\r\n{SAME_SITE.format(host=served.host, port=served.port)}"
    started = time.monotonic()
    assert status_of(request(served, verify + "\r\nContent-Length: -1")) == 400
    assert status_of(request(served, verify + "\r\nContent-Length: 1000000000000")) == 413
    assert status_of(request(served, verify)) == 409  # no body: the action runs (no chain here: a 409)
    assert time.monotonic() - started < 3 * 1.0

    before = rss_bytes()
    sent = 0
    with served.connect() as sock:  # then stream 64 MiB behind the negative length: the server must not keep it
        sock.sendall((verify + "\r\nContent-Length: -1\r\n\r\n").encode())
        chunk = b"x" * (1 << 20)
        with pytest.raises(OSError):  # the server answered 400 and closed: the stream is cut off
            for _ in range(64):
                sock.sendall(chunk)
                sent += len(chunk)
            while sock.recv(65536):
                pass
            raise ConnectionResetError("closed after the answer")
    assert sent < 32 << 20
    assert rss_bytes() - before < 16 << 20


def test_unfinished_requests_neither_starve_an_honest_client_nor_stay_for_ever(served: Served) -> None:
    """150+ connections that send half a request line or half their headers and stall (slowloris)."""
    stalled = []
    try:
        for i in range(160):
            sock = served.connect()
            sock.sendall(b"GET /api/v1/sta" if i % 2 else b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: 1")
            stalled.append(sock)
        started = time.monotonic()
        answer = request(served, f"GET /api/v1/status HTTP/1.1\r\nHost: {served.host}", timeout=2.0)
        assert status_of(answer) == 200 and b'"indexed_block"' in answer
        assert time.monotonic() - started < 2.0

        deadline = time.monotonic() + TIMEOUT_S + 3.0
        open_ = set(stalled)
        while open_ and time.monotonic() < deadline:
            readable, _, _ = select.select(list(open_), [], [], 0.5)
            for sock in readable:
                try:
                    data = sock.recv(65536)
                except ConnectionError:
                    data = b""
                if not data or b"408" in data:
                    open_.discard(sock)
        assert not open_, f"{len(open_)} unfinished requests still held {TIMEOUT_S + 3:g} s after they stalled"
    finally:
        for sock in stalled:
            sock.close()


def test_a_trickled_body_is_cut_off(served: Served) -> None:
    """A POST that sends its declared body a byte at a time (resetting any idle timer) is dropped."""
    with served.connect() as sock:
        head = f"POST /api/v1/jobs/1/verify HTTP/1.1\r\n{SAME_SITE.format(host=served.host, port=served.port)}\r\nContent-Length: 1000\r\n\r\n"
        sock.sendall(head.encode())
        started = time.monotonic()
        closed_at = None
        while time.monotonic() - started < TIMEOUT_S + 4:
            try:
                sock.sendall(b"{")
            except OSError:
                closed_at = time.monotonic()
                break
            readable, _, _ = select.select([sock], [], [], 0.2)  # the trickle's pace, and a look for the close
            if readable:
                try:
                    if not sock.recv(65536):
                        closed_at = time.monotonic()
                        break
                except OSError:
                    closed_at = time.monotonic()
                    break
        assert closed_at is not None, "the trickling connection was never dropped"
        assert closed_at - started < TIMEOUT_S + 1.5


@pytest.mark.parametrize(
    "headers",
    [
        "Origin: http://evil.example\r\nContent-Type: application/json",
        "Sec-Fetch-Site: cross-site\r\nContent-Type: application/json",
        "Sec-Fetch-Site: same-site\r\nContent-Type: application/json",
        "Content-Type: application/x-www-form-urlencoded",
        "Content-Type: multipart/form-data; boundary=x",
        "Content-Type: text/plain",
    ],
    ids=["origin", "fetch-site-cross", "fetch-site-same-site", "form", "multipart", "text-plain"],
)
def test_a_cross_site_reverify_is_refused(served: Served, headers: str) -> None:
    answer = request(
        served, f"POST /api/v1/jobs/1/verify HTTP/1.1\r\nHost: {served.host}:{served.port}\r\n{headers}\r\nContent-Length: 0"
    )
    assert status_of(answer) == 403 and b"other sites" in answer


def test_the_reverify_queue_is_bounded_and_the_same_origin_page_still_gets_through(served: Served) -> None:
    """A flood of same-origin re-verify POSTs while one verification runs: a few wait their turn, the rest
    get a 429 at once (no thread or memory per extra request); once the verifier is free, the waiting
    ones are answered. Holding the explorer's verify lock stands in for a long real verification."""
    head = f"POST /api/v1/jobs/1/verify HTTP/1.1\r\n{SAME_SITE.format(host=served.host, port=served.port)}\r\nContent-Length: 0\r\n\r\n"
    served.app.verify_lock.acquire()
    socks: list[socket.socket] = []
    try:
        threads_before = threading.active_count()
        for _ in range(60):
            sock = served.connect()
            sock.sendall(head.encode())
            socks.append(sock)
        refused, waiting = 0, []
        for sock in socks:
            answer = read_answer(sock, 1.0)
            if status_of(answer) == 429:
                refused += 1
            else:
                assert answer == b"", answer
                waiting.append(sock)
        assert len(waiting) == REVERIFY_QUEUE and refused == 60 - REVERIFY_QUEUE
        assert threading.active_count() - threads_before <= REVERIFY_QUEUE + 1
        served.app.verify_lock.release()
        for sock in waiting:  # the verifier is free: each gets its real answer (no chain here: a 409)
            assert status_of(read_answer(sock, 5.0)) == 409
    finally:
        if served.app.verify_lock.locked():
            served.app.verify_lock.release()
        for sock in socks:
            sock.close()


def test_unknown_pages_get_the_styled_not_found_page(served: Served) -> None:
    answer = request(served, f"GET /no/such/page HTTP/1.1\r\nHost: {served.host}")
    assert status_of(answer) == 404 and b"text/html" in answer
    assert b'href="/static/style.css"' in answer and b'href="/jobs"' in answer


def test_a_client_hanging_up_mid_answer_prints_no_traceback(served: Served, capfd: pytest.CaptureFixture[str]) -> None:
    for _ in range(30):
        sock = served.connect()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # close = reset
        sock.sendall(f"GET /static/app.js HTTP/1.1\r\nHost: {served.host}\r\n\r\n".encode())
        sock.close()
    assert status_of(request(served, f"GET /api/v1/status HTTP/1.1\r\nHost: {served.host}")) == 200
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err


def test_an_oversized_request_head_is_refused(served: Served) -> None:
    """32 KiB of headers (32 lines of 1 KiB, each within the old server's per-line limit) are refused."""
    padding = "".join(f"X-Pad-{i}: {'a' * 1000}\r\n" for i in range(32))
    answer = request(served, f"GET /api/v1/status HTTP/1.1\r\nHost: {served.host}\r\n{padding.rstrip()}")
    assert status_of(answer) == 431
