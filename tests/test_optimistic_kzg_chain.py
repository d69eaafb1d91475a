"""KZG-committed inputs (``polycommit/fixed/public``) in optimistic mode, on anvil with the real contracts, the real
worker (its own process, serving its endpoint) and real EZKL proofs: two jobs commit their results without a proof;
``ngx-zk watch`` checks each served proof (keccak, the KZG point the proof starts with, the proof itself) and finds
them valid; one is challenged and the worker answers it through the PolycommitBinding; the other finalizes after the
(60 s, governed minimum) window; ``verify --job`` finds both valid, one from the answer's calldata, the other from
the proof its provider serves.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import ngx_zk as ngx
from ngx_zk.artifacts import Circuit
from ngx_zk.chain.settlement import Settlement
from ngx_zk.chain.settlement_types import ChallengeAnswered
from ngx_zk.chain.types import JobStatus
from ngx_zk.consumer import deliver_input, post_job

from .chain_fixtures import NGX, Net, free_port, ngx_zk, start_worker
from .optimistic_fixtures import WINDOW, batch_of, settings_for, short, watch
from .test_polycommit import INPUT, NAME, on_chain, publish_here

pytestmark = [pytest.mark.chain, pytest.mark.slow]
__all__ = ["on_chain", "short"]  # fixtures


def until(what: str, check: Callable[[], object], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_kzg_committed_jobs_settle_optimistically_a_challenge_is_answered_and_both_audit_valid(
    short: Net, on_chain: Circuit, tmp_path: Path
) -> None:
    net, m = short, short.market
    publish_here(net, on_chain)
    settlement = Settlement(m)
    port, provider = free_port(), net.signer("provider")
    m.update_provider(provider, m.provider(provider.address).encryption_pub_key, f"http://127.0.0.1:{port}")
    worker = start_worker(net, tmp_path / "worker", "--model", NAME, "--listen", f"127.0.0.1:{port}", "--max-fresh-jobs", "8")
    state = tmp_path / "consumer"
    data = ngx.load_input(INPUT, on_chain.manifest)
    try:
        records = [
            post_job(
                settings_for(net, state),
                m,
                net.signer("consumer"),
                on_chain,
                data,
                price=10 * NGX,
                claim_window=600,
                prove_window=1200,
                min_reputation=0,
                optimistic=True,
            )
            for _ in range(2)
        ]
        for record in records:
            until("the claim", lambda r=record: m.job(r.job_id).status is JobStatus.CLAIMED)
            deliver_input(m, net.signer("consumer"), record, m.job(record.job_id))
        until("both results", lambda: all(m.job(r.job_id).status is JobStatus.SUBMITTED for r in records))

        decisions = {d["job_id"]: d for d in watch(net, tmp_path / "watch")}
        assert {(j, d["decision"], d["source"]) for j, d in decisions.items()} == {
            (r.job_id, "valid", "provider") for r in records
        }, decisions

        unchallenged, challenged = records
        batch_id = batch_of(net, challenged.job_id)
        results = settlement.batch_results(batch_id)
        settlement.challenge(net.signer("auditor"), batch_id, results, [r.job_id for r in results].index(challenged.job_id))
        until("the answer", lambda: m.job(challenged.job_id).status is JobStatus.SETTLED, timeout=120)
        assert len(m.logs(ChallengeAnswered, m.deployment.block, job_id=challenged.job_id)) == 1
        assert m.job(unchallenged.job_id).status is JobStatus.SUBMITTED, "no finalization inside the window"
        net.travel(WINDOW + 1)
        until("the finalization", lambda: m.job(unchallenged.job_id).status is JobStatus.SETTLED, timeout=120)

        for record, where in ((unchallenged, "served by the provider"), (challenged, "tx 0x")):
            audit = ngx_zk(net, tmp_path / "auditor", "verify", "--job", str(record.job_id), "--model", NAME, "--json")
            assert audit.returncode == 0, audit.stdout + audit.stderr
            verdict = json.loads(audit.stdout)
            checks = {c["name"]: c for c in verdict["checks"]}
            assert verdict["valid"] is True and checks["proof starts with the job's KZG input commitment"]["ok"], checks
            assert where in checks["proof verifies offline"]["detail"], checks
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except Exception:
            worker.kill()
            worker.wait(timeout=30)
