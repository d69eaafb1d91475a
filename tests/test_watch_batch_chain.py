"""The issue's goal on anvil: a provider settles 16 optimistic jobs of 4 consumers in one transaction with a wrong
output on one of them. ``ngx-zk watch`` challenges that one (and only it), upholds it after the answer window: the
provider is slashed and that consumer refunded; the other 15 finalize and pay exactly as an eager job pays.

Real contracts, real EZKL proofs of the mlp model; the provider is ``FakeProvider`` (tests/optimistic_fixtures.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ngx_zk.chain.settlement import Settlement
from ngx_zk.chain.settlement_types import BatchFinalized, ChallengeUpheld
from ngx_zk.chain.types import JobSettled, JobStatus

from .chain_fixtures import NGX, Net, ngx_zk
from .optimistic_fixtures import WINDOW, FakeProvider, batch_of, post, provider, short, show, watch

pytestmark = [pytest.mark.chain, pytest.mark.slow]
__all__ = ["provider", "short"]  # fixtures

CONSUMERS = ("consumer", "consumer2", "team", "ecosystem")
JOBS = 16
PRICE = 2 * NGX


def split(net: Net, job_id: int) -> tuple[int, int, int]:
    (settled,) = net.market.logs(JobSettled, net.market.deployment.block, job_id=job_id)
    return settled.event.provider_pay, settled.event.royalty, settled.event.fee


def test_one_wrong_output_of_16_is_challenged_slashed_and_refunded_the_other_15_finalize_as_eager_pays(
    short: Net, provider: FakeProvider, tmp_path: Path
) -> None:
    net, m = short, short.market
    for role in CONSUMERS[2:]:  # two more consumers, funded by the first
        m.transfer(net.signer("consumer"), net.signer(role).address, 20 * NGX)
    eager = post(net, tmp_path / "consumer", optimistic=False, price=PRICE)  # the reference: one eager job, same price
    proof, instances = provider.prove(eager)
    m.submit(provider.signer, eager.job_id, proof, instances)

    records = [post(net, tmp_path / CONSUMERS[k % 4], CONSUMERS[k % 4], price=PRICE) for k in range(JOBS)]
    bad = records[5]
    wallets = {r: m.claimable(net.signer(r).address) for r in CONSUMERS}
    stake_before = m.provider(provider.signer.address).staked
    provider.take_many(records, wrong={bad.job_id})
    batch_id = batch_of(net, bad.job_id)
    assert {batch_of(net, r.job_id) for r in records} == {batch_id}, "one provider transaction for the 16"

    decisions = watch(net, tmp_path / "watch")
    assert sorted(d["job_id"] for d in decisions) == sorted(r.job_id for r in records)
    challenged = [d for d in decisions if d["decision"] == "challenged"]
    assert [(d["job_id"], d["reason"]) for d in challenged] == [(bad.job_id, "invalid")]
    assert {d["decision"] for d in decisions if d["job_id"] != bad.job_id} == {"valid"}
    assert m.job(bad.job_id).status is JobStatus.CHALLENGED

    net.travel(WINDOW + 1)  # past the challenge window and the answer window
    (upheld,) = watch(net, tmp_path / "watch")
    assert (upheld["job_id"], upheld["decision"]) == (bad.job_id, "upheld")
    (event,) = m.logs(ChallengeUpheld, m.deployment.block, job_id=bad.job_id)
    assert event.event.slashed > 0 and m.provider(provider.signer.address).staked == stake_before - event.event.slashed
    bad_consumer = CONSUMERS[5 % 4]
    assert m.claimable(net.signer(bad_consumer).address) - wallets[bad_consumer] == PRICE, "refunded in full"

    settlement = Settlement(m)
    receipt = settlement.finalize(provider.signer, batch_id, settlement.batch_results(batch_id))
    assert [e.settled for e in m.emitted(BatchFinalized, receipt)] == [JOBS - 1]
    reference = split(net, eager.job_id)
    for record in records:
        if record is bad:
            assert m.job(record.job_id).status is JobStatus.EXPIRED
            continue
        assert m.job(record.job_id).status is JobStatus.SETTLED
        assert split(net, record.job_id) == reference, f"job {record.job_id} pays as the eager job does"
    shown = show(net, tmp_path / "consumer", records[0].job_id)
    assert (shown["settlement"], shown["finalized"], shown["batch_id"]) == ("optimistic", True, batch_id)
    assert watch(net, tmp_path / "watch") == [], "nothing left to look at"

    audit = ngx_zk(net, tmp_path / "auditor", "verify", "--job", str(records[0].job_id), "--json")  # proof off chain
    assert audit.returncode == 0 and json.loads(audit.stdout)["valid"] is True, audit.stdout + audit.stderr
    provider.close()  # gone: the audit says where the proof should have come from
    audit = ngx_zk(net, tmp_path / "auditor", "verify", "--job", str(records[1].job_id), "--json")
    assert audit.returncode == 1 and "does not serve the committed proof" in audit.stdout, audit.stdout + audit.stderr


def test_jobs_settled_eagerly_in_one_transaction_are_audited_from_its_calldata(
    short: Net, provider: FakeProvider, tmp_path: Path
) -> None:
    net = short
    records = [post(net, tmp_path / "consumer", optimistic=False, price=PRICE) for _ in range(2)]
    proved = [provider.prove(r) for r in records]
    proofs, instances = [p for p, _ in proved], [i for _, i in proved]
    Settlement(net.market).settle_many(provider.signer, [r.job_id for r in records], proofs, instances)
    for record in records:
        assert net.market.job(record.job_id).status is JobStatus.SETTLED
        audit = ngx_zk(net, tmp_path / "auditor", "verify", "--job", str(record.job_id), "--json")
        assert audit.returncode == 0 and json.loads(audit.stdout)["valid"] is True, audit.stdout + audit.stderr
