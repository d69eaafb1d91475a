"""The marketplace on a chain that mines on a timer (``ngx-zk devnet up --block-time``), as a public chain does.

Every transaction waits for the next block, deadlines pass by the blocks' clock, and nothing may mine a
block of its own: the flows must hold all the same.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import ngx_zk as ngx
from ngx_zk import crypto
from ngx_zk.artifacts import Circuit
from ngx_zk.chain import devnet
from ngx_zk.chain.tx import Chain
from ngx_zk.chain.types import JobSettled
from ngx_zk.cli import main
from ngx_zk.publish import publish

from .chain_fixtures import NGX, Net, free_port, ngx_zk, start_worker
from .paths import MODELS
from .rpc_fakes import FlakyRpcProxyFake

pytestmark = pytest.mark.chain


def timed_net(home: Path, cache_dir: Path, circuits: list[Circuit], block_time: float) -> Iterator[tuple[Net, int]]:
    """A devnet started with ``block_time``, the marketplace deployed and ``circuits`` published on it, the
    provider registered (with a data-plane endpoint on the port yielded) and staked. The setup runs on
    instant mining (anvil's ``evm_setAutomine``, test-only) to keep it short; the tests run on the timer."""
    settings = ngx.load_settings({"NGX_ZK_HOME": str(home), "NGX_ZK_CACHE_DIR": str(cache_dir)})
    status = devnet.up(settings, port=0, fresh=True, block_time=block_time)
    try:
        chain = Chain([status.url], expected_chain_id=devnet.DEV_CHAIN_ID)
        rpc = chain.w3.provider.make_request
        rpc("evm_setAutomine", [True])  # type: ignore[arg-type]
        market = devnet.deploy_dev(settings, chain, fund=("consumer", "provider"))
        model_ids = []
        for circuit in circuits:
            shutil.copytree(circuit.path, settings.circuits_dir / circuit.name)
            local = Circuit.load(settings.circuits_dir / circuit.name)
            model_ids.append(publish(settings, market, devnet.dev_signer(settings, "deployer"), local, royalty_bps=100).model_id)
        port = free_port()
        signer = devnet.dev_signer(settings, "provider")
        market.register_provider(
            signer, crypto.public_bytes(crypto.derive_key(signer.encryption_key_material())), f"http://127.0.0.1:{port}"
        )
        market.stake(signer, 5_000 * NGX)
        rpc("evm_setIntervalMining", [block_time])  # type: ignore[arg-type]
        assert devnet.mining_interval(chain) == block_time
        local_mlp = Circuit.load(settings.circuits_dir / circuits[0].name)
        yield Net(home, status.url, settings, market, local_mlp, model_ids[0]), port
    finally:
        devnet.down(settings)


@pytest.fixture(scope="module")
def net_1s(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, mlp_circuit: Circuit) -> Iterator[tuple[Net, int]]:
    yield from timed_net(tmp_path_factory.mktemp("net-1s"), cache_dir, [mlp_circuit], 1)


def prove_job(net: Net, state: Path, *args: str) -> dict[str, object]:
    done = ngx_zk(net, state, "prove-job", "mlp", "--account", "consumer", "--json", "--timeout", "150", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(json.loads(done.stdout))


def audit(net: Net, state: Path, job_id: object, model: str = "mlp") -> None:
    done = ngx_zk(net, state, "verify", "--job", str(job_id), "--model", model, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["valid"] is True


def test_devnet_up_block_time_mines_on_a_timer_and_says_so(net_1s: tuple[Net, int], monkeypatch: pytest.MonkeyPatch) -> None:
    net, _ = net_1s
    chain = net.market.chain
    first = chain.block_number()
    deadline = time.monotonic() + 10
    while chain.block_number() < first + 2:  # no transaction sent: only the timer mines
        assert time.monotonic() < deadline, "no block within 10 s on a 1 s block time"
        time.sleep(0.2)

    monkeypatch.setenv("NGX_ZK_HOME", str(net.home))
    shown = CliRunner().invoke(main, ["devnet", "status", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["block_time"] == 1
    assert "a block every 1s" in CliRunner().invoke(main, ["devnet", "status"]).output
    other = CliRunner().invoke(main, ["devnet", "up", "--block-time", "3"])
    assert other.exit_code == 1 and "a block every 1s, not a block every 3s" in other.output
    assert "Traceback" not in other.output
    refused = CliRunner().invoke(main, ["devnet", "up", "--block-time", "0"])
    assert refused.exit_code == 2 and "--block-time" in refused.output


def test_a_passed_deadline_waits_for_the_timer_instead_of_mining_a_block(net_1s: tuple[Net, int]) -> None:
    net, _ = net_1s
    with FlakyRpcProxyFake(net.url) as proxy:
        chain = Chain([proxy.url], expected_chain_id=devnet.DEV_CHAIN_ID)
        for _ in range(20):  # anvil's clock jumps 30 s ahead; the latest block has not caught up yet (a loaded
            # machine may see a timer block land between the jump and the read: try again)
            net.rpc("evm_increaseTime", [30])
            deadline = devnet.clock(chain)
            if chain.timestamp() < deadline:
                break
        assert chain.timestamp() < deadline
        assert devnet.catch_up(chain, deadline) >= deadline
        assert proxy.count("evm_mine") == 0, "a chain that mines on a timer got a block of ours"


def test_a_plain_job_settles_and_audits_on_one_second_blocks(net_1s: tuple[Net, int], tmp_path: Path) -> None:
    net, _ = net_1s
    m = net.market
    start = m.chain.block_number()
    worker = start_worker(net, tmp_path / "worker", "--max-jobs", "1")
    try:
        result = prove_job(net, tmp_path / "consumer", "--input", str(MODELS / "mlp" / "input.json"), "--price", "10")
    finally:
        assert worker.wait(timeout=150) == 0, worker.stderr.read() if worker.stderr else ""
    assert result["status"] == "Settled" and result["proof_valid"] is True
    assert result["provider"] == devnet.dev_address("provider")
    job_id = int(str(result["job_id"]))
    assert len(m.logs(JobSettled, start, job_id=job_id)) == 1
    audit(net, tmp_path / "auditor", job_id)


@pytest.fixture(scope="module")
def net_2s(
    tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, mlp_circuit: Circuit, session_settings: ngx.Settings
) -> Iterator[tuple[Net, int]]:
    batch = ngx.build_circuit(MODELS / "mlp", session_settings, batch=4)
    yield from timed_net(tmp_path_factory.mktemp("net-2s"), cache_dir, [mlp_circuit, batch], 2)


@pytest.mark.slow
def test_offered_auction_and_batch_jobs_settle_on_two_second_blocks(net_2s: tuple[Net, int], tmp_path: Path) -> None:
    net, port = net_2s
    provider = devnet.dev_address("provider")
    worker = start_worker(
        net,
        tmp_path / "worker",
        "--model",
        "mlp_b4",
        "--max-jobs",
        "3",
        "--min-price",
        "5",
        "--listen",
        f"127.0.0.1:{port}",
    )
    try:
        one = MODELS / "mlp" / "input.json"
        offered = prove_job(net, tmp_path / "c1", "--input", str(one), "--price", "10", "--provider", provider)
        auction = prove_job(net, tmp_path / "c2", "--input", str(one), "--min-price", "2", "--max-price", "10", "--ramp", "30")
        batch = prove_job(net, tmp_path / "c3", "--inputs", str(MODELS / "mlp" / "batch4.jsonl"), "--price", "20")
    finally:
        assert worker.wait(timeout=150) == 0, worker.stderr.read() if worker.stderr else ""
    for result in (offered, auction, batch):
        assert result["status"] == "Settled" and result["proof_valid"] is True and result["provider"] == provider
    assert batch["batch"] == 4
    paid = net.market.job(int(str(auction["job_id"]))).price
    assert 5 * NGX <= paid < 10 * NGX, "the worker claimed the auction once it reached its floor, not at the top"
    audit(net, tmp_path / "a1", offered["job_id"])
    audit(net, tmp_path / "a2", auction["job_id"])
    audit(net, tmp_path / "a3", batch["job_id"], "mlp_b4")


@pytest.fixture(scope="module")
def net_12s(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, mlp_circuit: Circuit) -> Iterator[tuple[Net, int]]:
    yield from timed_net(tmp_path_factory.mktemp("net-12s"), cache_dir, [mlp_circuit], 12)


@pytest.mark.slow
def test_a_plain_job_settles_and_audits_on_twelve_second_blocks(net_12s: tuple[Net, int], tmp_path: Path) -> None:
    """L1's cadence: every step of the job (post, claim, input, settlement) waits for a 12 s block."""
    net, _ = net_12s
    m = net.market
    start = m.chain.block_number()
    worker = start_worker(net, tmp_path / "worker", "--max-jobs", "1")
    try:
        result = prove_job(net, tmp_path / "consumer", "--input", str(MODELS / "mlp" / "input.json"), "--price", "10")
    finally:
        assert worker.wait(timeout=150) == 0, worker.stderr.read() if worker.stderr else ""
    assert result["status"] == "Settled" and result["proof_valid"] is True
    job_id = int(str(result["job_id"]))
    (settled,) = m.logs(JobSettled, start, job_id=job_id)
    assert settled.meta.block_number - start >= 3, "post, claim and settlement each took a block of their own"
    audit(net, tmp_path / "auditor", job_id)
