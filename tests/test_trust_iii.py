"""Trust III (issue 23), the contract paths played through the Python client on anvil: a proof replayed on a
fresh model id earns nothing, a delivery after the input deadline is refused with a hint while the
provider's free InputMissing decline stays free, and an InputInvalid decline weighs on the consumer only by
the decliner's paid history; a worker holds at most --max-fresh-jobs jobs of consumers with no paid history. The forge tests (verifier_contracts/test/TrustIII.t.sol, TrustIIIConsumers.t.sol)
play every contract attack; these show the deployed contracts and the client agree on them. Item 9's fleet
half: a Ray node never proves with a file planted in its cache, and gets no RPC URL."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import ngx_zk as ngx
from ngx_zk.artifacts import Circuit, sha256_file
from ngx_zk.chain.market import JobStatus
from ngx_zk.chain.types import DeclineReason
from ngx_zk.consumer import Consumer, deliver_input, post_job
from ngx_zk.errors import ContractRevert
from ngx_zk.evm import calldata
from ngx_zk.worker import Step, Worker, WorkerOptions, ray_pool
from ngx_zk.worker.policy import FRESH_WEIGHT_MILLI, ClaimPolicy

from .chain_fixtures import NGX, Net, ngx_zk
from .paths import MODELS
from .test_model_trust import register_copy
from .test_worker_attacks import post, rounds, step_of

FLAG_NO_REWARD = 1

try:  # the two-node Ray cluster fixture (Ray is the optional `fleet` extra)
    from .test_ray_fleet import cluster
except pytest.skip.Exception:

    @pytest.fixture(scope="module")
    def cluster() -> Any:
        pytest.skip("ray is not installed")


@pytest.mark.chain
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


@pytest.mark.chain
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


@pytest.mark.chain
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


@pytest.mark.chain
def test_an_invalid_input_decline_weighs_on_the_consumer_by_the_decliners_paid_history(chain_snapshot: Net) -> None:
    """Item 5: InputInvalid carries no evidence; it is on the consumer's record, but lowers its score only by
    what the provider's own rewarded history is worth (nothing for a provider with none)."""
    net, m = chain_snapshot, chain_snapshot.market
    provider, consumer = net.signer("provider"), net.signer("consumer").address
    history = m.facts(provider.address)["weight_milli"]
    before = m.consumer_facts(consumer)
    record = post(net)
    m.claim(provider, record.job_id)
    deliver_input(m, net.signer("consumer"), record, m.job(record.job_id))
    m.decline(provider, record.job_id, DeclineReason.INPUT_INVALID)
    after = m.consumer_facts(consumer)
    assert after["inputs_invalid"] == before["inputs_invalid"] + 1, "on the record"
    assert after["harm_milli"] - before["harm_milli"] == min(1000, history * 1000 // 10_000)
    weight, harm = after["settled_weight_milli"], after["harm_milli"]
    assert m.consumer_score(consumer) == 100 * (weight + 2000) // (weight + harm + 2000)


@pytest.mark.chain
def test_a_costly_input_decline_cuts_the_refund_by_the_slash_and_job_show_says_so(chain_snapshot: Net, tmp_path: Path) -> None:
    """Item 1, the input rule: once the provider's free declines are spent, an InputInvalid decline slashes it S
    and cuts the consumer's refund by S, burned; JobDeclined carries both, and ``job show`` reports them."""
    net, m = chain_snapshot, chain_snapshot.market
    provider, consumer = net.signer("provider"), net.signer("consumer").address
    for _ in range(m.free_declines_left(provider.address)):
        free = post(net)
        m.claim(provider, free.job_id)
        m.decline(provider, free.job_id, DeclineReason.INPUT_INVALID)
        assert m.declined(free.job_id) is not None and m.declined(free.job_id).burned == 0  # type: ignore[union-attr]
    record = post(net)
    m.claim(provider, record.job_id)
    deliver_input(m, net.signer("consumer"), record, m.job(record.job_id))

    def supply() -> int:
        return int(m.chain.call(m.token.functions.totalSupply()))

    staked, credit, before = m.provider(provider.address).staked, m.claimable(consumer), supply()
    m.decline(provider, record.job_id, DeclineReason.INPUT_INVALID)
    slashed = staked - m.provider(provider.address).staked
    declined = m.declined(record.job_id)
    assert declined is not None and not declined.free and declined.slashed == slashed > 0
    assert declined.burned == min(slashed, record.price) and declined.refund == record.price - declined.burned
    assert m.claimable(consumer) - credit == declined.refund, "the refund actually paid"
    assert before - supply() >= declined.burned, "the cut is burned"
    shown = ngx_zk(net, tmp_path, "job", "show", str(record.job_id), "--json")
    decline = json.loads(shown.stdout)["decline"]
    assert (decline["reason"], decline["burned"], decline["refund"]) == ("input_invalid", declined.burned, declined.refund)
    text = ngx_zk(net, tmp_path, "job", "show", str(record.job_id)).stdout
    assert "burned by the input rule" in text and "declined (input_invalid" in text
    settings = ngx.load_settings({"NGX_ZK_HOME": str(net.home), "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir)})
    result = Consumer(settings, m, net.signer("consumer")).wait(net.circuit, record, timeout_s=60, poll_s=0.1)
    assert result.status is JobStatus.CANCELLED, "what prove-job reports"
    assert (result.refund, result.burned) == (declined.refund, declined.burned)


# --- item 9, the fleet half --------------------------------------------------------------------------
def test_ray_nodes_get_no_rpc_or_websocket_url(settings: ngx.Settings) -> None:
    """RPC URLs often carry an API key; a node proves and never talks to the chain."""
    keyed = replace(settings, rpc_urls=("https://eth.example/v2/APIKEY123",), ws_url="wss://eth.example/ws/APIKEY123")
    sent = ray_pool.node_settings(keyed)
    assert "APIKEY123" not in repr(sent)


def test_a_node_cache_someone_else_controls_is_not_used(tmp_path: Path) -> None:
    """The node cache's path is predictable (``/tmp/ngx-zk-fleet`` by default): a link planted there, or a
    folder another user owns, is never used; an open folder of our own is closed to 0700."""
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    planted = tmp_path / "planted-link"
    planted.symlink_to(elsewhere)
    root = ray_pool._node_root(str(planted), "node" * 8)
    assert elsewhere not in root.parents and root != elsewhere / ("node" * 4)
    assert (os.stat(root).st_mode & 0o777) == 0o700 and os.stat(root).st_uid == os.getuid()

    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o777)
    os.chmod(open_dir, 0o777)
    root = ray_pool._node_root(str(open_dir), "node" * 8)
    assert root == open_dir / ("node" * 4)
    assert (os.stat(open_dir).st_mode & 0o777) == 0o700


def test_a_cached_file_is_checked_before_each_use(tmp_path: Path) -> None:
    good = tmp_path / "pk"
    good.write_bytes(b"the real key")
    digest = sha256_file(good)
    assert ray_pool._intact(good, digest)
    good.write_bytes(b"the real kez")  # same size, rewritten after its check
    assert not ray_pool._intact(good, digest)
    assert not ray_pool._intact(tmp_path / "missing", digest)


@pytest.mark.slow
def test_a_proving_key_planted_in_a_node_cache_is_fetched_again_and_the_proof_succeeds(
    cluster: Any,
    mlp_circuit: Circuit,
    mlp_salted: ngx.InputData,
    session_settings: ngx.Settings,
    tmp_path: Path,
) -> None:
    """Item 9: junk written at each node's cached proving key (its content address is predictable: the key's
    sha256) made every proof on the node fail, so the worker declined (costly) job after job. Now the node
    checks the key against its hash before the proof, fetches the real one, and proves."""
    events: list[tuple[str, dict[str, Any]]] = []
    cache = tmp_path / "nodes"
    pool = ray_pool.RayProverPool(
        cluster.address, [mlp_circuit], session_settings, node_cache=cache, log=lambda e, **kw: events.append((e, kw))
    )
    try:
        pool.wait_ready()
        nodes = [n["node"] for n in pool.probe()]
        pk_sha = pool._shipments[mlp_circuit.circuit_onnx].blobs["pk"].sha256
        cache.mkdir(mode=0o700)
        for node in nodes:  # a private cache, as the pool makes it, with a bad key in it
            cas = cache / node[:16] / "cas"
            cas.mkdir(parents=True, mode=0o700)
            os.chmod(cas.parent, 0o700)
            (cas / pk_sha).write_bytes(os.urandom(4096))
        runs = [pool.submit(mlp_circuit, mlp_salted, tmp_path / f"p{i}.json").result(timeout=180) for i in range(2)]
    finally:
        pool.close(wait=False)
    assert {r.node for r in runs} == set(nodes), "a proof ran on each node"
    for run in runs:
        ngx.verify(run.path, mlp_circuit, session_settings)
    replaced = {kw["node"]: kw["artifacts"] for e, kw in events if e == "fleet.cache_replaced"}
    assert replaced == {node[:12]: ["pk"] for node in nodes}, "each node replaced the planted key"
    for node in nodes:
        assert sha256_file(cache / node[:16] / "cas" / pk_sha) == pk_sha


def _post_as(net: Net, who: str, price: int) -> Any:
    settings = ngx.load_settings({"NGX_ZK_HOME": str(net.home), "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir)})
    data = ngx.load_input(MODELS / "mlp" / "input.json", net.circuit.manifest)
    return post_job(
        settings,
        net.market,
        net.signer(who),
        net.circuit,
        data,
        price=price,
        claim_window=300,
        prove_window=300,
        min_reputation=0,
    )


@pytest.mark.chain
def test_a_worker_holds_at_most_max_fresh_jobs_of_consumers_with_no_paid_history(chain_snapshot: Net, tmp_path: Path) -> None:
    """Issue #23: a new address costs nothing, its junk input costs the provider a decline. Three well-paid jobs of
    a fresh consumer: the worker claims two and the third waits (the cap frees when a held job ends: it is not
    skipped for good); once the two settle, the third is claimed and settles too. A consumer with rewarded settled
    history is not capped."""
    net, m = chain_snapshot, chain_snapshot.market
    provider = net.signer("provider")
    # consumer2 earns a history: one rewarded job settled (proved and submitted by hand)
    paid = _post_as(net, "consumer2", 100 * NGX)
    m.claim(provider, paid.job_id)
    salted = ngx.InputData(
        tuple(tuple(v) for v in paid.salted_input["input_data"]), tuple(tuple(s) for s in paid.salted_input["salt"])
    )
    proof, instances = calldata(ngx.prove(net.circuit, salted, tmp_path / "proof.json", net.settings).path)
    m.submit(provider, paid.job_id, proof, instances)
    assert m.consumer_facts(net.signer("consumer2").address)["settled_weight_milli"] >= FRESH_WEIGHT_MILLI
    assert m.consumer_facts(net.signer("consumer").address)["settled_weight_milli"] == 0, "consumer is fresh"

    settings = ngx.load_settings(
        {
            "NGX_ZK_HOME": str(net.home),
            "NGX_ZK_CACHE_DIR": str(net.settings.cache_dir),
            "NGX_ZK_STATE_DIR": str(tmp_path / "worker"),
        }
    )
    options = WorkerOptions(poll_s=0.05, policy=ClaimPolicy(max_fresh_jobs=2))
    worker = Worker(settings, m, provider, [net.circuit], options)
    try:
        posted = {(r := _post_as(net, "consumer", 50 * NGX)).job_id: r for _ in range(3)}
        fresh = list(posted)

        def waiting(job_id: int) -> bool:
            return step_of(worker, job_id) is Step.SEEN and worker.journal.history(job_id)[-1][2].startswith("waiting: ")

        rounds(worker, lambda: all(step_of(worker, j) is Step.CLAIMED or waiting(j) for j in fresh))
        steps = [step_of(worker, j) for j in fresh]
        assert steps.count(Step.CLAIMED) == 2 and steps.count(Step.SEEN) == 1, steps
        third = fresh[steps.index(Step.SEEN)]
        assert "consumers with no paid history (cap 2)" in worker.journal.history(third)[-1][2]
        assert sum(m.job(j).status is JobStatus.CLAIMED for j in fresh) == 2, "the chain shows two claims, not three"

        for job_id in fresh:  # the consumer hands each claimed job its input; the third's once it is claimed
            if job_id != third:
                deliver_input(m, net.signer("consumer"), posted[job_id], m.job(job_id))
        rounds(worker, lambda: step_of(worker, third) is Step.CLAIMED, timeout=90)
        assert any(m.job(j).status is JobStatus.SETTLED for j in fresh if j != third), "a held job ended first"
        deliver_input(m, net.signer("consumer"), posted[third], m.job(third))
        rounds(worker, lambda: step_of(worker, third) is Step.DONE, timeout=90)
        assert [m.job(j).status for j in fresh] == [JobStatus.SETTLED] * 3, "all three settled"
        assert [s for s, _, _ in worker.journal.history(third)].count("skipped") == 0

        settled = [_post_as(net, "consumer2", 50 * NGX).job_id for _ in range(3)]
        rounds(worker, lambda: all(step_of(worker, j) in (Step.CLAIMED, Step.SKIPPED) for j in settled))
        assert [step_of(worker, j) for j in settled] == [Step.CLAIMED] * 3, "a consumer with paid history is not capped"
    finally:
        worker.close()
