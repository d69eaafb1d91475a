"""Fees on a real anvil (issue 25, "Fees"): the operator's caps, a stuck claim under a base-fee spike, and the
L1 data fee of an OP-stack chain in the worker's price floor.

The spike is anvil's own (``anvil_setNextBlockBaseFeePerGas`` with automine off, so the claim stays pending).
The L1 data fee is read from the OP stack's real ``GasPriceOracle`` and ``L1Block`` contracts (the pinned npm
package ``@eth-optimism/contracts-bedrock``'s compiled runtime code), installed at their predeploy addresses with
``anvil_setCode`` because anvil's ``--network optimism`` mode does not provide them; the L1 block values are
set the way an OP node sets them, by the depositor account calling ``L1Block.setL1BlockValues``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_utils.address import to_checksum_address

from ngx_zk.chain.fees import (
    CLAIM_GAS,
    DECLINE_GAS,
    GAS_PRICE_ORACLE,
    CapNotice,
    FeeAboveCap,
    FeeModel,
    gwei,
    sample_bytes,
    submit_shape,
)
from ngx_zk.chain.market import JobStatus
from ngx_zk.chain.types import DeclineReason, JobClaimed
from ngx_zk.errors import ConfigError, TransactionError
from ngx_zk.worker.policy import ClaimPolicy

from .chain_fixtures import NGX, Net, market_on, ngx_zk, start_worker
from .paths import MODELS, REPO
from .polling import background, until

BEDROCK = REPO / "node_modules" / "@eth-optimism" / "contracts-bedrock" / "forge-artifacts"
L1_BLOCK = "0x4200000000000000000000000000000000000015"
DEPOSITOR = "0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001"
GWEI = 10**9


def post(net: Net) -> int:
    """A plain mlp job posted by the consumer (commitments are not checked before a proof)."""
    count = net.circuit.manifest.commitment_count
    job_id, _ = net.market.post_job(net.signer("consumer"), net.model_id, [7] * count, 10 * NGX, 600, 600, 0)
    return job_id


def base_fee(net: Net) -> int:
    return int(net.market.chain.w3.eth.get_block("latest")["baseFeePerGas"])


@pytest.fixture
def fee_market(chain_snapshot: Net) -> Iterator[Net]:
    """Automine off (a sent claim stays pending until the test mines); afterwards the mempool is emptied and the
    base fee put back (evm_revert resets neither)."""
    net = chain_snapshot
    base = base_fee(net)
    net.rpc("evm_setAutomine", [False])
    try:
        yield net
    finally:
        net.rpc("anvil_dropAllTransactions")
        net.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base)])
        net.rpc("evm_setAutomine", [True])


def claims(net: Net, job_id: int, from_block: int) -> int:
    return len(net.market.logs(JobClaimed, from_block, job_id=job_id))


# --- a stuck claim under a base-fee spike ---------------------------------------------------------------------
@pytest.mark.chain
def test_a_claim_stuck_behind_a_base_fee_spike_is_replaced_within_the_cap_and_claims_once(fee_market: Net) -> None:
    net = fee_market
    net.rpc("evm_setAutomine", [True])
    job_id = post(net)
    net.rpc("evm_setAutomine", [False])
    start, base = net.market.chain.block_number(), base_fee(net)
    first_fee = 2 * base + int(net.market.chain.w3.eth.max_priority_fee)
    spike, cap = 4 * first_fee, 20 * first_fee
    market = market_on(net, replace_after_s=0.3, max_replacements=4, max_fee_per_gas=cap)
    sent: list[dict[str, Any]] = []

    def on_sent(tx_hash: str) -> None:
        sent.append({**market.chain.w3.eth.get_transaction(tx_hash), "hash": tx_hash})  # type: ignore[arg-type]

    claiming = background(lambda: market.claim(net.signer("provider"), job_id, on_sent=on_sent))
    until(lambda: sent, what="the claim sent")
    net.rpc("anvil_setNextBlockBaseFeePerGas", [hex(spike)])  # the pending claim now offers less than a block asks
    until(lambda: any(int(s["maxFeePerGas"]) >= spike for s in sent), what="a replacement that pays the spike")
    net.rpc("evm_mine")
    receipt = claiming.result(timeout=30)

    fees = [int(s["maxFeePerGas"]) for s in sent]
    assert len(sent) >= 2 and len({s["nonce"] for s in sent}) == 1, "replacements reuse the nonce"
    assert fees == sorted(fees) and all(later * 4 >= earlier * 5 for earlier, later in itertools.pairwise(fees)), fees
    assert max(fees) <= cap, f"a version offered {max(fees)} above the cap {cap}"
    assert fees[0] < spike <= fees[-1]
    assert receipt.tx == sent[-1]["hash"], "the version that pays the spike is the one mined"
    assert all(market.chain.receipt(s["hash"]) is None for s in sent[:-1]), "no replaced version is mined"
    assert int(net.market.chain.w3.eth.get_block(receipt.block_number)["baseFeePerGas"]) == spike
    assert net.market.job(job_id).status is JobStatus.CLAIMED
    assert claims(net, job_id, start + 1) == 1, "claimed once"


@pytest.mark.chain
def test_a_spike_past_the_cap_leaves_the_claim_unmined_with_a_message_naming_the_cap(fee_market: Net) -> None:
    net = fee_market
    net.rpc("evm_setAutomine", [True])
    job_id = post(net)
    net.rpc("evm_setAutomine", [False])
    start, base = net.market.chain.block_number(), base_fee(net)
    first_fee = 2 * base + int(net.market.chain.w3.eth.max_priority_fee)
    cap = 2 * first_fee
    market = market_on(net, replace_after_s=0.2, max_replacements=6, max_fee_per_gas=cap, receipt_timeout_s=4)
    sent: list[dict[str, Any]] = []

    def on_sent(tx_hash: str) -> None:
        sent.append(dict(market.chain.w3.eth.get_transaction(tx_hash)))  # type: ignore[arg-type]

    claiming = background(lambda: market.claim(net.signer("provider"), job_id, on_sent=on_sent))
    until(lambda: sent, what="the claim sent")
    net.rpc("anvil_setNextBlockBaseFeePerGas", [hex(3 * cap)])
    mined = threading.Event()

    def mine_while_waiting() -> None:  # blocks keep coming at the spiked fee; none can take the claim
        while not mined.is_set():
            net.rpc("anvil_setNextBlockBaseFeePerGas", [hex(3 * cap)])
            net.rpc("evm_mine")
            time.sleep(0.3)

    miner = threading.Thread(target=mine_while_waiting, daemon=True)
    miner.start()
    try:
        with pytest.raises(TransactionError) as failed:
            claiming.result(timeout=30)
    finally:
        mined.set()
        miner.join(timeout=5)
    text = str(failed.value)
    assert f"claim job {job_id}" in text
    assert "fee cap of" in text and "--max-fee-gwei" in text, text
    assert all(int(s["maxFeePerGas"]) <= cap for s in sent), "no version offered more than the cap"
    assert f"fee cap of {gwei(cap)} gwei" in text, "the cap the replacements stopped at is named"
    assert net.market.job(job_id).status is JobStatus.OPEN
    assert claims(net, job_id, start + 1) == 0


@pytest.mark.chain
def test_with_the_base_fee_above_the_cap_nothing_is_sent(fee_market: Net) -> None:
    net = fee_market
    net.rpc("evm_setAutomine", [True])
    job_id = post(net)
    cap = 2 * base_fee(net)
    net.rpc("evm_setAutomine", [False])
    net.rpc("anvil_setNextBlockBaseFeePerGas", [hex(5 * cap)])
    net.rpc("evm_mine")  # the latest block's base fee is 5x the cap now; the next one's about as much
    provider = to_checksum_address(net.signer("provider").address)
    nonce = net.market.chain.w3.eth.get_transaction_count(provider, "pending")
    market = market_on(net, max_fee_per_gas=cap)
    with pytest.raises(FeeAboveCap) as refused:
        market.claim(net.signer("provider"), job_id)
    assert "above the fee cap" in str(refused.value) and "nothing was sent" in str(refused.value)
    assert "--max-fee-gwei" in (refused.value.hint or "")
    assert refused.value.base_fee > cap
    assert net.market.chain.w3.eth.get_transaction_count(provider, "pending") == nonce, "nothing reached the mempool"


@pytest.mark.chain
def test_a_command_under_a_cap_below_the_base_fee_fails_in_one_line_naming_the_setting(fee_market: Net, tmp_path: Path) -> None:
    net = fee_market
    cap = 2 * base_fee(net)
    net.rpc("anvil_setNextBlockBaseFeePerGas", [hex(5 * cap)])
    net.rpc("evm_mine")
    provider = to_checksum_address(net.signer("provider").address)
    nonce = net.market.chain.w3.eth.get_transaction_count(provider, "pending")
    args = ("provider", "stake", "1", "--account", "provider", "--json")
    done = ngx_zk(net, tmp_path, *args, NGX_ZK_MAX_FEE_GWEI=gwei(cap))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stdout + done.stderr
    error = json.loads(done.stdout)
    assert error["code"] == "transaction" and f"above the fee cap of {gwei(cap)} gwei" in error["error"], error
    assert "nothing was sent" in error["error"] and "NGX_ZK_MAX_FEE_GWEI" in error["hint"], error
    assert net.market.chain.w3.eth.get_transaction_count(provider, "pending") == nonce, "nothing reached the mempool"


@pytest.mark.chain
def test_the_tip_cap_bounds_the_tip_of_every_version(fee_market: Net) -> None:
    net = fee_market
    net.rpc("evm_setAutomine", [True])
    job_id = post(net)
    net.rpc("evm_setAutomine", [False])
    tip_cap = max(1, int(net.market.chain.w3.eth.max_priority_fee) // 2)
    market = market_on(net, replace_after_s=0.2, max_replacements=3, max_priority_fee_per_gas=tip_cap)
    sent: list[dict[str, Any]] = []
    claiming = background(
        lambda: market.claim(
            net.signer("provider"),
            job_id,
            on_sent=lambda h: sent.append(dict(market.chain.w3.eth.get_transaction(h))),  # type: ignore[arg-type]
        )
    )
    until(lambda: len(sent) >= 2, what="a replacement")
    net.rpc("evm_mine")
    claiming.result(timeout=30)
    assert all(int(s["maxPriorityFeePerGas"]) <= tip_cap for s in sent), [s["maxPriorityFeePerGas"] for s in sent]


@pytest.mark.chain
def test_the_modelled_claim_and_decline_gas_cover_real_ones(chain_snapshot: Net) -> None:
    net = chain_snapshot
    job_id = post(net)
    provider = net.signer("provider")
    claimed = net.market.claim(provider, job_id)
    declined = net.market.decline(provider, job_id, DeclineReason.OTHER)
    assert claimed.gas_used <= CLAIM_GAS and declined.gas_used <= DECLINE_GAS, (claimed.gas_used, declined.gas_used)
    assert claimed.gas_used * 2 > CLAIM_GAS and declined.gas_used * 2 > DECLINE_GAS, "head-room, not a guess"


@pytest.mark.chain
def test_the_worker_waits_under_its_fee_cap_logs_it_once_then_claims_when_the_base_fee_falls(
    chain_snapshot: Net, tmp_path: Path
) -> None:
    net = chain_snapshot
    base = base_fee(net)
    cap = 4 * base + int(net.market.chain.w3.eth.max_priority_fee)
    net.rpc("anvil_setNextBlockBaseFeePerGas", [hex(50 * cap)])
    net.rpc("evm_mine")  # blocks now ask 50x the cap, falling by 1/8 per empty block
    worker = start_worker(net, tmp_path / "worker", "--max-jobs", "1", "--max-fee-gwei", gwei(cap))
    log = tmp_path / "worker" / "worker.log"
    try:
        consumer = background(
            lambda: ngx_zk(
                net,
                tmp_path / "consumer",
                "prove-job",
                "mlp",
                "--input",
                str(MODELS / "mlp" / "input.json"),
                "--account",
                "consumer",
                "--price",
                "10",
                "--json",
                "--timeout",
                "120",
            )
        )
        until(lambda: log.is_file() and "fees.above_cap" in log.read_text(), timeout=60, what="the worker to see the cap")
        time.sleep(5)  # the worker keeps waiting: no claim, one log line
        events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        waits = [e for e in events if e.get("event") == "fees.above_cap"]
        assert len(waits) == 1, waits
        assert float(waits[0]["base_fee_gwei"]) > float(waits[0]["cap_gwei"]) == float(gwei(cap))
        assert not any(e.get("event") == "job.claimed" for e in events)
        job_id = net.market.job_count()
        assert net.market.job(job_id).status is JobStatus.OPEN
        net.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base)])
        net.rpc("evm_mine")  # the spike is over
        done = consumer.result(timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        net.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base)])
    claimed = net.market.logs(JobClaimed, 0, job_id=job_id)
    assert len(claimed) == 1
    tx = net.market.chain.w3.eth.get_transaction(claimed[0].meta.tx_hash)  # type: ignore[arg-type]
    assert int(tx["maxFeePerGas"]) <= cap, "the claim offered no more than the cap"


# --- the L1 data fee (OP stack) -----------------------------------------------------------------------------
def install_op_predeploys(net: Net) -> Any:
    """The real GasPriceOracle and L1Block runtime code at their predeploy addresses; returns L1Block's contract."""
    for name, address in (("GasPriceOracle", GAS_PRICE_ORACLE), ("L1Block", L1_BLOCK)):
        artifact = json.loads((BEDROCK / f"{name}.sol" / f"{name}.json").read_text())
        net.rpc("anvil_setCode", [address, artifact["deployedBytecode"]["object"]])
    abi = json.loads((BEDROCK / "L1Block.sol" / "L1Block.json").read_text())["abi"]
    net.rpc("anvil_impersonateAccount", [DEPOSITOR])
    net.rpc("anvil_setBalance", [DEPOSITOR, hex(10**18)])
    return net.market.chain.w3.eth.contract(address=to_checksum_address(L1_BLOCK), abi=abi)


def set_l1_block(net: Net, l1_block: Any, *, basefee: int, overhead: int = 188, scalar: int = 684_000) -> None:
    """What an OP node does at every L2 block: the depositor account writes the L1 block's values."""
    tx = l1_block.functions.setL1BlockValues(1, 1, basefee, b"\x01" * 32, 0, b"\x00" * 32, overhead, scalar).transact(
        {"from": to_checksum_address(DEPOSITOR)}
    )
    assert net.market.chain.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1


def bedrock_l1_fee(size: int, *, basefee: int, overhead: int, scalar: int) -> int:
    """The Bedrock formula from the OP specs, for bytes with no zero byte (16 gas each) plus the signature's 68."""
    return (16 * size + 68 * 16 + overhead) * basefee * scalar // 10**6


@pytest.mark.chain
def test_the_l1_data_fee_comes_from_the_gas_price_oracle_and_raises_the_floor(chain_snapshot: Net) -> None:
    net = chain_snapshot
    chain = net.market.chain
    plain = FeeModel(chain, cache_s=0)
    assert not plain.op_stack and plain.l1_fee(3_000) == 0, "no predeploy: no L1 data fee"
    policy = ClaimPolicy(min_price=1 * NGX, fee_model=FeeModel(chain, cache_s=0), ngx_per_eth=2_000 * NGX)
    l2_only = policy.floor(net.model_id, net.circuit)

    l1_block = install_op_predeploys(net)
    try:
        floors, fees = [], []
        for l1_basefee in (1 * GWEI, 30 * GWEI, 300 * GWEI):
            set_l1_block(net, l1_block, basefee=l1_basefee)
            model = FeeModel(chain, cache_s=0)
            assert model.op_stack
            size = submit_shape(2_912, net.circuit.manifest.instance_count).size
            fees.append(model.l1_fee(size))
            assert fees[-1] == bedrock_l1_fee(size, basefee=l1_basefee, overhead=188, scalar=684_000)
            floors.append(
                ClaimPolicy(min_price=1 * NGX, fee_model=model, ngx_per_eth=2_000 * NGX).floor(net.model_id, net.circuit)
            )
    finally:
        net.rpc("anvil_stopImpersonatingAccount", [DEPOSITOR])
    assert fees[0] < fees[1] < fees[2]
    assert l2_only < floors[0] < floors[1] < floors[2], (l2_only, floors)
    # the floor's rise is the L1 fee of the job's two transactions, converted at 2,000 NGX per ETH
    assert floors[2] - floors[1] >= (fees[2] - fees[1]) * 2_000


@pytest.mark.chain
def test_a_measured_submission_prices_the_next_job_of_its_model(chain_snapshot: Net) -> None:
    net = chain_snapshot
    policy = ClaimPolicy(fee_model=FeeModel(net.market.chain, cache_s=0), ngx_per_eth=3_000 * NGX)
    modelled = policy.tx_cost(net.model_id, net.circuit)
    assert modelled > 0
    policy.submitted(net.model_id, gas=2_000_000, proof_bytes=2_912)
    assert policy.tx_cost(net.model_id, net.circuit) > modelled, "a costlier measured submission raises the floor"
    assert ClaimPolicy(fee_model=policy.fee_model).tx_cost(net.model_id, net.circuit) == 0, "no NGX rate: unpriced"


# --- pure parts ---------------------------------------------------------------------------------------------
def test_a_fee_cap_wait_is_logged_once_per_episode_not_every_round() -> None:
    now = [0.0]
    notice = CapNotice(remind_s=300, quiet_s=30, clock=lambda: now[0])
    due = []
    for _ in range(100):  # a refusal every 2 s for 200 s
        due.append(notice.due())
        now[0] += 2
    assert due.count(True) == 1
    now[0] += 60  # fees were fine for a minute: a new spike is news
    assert notice.due()
    for _ in range(200):
        now[0] += 2
        notice.due()
    assert notice._logged is not None and now[0] - notice._logged < 300, "a long wait is recalled every remind_s"


def test_a_give_back_is_chosen_only_when_it_costs_less_than_the_slash() -> None:
    policy = ClaimPolicy(slash_bps=5_000, decline_slash_bps=1_000)
    assert policy.give_back_saves(100 * NGX)  # 10 NGX to decline vs 50 NGX slashed
    assert not ClaimPolicy(slash_bps=1_000, decline_slash_bps=1_000).give_back_saves(100 * NGX)
    assert ClaimPolicy(slash_bps=1_000, decline_slash_bps=1_000).give_back_saves(100 * NGX, free=True)


@pytest.mark.parametrize("raw", ["abc", "0", "-3", "inf", "nan"])
def test_a_bad_fee_cap_in_the_environment_is_named(raw: str, tmp_path: Path) -> None:
    import ngx_zk as ngx

    with pytest.raises(ConfigError) as bad:
        ngx.load_settings({"NGX_ZK_HOME": str(tmp_path), "NGX_ZK_MAX_FEE_GWEI": raw})
    assert "NGX_ZK_MAX_FEE_GWEI" in str(bad.value)


def test_a_fee_cap_in_the_environment_is_read_in_wei(tmp_path: Path) -> None:
    import ngx_zk as ngx

    settings = ngx.load_settings({"NGX_ZK_HOME": str(tmp_path), "NGX_ZK_MAX_FEE_GWEI": "2.5"})
    assert settings.max_fee_per_gas == 2_500_000_000 and settings.max_priority_fee_per_gas is None


def test_sample_bytes_have_no_zero_byte() -> None:
    assert len(sample_bytes(5_000)) == 5_000 and 0 not in sample_bytes(5_000)
