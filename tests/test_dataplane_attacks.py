"""The provider's endpoint under the server attacks of issues 22 and 23, over real sockets.

Each attack is played from many loopback source addresses (127.0.0.2, 127.0.0.3, ...) as a small
botnet would, while an honest consumer uses 127.0.0.1. The same attacks were played on a copy of the
hand-written server these replaced (``git show e8f580d:ngx_zk/dataplane.py``, loaded beside the
package):

* slow offers: 40 offers signed by throwaway keys, bodies trickled a byte at a time, took all 32 of
  its connection threads; the honest upload was refused ``503 busy`` after 2.9 s, and would be for as
  long as the trickle lasted (its body deadline was 60 s). Fails there, passes here.
* a consumer's offer replayed to a second provider: accepted there (200) and counted against the
  consumer, whose own second offer there was then refused (429). Fails there, passes here.
* bad Content-Length: that server answered 413 at once to negative, non-numeric, missing and
  chunked framing, but took the first of two conflicting Content-Length headers and sent
  ``100 Continue`` (the conflicting case fails there; h11 refuses it here).
* 400 unfinished requests: that server still served the honest upload (it evicted idle connections)
  but held 63 threads for them, above the bound asserted here (the pool's threads). Fails there.
"""

from __future__ import annotations

import contextlib
import resource
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ngx_zk import dataplane
from ngx_zk.chain.signer import Signer
from ngx_zk.dataplane import Limits

from .dataplane_kit import CHAIN, MARKET, MODEL, OTHER_PROVIDER, PROVIDER, Plane, make_plane, new_signer, raw, upload

__all__ = ["make_plane"]  # the fixture, imported from the kit


def head(plane: Plane, path: str, headers: dict[str, str], source: str = "127.0.0.1") -> socket.socket:
    """Open a connection from ``source`` and send a request's head only (no body yet)."""
    sock = socket.create_connection(plane.address, timeout=5, source_address=(source, 0))
    lines = [f"PUT {path} HTTP/1.1", "Host: provider", *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def status_line(sock: socket.socket, timeout: float = 2.0) -> str:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def slow_offer(plane: Plane, source: str, size: int = 1024 * 1024) -> socket.socket:
    """An offer with a valid signature from a fresh key, its head sent and its body not (yet)."""
    thrower, body = new_signer(), secrets.token_bytes(size)
    commitment = secrets.randbits(128)
    headers = dataplane.offer_headers(thrower, CHAIN, MARKET, MODEL, commitment, body, provider=plane.provider)
    return head(plane, f"/v1/offers/{MODEL}/{commitment:064x}", {**headers, "Content-Length": str(size)}, source)


@pytest.fixture
def trickle() -> Iterator[list[socket.socket]]:
    """Sockets put here get one byte every 0.2 s until the test ends."""
    socks: list[socket.socket] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(0.2):
            for sock in list(socks):
                try:
                    sock.send(b"x")
                except OSError:
                    socks.remove(sock)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield socks
    stop.set()
    thread.join()
    for sock in socks:
        sock.close()


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


# --- (a) slow bodies from throwaway keys ---------------------------------------------------------
def test_slow_offers_signed_by_throwaway_keys_do_not_lock_out_an_honest_upload(make_plane: Any, trickle: list[Any]) -> None:
    plane = make_plane(Limits(header_timeout_s=5, body_timeout_s=30, body_grace_s=30))
    consumer = new_signer()
    plane.chain.claimed(1, consumer)
    baseline = threading.active_count()
    trickle.extend(slow_offer(plane, f"127.0.0.{2 + i}") for i in range(40))
    limits = plane.server.limits
    wait_for(lambda: plane.server.stats["bodies_busy"] >= 40 - limits.max_offer_bodies)

    started = time.monotonic()
    upload(plane, consumer, 1, b"honest sealed input")
    took = time.monotonic() - started
    assert plane.mailbox.get(1, "input") == b"honest sealed input"
    assert took < 3.0, f"the honest upload took {took:.2f}s"
    assert plane.server.stats["slow_bodies"] == 0, "the slow offers were still trickling while the honest upload went through"
    assert threading.active_count() - baseline <= limits.check_threads, "slow bodies hold no threads"
    print(
        f"\n40 slow offers from throwaway keys: {limits.max_offer_bodies} trickling, "
        f"{plane.server.stats['bodies_busy']} refused unread; honest upload in {took:.3f}s"
    )


def test_a_trickled_body_is_cut_once_it_falls_below_the_minimum_rate(make_plane: Any, trickle: list[Any]) -> None:
    plane = make_plane(Limits(body_timeout_s=10, body_grace_s=0.5, min_body_bytes_per_s=10_000))
    sock = slow_offer(plane, "127.0.0.2")
    started = time.monotonic()
    trickle.append(sock)
    assert status_line(sock, timeout=5).startswith("HTTP/1.1 408")
    assert time.monotonic() - started < 2.0, "cut soon after the grace period, not at the 10 s deadline"
    assert plane.server.stats["slow_bodies"] == 1 and plane.offers == []
    dataplane.upload_offer(plane.endpoint, new_signer(), CHAIN, MARKET, MODEL, 5, b"honest offer", provider=PROVIDER)
    assert len(plane.offers) == 1, "the slot was given back"


# --- (b) bad Content-Length ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "framing",
    [
        "Content-Length: -1",
        "Content-Length: -4194304",
        "Content-Length: 12abc",
        "Content-Length: 0x10",
        "Content-Length: 99999999999999999999999",
        "",
        "Transfer-Encoding: chunked",
        "Content-Length: 10\r\nContent-Length: 4194304",
    ],
    ids=["negative", "very-negative", "non-numeric", "hex", "huge", "missing", "chunked", "conflicting"],
)
def test_a_bad_content_length_is_refused_at_once_without_reading(make_plane: Any, framing: str) -> None:
    plane = make_plane()
    consumer = new_signer()
    plane.chain.claimed(1, consumer)
    headers = dataplane.upload_headers(consumer, CHAIN, MARKET, 1, b"x" * 10, provider=PROVIDER)
    sock = socket.create_connection(plane.address, timeout=5)
    lines = [
        "PUT /v1/jobs/1/input HTTP/1.1",
        "Host: provider",
        "Expect: 100-continue",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    started = time.monotonic()
    sock.sendall(("\r\n".join([*lines, framing] if framing else lines) + "\r\n\r\n").encode())
    answer = status_line(sock)
    took = time.monotonic() - started
    with contextlib.suppress(OSError):
        sock.sendall(b"x" * 65536)  # the body a hostile client pushes anyway
    sock.close()
    assert answer.split()[1] in ("400", "411", "413"), answer
    assert took < 1.0
    assert plane.server.stats["body_bytes"] == 0 and plane.mailbox.usage() == (0, 0)


def test_an_oversized_head_is_refused_without_waiting_for_its_end(make_plane: Any) -> None:
    plane = make_plane()
    sock = head(plane, "/v1/jobs/1/input", {"X-NGX-Signature": "0x" + "ab" * 16 * 1024})  # 32 KiB, above the 16 KiB cap
    assert status_line(sock).startswith("HTTP/1.1 431"), "sent whole: measured by the app"
    sock.close()
    sock = socket.create_connection(plane.address, timeout=5)
    sock.sendall(b"PUT /v1/jobs/1/input HTTP/1.1\r\nX-NGX-Signature: 0x")
    for _ in range(5):  # 20 KiB of one header, never finished: h11 gives up past 16 KiB
        time.sleep(0.01)
        sock.sendall(b"ab" * 2048)
    assert status_line(sock).startswith("HTTP/1.1 400"), "sent in pieces: cut by h11"
    sock.close()
    assert plane.server.stats["body_bytes"] == 0 and plane.refusals == []


# --- (c) unfinished requests ---------------------------------------------------------------------
def rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_hundreds_of_unfinished_requests_leave_an_honest_upload_served_in_bounded_memory(make_plane: Any) -> None:
    plane = make_plane(Limits(max_connections=64, per_peer_connections=16, header_timeout_s=30))
    consumer = new_signer()
    plane.chain.claimed(1, consumer)
    threads, memory = threading.active_count(), rss_kib()
    unfinished = []
    try:
        for i in range(400):  # from the honest consumer's own address too
            sock = socket.create_connection(plane.address, timeout=5, source_address=(f"127.0.0.{1 + i % 10}", 0))
            sock.sendall(b"PUT /v1/jobs/1/input HTTP/1.1\r\nHost: provider\r\nX-NGX-Signature: 0x")  # never finished
            unfinished.append(sock)
        wait_for(lambda: plane.server.stats["connections"] == 400)
        assert plane.server.live_connections() <= 64
        started = time.monotonic()
        upload(plane, consumer, 1, b"sealed input")
        took = time.monotonic() - started
        assert plane.mailbox.get(1, "input") == b"sealed input" and took < 1.0
        grew_threads, grew_kib = threading.active_count() - threads, rss_kib() - memory
        assert grew_threads <= plane.server.limits.check_threads, f"{grew_threads} threads for 400 unfinished requests"
        assert grew_kib < 32 * 1024, f"memory grew by {grew_kib:,} KiB"
        print(
            f"\n400 unfinished requests: {plane.server.live_connections()} held, {plane.server.stats['evicted']} evicted, "
            f"+{grew_threads} threads, +{grew_kib:,} KiB; honest upload in {took:.3f}s"
        )
    finally:
        for sock in unfinished:
            sock.close()


# --- 100 Continue only after authorization --------------------------------------------------------
def test_100_continue_is_sent_only_to_an_authorized_upload(make_plane: Any) -> None:
    plane = make_plane()
    consumer, stranger = new_signer(), new_signer()
    plane.chain.claimed(1, consumer)
    body = b"sealed input"
    for signer, first, final in [(stranger, "HTTP/1.1 403", None), (consumer, "HTTP/1.1 100", "HTTP/1.1 200")]:
        headers = dataplane.upload_headers(signer, CHAIN, MARKET, 1, body, provider=PROVIDER)
        sock = head(plane, "/v1/jobs/1/input", {**headers, "Content-Length": str(len(body)), "Expect": "100-continue"})
        answers = sock.makefile("rb")
        assert answers.readline().decode().startswith(first)
        if final is not None:
            assert answers.readline() == b"\r\n", "an interim answer: a status line only"
            sock.sendall(body)
            assert answers.readline().decode().startswith(final)
        sock.close()
    assert plane.server.stats["body_bytes"] == len(body)


def test_the_route_comes_from_the_request_target_never_from_the_host_header(make_plane: Any) -> None:
    plane = make_plane()
    consumer = new_signer()
    plane.chain.claimed(1, consumer)
    plane.mailbox.put(1, "output", b"sealed output")
    headers = dataplane.fetch_headers(consumer, CHAIN, MARKET, 1, provider=PROVIDER)
    sock = socket.create_connection(plane.address, timeout=5)
    sock.sendall(
        b"GET /elsewhere HTTP/1.1\r\nHost: x/v1/jobs/1/output?\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        + b"\r\n"
    )
    assert status_line(sock).startswith("HTTP/1.1 404")
    sock.close()
    assert not (plane.mailbox.folder / "1.fetched").exists()


# --- issue 23 item 10: a request names its provider ----------------------------------------------
def test_an_offer_or_upload_replayed_to_another_provider_is_refused_and_spends_nothing_there(make_plane: Any) -> None:
    limits = Limits(header_timeout_s=2, body_timeout_s=2, offers_per_consumer=2)
    mine, other = make_plane(limits), make_plane(limits, provider=OTHER_PROVIDER)
    consumer: Signer = new_signer()
    body = b"sealed offer"
    headers = dataplane.offer_headers(consumer, CHAIN, MARKET, MODEL, 5, body, provider=PROVIDER)
    path = f"/v1/offers/{MODEL}/{5:064x}"
    assert raw(mine, "PUT", path, headers, body) == (200, "")

    status, reason = raw(other, "PUT", path, headers, body)  # an observer replays it to another provider
    assert status == 403 and "for this provider" in reason
    assert other.offers == [] and other.server.admission.offers_made(consumer.address) == 0
    for commitment in (6, 7):  # the consumer's own offers there are all still its own to make
        dataplane.upload_offer(other.endpoint, consumer, CHAIN, MARKET, MODEL, commitment, body, provider=OTHER_PROVIDER)
    assert [o.consumer for o in other.offers] == [consumer.address] * 2

    for plane in (mine, other):
        plane.chain.open(1, consumer)
    upload_headers = dataplane.upload_headers(consumer, CHAIN, MARKET, 1, b"sealed input", provider=PROVIDER)
    assert raw(other, "PUT", "/v1/jobs/1/input", upload_headers, b"sealed input")[0] == 403
    assert other.mailbox.usage(consumer.address) == (0, 0)
    assert raw(mine, "PUT", "/v1/jobs/1/input", upload_headers, b"sealed input") == (200, "")


# --- the worker's start and stop -----------------------------------------------------------------
def test_close_returns_quickly_under_load_and_leaves_no_threads(make_plane: Any, trickle: list[Any]) -> None:
    baseline = threading.active_count()
    plane = make_plane(Limits(body_grace_s=30, body_timeout_s=30))
    trickle.extend(slow_offer(plane, f"127.0.0.{2 + i}") for i in range(4))
    idle = [socket.create_connection(plane.address, timeout=5) for _ in range(20)]
    wait_for(lambda: plane.server.stats["connections"] == 24)
    started = time.monotonic()
    plane.server.close()
    took = time.monotonic() - started
    assert took < 3.0, f"close took {took:.2f}s"
    wait_for(lambda: threading.active_count() <= baseline, timeout=5)
    with pytest.raises(OSError):
        socket.create_connection(plane.address, timeout=1)
    for sock in idle:
        sock.close()
    print(f"\nclose with 4 trickling bodies and 20 idle connections: {took:.3f}s; peak RSS {resource.getrusage(0).ru_maxrss} KiB")
