"""A second EVM implementation: the marketplace deployed and one job run end to end on Hardhat's node (EDR).

Hardhat's node has none of anvil's ``anvil_*`` methods and words its errors its own way; nothing outside the
tests may depend on anvil (the devnet helpers fall back where they ask anvil something).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import ngx_zk as ngx
from ngx_zk import crypto
from ngx_zk.artifacts import Circuit
from ngx_zk.chain import devnet
from ngx_zk.chain.tx import Chain
from ngx_zk.chain.types import JobSettled
from ngx_zk.errors import RpcError
from ngx_zk.publish import publish
from ngx_zk.tools import node_tool

from .chain_fixtures import NGX, Net, free_port, ngx_zk, run_job
from .paths import REPO

pytestmark = pytest.mark.chain
CONFIG = REPO / "tests" / "hardhat" / "hardhat.config.js"
START_S = 60.0


@pytest.fixture(scope="module")
def hardhat(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, mlp_circuit: Circuit) -> Iterator[Net]:
    """Hardhat's node on a free port, the marketplace deployed with the dev accounts, mlp published, the provider staked."""
    try:
        binary = node_tool("hardhat")
    except ngx.NgxZkError:
        pytest.skip("hardhat is not installed (make setup installs the pinned npm toolchain)")
    home = tmp_path_factory.mktemp("hardhat-home")
    port = free_port()
    env = {**os.environ, "HARDHAT_TMP": str(home / "hardhat"), "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    log = (home / "node.log").open("wb")
    node = subprocess.Popen(
        [str(binary), "--config", str(CONFIG), "node", "--hostname", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=REPO,  # Hardhat runs only from inside the project that installs it
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while True:
            try:
                chain = Chain([url], expected_chain_id=devnet.DEV_CHAIN_ID, tries=1)
                break
            except RpcError:
                assert node.poll() is None, (home / "node.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "hardhat node did not answer"
                time.sleep(0.2)
        settings = ngx.load_settings({"NGX_ZK_HOME": str(home), "NGX_ZK_CACHE_DIR": str(cache_dir)})
        devnet.write_dev_keystores(settings)
        market = devnet.deploy_dev(settings, chain, fund=("consumer", "provider"))
        shutil.copytree(mlp_circuit.path, settings.circuits_dir / mlp_circuit.name)
        circuit = Circuit.load(settings.circuits_dir / mlp_circuit.name)
        published = publish(settings, market, devnet.dev_signer(settings, "deployer"), circuit, royalty_bps=100)
        signer = devnet.dev_signer(settings, "provider")
        market.register_provider(signer, crypto.public_bytes(crypto.derive_key(signer.encryption_key_material())), "")
        market.stake(signer, 5_000 * NGX)
        yield Net(home, url, settings, market, circuit, published.model_id)
    finally:
        node.terminate()
        try:
            node.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
        log.close()


def test_the_devnet_helpers_fall_back_where_hardhat_lacks_anvils_methods(hardhat: Net) -> None:
    chain = hardhat.market.chain
    assert devnet.mining_interval(chain) is None, "no anvil_getIntervalMining on Hardhat: a block per transaction"
    hardhat.rpc("evm_increaseTime", [60])
    deadline = devnet.clock(chain)
    assert devnet.catch_up(chain, deadline) >= deadline, "a passed deadline moves Hardhat's chain on too"


def test_a_plain_job_settles_and_audits_on_hardhats_node(hardhat: Net, tmp_path: Path) -> None:
    net, m = hardhat, hardhat.market
    start = m.chain.block_number()
    result = run_job(net, tmp_path, timeout=150, worker_exits_cleanly=True)
    assert result["status"] == "Settled" and result["proof_valid"] is True
    assert result["provider"] == devnet.dev_address("provider")
    assert len(m.logs(JobSettled, start, job_id=int(result["job_id"]))) == 1
    audit = ngx_zk(net, tmp_path / "auditor", "verify", "--job", str(result["job_id"]), "--model", "mlp", "--json")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(audit.stdout)["valid"] is True
