"""The data plane under abuse: each attack a red team played on the provider's endpoint and on the
consumer's client, played again over real sockets; each must end in a clear refusal that keeps nothing.

The server runs standalone with a real :class:`Mailbox` in ``tmp_path``; ``job_facts`` is the
server's own interface to the chain, answered here from a dict (``FakeChain``)."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest
from click.testing import CliRunner

from ngx_zk import crypto, dataplane
from ngx_zk.chain.market import JobStatus
from ngx_zk.cli import main
from ngx_zk.consumer import open_output
from ngx_zk.dataplane import JobFacts, Limits, Mailbox
from ngx_zk.endpoint import EndpointError, check_endpoint, resolve

from .dataplane_kit import (
    CHAIN,
    MARKET,
    MODEL,
    OTHER_CHAIN,
    OTHER_PROVIDER,
    PROVIDER,
    FakeJobRow,
    make_plane,
    new_signer,
    raw,
    refused,
    upload,
)

__all__ = ["make_plane"]  # the fixture, imported from the kit


# --- 7. exhaustion -------------------------------------------------------------------------------
def test_idle_connections_hold_no_more_threads_than_the_cap_and_an_honest_upload_still_succeeds(make_plane: Any) -> None:
    plane = make_plane(Limits(max_connections=8, header_timeout_s=5))
    consumer = new_signer()
    plane.chain.claimed(1, consumer)
    baseline = threading.active_count()
    idle = [socket.create_connection(plane.address, timeout=5) for _ in range(200)]
    try:
        deadline = time.monotonic() + 5
        while plane.server.stats["connections"] < 200 and time.monotonic() < deadline:
            time.sleep(0.01)
        threads = threading.active_count() - baseline
        assert plane.server.stats["connections"] == 200
        assert threads <= 8, f"200 idle connections hold {threads} threads"
        assert plane.server.live_connections() <= 8

        started = time.monotonic()
        upload(plane, consumer, 1, b"sealed input")
        assert plane.mailbox.get(1, "input") == b"sealed input"
        assert time.monotonic() - started < 1.0
        print(
            f"\n200 idle connections: {threads} extra threads, {plane.server.stats['evicted']} evicted, "
            f"{plane.server.stats['busy']} refused busy; honest upload in {time.monotonic() - started:.3f}s"
        )
    finally:
        for sock in idle:
            sock.close()


def test_a_connection_that_dribbles_its_headers_is_cut_at_the_header_deadline(make_plane: Any) -> None:
    plane = make_plane(Limits(header_timeout_s=0.3, body_timeout_s=0.3))
    sock = socket.create_connection(plane.address, timeout=2)
    started, cut = time.monotonic(), False
    try:
        for ch in b"PUT /v1/jobs/1/input HTTP/1.1\r\nHost: x\r\n":
            sock.sendall(bytes([ch]))
            time.sleep(0.05)  # each byte well inside any per-read timeout; the total is not
            if time.monotonic() - started > 0.9:
                break
        assert sock.recv(1024) == b""
        cut = True
    except OSError:
        cut = True
    finally:
        sock.close()
    assert cut and time.monotonic() - started < 1.5
    assert plane.server.stats["timed_out"] == 1


def test_a_strangers_4mib_body_is_refused_before_it_is_read(make_plane: Any) -> None:
    plane = make_plane()
    consumer, stranger = new_signer(), new_signer()
    plane.chain.claimed(1, consumer)
    body = secrets.token_bytes(4 * 1024 * 1024)

    started = time.monotonic()
    error = refused(lambda: upload(plane, stranger, 1, body))
    assert error.status == 403 and "not from the job's consumer" in error.message
    assert time.monotonic() - started < 1.0

    # a hostile client that does not wait for 100 Continue: answered and hung up on, body unread
    headers = dataplane.upload_headers(stranger, CHAIN, MARKET, 1, body, provider=PROVIDER)
    sock = socket.create_connection(plane.address, timeout=5)
    sock.sendall(
        f"PUT /v1/jobs/1/input HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n".encode()
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        + b"\r\n"
    )
    answer = sock.recv(4096)
    sent = 0
    try:
        for offset in range(0, len(body), 65536):
            sent += sock.send(body[offset : offset + 65536])
    except OSError:
        pass
    sock.close()
    assert answer.startswith(b"HTTP/1.1 403")
    assert plane.server.stats["body_bytes"] == 0, "not one byte of a stranger's body was read"
    assert plane.mailbox.get(1, "input") is None and plane.mailbox.usage() == (0, 0)
    assert [(source, sender) for source, _, sender in plane.refusals] == [("dataplane.input", stranger.address)] * 2
    print(
        f"\nstranger's 4 MiB: refused in {time.monotonic() - started:.3f}s, 0 body bytes read "
        f"(the hostile client pushed {sent:,} bytes into kernel buffers before the hang-up)"
    )


def test_a_body_that_does_not_match_its_signed_hash_is_refused_and_not_kept(make_plane: Any) -> None:
    plane = make_plane()
    consumer = new_signer()
    plane.chain.claimed(1, consumer)
    headers = dataplane.upload_headers(consumer, CHAIN, MARKET, 1, b"A" * 100, provider=PROVIDER)
    status, reason = raw(plane, "PUT", "/v1/jobs/1/input", headers, b"B" * 100)
    assert status == 403 and "signed X-NGX-Content-SHA256" in reason
    status, reason = raw(plane, "PUT", "/v1/jobs/1/input", headers, b"A" * 101)
    assert status == 403, "a longer body changes the signed length: the signature does not match"
    assert plane.mailbox.get(1, "input") is None
    upload(plane, consumer, 1, b"A" * 100)
    assert plane.mailbox.get(1, "input") == b"A" * 100


def test_uploads_for_unserved_models_and_closed_jobs_are_refused(make_plane: Any) -> None:
    plane = make_plane()
    consumer = new_signer()
    plane.chain.open(1, consumer, model_id=MODEL + 1)
    plane.chain.open(2, consumer, claim_in_s=-1)
    plane.chain.claimed(3, consumer, provider=OTHER_PROVIDER)
    plane.chain.jobs[4] = JobFacts(consumer.address, PROVIDER, "Settled", MODEL, 0)
    row = FakeJobRow(consumer.address, None, JobStatus.OPEN, MODEL, int(time.time()) + 300)
    plane.chain.jobs[5] = JobFacts.from_job(cast(Any, row))  # how the worker builds the facts from its chain read
    expected = {1: "does not serve", 2: "claim window has closed", 3: "not Open or Claimed by this provider", 4: "is Settled"}
    for job_id, reason in expected.items():
        error = refused(lambda: upload(plane, consumer, job_id, b"x" * 1000))  # noqa: B023 - called at once
        assert error.status == 409 and reason in error.message, error.message
    assert plane.server.stats["body_bytes"] == 0 and plane.mailbox.usage() == (0, 0)
    upload(plane, consumer, 5, b"x" * 1000)
    assert plane.mailbox.usage(consumer.address) == (1, 1000), "an open job of a served model, claim window running"


def test_each_consumer_has_a_quota_of_bytes_and_pending_uploads(make_plane: Any) -> None:
    plane = make_plane(Limits(header_timeout_s=2, body_timeout_s=2, consumer_max_pending=2, consumer_max_bytes=3000))
    greedy, other = new_signer(), new_signer()
    for job_id in range(1, 6):
        plane.chain.claimed(job_id, greedy)
    plane.chain.claimed(9, other)
    upload(plane, greedy, 1, b"a" * 1000)
    upload(plane, greedy, 2, b"b" * 1000)
    error = refused(lambda: upload(plane, greedy, 3, b"c" * 10))
    assert error.status == 429 and "2 inputs" in error.message
    upload(plane, greedy, 2, b"B" * 1500)  # replacing its own input is not a new pending upload
    assert plane.mailbox.usage(greedy.address) == (2, 2500)
    plane.mailbox.discard(1)
    error = refused(lambda: upload(plane, greedy, 3, b"c" * 1600))
    assert error.status == 429 and "3,000 bytes" in error.message
    upload(plane, greedy, 3, b"c" * 1500)
    upload(plane, other, 9, b"o" * 1000)  # the quota is per consumer address
    assert plane.mailbox.get(1, "input") is None and plane.mailbox.usage() == (3, 4000)


def test_the_mailbox_is_bounded_and_discard_removes_a_final_jobs_files(make_plane: Any, tmp_path: Path) -> None:
    plane = make_plane(Limits(header_timeout_s=2, body_timeout_s=2, mailbox_max_inputs=2))
    consumers = [new_signer() for _ in range(3)]
    for job_id, consumer in enumerate(consumers, start=1):
        plane.chain.claimed(job_id, consumer)
    upload(plane, consumers[0], 1, b"one")
    upload(plane, consumers[1], 2, b"two")
    error = refused(lambda: upload(plane, consumers[2], 3, b"three"))
    assert error.status == 503 and "mailbox is full" in error.message

    plane.mailbox.put(1, "output", b"sealed output")
    plane.mailbox.mark_fetched(1)
    reopened = Mailbox(plane.mailbox.folder)  # a restarted worker still knows who owns what
    assert reopened.usage(consumers[0].address) == (1, 3)
    plane.mailbox.discard(1)
    assert sorted(p.name for p in plane.mailbox.folder.iterdir()) == ["2.input", "2.owner"]
    upload(plane, consumers[2], 3, b"three")
    assert plane.mailbox.sweep(max_age_s=-1) == [2, 3] and list(plane.mailbox.folder.iterdir()) == []


def test_offers_replayed_expired_or_expiring_too_late_are_refused(make_plane: Any) -> None:
    plane = make_plane(Limits(header_timeout_s=2, body_timeout_s=2, offers_per_consumer=2))
    consumer = new_signer()
    body = b"sealed offer"
    path = f"/v1/offers/{MODEL}/{5:064x}"
    headers = dataplane.offer_headers(consumer, CHAIN, MARKET, MODEL, 5, body, provider=PROVIDER)
    assert raw(plane, "PUT", path, headers, body) == (200, "")
    status, reason = raw(plane, "PUT", path, headers, body)
    assert status == 409 and "replayed" in reason

    now = int(time.time())
    for expires, code, why in [(now - 1, 401, "expired"), (now + 3600, 400, "from now")]:
        stale = dataplane.offer_headers(consumer, CHAIN, MARKET, MODEL, 5, body, provider=PROVIDER, expires=expires)
        assert raw(plane, "PUT", path, stale, body)[0] == code, why
    for name, value in [("X-NGX-Expires", "nan"), ("X-NGX-Expires", "inf"), ("X-NGX-Expires", "1e400"), ("X-NGX-Nonce", "")]:
        assert raw(plane, "PUT", path, {**headers, name: value}, body)[0] == 400, (name, value)

    other_model = dataplane.offer_headers(consumer, CHAIN, MARKET, MODEL + 1, 5, body, provider=PROVIDER)
    assert raw(plane, "PUT", f"/v1/offers/{MODEL + 1}/{5:064x}", other_model, body)[0] == 404
    dataplane.upload_offer(plane.endpoint, consumer, CHAIN, MARKET, MODEL, 6, body, provider=PROVIDER)
    error = refused(lambda: dataplane.upload_offer(plane.endpoint, consumer, CHAIN, MARKET, MODEL, 7, body, provider=PROVIDER))
    assert error.status == 429 and "offers in the last" in error.message
    assert [(o.consumer, o.commitment) for o in plane.offers] == [(consumer.address, 5), (consumer.address, 6)]
    assert plane.server.stats["body_bytes"] == 2 * len(body), "no refused offer's body was read"


def test_an_offer_that_became_a_posted_job_is_given_back_to_its_consumer(make_plane: Any) -> None:
    """The offer window bounds the proofs made for jobs never posted, not a consumer that keeps its offers."""
    plane = make_plane(Limits(header_timeout_s=2, body_timeout_s=2, offers_per_consumer=2))
    consumer, body = new_signer(), b"sealed offer"
    for commitment in (5, 6):
        dataplane.upload_offer(plane.endpoint, consumer, CHAIN, MARKET, MODEL, commitment, body, provider=PROVIDER)
    error = refused(lambda: dataplane.upload_offer(plane.endpoint, consumer, CHAIN, MARKET, MODEL, 7, body, provider=PROVIDER))
    assert error.status == 429
    plane.server.admission.offer_kept(consumer.address)  # the worker adopted offer 5 into its posted job
    dataplane.upload_offer(plane.endpoint, consumer, CHAIN, MARKET, MODEL, 7, body, provider=PROVIDER)
    assert plane.server.admission.offers_made(consumer.address) == 2
    error = refused(lambda: dataplane.upload_offer(plane.endpoint, consumer, CHAIN, MARKET, MODEL, 8, body, provider=PROVIDER))
    assert error.status == 429, "an offer not kept is not given back"


@pytest.mark.parametrize("stamp", ["nan", "NaN", "inf", "-inf", "1e400"])
def test_a_fetch_timestamp_must_be_finite(make_plane: Any, stamp: str) -> None:
    plane = make_plane()
    consumer = new_signer()
    plane.chain.claimed(1, consumer)
    plane.mailbox.put(1, "output", b"sealed output")
    signature = dataplane.sign(consumer, dataplane.message(CHAIN, MARKET, 1, "output", stamp, provider=PROVIDER))
    status, reason = raw(plane, "GET", "/v1/jobs/1/output", {"X-NGX-Signature": signature, "X-NGX-Timestamp": stamp})
    assert status == 400 and "finite" in reason
    old = f"{time.time() - 3600:.3f}"
    signature = dataplane.sign(consumer, dataplane.message(CHAIN, MARKET, 1, "output", old, provider=PROVIDER))
    assert raw(plane, "GET", "/v1/jobs/1/output", {"X-NGX-Signature": signature, "X-NGX-Timestamp": old})[0] == 401
    assert not (plane.mailbox.folder / "1.fetched").exists()
    assert dataplane.fetch_output(plane.endpoint, consumer, CHAIN, MARKET, 1, provider=PROVIDER) == b"sealed output"


# --- 8. endpoint URLs ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://gpu.example/",
        "gopher://gpu.example:70/",
        "gpu.example:8443",
        "http://",
        "http://user:pw@gpu.example/",
        "http://gpu.example@127.0.0.1/",
        "http://gpu.example/?x=1",
        "http://gpu.example/ x",
        "http://127.0.0.1:8080",
        "http://localhost/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://2130706433/",
        "http://100.64.0.1/",
        "http://mixed.example/",
    ],
)
def test_the_endpoint_validator_refuses_other_schemes_and_non_public_hosts(url: str) -> None:
    def resolver_fake(host: str, port: int) -> list[str]:
        known = {"gpu.example": ["93.184.216.34"], "mixed.example": ["93.184.216.34", "10.0.0.5"]}
        return known[host] if host in known else resolve(host, port)

    with pytest.raises(EndpointError) as info:
        check_endpoint(url, dev_chain=False, resolver=resolver_fake)
    assert "\n" not in str(info.value)


def test_the_endpoint_validator_checks_every_address_and_allows_loopback_only_on_the_dev_chain() -> None:
    checked = check_endpoint("https://gpu.example:8443/ngx/", dev_chain=False, resolver=lambda h, p: ["93.184.216.34"])
    assert (checked.scheme, checked.host, checked.port, checked.base_path, checked.addresses) == (
        "https",
        "gpu.example",
        8443,
        "/ngx",
        ("93.184.216.34",),
    )
    assert check_endpoint("http://127.0.0.1:8545", dev_chain=True).addresses == ("127.0.0.1",)
    with pytest.raises(EndpointError, match="scheme 'file'"):
        check_endpoint("file:///etc/passwd", dev_chain=True)


def test_the_client_refuses_a_bad_endpoint_before_connecting(make_plane: Any) -> None:
    plane = make_plane()
    consumer = new_signer()
    plane.chain.claimed(1, consumer)
    error = refused(lambda: dataplane.upload_input("file:///etc/passwd", consumer, CHAIN, MARKET, 1, b"x", provider=PROVIDER))
    assert error.status is None and "scheme 'file'" in error.message
    error = refused(lambda: upload(plane, consumer, 1, b"x", chain_id=OTHER_CHAIN))
    assert "127.0.0.1, a private, loopback" in error.message
    refused(lambda: dataplane.fetch_output(plane.endpoint, consumer, CHAIN, MARKET, 1, provider=PROVIDER, dev_chain=False))
    assert plane.server.stats["connections"] == 0, "off the dev chain, a loopback endpoint is never dialled"
    upload(plane, consumer, 1, b"x")  # the dev chain allows it
    assert plane.server.stats["connections"] == 1


def test_provider_register_refuses_a_file_endpoint_before_any_chain_work(env: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["provider", "register", "--endpoint", "file:///etc/passwd", "--rpc-url", "http://127.0.0.1:9", "--account", "provider"],
    )
    assert result.exit_code == 1 and "scheme 'file' is not http or https" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


class FakeHostileHandler(BaseHTTPRequestHandler):
    """A provider endpoint that answers every request at once, without reading the body."""

    timeout = 2
    answer: tuple[int, dict[str, str], bytes] = (200, {}, b"")
    hits: ClassVar[list[str]] = []

    def _answer(self) -> None:
        self.hits.append(self.path)
        status, headers, body = self.answer
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    do_GET = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[Callable[..., tuple[str, list[str]]]]:
    """Start a hostile endpoint answering (status, body, headers); returns its URL and the paths it was asked."""
    servers: list[HTTPServer] = []

    def make(status: int, body: bytes = b"", **headers: str) -> tuple[str, list[str]]:
        hits: list[str] = []
        handler = type("FakeHostile", (FakeHostileHandler,), {"answer": (status, headers, body), "hits": hits})
        server = HTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", hits

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_redirect_is_not_followed(hostile: Any) -> None:
    inside, inside_hits = hostile(200, b"secret from inside")
    redirect, redirect_hits = hostile(302, b"", Location=f"{inside}/admin")
    consumer = new_signer()
    for call in (
        lambda: dataplane.fetch_output(redirect, consumer, CHAIN, MARKET, 1, provider=PROVIDER),
        lambda: dataplane.upload_input(redirect, consumer, CHAIN, MARKET, 1, b"x" * 100_000, provider=PROVIDER),
    ):
        error = refused(call)
        assert error.status == 302 and "redirects are not followed" in error.message
    assert len(redirect_hits) == 2 and inside_hits == [], "the redirect target was never contacted"


@pytest.mark.parametrize(
    "body",
    [b"[" * 200_000 + b"]" * 200_000, b'{"error": ' * 50_000 + b'"x"' + b"}" * 50_000, b"\xff\xfe not json", b'{"error": NaN}'],
    ids=["nested-list", "nested-object", "binary", "nan"],
)
def test_a_hostile_error_body_gives_a_one_line_data_plane_error(hostile: Any, body: bytes) -> None:
    endpoint, _ = hostile(400, body)
    error = refused(lambda: dataplane.fetch_output(endpoint, new_signer(), CHAIN, MARKET, 1, provider=PROVIDER))
    assert error.status == 400 and error.message.startswith("provider endpoint refused (HTTP 400)")


def test_an_oversized_answer_is_refused(hostile: Any) -> None:
    endpoint, _ = hostile(200, b"0" * (dataplane.MAX_RESPONSE_BYTES + 1))
    error = refused(lambda: dataplane.fetch_output(endpoint, new_signer(), CHAIN, MARKET, 1, provider=PROVIDER))
    assert "above the" in error.message


@pytest.mark.parametrize(
    "plaintext",
    [
        b"[" * 200_000 + b"]" * 200_000,
        b'{"output_felts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"output_felts": ["1", "2"]}',
        b'{"output_felts": [1, 2, 3]}',
        b'{"output_felts": ["1", "2", "' + b"9" * 100 + b'"]}',
        b'{"output_felts": ["1", "2", NaN]}',
        '{"output_felts": ["1", "2", "\u00b2"]}'.encode(),
        b"[]",
        b"not json",
    ],
    ids=["nested", "nested-felts", "too-few", "numbers", "too-large", "nan", "unicode-digit", "list", "text"],
)
def test_a_hostile_output_gives_a_one_line_data_plane_error(plaintext: bytes) -> None:
    key = crypto.derive_key(b"\x01" * 32)
    ctx = crypto.JobContext(CHAIN, MARKET, 1, MODEL, "output")
    sealed = crypto.seal(crypto.public_bytes(key), plaintext, ctx)
    error = refused(lambda: open_output(key, sealed, ctx, 3))
    assert "the output the provider sent for job 1" in error.message
    good = crypto.seal(crypto.public_bytes(key), json.dumps({"output_felts": ["1", "2", "3"]}).encode(), ctx)
    assert open_output(key, good, ctx, 3) == [1, 2, 3]
