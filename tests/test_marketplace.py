"""The marketplace end to end on a real anvil, with consumer and worker as separate processes."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import ngx_zk as ngx
from ngx_zk import crypto
from ngx_zk.chain import devnet
from ngx_zk.chain.market import JobStatus, outputs_hash
from ngx_zk.chain.tx import Chain
from ngx_zk.chain.types import JobClaimed, JobDeclined, JobPosted, JobSettled
from ngx_zk.consumer import JobRecord, deliver_input, post_job
from ngx_zk.defaults import BN254_SCALAR_MODULUS
from ngx_zk.errors import ChainError, ContractRevert, WrongChainError
from ngx_zk.publish import publish

from .chain_fixtures import NGX, Net, ngx_zk, run_job, start_worker
from .conftest import MODELS

pytestmark = pytest.mark.chain

PROVIDER = devnet.dev_address("provider")
CONSUMER = devnet.dev_address("consumer")
EXPECTED = json.loads((MODELS / "mlp" / "expected_output.json").read_text())["output_data"][0]


def test_job_settles_pays_once_and_moves_reputation(chain_snapshot: Net, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    claimable, facts = m.claimable(PROVIDER), m.facts(PROVIDER)
    consumer_balance = m.balance(CONSUMER)

    result = run_job(net, tmp_path)

    assert result["status"] == "Settled" and result["proof_valid"] is True
    assert result["provider"] == PROVIDER
    assert all(math.isclose(a, b, abs_tol=1e-2) for a, b in zip(result["outputs"], EXPECTED, strict=True))  # type: ignore[call-overload]
    job_id = int(result["job_id"])  # type: ignore[call-overload]
    settled = m.logs(JobSettled, m.deployment.block, job_id=job_id)
    assert len(settled) == 1
    pay, royalty, fee = settled[0].event.provider_pay, settled[0].event.royalty, settled[0].event.fee
    assert pay + royalty + fee == 10 * NGX and royalty == 10 * NGX // 100
    assert m.claimable(PROVIDER) - claimable == pay
    assert consumer_balance - m.balance(CONSUMER) == 10 * NGX
    assert m.facts(PROVIDER)["completed"] == facts["completed"] + 1

    proof, instances, _ = m.submitted_result(job_id)
    # Storage keeps only the outputs' hash; the outputs come from JobSettled, checked against it.
    outputs = m.outputs(job_id)
    assert outputs and outputs == instances[len(instances) - len(outputs) :]
    assert m.outputs_hash(job_id) == outputs_hash(outputs)
    forged = [
        replace(e, event=replace(e.event, outputs=((e.event.outputs[0] + 1) % BN254_SCALAR_MODULUS, *e.event.outputs[1:])))
        for e in m.logs(JobSettled, m.deployment.block, job_id=job_id)
    ]
    with monkeypatch.context() as patch:
        patch.setattr(m, "logs", lambda *_, **__: forged)
        with pytest.raises(ChainError, match="do not hash"):
            m.outputs(job_id)
    with pytest.raises(ContractRevert) as again:
        m.submit(net.signer("provider"), job_id, proof, instances)
    assert again.value.name == "JobMarket__InvalidStatus"
    assert m.claimable(PROVIDER) - claimable == pay, "a resubmitted proof must not pay twice"

    audit = ngx_zk(net, tmp_path / "auditor", "verify", "--job", str(job_id), "--model", "mlp", "--json")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(audit.stdout)["valid"] is True


@pytest.mark.parametrize("permit", [True, False], ids=["permit", "approve"])
def test_a_missed_job_slashes_reopens_and_then_refunds_the_consumer(permit: bool, chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    settings = ngx.load_settings(
        {"NGX_ZK_HOME": str(net.home), "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir), "NGX_ZK_STATE_DIR": str(tmp_path)}
    )
    record = post_job(
        settings,
        m,
        net.signer("consumer"),
        net.circuit,
        data,
        price=10 * NGX,
        claim_window=60,
        prove_window=60,
        min_reputation=0,
        permit=permit,
    )
    m.claim(net.signer("provider"), record.job_id)
    staked, collateral = m.provider(PROVIDER).staked, m.job(record.job_id).collateral
    refund_before, missed = m.claimable(CONSUMER), m.facts(PROVIDER)["missed"]

    with pytest.raises(ContractRevert) as early:
        m.expire(net.signer("consumer2"), record.job_id)
    assert early.value.name == "JobMarket__NotExpired"
    net.travel(61)
    m.expire(net.signer("consumer2"), record.job_id)  # anyone may expire: the missed job reopens for a second prover
    job = m.job(record.job_id)
    assert job.status is JobStatus.OPEN and job.reopened
    slashed = staked - m.provider(PROVIDER).staked
    assert slashed == collateral // 2 > 0
    assert m.provider(PROVIDER).locked == 0
    assert m.facts(PROVIDER)["missed"] == missed + 1
    assert m.job_extras(record.job_id).bounty == slashed // 2 and m.claimable(CONSUMER) == refund_before

    net.travel(61)  # nobody took it in its second round: now the consumer is refunded (and the bounty burned)
    m.expire(net.signer("consumer2"), record.job_id)
    assert m.job(record.job_id).status is JobStatus.EXPIRED
    assert m.claimable(CONSUMER) - refund_before == 10 * NGX


@pytest.mark.parametrize("point", ["claimed", "proving", "proved"])
def test_worker_killed_at_each_step_finishes_the_job_exactly_once(point: str, chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    worker_dir = tmp_path / "worker"
    crashed = start_worker(net, worker_dir, NGX_ZK_FAULT_CRASH_AT=point)
    consumer = ngx_zk(
        net,
        tmp_path / "consumer",
        "prove-job",
        "mlp",
        "--input",
        str(MODELS / "mlp" / "input.json"),
        "--account",
        "consumer",
        "--no-wait",
        "--json",
    )
    assert consumer.returncode == 0, consumer.stderr
    job_id = json.loads(consumer.stdout)["job_id"]
    waiter = subprocess.Popen(
        [sys.executable, "-m", "ngx_zk", "job", "wait", str(job_id), "--account", "consumer", "--json"],
        env=net.env(tmp_path / "consumer"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert crashed.wait(timeout=120) == 137, f"the fault-injected worker should die at the {point} step"

    restarted = start_worker(net, worker_dir, "--max-jobs", "1")
    assert restarted.wait(timeout=120) == 0, restarted.stderr.read() if restarted.stderr else ""
    out, err = waiter.communicate(timeout=120)
    assert waiter.returncode == 0, err
    assert json.loads(out)["status"] == "Settled"

    assert len(m.logs(JobClaimed, m.deployment.block, job_id=job_id)) == 1
    assert len(m.logs(JobSettled, m.deployment.block, job_id=job_id)) == 1
    db = sqlite3.connect(next(worker_dir.glob("worker/*/journal.sqlite")))
    steps = [s for (s,) in db.execute("SELECT step FROM history WHERE job_id = ? ORDER BY rowid", (job_id,))]
    assert steps.count("claimed") == 1 and steps[-1] == "done" and "proving" in steps
    consumer_balance_paid = m.logs(JobPosted, m.deployment.block, job_id=job_id)[0].event.price
    assert consumer_balance_paid == 10 * NGX


def test_worker_crash_after_submit_sent_does_not_submit_twice(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    worker_dir = tmp_path / "worker"
    crashed = start_worker(net, worker_dir, NGX_ZK_FAULT_CRASH_AT="submit-sent")
    consumer = ngx_zk(
        net,
        tmp_path / "consumer",
        "prove-job",
        "mlp",
        "--input",
        str(MODELS / "mlp" / "input.json"),
        "--account",
        "consumer",
        "--json",
        "--timeout",
        "120",
    )
    assert crashed.wait(timeout=120) == 137
    assert consumer.returncode == 0, consumer.stderr
    job_id = json.loads(consumer.stdout)["job_id"]
    restarted = start_worker(net, worker_dir, "--burst")
    assert restarted.wait(timeout=120) == 0
    assert len(m.logs(JobSettled, m.deployment.block, job_id=job_id)) == 1
    log = (worker_dir / "worker.log").read_text()
    assert (
        "settlement found on chain"
        in sqlite3.connect(next(worker_dir.glob("worker/*/journal.sqlite")))
        .execute("SELECT group_concat(note) FROM history WHERE job_id = ?", (job_id,))
        .fetchone()[0]
    )
    assert '"event": "job.settled"' in log


def test_provider_declines_an_input_that_does_not_open_the_commitment(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    settings = ngx.load_settings(
        {"NGX_ZK_HOME": str(net.home), "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir), "NGX_ZK_STATE_DIR": str(tmp_path)}
    )
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    record = post_job(
        settings,
        m,
        net.signer("consumer"),
        net.circuit,
        data,
        price=10 * NGX,
        claim_window=300,
        prove_window=300,
        min_reputation=0,
    )
    worker = start_worker(net, tmp_path / "worker", "--max-jobs", "1")
    staked = m.provider(PROVIDER).staked
    while m.job(record.job_id).status is JobStatus.OPEN:
        if worker.poll() is not None:
            break
    other = ngx.InputData((tuple(0.0 for _ in range(8)),))
    forged = JobRecord(**{**record.__dict__, "salted_input": ngx.commit(net.circuit.manifest, other)[1].to_json()})
    deliver_input(m, net.signer("consumer"), forged, m.job(record.job_id))
    assert worker.wait(timeout=120) == 0
    assert m.job(record.job_id).status is JobStatus.CANCELLED
    assert m.provider(PROVIDER).staked == staked, "declining a bad input must not cost the provider"
    assert len(m.logs(JobDeclined, m.deployment.block, job_id=record.job_id)) == 1


def test_auditor_flags_local_artifacts_that_do_not_match_the_registry(chain_snapshot: Net, tmp_path: Path) -> None:
    net = chain_snapshot
    result = run_job(net, tmp_path)
    other = tmp_path / "other-circuits"
    ngx.build_circuit(
        MODELS / "mlp",
        ngx.load_settings(
            {"NGX_ZK_HOME": str(tmp_path), "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir), "NGX_ZK_CIRCUITS_DIR": str(other)}
        ),
        tune=False,
    )
    audit = ngx_zk(net, tmp_path / "auditor", "verify", "--job", str(result["job_id"]), "--model", str(other / "mlp"), "--json")
    assert audit.returncode == 1
    verdict = json.loads(audit.stdout)
    failed = {c["name"] for c in verdict["checks"] if not c["ok"]}
    assert "registry entry matches the local circuit" in failed and verdict["valid"] is False


def test_test_srs_circuit_is_refused_outside_a_dev_chain(net: Net) -> None:
    net.market.deployment.dev = False
    try:
        with pytest.raises(ChainError, match="TEST SRS"):
            publish(net.settings, net.market, net.signer("deployer"), net.circuit)
    finally:
        net.market.deployment.dev = True


def test_wrong_chain_id_is_refused(net: Net) -> None:
    with pytest.raises(WrongChainError, match="serves chain id 31337, expected 1"):
        Chain([net.url], expected_chain_id=1)


def test_reverts_are_decoded_into_typed_errors(net: Net) -> None:
    with pytest.raises(ContractRevert) as info:
        net.market.claim(net.signer("provider"), 999_999)
    assert info.value.name == "JobMarket__UnknownJob" and info.value.args_by_name == {"jobId": 999_999}


def test_no_private_key_in_worker_output_or_logs(chain_snapshot: Net, tmp_path: Path) -> None:
    """A worker signing from NGX_ZK_PRIVATE_KEY never prints the key, even on errors."""
    net = chain_snapshot
    key = "0x" + crypto.derive_key(b"unused").private_bytes_raw().hex()  # a valid but unfunded key
    proc = ngx_zk(
        net,
        tmp_path,
        "worker",
        "--model",
        "mlp",
        "--burst",
        "--log-file",
        str(tmp_path / "w.log"),
        NGX_ZK_PRIVATE_KEY=key,
        timeout=120,
    )
    logs = (tmp_path / "w.log").read_text() if (tmp_path / "w.log").exists() else ""
    for text in (proc.stdout, proc.stderr, logs):
        assert key[2:] not in text and key[2:].upper() not in text
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_front_run_copy_of_a_valid_proof_is_refused(chain_snapshot: Net, tmp_path: Path) -> None:
    """An attacker who copies the provider's pending submitResult (same proof, same instances) and
    outbids it into the same block gets a revert; the assigned provider is paid, once."""
    net, m = chain_snapshot, chain_snapshot.market
    settings = ngx.load_settings(
        {"NGX_ZK_HOME": str(net.home), "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir), "NGX_ZK_STATE_DIR": str(tmp_path)}
    )
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    record = post_job(
        settings,
        m,
        net.signer("consumer"),
        net.circuit,
        data,
        price=10 * NGX,
        claim_window=300,
        prove_window=300,
        min_reputation=0,
    )
    m.claim(net.signer("provider"), record.job_id)
    salted = ngx.InputData(
        tuple(tuple(v) for v in record.salted_input["input_data"]), tuple(tuple(s) for s in record.salted_input["salt"])
    )
    proof_file = ngx.prove(net.circuit, salted, tmp_path / "proof.json", settings).path
    from ngx_zk.evm import calldata

    proof, instances = calldata(proof_file)
    w3 = m.chain.w3
    provider, attacker = net.signer("provider"), net.signer("provider2")
    claimable = m.claimable(PROVIDER)
    net.rpc("evm_setAutomine", [False])
    try:
        hashes = []
        for who, tip in ((attacker, 50), (provider, 1)):  # the copy enters the mempool first, with a higher tip
            tx = m.submit_fn(record.job_id, proof, instances).build_transaction(
                {
                    "from": who.address,
                    "nonce": w3.eth.get_transaction_count(who.address),
                    "gas": 3_000_000,
                    "maxPriorityFeePerGas": tip * 10**9,
                    "maxFeePerGas": 200 * 10**9,
                    "chainId": m.chain.chain_id,
                }
            )
            hashes.append(w3.eth.send_raw_transaction(who.sign_transaction(tx)))
        net.rpc("evm_mine")
    finally:
        net.rpc("evm_setAutomine", [True])
    copied, honest = (w3.eth.get_transaction_receipt(h) for h in hashes)
    assert honest["blockNumber"] == copied["blockNumber"], "both land in one block"
    assert copied["status"] == 0 and honest["status"] == 1
    assert m.job(record.job_id).status is JobStatus.SETTLED and m.job(record.job_id).provider == PROVIDER
    assert m.claimable(devnet.dev_address("provider2")) == 0
    assert len(m.logs(JobSettled, m.deployment.block, job_id=record.job_id)) == 1
    assert m.claimable(PROVIDER) > claimable
