"""The connection guard both servers now share (:mod:`ngx_zk.serving`), played against the explorer over raw
sockets: the defences the data plane had and the explorer lacked (caps with eviction, a 503 in the server's
own error shape) and a head hidden behind a request in flight (pipelined), which neither guard counted.

Each fails on the explorer before the shared guard (its uvicorn config and protocol, run beside this one):
600 stalled connections filled uvicorn's ``limit_concurrency`` (512), so the honest request got uvicorn's
plain-text 503; with that cap at 4, uvicorn refused one of the four re-verifications in flight (it counts
connections, not requests) and let the newcomer in; and the pipelined 40 KiB head was parsed and served (200).
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ngx_zk.explorer.db import Database
from ngx_zk.explorer.server import MAX_CONNECTIONS, REVERIFY_QUEUE, Explorer, ExplorerServer

from .test_dataplane_attacks import wait_for
from .test_explorer_attacks import SAME_SITE, read_answer, status_of


@pytest.fixture
def explorer(tmp_path: Path) -> Iterator[ExplorerServer]:
    server = ExplorerServer(Explorer(Database(str(tmp_path / "explorer.sqlite"))), "127.0.0.1", 0)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.app.db.close()


def connect(server: ExplorerServer, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(server.sock.getsockname()[:2], timeout=5, source_address=(source, 0))


def status_request(server: ExplorerServer) -> bytes:
    with connect(server) as sock:
        sock.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
        return read_answer(sock, 2.0)


def test_a_crowd_of_stalled_connections_past_the_cap_is_evicted_for_an_honest_request(explorer: ExplorerServer) -> None:
    guard = explorer.http.guard
    stalled = []
    try:
        for i in range(MAX_CONNECTIONS + 88):  # ten addresses, each under its own cap: the total cap decides
            sock = connect(explorer, f"127.0.0.{2 + i % 10}")
            sock.sendall(b"GET /api/v1/sta")
            stalled.append(sock)
        wait_for(lambda: guard.stats["connections"] == len(stalled))
        assert guard.live() <= MAX_CONNECTIONS and guard.stats["evicted"] >= 88

        started = time.monotonic()
        answer = status_request(explorer)
        assert status_of(answer) == 200 and b'"indexed_block"' in answer
        assert time.monotonic() - started < 2.0
    finally:
        for sock in stalled:
            sock.close()


def test_when_every_connection_is_in_a_request_a_newcomer_gets_a_503_in_the_apis_error_shape(tmp_path: Path) -> None:
    server = ExplorerServer(Explorer(Database(str(tmp_path / "explorer.sqlite"))), "127.0.0.1", 0, max_connections=REVERIFY_QUEUE)
    server.start()
    host, port = server.sock.getsockname()[:2]
    verify = f"POST /api/v1/jobs/1/verify HTTP/1.1\r\n{SAME_SITE.format(host=host, port=port)}\r\nContent-Length: 0\r\n\r\n"
    server.app.verify_lock.acquire()  # each re-verification waits: its connection is in a request, not evictable
    waiting = [connect(server) for _ in range(REVERIFY_QUEUE)]
    try:
        for sock in waiting:
            sock.sendall(verify.encode())
        assert all(read_answer(sock, 0.5) == b"" for sock in waiting)

        answer = status_request(server)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert status_of(answer) == 503 and b"Retry-After: 1" in head
        assert json.loads(body)["error"]["status"] == 503 and "retry" in json.loads(body)["error"]["message"]

        server.app.verify_lock.release()
        assert all(status_of(read_answer(sock, 5.0)) == 409 for sock in waiting)  # no chain here: a 409
    finally:
        if server.app.verify_lock.locked():
            server.app.verify_lock.release()
        for sock in waiting:
            sock.close()
        server.stop()
        server.app.db.close()


def until_closed(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (or ``timeout`` passes)."""
    sock.settimeout(timeout)
    data = b""
    with contextlib.suppress(TimeoutError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def buffered(server: ExplorerServer) -> int:
    """Bytes the server holds unparsed behind the requests in flight."""
    return sum(len(conn.conn.trailing_data[0]) for conn in list(server.http.server.server_state.connections))


def test_a_head_pipelined_behind_a_request_in_flight_is_measured_before_it_is_parsed(explorer: ExplorerServer) -> None:
    host, port = explorer.sock.getsockname()[:2]
    verify = f"POST /api/v1/jobs/1/verify HTTP/1.1\r\n{SAME_SITE.format(host=host, port=port)}\r\nContent-Length: 0\r\n\r\n"
    padding = "".join(f"X-Pad-{i}: {'a' * 1000}\r\n" for i in range(40))
    explorer.app.verify_lock.acquire()  # the first request stays in flight while the second arrives behind it
    try:
        with connect(explorer) as sock:
            sock.sendall(verify.encode())
            wait_for(lambda: explorer.app.queue.pending == 1)  # the first request is in: the second is read apart
            sock.sendall(f"GET /api/v1/status HTTP/1.1\r\nHost: {host}\r\n{padding}\r\n".encode())
            wait_for(lambda: buffered(explorer) >= 40_000)
            explorer.app.verify_lock.release()
            answers = until_closed(sock, 5.0)
        assert status_of(answers) == 409  # no chain here
        assert b"HTTP/1.1 431" in answers and b"HTTP/1.1 200" not in answers
    finally:
        if explorer.app.verify_lock.locked():
            explorer.app.verify_lock.release()
