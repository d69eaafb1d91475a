"""Trust III (issue 23), the contract paths played through the Python client on anvil: a proof replayed on a
fresh model id earns nothing, and a delivery after the input deadline is refused with a hint while the
provider's free InputMissing decline stays free. The forge tests (verifier_contracts/test/TrustIII.t.sol)
play every contract attack; these show the deployed contracts and the client agree on them."""

from __future__ import annotations

from pathlib import Path

import pytest

import ngx_zk as ngx
from ngx_zk.chain.types import DeclineReason
from ngx_zk.consumer import deliver_input
from ngx_zk.errors import ContractRevert
from ngx_zk.evm import calldata

from .chain_fixtures import NGX, Net
from .test_model_trust import register_copy
from .test_worker_attacks import post

pytestmark = pytest.mark.chain
FLAG_NO_REWARD = 1


def test_a_proof_replayed_on_a_fresh_model_id_earns_no_reward_nor_nrs(chain_snapshot: Net, tmp_path: Path) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    provider = net.signer("provider")
    record = post(net, prove_window=300)
    m.claim(provider, record.job_id)
    salted = ngx.InputData(
        tuple(tuple(v) for v in record.salted_input["input_data"]), tuple(tuple(s) for s in record.salted_input["salt"])
    )
    proof, instances = calldata(ngx.prove(net.circuit, salted, tmp_path / "proof.json", net.settings).path)
    owed = m.rewards_owed(provider.address)
    m.submit(provider, record.job_id, proof, instances)
    assert m.rewards_owed(provider.address) > owed, "the honest job is rewarded"
    assert not m.job(record.job_id).flags & FLAG_NO_REWARD

    # The proof and its instances are public now: a fresh model id on the same (allow-listed) verifier, a job
    # from another consumer with the same commitments, the public proof submitted again.
    copy_id = register_copy(net, "consumer2")
    commitments = instances[: m.model(copy_id).input_commitment_count]
    replay, _ = m.post_job(net.signer("consumer2"), copy_id, commitments, 10 * NGX, 300, 300, 0)
    m.claim(provider, replay)
    owed, facts = m.rewards_owed(provider.address), m.facts(provider.address)
    m.submit(provider, replay, proof, instances)
    assert m.job(replay).status.value == "Settled", "a replay still settles and pays"
    assert m.job(replay).flags & FLAG_NO_REWARD, "flagged a replay at its settlement"
    assert m.rewards_owed(provider.address) == owed, "no reward"
    assert m.facts(provider.address)["completed"] == facts["completed"], "no NRS completion"


def test_a_late_on_chain_delivery_is_refused_and_the_free_decline_stays_free(chain_snapshot: Net) -> None:
    net, m = chain_snapshot, chain_snapshot.market
    provider = net.signer("provider")
    stake, facts = m.provider(provider.address).staked, m.facts(provider.address)
    record = post(net)
    m.claim(provider, record.job_id)
    net.travel(30)  # the input deadline: half of the 60 s prove window
    with pytest.raises(ContractRevert) as late:
        deliver_input(m, net.signer("consumer"), record, m.job(record.job_id))
    assert late.value.name == "JobMarket__InputDeadlinePassed"
    assert "late delivery does not count" in str(late.value.hint)
    m.decline(provider, record.job_id, DeclineReason.INPUT_MISSING)
    assert m.provider(provider.address).staked == stake, "the decline stayed free"
    assert m.facts(provider.address)["free_declines"] == facts["free_declines"] + 1


def test_an_unpause_after_the_claim_moves_the_deadline_the_client_reads(chain_snapshot: Net) -> None:
    """A one-second pause neither frees an abandoned claim nor costs the provider time: ``getJob`` (hence
    ``Job.prove_deadline`` and ``Job.input_deadline`` in the client and the worker) carries the moved deadline."""
    net, m = chain_snapshot, chain_snapshot.market
    provider, guardian = net.signer("provider"), net.signer("guardian")
    record = post(net)
    m.claim(provider, record.job_id)
    claimed = m.job(record.job_id).prove_deadline
    m.chain.send(m.market.functions.pause(), guardian, what="pause the market")
    net.travel(1)
    m.chain.send(m.market.functions.unpause(), guardian, what="unpause the market")
    moved = m.chain.timestamp() + 60
    assert m.job(record.job_id).prove_deadline == moved > claimed
    assert m.job(record.job_id).input_deadline == moved - 30
    net.travel(claimed - m.chain.timestamp())
    with pytest.raises(ContractRevert) as early:
        m.expire(net.signer("consumer2"), record.job_id)
    assert early.value.name == "JobMarket__NotExpired"
    net.travel(moved - m.chain.timestamp())
    staked = m.provider(provider.address).staked
    m.expire(net.signer("consumer2"), record.job_id)  # the provider abandoned the claim: slashed as usual
    assert m.provider(provider.address).staked < staked
