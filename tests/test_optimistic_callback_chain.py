"""A contract consumer in optimistic mode, on anvil with the real contracts, the real worker (its own process) and
EZKL proofs of the mlp model: examples' LoanGate posts its jobs with optimistic terms; the borrower delivers the input
with ``ngx-zk job deliver``; the result is committed, and the gate hears nothing until the (60 s, governed minimum)
challenge window closes: the callback fires once, in the finalization. A gate whose terms are eager cannot have its
job settled optimistically by a provider.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ngx_zk as ngx
from ngx_zk import evm
from ngx_zk.chain.settlement import Settlement
from ngx_zk.chain.settlement_types import BatchFinalized, Result
from ngx_zk.chain.types import FLAG_OPTIMISTIC, CallbackResult, JobStatus, JobTerms
from ngx_zk.errors import ContractRevert
from ngx_zk.inputs import InputData

from .chain_fixtures import NGX, Net, free_port, ngx_zk, start_worker
from .optimistic_fixtures import WINDOW, short
from .paths import MODELS
from .polling import waiting

pytestmark = [pytest.mark.chain, pytest.mark.slow]
__all__ = ["short"]  # fixtures


def gate_job(net: Net, tmp_path: Path, settlement: int) -> tuple[Any, int, Path]:
    """A LoanGate whose terms name ``settlement`` (0 eager, 1 optimistic), funded by its lender; consumer2 (the
    borrower) commits to the mlp example input (kept salted in the returned file) and requests a loan: the job id."""
    m, chain = net.market, net.market.chain
    lender, borrower = net.signer("consumer"), net.signer("consumer2")
    terms = JobTerms(net.model_id, 10 * NGX, 10 * NGX, 300, 600, callback_gas_limit=200_000, settlement=settlement)
    address = chain.deploy("LoanGate", lender, m.market.address, m.token.address, lender.address, terms.as_tuple(), 0, 0)
    gate = chain.contract("LoanGate", address)
    m.transfer(lender, address, 20 * NGX)
    salted = tmp_path / "salted.json"
    commit = ngx_zk(net, tmp_path, "commit", str(MODELS / "mlp" / "input.json"), "--model", "mlp", "--out", str(salted), "--json")
    assert commit.returncode == 0, commit.stderr
    commitments = [int(c, 16) for c in json.loads(commit.stdout)["commitments"]]
    receipt = chain.send(gate.functions.requestLoan(commitments), borrower, what="request a loan")
    return gate, int(chain.events_in(receipt, gate, "LoanRequested")[0]["jobId"]), salted


def test_a_loan_gates_optimistic_job_calls_it_back_once_at_finalization(short: Net, tmp_path: Path) -> None:
    net, m = short, short.market
    chain = m.chain
    gate, job_id, salted = gate_job(net, tmp_path, settlement=1)
    assert m.job(job_id).flags & FLAG_OPTIMISTIC, "the gate's own terms chose optimistic settlement"

    port, provider = free_port(), net.signer("provider")  # the worker's endpoint on chain: the proof is fetched there
    m.update_provider(provider, m.provider(provider.address).encryption_pub_key, f"http://127.0.0.1:{port}")
    worker = start_worker(net, tmp_path / "worker", "--listen", f"127.0.0.1:{port}", "--max-fresh-jobs", "8")
    deliver = subprocess.Popen(
        [sys.executable, "-m", "ngx_zk", "job", "deliver", str(job_id), "--input", str(salted), "--model", "mlp",
         "--account", "consumer2", "--json", "--timeout", "240"],
        env=net.env(tmp_path / "borrower"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        waiting("the committed result", lambda: m.job(job_id).status is JobStatus.SUBMITTED)
        assert not chain.call(gate.functions.requestOf(job_id))[1], "no decision inside the challenge window"
        assert not m.logs(CallbackResult, m.deployment.block, job_id=job_id)
        net.travel(WINDOW + 1)
        waiting("the finalization", lambda: m.job(job_id).status is JobStatus.SETTLED, timeout=120)
        out, err = deliver.communicate(timeout=120)
        assert deliver.returncode == 0, out + err
    finally:
        for proc in (deliver, worker):
            if proc.poll() is None:
                proc.terminate()
        for proc in (deliver, worker):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()

    (called,) = m.logs(CallbackResult, m.deployment.block, job_id=job_id)
    (finalized,) = m.logs(BatchFinalized, m.deployment.block)
    assert called.event.success and called.meta.tx_hash == finalized.meta.tx_hash, "called back by the finalization"
    decided = gate.events.LoanDecided().get_logs(from_block=m.deployment.block)
    assert len(decided) == 1 and int(decided[0]["args"]["jobId"]) == job_id, "exactly once"
    assert chain.call(gate.functions.requestOf(job_id))[1] is True
    assert json.loads(out)["status"] == "Settled"


def test_a_gate_that_posts_eager_jobs_cannot_have_one_settled_optimistically(short: Net, tmp_path: Path) -> None:
    """The mode is the consumer's, in the terms it posts: a provider may not commit an eager job's result without its
    proof (``submitResults`` refuses it); the verified submission calls the gate back in its own transaction."""
    net, m = short, short.market
    gate, job_id, salted = gate_job(net, tmp_path, settlement=0)
    assert not m.job(job_id).flags & FLAG_OPTIMISTIC
    provider = net.signer("provider2")
    m.claim(provider, job_id)
    data = json.loads(salted.read_text())
    values = InputData(tuple(tuple(v) for v in data["input_data"]), tuple(tuple(int(x) for x in s) for s in data["salt"]))
    ngx.prove(net.circuit, values, tmp_path / "proof.json", net.settings)
    proof, instances = evm.calldata(tmp_path / "proof.json", net.circuit.manifest.commitment_points)
    result = Result.of(job_id, proof, list(instances), net.circuit.manifest.output_instance_count)
    with pytest.raises(ContractRevert) as refused:
        Settlement(m).submit_results(provider, [result])
    assert refused.value.name == "JobMarket__WrongSettlementMode"
    assert m.job(job_id).status is JobStatus.CLAIMED and not m.logs(CallbackResult, m.deployment.block, job_id=job_id)

    receipt = m.submit(provider, job_id, proof, list(instances))
    (called,) = m.emitted(CallbackResult, receipt)
    assert called.success and m.job(job_id).status is JobStatus.SETTLED, "called back at the verified submission"
    assert len(gate.events.LoanDecided().get_logs(from_block=m.deployment.block)) == 1
