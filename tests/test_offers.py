"""Offered jobs (``prove-job --provider``): the consumer uploads the sealed input to a provider's
endpoint right after posting; that worker proves while it claims. And the proving pool that keeps
the worker responsive while EZKL proves."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import ngx_zk as ngx
from ngx_zk import crypto, dataplane
from ngx_zk.chain import devnet
from ngx_zk.chain.market import JobStatus
from ngx_zk.consumer import offer_input, post_job, wait_for_result
from ngx_zk.errors import ChainError
from ngx_zk.worker.journal import Step
from ngx_zk.worker.provers import ProverPool
from ngx_zk.worker.worker import Worker

from .chain_fixtures import NGX, Net, free_port, start_worker
from .paths import MODELS

pytestmark = pytest.mark.chain


def consumer_settings(net: Net, tmp_path: Path) -> ngx.Settings:
    return ngx.load_settings({"NGX_ZK_HOME": str(net.home), "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir),
                              "NGX_ZK_STATE_DIR": str(tmp_path / "consumer")})


def set_endpoint(net: Net, role: str, endpoint: str) -> None:
    signer = net.signer(role)
    net.market.update_provider(signer, crypto.public_bytes(crypto.derive_key(signer.encryption_key_material())), endpoint)


def post(net: Net, tmp_path: Path) -> Any:
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    return post_job(consumer_settings(net, tmp_path), net.market, net.signer("consumer"), net.circuit, data, price=10 * NGX,
                    claim_window=300, prove_window=300, min_reputation=0)


def log_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_an_offered_job_is_proved_from_the_offer_and_settles_without_an_onchain_delivery(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    port = free_port()
    set_endpoint(net, "provider", f"http://127.0.0.1:{port}")
    # a long poll: only the upload's wake-up can start this job promptly
    worker = start_worker(net, tmp_path / "worker", "--listen", f"127.0.0.1:{port}", "--max-jobs", "1", "--poll", "5")
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "worker" / "worker.log").is_file() or not any(
                e["event"] == "worker.start" for e in log_events(tmp_path / "worker" / "worker.log")):
            assert worker.poll() is None and time.monotonic() < deadline, "worker did not start"
            time.sleep(0.1)
        record = post(net, tmp_path)
        settings = consumer_settings(net, tmp_path)
        assert offer_input(settings, m, net.signer("consumer"), record, devnet.dev_address("provider").lower())
        result = wait_for_result(settings, m, net.signer("consumer"), net.circuit, record, timeout_s=120, poll_s=0.05)
    finally:
        worker.wait(timeout=120)
    assert result.status is JobStatus.SETTLED and result.proof_valid
    assert record.deliveries == {devnet.dev_address("provider"): f"offered, via http://127.0.0.1:{port}"}
    assert m.events("InputDelivered", m.deployment.block, jobId=record.job_id) == [], "the offer replaced the on-chain hand-over"
    events = [e for e in log_events(tmp_path / "worker" / "worker.log") if e.get("job_id") == record.job_id]
    names = [e["event"] for e in events]
    assert names.index("job.offered") < names.index("job.claimed") < names.index("job.proved"), names
    at = {e["event"]: float(e["ts"]) for e in events}
    assert at["job.offered"] - at["dataplane.input"] < 2.5, "the upload woke the worker (its poll is 5 s)"


def test_offering_needs_a_registered_provider_with_an_endpoint(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    record = post(net, tmp_path)
    settings = consumer_settings(net, tmp_path)
    with pytest.raises(ChainError, match="registered no data-plane endpoint"):
        offer_input(settings, m, net.signer("consumer"), record, devnet.dev_address("provider"))
    with pytest.raises(ChainError, match="not a registered provider"):
        offer_input(settings, m, net.signer("consumer"), record, devnet.dev_address("consumer2"))
    notes: list[str] = []
    set_endpoint(net, "provider", f"http://127.0.0.1:{free_port()}")  # nothing listens
    assert not offer_input(settings, m, net.signer("consumer"), record, devnet.dev_address("provider"), progress=notes.append)
    assert record.deliveries == {} and "goes to whoever claims" in notes[0]
    assert m.job(record.job_id).status is JobStatus.OPEN, "a failed offer leaves the job open for any provider"


def test_an_offered_job_another_provider_claims_first_is_dropped(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    settings = ngx.load_settings({"NGX_ZK_HOME": str(net.home), "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir),
                                  "NGX_ZK_STATE_DIR": str(tmp_path / "worker")})
    worker = Worker(settings, m, net.signer("provider"), [net.circuit], poll_s=0.05, listen=("127.0.0.1", 0))
    try:
        assert worker.endpoint is not None
        set_endpoint(net, "provider", worker.endpoint)
        record = post(net, tmp_path)
        assert offer_input(consumer_settings(net, tmp_path), m, net.signer("consumer"), record, devnet.dev_address("provider"))
        m.claim(net.signer("provider2"), record.job_id)  # the race is lost before the worker's next round

        worker._scan()
        worker._advance(None)

        entry = worker.journal.get(record.job_id)
        assert entry is not None and entry.step is Step.SKIPPED
        assert "Claimed" in worker.journal.history(record.job_id)[-1][2]
        assert record.job_id not in worker._early and record.job_id not in worker._inflight
        assert m.job(record.job_id).provider == devnet.dev_address("provider2")
    finally:
        worker.close()


def test_the_endpoint_takes_an_offer_only_from_the_jobs_consumer_while_it_is_open(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    record = post(net, tmp_path)
    mailbox = dataplane.Mailbox(tmp_path / "mailbox")
    woken: list[int] = []
    server = dataplane.DataPlaneServer(mailbox, chain_id=m.chain.chain_id, market=m.market.address, provider=devnet.dev_address("provider"),
                                       job_facts=lambda j: dataplane.JobFacts(m.job(j).consumer, m.job(j).provider, m.job(j).status.value),
                                       log=lambda *a, **k: None, on_input=woken.append)
    endpoint = server.serve("127.0.0.1", 0)
    body = b"sealed offer"
    try:
        with pytest.raises(dataplane.DataPlaneError) as stranger:
            dataplane.upload_input(endpoint, net.signer("consumer2"), m.chain.chain_id, m.market.address, record.job_id, body)
        assert stranger.value.status == 403 and woken == []

        dataplane.upload_input(endpoint, net.signer("consumer"), m.chain.chain_id, m.market.address, record.job_id, body)
        assert mailbox.get(record.job_id, "input") == body and woken == [record.job_id]

        m.claim(net.signer("provider2"), record.job_id)
        with pytest.raises(dataplane.DataPlaneError) as taken:
            dataplane.upload_input(endpoint, net.signer("consumer"), m.chain.chain_id, m.market.address, record.job_id, body + b"2")
        assert taken.value.status == 409, "once another provider claimed it, the job is no longer offered here"
        assert mailbox.get(record.job_id, "input") == body
    finally:
        server.close()


def test_a_proof_in_the_pool_leaves_the_callers_thread_free(net: Net, tmp_path: Path) -> None:
    """EZKL holds the GIL while it proves: on a thread, a proof froze the worker's loop and endpoint."""
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    salted = ngx.commit(net.circuit.manifest, data)[1]
    pool = ProverPool(1, [net.circuit], net.settings)
    try:
        pool.submit(net.circuit, salted, tmp_path / "warm.json").result(timeout=120)  # children started and warm
        started = time.perf_counter()
        running = pool.submit(net.circuit, salted, tmp_path / "proof.json")
        ticks = 0
        while not running.done():
            ticks += 1
            time.sleep(0.001)
        seconds = time.perf_counter() - started
        run = running.result()
    finally:
        pool.close(wait=False)
    assert ngx.verify(tmp_path / "proof.json", net.circuit, net.settings).outputs == run.proof.outputs
    assert run.drift < 0.05 and run.runtime.endswith("ExecutionProvider")
    assert ticks >= 0.2 * seconds / 0.001, f"the caller ran {ticks} times in {seconds:.2f}s of proving"
