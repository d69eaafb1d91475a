"""Offered jobs (``prove-job --provider``): before posting, the consumer uploads the sealed input to
a provider's endpoint; that worker proves while the job is posted and claimed. Also inputs uploaded
for a job still open, and the proving pool that keeps the worker responsive while EZKL proves."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import ngx_zk as ngx
from ngx_zk import crypto, dataplane
from ngx_zk import worker as worker_pkg
from ngx_zk.chain import devnet
from ngx_zk.chain.market import JobStatus
from ngx_zk.chain.types import InputDelivered
from ngx_zk.consumer import offer, post_job, wait_for_result
from ngx_zk.errors import ChainError
from ngx_zk.worker.journal import Step
from ngx_zk.worker.provers import ProverPool
from ngx_zk.worker.worker import Worker, WorkerOptions

from .chain_fixtures import NGX, Net, free_port, start_worker
from .paths import MODELS

pytestmark = pytest.mark.chain


def consumer_settings(net: Net, tmp_path: Path) -> ngx.Settings:
    return ngx.load_settings(
        {
            "NGX_ZK_HOME": str(net.home),
            "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir),
            "NGX_ZK_STATE_DIR": str(tmp_path / "consumer"),
        }
    )


def set_endpoint(net: Net, role: str, endpoint: str) -> None:
    signer = net.signer(role)
    net.market.update_provider(signer, crypto.public_bytes(crypto.derive_key(signer.encryption_key_material())), endpoint)


def post(net: Net, tmp_path: Path, offer_to: str | None = None, notes: list[str] | None = None) -> Any:
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    return post_job(
        consumer_settings(net, tmp_path),
        net.market,
        net.signer("consumer"),
        net.circuit,
        data,
        price=10 * NGX,
        claim_window=300,
        prove_window=300,
        min_reputation=0,
        offer_to=offer_to,
        progress=(notes.append if notes is not None else lambda _: None),
    )


def library_worker(net: Net, tmp_path: Path) -> Worker:
    settings = ngx.load_settings(
        {
            "NGX_ZK_HOME": str(net.home),
            "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir),
            "NGX_ZK_STATE_DIR": str(tmp_path / "worker"),
        }
    )
    w = Worker(settings, net.market, net.signer("provider"), [net.circuit], WorkerOptions(poll_s=0.05, listen=("127.0.0.1", 0)))
    assert w.endpoint is not None
    set_endpoint(net, "provider", w.endpoint)
    return w


def log_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_an_offered_job_is_proved_before_it_is_posted_and_settles(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    port = free_port()
    set_endpoint(net, "provider", f"http://127.0.0.1:{port}")
    log = tmp_path / "worker" / "worker.log"
    # a long poll: only the offer's wake-up can start this job promptly
    worker = start_worker(net, tmp_path / "worker", "--listen", f"127.0.0.1:{port}", "--max-jobs", "1", "--poll", "5")
    try:
        deadline = time.monotonic() + 60
        while not log.is_file() or not any(e["event"] == "worker.start" for e in log_events(log)):
            assert worker.poll() is None and time.monotonic() < deadline, "worker did not start"
            time.sleep(0.1)
        notes: list[str] = []
        record = post(net, tmp_path, offer_to=devnet.dev_address("provider").lower(), notes=notes)
        assert record.offered_to == devnet.dev_address("provider") and "proving while the job is posted" in notes[0]
        result = wait_for_result(
            consumer_settings(net, tmp_path), m, net.signer("consumer"), net.circuit, record, timeout_s=120, poll_s=0.05
        )
    finally:
        worker.wait(timeout=120)
    assert result.status is JobStatus.SETTLED and result.proof_valid
    assert m.logs(InputDelivered, m.deployment.block, job_id=record.job_id) == [], "no input went on chain"
    events = log_events(log)
    names = [e["event"] for e in events if e.get("job_id") in (None, record.job_id)]
    assert (
        names.index("dataplane.offer") < names.index("offer.proving") < names.index("job.offered") < names.index("job.claimed")
    ), names
    assert names.index("job.claimed") < names.index("job.proved") < names.index("job.settled"), names
    at = {e["event"]: float(e["ts"]) for e in events}
    assert at["offer.proving"] - at["dataplane.offer"] < 2.5, "the offer woke the worker (its poll is 5 s)"
    inputs = [e for e in events if e["event"] == "job.input"]
    assert [e["via"] for e in inputs] == ["offer"]


def test_offering_needs_a_registered_provider_with_an_endpoint(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    commitment, salted = ngx.commit(net.circuit.manifest, data, new_salt=True)
    consumer = net.signer("consumer")
    with pytest.raises(ChainError, match="registered no data-plane endpoint"):
        offer(m, consumer, net.model_id, commitment.values, salted, devnet.dev_address("provider"))
    with pytest.raises(ChainError, match="not a registered provider"):
        offer(m, consumer, net.model_id, commitment.values, salted, devnet.dev_address("consumer2"))
    set_endpoint(net, "provider", f"http://127.0.0.1:{free_port()}")  # nothing listens
    notes: list[str] = []
    record = post(net, tmp_path, offer_to=devnet.dev_address("provider"), notes=notes)
    assert record.offered_to == "" and "not taken" in notes[0], "an unreachable provider: the job is posted all the same"
    assert m.job(record.job_id).status is JobStatus.OPEN


def test_an_offered_job_another_provider_claims_first_is_dropped(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    worker = library_worker(net, tmp_path)
    try:
        record = post(net, tmp_path, offer_to=devnet.dev_address("provider"))
        assert record.offered_to
        worker.offers.tend(worker.lifecycle.proofs)
        assert len(worker.offers._offered) == 1, "the offer is proving"
        m.claim(net.signer("provider2"), record.job_id)  # the race is lost before the worker's next round

        worker.monitor.scan()
        worker._advance()

        entry = worker.journal.get(record.job_id)
        assert entry is not None and entry.step is Step.SKIPPED
        assert "Claimed" in worker.journal.history(record.job_id)[-1][2]
        assert not worker.offers.early and not worker.offers._offered and record.job_id not in worker.lifecycle.inflight
        assert not (worker.home / "inputs" / f"{record.job_id}.json").exists(), "the offered input is not kept"
        assert m.job(record.job_id).provider == devnet.dev_address("provider2")
    finally:
        worker.close()


def test_an_offer_that_does_not_open_its_commitment_or_whose_job_never_comes_is_dropped(
    chain_snapshot: Net, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    logged: list[str] = []
    worker = library_worker(net, tmp_path)
    worker.log = worker.offers.log = lambda event, **_: logged.append(event)
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    consumer = net.signer("consumer")
    try:
        commitment, salted = ngx.commit(net.circuit.manifest, data, new_salt=True)
        other, _ = ngx.commit(net.circuit.manifest, data, new_salt=True)
        ctx = crypto.JobContext(m.chain.chain_id, m.market.address, 0, net.model_id, "offer")
        body = json.dumps({"input": salted.to_json(), "reply_to": ""}).encode()
        pubkey = crypto.public_bytes(worker.opener.enc_key)
        assert worker.endpoint is not None
        dataplane.upload_offer(
            worker.endpoint,
            consumer,
            m.chain.chain_id,
            m.market.address,
            net.model_id,
            other.values[0],
            crypto.seal(pubkey, body, ctx),
            provider=devnet.dev_address("provider"),
        )
        worker.offers.tend(worker.lifecycle.proofs)
        assert "offer.refused" in logged and not worker.offers._offered, "an input that does not open the offered commitment"

        assert offer(m, consumer, net.model_id, commitment.values, salted, devnet.dev_address("provider"))
        worker.offers.tend(worker.lifecycle.proofs)
        assert len(worker.offers._offered) == 1
        monkeypatch.setattr(worker_pkg.offers, "OFFER_TTL_S", 0)
        worker.offers.tend(worker.lifecycle.proofs)
        assert "offer.expired" in logged and not worker.offers._offered, "no job came for it"
    finally:
        worker.close()


def test_the_endpoint_takes_an_offer_only_from_the_jobs_consumer_while_it_is_open(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    record = post(net, tmp_path)
    mailbox = dataplane.Mailbox(tmp_path / "mailbox")
    woken: list[int] = []
    server = dataplane.DataPlaneServer(
        mailbox,
        chain_id=m.chain.chain_id,
        market=m.market.address,
        provider=devnet.dev_address("provider"),
        job_facts=lambda j: dataplane.JobFacts(m.job(j).consumer, m.job(j).provider, m.job(j).status.value),
        log=lambda *a, **k: None,
        on_input=woken.append,
    )
    endpoint = server.serve("127.0.0.1", 0)
    body = b"sealed offer"
    provider = devnet.dev_address("provider")
    try:
        with pytest.raises(dataplane.DataPlaneError) as stranger:
            dataplane.upload_input(
                endpoint, net.signer("consumer2"), m.chain.chain_id, m.market.address, record.job_id, body, provider=provider
            )
        assert stranger.value.status == 403 and woken == []

        dataplane.upload_input(
            endpoint, net.signer("consumer"), m.chain.chain_id, m.market.address, record.job_id, body, provider=provider
        )
        assert mailbox.get(record.job_id, "input") == body and woken == [record.job_id]

        m.claim(net.signer("provider2"), record.job_id)
        with pytest.raises(dataplane.DataPlaneError) as taken:
            dataplane.upload_input(
                endpoint,
                net.signer("consumer"),
                m.chain.chain_id,
                m.market.address,
                record.job_id,
                body + b"2",
                provider=provider,
            )
        assert taken.value.status == 409, "once another provider claimed it, the job is no longer offered here"
        assert mailbox.get(record.job_id, "input") == body

        with pytest.raises(dataplane.DataPlaneError) as no_offers:
            dataplane.upload_offer(
                endpoint, net.signer("consumer"), m.chain.chain_id, m.market.address, net.model_id, 7, body, provider=provider
            )
        assert no_offers.value.status == 404, "an endpoint without an offer handler takes none"
    finally:
        server.close()

    offers: list[dataplane.Offer] = []
    server = dataplane.DataPlaneServer(
        mailbox,
        chain_id=m.chain.chain_id,
        market=m.market.address,
        provider=devnet.dev_address("provider"),
        job_facts=lambda j: dataplane.JobFacts("", None, "Open"),
        log=lambda *a, **k: None,
        on_offer=lambda o: len(offers) < 1 and not offers.append(o),
    )
    endpoint = server.serve("127.0.0.1", 0)
    try:
        dataplane.upload_offer(
            endpoint, net.signer("consumer"), m.chain.chain_id, m.market.address, net.model_id, 7, body, provider=provider
        )
        assert [(o.consumer, o.model_id, o.commitment, o.payload) for o in offers] == [
            (devnet.dev_address("consumer"), net.model_id, 7, body)
        ], "the signature names the consumer the job must come from"
        with pytest.raises(dataplane.DataPlaneError) as full:
            dataplane.upload_offer(
                endpoint, net.signer("consumer"), m.chain.chain_id, m.market.address, net.model_id, 8, body, provider=provider
            )
        assert full.value.status == 429
        signed = dataplane.offer_headers(
            net.signer("consumer"), m.chain.chain_id, m.market.address, net.model_id, 9, body, provider=provider
        )
        moved = urllib.request.Request(f"{endpoint}/v1/offers/{net.model_id}/{10:064x}", data=body, method="PUT", headers=signed)
        offers.clear()
        with pytest.raises(urllib.error.HTTPError) as moved_refused:
            urllib.request.urlopen(moved, timeout=5)
        assert moved_refused.value.code == 403 and offers == [], (
            "a signature moved to another commitment does not recover to X-NGX-Consumer: refused, nothing taken"
        )
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


def test_an_offer_waits_for_a_free_prover_behind_claimed_jobs(chain_snapshot: Net, tmp_path: Path) -> None:
    """Offers cost a provider nothing it has not agreed to: they never queue ahead of a claimed job."""
    from concurrent.futures import Future

    net, m = chain_snapshot, chain_snapshot.market
    worker = library_worker(net, tmp_path)
    busy: Future[None] = Future()
    worker.lifecycle.inflight[999] = busy  # a claimed job proving (concurrency 1)
    try:
        data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
        commitment, salted = ngx.commit(net.circuit.manifest, data, new_salt=True)
        assert offer(m, net.signer("consumer"), net.model_id, commitment.values, salted, devnet.dev_address("provider"))
        worker.offers.tend(worker.lifecycle.proofs)
        waiting = worker.offers._offered[commitment.values[0]]
        assert waiting.proof is None, "the prover is busy with a claimed job"
        busy.set_result(None)
        worker.offers.tend(worker.lifecycle.proofs)
        assert waiting.proof is not None and waiting.proof.result(timeout=120).proof.outputs
    finally:
        worker.lifecycle.inflight.pop(999, None)
        worker.close()
