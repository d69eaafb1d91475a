"""A consumer's inputs in a provider's mailbox: settled jobs leave the quota, and a refused upload
after paying never strands the job. Runs the real worker (with its endpoint) and consumer on anvil."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import ngx_zk as ngx
from ngx_zk import crypto
from ngx_zk.chain.market import JobStatus
from ngx_zk.chain.types import InputDelivered
from ngx_zk.consumer import deliver_input, post_job, wait_for_result

from .chain_fixtures import NGX, Net, free_port, start_worker
from .paths import MODELS

pytestmark = pytest.mark.chain

JOBS = 20


def consumer_settings(net: Net, tmp_path: Path) -> ngx.Settings:
    return ngx.load_settings(
        {"NGX_ZK_HOME": str(net.home), "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir), "NGX_ZK_STATE_DIR": str(tmp_path)}
    )


def serve_endpoint(net: Net, port: int) -> None:
    provider = net.signer("provider")
    key = crypto.public_bytes(crypto.derive_key(provider.encryption_key_material()))
    net.market.update_provider(provider, key, f"http://127.0.0.1:{port}")


@pytest.mark.slow
def test_one_consumer_gets_twenty_jobs_in_a_row_through_one_providers_endpoint(chain_snapshot: Net, tmp_path: Path) -> None:
    """The mailbox quota is 4 inputs per consumer; before settled jobs left it, the 5th upload got
    HTTP 429 after the consumer had paid and the provider had claimed, and the job was stuck."""
    net, m = chain_snapshot, chain_snapshot.market
    port = free_port()
    serve_endpoint(net, port)
    worker = start_worker(net, tmp_path / "worker", "--listen", f"127.0.0.1:{port}", "--max-jobs", str(JOBS))
    settings = consumer_settings(net, tmp_path / "consumer")
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    try:
        for n in range(JOBS):
            record = post_job(
                settings,
                m,
                net.signer("consumer"),
                net.circuit,
                data,
                price=NGX,
                claim_window=300,
                prove_window=300,
                min_reputation=0,
            )
            result = wait_for_result(settings, m, net.signer("consumer"), net.circuit, record, timeout_s=120)
            assert result.status is JobStatus.SETTLED and result.proof_valid, f"job {n + 1} of {JOBS}"
            assert list(record.deliveries.values()) == [f"sealed, via http://127.0.0.1:{port}"], "delivered through the endpoint"
    finally:
        worker.wait(timeout=120)
    assert worker.returncode == 0, worker.stderr
    mailbox = tmp_path / "worker" / "mailbox"
    assert not list(mailbox.glob("*.input")), "no settled job's input stays in the mailbox"


@pytest.fixture
def busy_endpoint() -> Iterator[str]:
    """A provider endpoint whose mailbox is full for this consumer: every upload gets 429 (fault injection)."""

    class Busy(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = b'{"error": "a consumer may keep 4 inputs and 16,777,216 bytes here"}'
            self.send_response(429)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_consumer_refused_for_its_quota_after_paying_delivers_on_chain(
    chain_snapshot: Net, tmp_path: Path, busy_endpoint: str
) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    provider = net.signer("provider")
    m.update_provider(provider, crypto.public_bytes(crypto.derive_key(provider.encryption_key_material())), busy_endpoint)
    settings = consumer_settings(net, tmp_path)
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    record = post_job(
        settings, m, net.signer("consumer"), net.circuit, data, price=NGX, claim_window=300, prove_window=300, min_reputation=0
    )
    m.claim(provider, record.job_id)
    notes: list[str] = []

    how = deliver_input(m, net.signer("consumer"), record, m.job(record.job_id), progress=notes.append)

    assert how.startswith("0x"), "delivered by transaction"
    assert any("busy" in note and "on chain" in note for note in notes)
    delivered = m.logs(InputDelivered, m.deployment.block, job_id=record.job_id)
    assert len(delivered) == 1 and delivered[0].event.provider == provider.address
