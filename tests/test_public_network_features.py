"""Private, gasless and callback jobs on 2 s blocks (an L2's cadence; issue 25), with one real worker process.

A private job (hashed output: ``prove-job --private``), a gasless order (a consumer with NGX and no ETH:
``prove-job --gasless --provider``) and a callback job (examples' LoanGate posts it; the borrower delivers the
input with ``ngx-zk job deliver``) run at once against a worker serving both models, on an anvil that mines every
2 s: each settles once, the gasless consumer sends nothing, the gate is called back once, in the settlement, and
each settled job audits valid (``ngx-zk verify --job``).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils.address import to_checksum_address

import ngx_zk as ngx
from ngx_zk.artifacts import Circuit
from ngx_zk.chain import devnet
from ngx_zk.chain.signer import from_key
from ngx_zk.chain.types import CallbackResult, JobSettled, JobStatus, JobTerms
from ngx_zk.config import Secret

from .chain_fixtures import NGX, Net, finish, ngx_zk, start_cli, start_worker
from .paths import MODELS
from .test_public_network import audit, timed_net

pytestmark = [pytest.mark.chain, pytest.mark.slow]
GASLESS_KEY = "0x" + "6e" * 32
"""A consumer with NGX and no ETH (a throwaway key of this test, never a funded account's)."""


@pytest.fixture(scope="module")
def net_2s_features(
    tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, mlp_circuit: Circuit, session_settings: ngx.Settings
) -> Iterator[tuple[Net, int]]:
    private = ngx.build_circuit(
        MODELS / "mlp", session_settings, name="mlp_private", visibility=ngx.Visibility("hashed", "fixed", "hashed")
    )
    yield from timed_net(tmp_path_factory.mktemp("net-2s-features"), cache_dir, [mlp_circuit, private], 2)


def test_private_gasless_and_callback_jobs_settle_on_two_second_blocks(net_2s_features: tuple[Net, int], tmp_path: Path) -> None:
    net, port = net_2s_features
    m, chain = net.market, net.market.chain
    start = chain.block_number()
    provider = devnet.dev_address("provider")
    lender, borrower = net.signer("consumer"), net.signer("consumer2")
    gasless = from_key(Secret(GASLESS_KEY))
    m.transfer(lender, gasless.address, 20 * NGX)

    terms = JobTerms(net.model_id, 10 * NGX, 10 * NGX, 300, 600, callback_gas_limit=200_000, settlement=0)
    gate_address = chain.deploy("LoanGate", lender, m.market.address, m.token.address, lender.address, terms.as_tuple(), 0, 0)
    gate = chain.contract("LoanGate", gate_address)
    m.transfer(lender, gate_address, 20 * NGX)
    salted = tmp_path / "salted.json"
    commit = ngx_zk(net, tmp_path, "commit", str(MODELS / "mlp" / "input.json"), "--model", "mlp", "--out", str(salted), "--json")
    assert commit.returncode == 0, commit.stderr
    commitments = [int(c, 16) for c in json.loads(commit.stdout)["commitments"]]

    worker = (
        start_worker(  # three fresh consumers at once, above the default cap of 2: a posted job would wait, an order is refused
            net,
            tmp_path / "worker",
            "--model",
            "mlp_private",
            "--max-jobs",
            "3",
            "--max-fresh-jobs",
            "3",
            "--listen",
            f"127.0.0.1:{port}",
        )
    )
    procs: list[subprocess.Popen[str]] = []
    try:
        log, deadline = tmp_path / "worker" / "worker.log", time.monotonic() + 120
        while not (log.is_file() and '"worker.start"' in log.read_text()):  # its endpoint serves: orders may come
            assert worker.poll() is None and time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.2)
        one = str(MODELS / "mlp" / "input.json")
        private = start_cli(net, tmp_path / "c-private", "prove-job", "mlp_private", "--private", "--input", one,
                      "--price", "10", "--account", "consumer", "--json", "--timeout", "180")  # fmt: skip
        order = start_cli(net, tmp_path / "c-gasless", "prove-job", "mlp", "--gasless", "--provider", provider, "--input", one,
                    "--price", "10", "--json", "--timeout", "180", NGX_ZK_PRIVATE_KEY=GASLESS_KEY)  # fmt: skip
        procs += [private, order]
        receipt = chain.send(gate.functions.requestLoan(commitments), borrower, what="request a loan")
        loan_job = int(chain.events_in(receipt, gate, "LoanRequested")[0]["jobId"])
        deliver = start_cli(net, tmp_path / "borrower", "job", "deliver", str(loan_job), "--input", str(salted), "--model", "mlp",
                      "--account", "consumer2", "--json", "--timeout", "180")  # fmt: skip
        procs.append(deliver)
        results = {"private": finish(private), "gasless": finish(order), "callback": finish(deliver)}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        assert worker.wait(timeout=150) == 0, worker.stderr.read() if worker.stderr else ""

    for name in ("private", "gasless"):
        assert results[name]["status"] == "Settled" and results[name]["proof_valid"] is True, name
        assert results[name]["provider"] == provider, name
    assert results["private"]["outputs"], "the private output reached its consumer"
    assert results["callback"]["status"] == "Settled"
    assert m.job(loan_job).status is JobStatus.SETTLED

    end = chain.block_number()
    ids = {"private": int(results["private"]["job_id"]), "gasless": int(results["gasless"]["job_id"]), "callback": loan_job}
    for name, job_id in ids.items():
        assert len(m.logs(JobSettled, start, end, job_id=job_id)) == 1, f"the {name} job settled once"
    (called,) = m.logs(CallbackResult, start, end, job_id=loan_job)
    (settled,) = m.logs(JobSettled, start, end, job_id=loan_job)
    assert called.event.success and called.meta.tx_hash == settled.meta.tx_hash, "called back in the settlement"
    decided = gate.events.LoanDecided().get_logs(from_block=start)
    assert len(decided) == 1 and int(decided[0]["args"]["jobId"]) == loan_job, "the gate decided once"
    assert m.balance(gasless.address) == 10 * NGX, "the gasless consumer paid its price, in NGX"
    assert chain.w3.eth.get_transaction_count(to_checksum_address(gasless.address)) == 0, "and sent no transaction"

    audit(net, tmp_path / "a-private", ids["private"], "mlp_private")
    audit(net, tmp_path / "a-gasless", ids["gasless"])
    audit(net, tmp_path / "a-callback", loan_job)
