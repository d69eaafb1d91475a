"""An optimistic job's proof lives off chain: what happens when what is served is not what was committed, and how a
consumer discloses an inference of a job finalized unchallenged. On anvil with the real contracts and real EZKL
proofs of the mlp model; the provider is ``FakeProvider`` (tests/optimistic_fixtures.py, fault injection), which
commits results by hand and serves whatever the test tells it to. ``ngx-zk watch``, ``job disclose`` and ``verify``
run as processes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from ngx_zk.chain.settlement import Settlement
from ngx_zk.chain.settlement_types import ChallengeUpheld, Result
from ngx_zk.chain.types import JobStatus
from ngx_zk.errors import ContractRevert
from ngx_zk.explorer.app import Explorer
from ngx_zk.explorer.db import Database
from ngx_zk.explorer.indexer import Indexer
from ngx_zk.explorer.server import ExplorerServer

from .chain_fixtures import NGX, Net, ngx_zk
from .optimistic_fixtures import WINDOW, FakeProvider, batch_of, post, provider, short, watch

pytestmark = [pytest.mark.chain, pytest.mark.slow]
__all__ = ["provider", "short"]  # fixtures


def served(job_id: int, proof: bytes, instances: list[int]) -> dict[str, object]:
    return {"job_id": job_id, "proof": "0x" + proof.hex(), "instances": [f"0x{v:064x}" for v in instances]}


def test_served_proofs_that_do_not_answer_the_commitment_are_challenged_unanswerable_and_upheld(
    short: Net, provider: FakeProvider, tmp_path: Path
) -> None:
    """Two results of one batch: job A committed to bytes its provider does not have (it serves A's own valid proof,
    whose keccak is not the committed proofHash); job B committed to, and serves, a valid proof of another statement
    (A's input commitments). ``ngx-zk watch`` challenges both (mismatched, invalid); the provider cannot answer
    either with what it serves; after the answer window the watch upholds both: the provider is slashed twice and
    each consumer gets its price back."""
    net, m = short, short.market
    a = post(net, tmp_path / "consumer", "consumer")
    b = post(net, tmp_path / "consumer2", "consumer2")
    proof_a, instances_a = provider.prove(a)
    proof_b, instances_b = provider.prove(b)
    n_out = net.circuit.manifest.output_instance_count
    outputs_a, outputs_b = Result.of(a.job_id, proof_a, instances_a, n_out), Result.of(b.job_id, proof_b, instances_b, n_out)
    results = [
        Result(a.job_id, outputs_a.outputs, keccak(b"bytes the provider never kept")),
        Result(b.job_id, outputs_b.outputs, keccak(proof_a)),
    ]
    provider.proofs[a.job_id] = served(a.job_id, proof_a, instances_a)
    provider.proofs[b.job_id] = served(b.job_id, proof_a, [*instances_b[: len(instances_b) - n_out], *outputs_b.outputs])
    Settlement(m).submit_results(provider.signer, results)
    refunds = {r: m.claimable(net.signer(r).address) for r in ("consumer", "consumer2")}
    stake = m.provider(provider.signer.address).staked

    decisions = {d["job_id"]: d for d in watch(net, tmp_path / "watch")}
    assert (decisions[a.job_id]["decision"], decisions[a.job_id]["reason"]) == ("challenged", "mismatched")
    assert "committed proofHash" in decisions[a.job_id]["detail"]
    assert (decisions[b.job_id]["decision"], decisions[b.job_id]["reason"]) == ("challenged", "invalid")
    assert {m.job(a.job_id).status, m.job(b.job_id).status} == {JobStatus.CHALLENGED}

    settlement = Settlement(m)
    answers = {
        a.job_id: (proof_a, instances_a),
        b.job_id: (proof_a, [*instances_b[: len(instances_b) - n_out], *outputs_b.outputs]),
    }
    for job_id, (proof, instances) in answers.items():  # what it serves is all it has: the chain refuses it
        with pytest.raises(ContractRevert):
            settlement.answer(provider.signer, job_id, proof, instances)
        assert m.job(job_id).status is JobStatus.CHALLENGED

    net.travel(WINDOW + 1)  # past the answer window
    upheld = {d["job_id"]: d["decision"] for d in watch(net, tmp_path / "watch")}
    assert upheld == {a.job_id: "upheld", b.job_id: "upheld"}
    slashed = 0
    for record, role in ((a, "consumer"), (b, "consumer2")):
        assert m.job(record.job_id).status is JobStatus.EXPIRED
        (event,) = m.logs(ChallengeUpheld, m.deployment.block, job_id=record.job_id)
        assert event.event.refund == 10 * NGX and m.claimable(net.signer(role).address) - refunds[role] == 10 * NGX
        slashed += event.event.slashed
    assert slashed > 0 and m.provider(provider.signer.address).staked == stake - slashed, "slashed for both"


def test_a_consumer_discloses_an_inference_of_an_unchallenged_optimistic_job_from_the_served_proof(
    short: Net, provider: FakeProvider, tmp_path: Path
) -> None:
    """Finalized unchallenged, the job's proof is not on chain: ``job disclose`` fetches it from the provider (or
    an explorer's mirror with --explorer), checks its keccak against the committed proofHash, and writes the
    disclosure, which ``verify --disclosure`` finds valid. A served proof that does not hash to the commitment, or
    none at all, is a one-line error naming where it looked."""
    net, m = short, short.market
    me = tmp_path / "consumer"
    record = post(net, me)
    provider.take(record)
    db = Database(str(tmp_path / "explorer.sqlite"))  # the explorer mirrors the proof inside the window
    indexer = Indexer(m.chain, m.deployment, db)
    assert indexer.sync().proofs_mirrored == 1
    net.travel(WINDOW + 1)
    settlement, batch_id = Settlement(m), batch_of(net, record.job_id)
    settlement.finalize(net.signer("consumer"), batch_id, settlement.batch_results(batch_id))
    assert m.job(record.job_id).status is JobStatus.SETTLED
    indexer.sync()
    job = str(record.job_id)
    server = ExplorerServer(Explorer(db, indexer, m, net.settings, head=m.chain.block_number()), "127.0.0.1", 0, poll_s=0.2)
    server.start()
    try:
        done = ngx_zk(net, me, "job", "disclose", job, "--out", str(tmp_path / "d1.json"), "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        checked = ngx_zk(net, tmp_path / "third", "verify", "--disclosure", str(tmp_path / "d1.json"), "--model", "mlp", "--json")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        verdict = json.loads(checked.stdout)
        assert verdict["valid"] is True and verdict["outputs"], verdict
        assert any("served by the provider" in c["detail"] for c in verdict["checks"]), verdict["checks"]

        good = provider.proofs[record.job_id]["proof"]
        provider.proofs[record.job_id]["proof"] = good[:-2] + ("00" if good[-2:] != "00" else "01")  # one byte off
        bad = ngx_zk(net, me, "job", "disclose", job, "--out", str(tmp_path / "d2.json"))
        assert bad.returncode == 1 and "Traceback" not in bad.stderr, bad.stderr
        assert "does not serve the committed proof" in bad.stderr and "keccak is not the committed proofHash" in bad.stderr
        assert f"the provider at {m.provider(provider.signer.address).endpoint_uri}" in bad.stderr, bad.stderr
        assert "--explorer" in bad.stderr and not (tmp_path / "d2.json").exists()

        provider.close()  # the provider is gone: the explorer's mirror still has the committed proof
        down = ngx_zk(net, me, "job", "disclose", job, "--out", str(tmp_path / "d3.json"))
        assert down.returncode == 1 and "Traceback" not in down.stderr and "the provider at http" in down.stderr, down.stderr
        mirrored = ngx_zk(net, me, "job", "disclose", job, "--out", str(tmp_path / "d4.json"), "--explorer", server.url)
        assert mirrored.returncode == 0, mirrored.stdout + mirrored.stderr
        assert json.loads((tmp_path / "d4.json").read_text()) == json.loads((tmp_path / "d1.json").read_text())
        again = ngx_zk(
            net, tmp_path / "third", "verify", "--disclosure", str(tmp_path / "d4.json"), "--model", "mlp", "--json",
            "--explorer", server.url,
        )  # fmt: skip
        assert again.returncode == 0 and json.loads(again.stdout)["valid"] is True, again.stdout + again.stderr
    finally:
        server.stop()
        db.close()
