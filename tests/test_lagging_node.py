"""A provider's node a few blocks behind, and a WebSocket that drops mid-stream (issue 25).

Through :class:`tests.rpc_provider_fake.RpcProviderFake` with ``lag_blocks`` (``eth_blockNumber`` and reads at
``latest`` served k blocks behind the head, receipts from the head) and
:class:`tests.rpc_provider_fake.WebSocketDropFake` (the newHeads socket cut after a few heads): the subscription
is made again, and a worker, a consumer and the explorer's indexer complete one job on 1 s blocks with one
claim, one settlement and the index caught up.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from eth_utils.abi import function_abi_to_4byte_selector
from web3.exceptions import BlockNotFound

from ngx_zk.artifacts import Circuit
from ngx_zk.chain import devnet
from ngx_zk.chain.heads import NewHeads
from ngx_zk.chain.market import Marketplace
from ngx_zk.chain.tx import Chain
from ngx_zk.chain.types import JobClaimed, JobSettled
from ngx_zk.explorer.db import Database
from ngx_zk.explorer.indexer import Indexer

from .chain_fixtures import Net, prove_mlp, start_worker
from .rpc_provider_fake import ProviderLimits, RpcProviderFake, WebSocketDropFake
from .test_public_network import timed_net

pytestmark = pytest.mark.chain
LAG = 3


def ws(url: str) -> str:
    return "ws://" + url.removeprefix("http://")


def test_a_lagging_node_reads_behind_the_head_and_serves_receipts_from_it(net: Net) -> None:
    m = net.market
    net.rpc("evm_mine")
    with RpcProviderFake(net.url, ProviderLimits(log_range=None, rate_per_s=None, lag_blocks=LAG)) as provider:
        behind = Chain([provider.url], expected_chain_id=devnet.DEV_CHAIN_ID)
        head = m.chain.block_number()
        assert behind.block_number() == head - LAG
        assert behind.w3.eth.get_block("latest")["number"] == head - LAG
        with pytest.raises(BlockNotFound):  # a block past the lagging head
            behind.w3.eth.get_block(head)
        sent = m.transfer(devnet.dev_signer(net.settings, "ecosystem"), devnet.dev_address("consumer"), 1)
        assert behind.receipt(sent.tx) is not None, "the receipt comes from the backend at the head"
        assert behind.block_number() == m.chain.block_number() - LAG
    assert provider.refused["lagged"] >= 1


def test_a_dropped_newheads_socket_is_subscribed_again(net: Net) -> None:
    heads = threading.Semaphore(0)
    with WebSocketDropFake(ws(net.url), drop_after=2) as socket_fake, NewHeads(socket_fake.url, heads.release) as sub:
        assert sub.available
        deadline = time.monotonic() + 20
        seen = 0
        while sub.connections < 3 or not sub.available:
            assert time.monotonic() < deadline, f"{sub.connections} subscriptions, {socket_fake.dropped} drops"
            net.rpc("evm_mine")
            seen += heads.acquire(timeout=0.2)
            time.sleep(0.05)
    assert socket_fake.dropped >= 2 and socket_fake.connections >= 3
    assert seen >= 4, "heads kept arriving after each drop"


def test_a_node_without_websocket_is_not_tried_again(net: Net) -> None:
    sub = NewHeads("ws://127.0.0.1:9/", lambda: None)  # nothing listens on the discard port
    time.sleep(1.0)
    assert not sub.available and not sub.ever_up and sub.connections == 0
    sub.close()


@pytest.fixture(scope="module")
def net_1s(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, mlp_circuit: Circuit) -> Iterator[tuple[Net, int]]:
    yield from timed_net(tmp_path_factory.mktemp("net-lag"), cache_dir, [mlp_circuit], 1)


def _calls_to_market(m: Marketplace, first: int, last: int) -> Counter[str]:
    """Mined transactions to the market in blocks ``first..last`` (reverted ones too), by function name."""
    names = {
        function_abi_to_4byte_selector(entry): str(entry.get("name")) for entry in m.market.abi if entry.get("type") == "function"
    }
    hashes = [h.to_0x_hex() for n in range(first, last + 1) for h in m.chain.w3.eth.get_block(n)["transactions"]]  # type: ignore[union-attr]
    calls = Counter[str]()
    for tx in m.chain.transactions(hashes).values():
        if tx.to == m.market.address.lower():
            calls[names.get(tx.input[:4], tx.input[:4].hex())] += 1
    return calls


def test_worker_consumer_and_indexer_complete_a_job_through_a_lagging_node_and_a_dropping_socket(
    net_1s: tuple[Net, int], tmp_path: Path
) -> None:
    net, _ = net_1s
    m = net.market
    start = m.chain.block_number()
    limits = ProviderLimits(log_range=10, rate_per_s=None, lag_blocks=LAG)
    with RpcProviderFake(net.url, limits) as provider, WebSocketDropFake(ws(net.url), drop_after=3) as socket_fake:
        behind = replace(net, url=provider.url)
        worker = start_worker(behind, tmp_path / "worker", "--max-jobs", "1", NGX_ZK_WS_URL=socket_fake.url)
        try:
            done = prove_mlp(behind, tmp_path / "consumer", timeout=150, NGX_ZK_WS_URL=socket_fake.url)
        finally:
            assert worker.wait(timeout=150) == 0, worker.stderr.read() if worker.stderr else ""
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads(done.stdout)
        assert result["status"] == "Settled" and result["proof_valid"] is True
        job_id = int(result["job_id"])

        through = Marketplace(Chain([provider.url], expected_chain_id=devnet.DEV_CHAIN_ID), m.deployment)
        db = Database(str(tmp_path / "explorer.sqlite"))
        indexer = Indexer(through.chain, through.deployment, db, confirmations=0)
        deadline = time.monotonic() + 30
        while True:  # the lagging node shows the settlement LAG blocks late: the index catches up
            indexer.sync()
            row = db.query("SELECT status FROM jobs WHERE job_id = ?", (job_id,))
            if row and row[0]["status"] == "Settled":
                break
            assert time.monotonic() < deadline, f"the index did not catch up: {row and dict(row[0])}"
            time.sleep(0.5)
    assert provider.refused["lagged"] > 0, "reads were served behind the head"
    assert socket_fake.dropped >= 1 and socket_fake.connections >= 2, "the socket dropped and was subscribed again"
    end = m.chain.block_number()
    assert len(m.logs(JobClaimed, start, end, job_id=job_id)) == 1
    assert len(m.logs(JobSettled, start, end, job_id=job_id)) == 1
    calls = _calls_to_market(m, start, end)
    assert calls["claimJob"] == 1, f"the worker claimed once (no claim sent again on a stale read): {calls}"
    assert calls["submitResult"] == 1, f"the worker settled once: {calls}"
    assert set(calls.values()) == {1}, f"no action was taken twice: {calls}"
