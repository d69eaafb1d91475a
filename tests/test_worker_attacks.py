"""Attacks on the provider's worker, played against the real contracts on anvil and the real worker.

Each test plays the attacker (a consumer who withholds its input, a guardian pause after the claim,
a stranger's poisoned offer or upload, a hostile model next to the key) and asserts that the honest
provider loses nothing and the attacker gains nothing.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

import ngx_zk as ngx
from ngx_zk import crypto
from ngx_zk.chain.market import JobStatus
from ngx_zk.consumer import JobRecord, deliver_input, post_job
from ngx_zk.dataplane import Offer
from ngx_zk.worker import Step, Worker, WorkerOptions

from .chain_fixtures import NGX, Net, start_worker
from .paths import MODELS

pytestmark = pytest.mark.chain
T = TypeVar("T")


@pytest.fixture
def worker(chain_snapshot: Net, tmp_path: Path) -> Iterator[Worker]:
    net = chain_snapshot
    settings = ngx.load_settings(
        {
            "NGX_ZK_HOME": str(net.home),
            "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir),
            "NGX_ZK_STATE_DIR": str(tmp_path / "worker"),
        }
    )
    w = Worker(settings, net.market, net.signer("provider"), [net.circuit], WorkerOptions(poll_s=0.05))
    w._provers.wait_ready()
    yield w
    w.close()


def rounds(w: Worker, until: Callable[[], T], timeout: float = 60) -> T:
    """Run the worker's loop (scan + one step per job) until ``until()`` is truthy."""
    deadline = time.monotonic() + timeout
    while not (value := until()):
        assert time.monotonic() < deadline, (
            f"the worker did not get there in time: {[(r.job_id, r.step.value) for r in w.journal.all()]}, "
            f"history {[w.journal.history(r.job_id) for r in w.journal.all()]}"
        )
        w.offers.tend(w.lifecycle.proofs)
        w.monitor.scan()
        w._advance()
        time.sleep(0.05)
    return value


def step_of(w: Worker, job_id: int) -> Step | None:
    record = w.journal.get(job_id)
    return record.step if record else None


def post(net: Net, *, prove_window: int = 60) -> JobRecord:
    settings = ngx.load_settings({"NGX_ZK_HOME": str(net.home), "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir)})
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    return post_job(
        settings,
        net.market,
        net.signer("consumer"),
        net.circuit,
        data,
        price=10 * NGX,
        claim_window=300,
        prove_window=prove_window,
        min_reputation=0,
    )


def test_a_consumer_who_withholds_its_input_gains_nothing_and_the_provider_declines_for_free(
    chain_snapshot: Net, worker: Worker
) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    provider, consumer = net.signer("provider").address, net.signer("consumer").address
    stake, refund_before = m.provider(provider).staked, m.claimable(consumer)
    record = post(net)
    rounds(worker, lambda: step_of(worker, record.job_id) is Step.CLAIMED)
    rounds(worker, lambda: True)
    assert step_of(worker, record.job_id) is Step.CLAIMED, "before the input deadline the worker waits"

    net.travel(31)  # past the input deadline (half of the 60 s prove window); the consumer sent nothing
    rounds(worker, lambda: step_of(worker, record.job_id) is Step.DECLINED)
    assert m.job(record.job_id).status is JobStatus.CANCELLED
    assert m.claimable(consumer) - refund_before == 10 * NGX, "the consumer gets its price back, nothing more"
    assert m.provider(provider).staked == stake and m.provider(provider).locked == 0, "the honest provider loses nothing"
    assert m.facts(provider)["free_declines"] == 1 and m.facts(provider)["costly_declines"] == 0
    assert m.consumer_facts(consumer)["inputs_withheld"] == 1
    assert m.consumer_score(consumer) < 100, "the consumer's own record shows it"


def test_a_pause_after_the_claim_neither_slashes_the_provider_nor_makes_it_burn_gas(chain_snapshot: Net, worker: Worker) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    provider = net.signer("provider").address
    stake, misses = m.provider(provider).staked, m.facts(provider)["missed"]
    record = post(net)
    rounds(worker, lambda: step_of(worker, record.job_id) is Step.CLAIMED)
    nonce_after_claim = m.chain.w3.eth.get_transaction_count(provider)
    m.chain.send(m.registry.functions.pauseModel(net.model_id), net.signer("guardian"), what="pause model")
    deliver_input(m, net.signer("consumer"), record, m.job(record.job_id))
    rounds(worker, lambda: step_of(worker, record.job_id) is Step.PROVED, timeout=120)
    for _ in range(20):  # the dry run keeps reverting ModelPaused: retried with backoff, never sent
        rounds(worker, lambda: True)
    assert step_of(worker, record.job_id) is Step.PROVED

    net.travel(61)
    rounds(worker, lambda: step_of(worker, record.job_id) is Step.LOST)
    assert m.chain.w3.eth.get_transaction_count(provider) == nonce_after_claim, "no transaction after the claim"
    m.expire(net.signer("consumer2"), record.job_id)  # anyone may expire
    assert m.provider(provider).staked == stake and m.provider(provider).locked == 0, "no slash for a pause"
    assert m.facts(provider)["missed"] == misses, "and no miss on its record"


def _sealed(worker: Worker, body: bytes, job_id: int, direction: str) -> bytes:
    key = crypto.public_bytes(crypto.derive_key(worker.signer.encryption_key_material()))
    return crypto.seal(key, body, worker.opener.context(job_id, next(iter(worker.served)), direction))


POISON = {
    "1e300": b'{"input": {"input_data": [[1e300, 0, 0, 0, 0, 0, 0, 0]], "salt": [[1, 2, 3, 4, 5, 6, 7, 8]]}, "reply_to": ""}',
    "nested": b'{"input": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
    "1e400": b'{"input": {"input_data": [[1e400, 0, 0, 0, 0, 0, 0, 0]]}}',
    "not json": b"\xff\xfe garbage",
}


def test_poisoned_offers_are_refused_and_journaled_and_the_worker_goes_on(chain_snapshot: Net, worker: Worker) -> None:
    stranger = "0x" + "ab" * 20  # a fresh key: no funds, no transaction
    for i, body in enumerate(POISON.values()):
        assert worker.offers.take(
            Offer(stranger, next(iter(worker.served)), 1000 + i, _sealed(worker, body, 0, "offer"), time.time())
        )
        worker.offers.tend(worker.lifecycle.proofs)  # must not raise, let alone kill the process
    refused = worker.journal.refusals()
    assert [r.source for r in refused] == ["offer"] * len(POISON)
    assert all(r.sender == stranger for r in refused)
    assert "outside the circuit's range" in refused[0].reason and "nested" in refused[1].reason


@pytest.mark.parametrize("poison", ["1e300", "nested"])
def test_a_poisoned_upload_for_a_claimed_job_is_declined_and_does_not_crash_loop(
    chain_snapshot: Net, worker: Worker, poison: str, tmp_path: Path
) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    provider = net.signer("provider").address
    stake = m.provider(provider).staked
    record = post(net)
    rounds(worker, lambda: step_of(worker, record.job_id) is Step.CLAIMED)
    worker.mailbox.put(record.job_id, "input", _sealed(worker, POISON[poison], record.job_id, "input"))
    rounds(worker, lambda: worker.mailbox.get(record.job_id, "input") is None)  # the poisoned mail is dropped
    assert step_of(worker, record.job_id) is Step.CLAIMED, "off-chain junk is no evidence: the consumer may still deliver"
    assert [r.source for r in worker.journal.refusals()] == ["input"]
    net.travel(31)  # past the input deadline (half the 60 s prove window): InputMissing, which the chain checks
    rounds(worker, lambda: step_of(worker, record.job_id) is Step.DECLINED)
    assert m.job(record.job_id).status is JobStatus.CANCELLED
    assert m.provider(provider).staked == stake, "a missing input is declined for free"
    assert m.consumer_facts(net.signer("consumer").address)["inputs_withheld"] == 1
    restarted = Worker(worker.settings, m, net.signer("provider"), [net.circuit], WorkerOptions(poll_s=0.05))
    try:
        restarted._advance()  # nothing left to choke on
        assert step_of(restarted, record.job_id) is Step.DECLINED
    finally:
        restarted.close()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def test_proving_children_get_no_key_or_password(chain_snapshot: Net, tmp_path: Path) -> None:
    """The proving processes run untrusted ONNX: neither the private key nor a keystore password reaches them."""
    net = chain_snapshot
    key = "0x" + secrets.token_hex(32)  # in the environment; the worker signs with --account provider
    worker = start_worker(net, tmp_path, "--burst", NGX_ZK_PRIVATE_KEY=key, NGX_ZK_KEYSTORE_PASSWORD="hunter2-secret")
    try:
        deadline = time.monotonic() + 60
        children: list[int] = []
        while time.monotonic() < deadline and len(children) < 2:
            children = _children(worker.pid) if worker.poll() is None else []
            time.sleep(0.1)
        assert children, "the worker started its proving children"
        for child in children:
            env = Path(f"/proc/{child}/environ").read_bytes()
            assert key[2:].encode() not in env and b"hunter2-secret" not in env and b"NGX_ZK_PRIVATE_KEY" not in env
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.kill(worker.pid, signal.SIGKILL)
    assert "hunter2" not in (tmp_path / "worker.log").read_text()
