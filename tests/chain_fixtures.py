"""Fixtures for tests against a real chain: a session anvil on a free port, the contracts deployed
from the exported artifacts, the mlp example built and published, a staked provider, and a chain
snapshot reverted after each test."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import ngx_zk as ngx
from ngx_zk import crypto
from ngx_zk.artifacts import Circuit
from ngx_zk.chain import deployment, devnet
from ngx_zk.chain.market import Marketplace
from ngx_zk.chain.tx import Chain
from ngx_zk.publish import publish

from .paths import MODELS

NGX = 10**18


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Net:
    """The deployed marketplace and what tests need to drive it."""

    home: Path
    url: str
    settings: ngx.Settings
    market: Marketplace
    circuit: Circuit
    model_id: int

    def env(self, state_dir: Path, **extra: str) -> dict[str, str]:
        """Environment for a separate ngx-zk process (consumer or worker)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("NGX_ZK_")}
        env.update(
            NGX_ZK_HOME=str(self.home),
            NGX_ZK_CACHE_DIR=str(self.settings.cache_dir),
            NGX_ZK_RPC_URL=self.url,
            NGX_ZK_STATE_DIR=str(state_dir),
            **extra,
        )
        return env

    def signer(self, role: str) -> Any:
        return devnet.dev_signer(self.settings, role)

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        return self.market.chain.w3.provider.make_request(method, params or [])  # type: ignore[arg-type]

    def travel(self, seconds: int) -> None:
        self.rpc("evm_increaseTime", [seconds])
        self.rpc("evm_mine")


@pytest.fixture(scope="session")
def net(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[Net]:
    home = tmp_path_factory.mktemp("chain-home")
    settings = ngx.load_settings({"NGX_ZK_HOME": str(home), "NGX_ZK_CACHE_DIR": str(cache_dir)})
    status = devnet.up(settings, port=0, fresh=True)  # anvil picks the port: no race with other processes
    try:
        chain = Chain([status.url], expected_chain_id=devnet.DEV_CHAIN_ID)
        market = devnet.deploy_dev(settings, chain, fund=("consumer", "consumer2", "provider", "provider2"))
        circuit = ngx.build_circuit(MODELS / "mlp", settings)
        published = publish(settings, market, devnet.dev_signer(settings, "deployer"), circuit, royalty_bps=100)
        for role in ("provider", "provider2"):
            signer = devnet.dev_signer(settings, role)
            market.register_provider(signer, crypto.public_bytes(crypto.derive_key(signer.encryption_key_material())), "")
            market.stake(signer, 5_000 * NGX)
        yield Net(home, status.url, settings, market, circuit, published.model_id)
    finally:
        devnet.down(settings)


@pytest.fixture(scope="session")
def mlp_b4(net: Net) -> Circuit:
    """The mlp example's batch circuit for 4 inputs, built once (unpublished: a test publishes it in its snapshot)."""
    return ngx.build_circuit(MODELS / "mlp", net.settings, batch=4)


@pytest.fixture(scope="session")
def private_circuit(net: Net) -> Circuit:
    """The mlp example with hashed outputs (nothing about the output is public but its Poseidon hash), built and
    published once, before any snapshot."""
    circuit = ngx.build_circuit(
        MODELS / "mlp", net.settings, name="mlp_private", visibility=ngx.Visibility("hashed", "fixed", "hashed")
    )
    publish(net.settings, net.market, net.signer("deployer"), circuit)
    return circuit


@pytest.fixture
def chain_snapshot(net: Net) -> Iterator[Net]:
    """Each test starts from the same chain state (evm_snapshot / evm_revert) and the same local
    deployment record: a test that publishes or pulls records model ids that the revert undoes."""
    record = deployment.path_for(net.settings, net.market.chain.chain_id)
    saved = record.read_bytes()
    models = dict(net.market.deployment.models)
    snap = net.rpc("evm_snapshot")["result"]
    yield net
    net.rpc("evm_revert", [snap])
    record.write_bytes(saved)
    net.market.deployment.models.clear()
    net.market.deployment.models.update(models)


def market_on(net: Net, urls: list[str] | None = None, **knobs: Any) -> Marketplace:
    """The deployed marketplace over a fresh connection (``urls``, default the session node's) with the given
    Chain knobs (``tries``, ``timeout_s``, ``receipt_timeout_s``, caps, replacement timing)."""
    chain = Chain(
        urls or [net.url],
        expected_chain_id=devnet.DEV_CHAIN_ID,
        tries=knobs.pop("tries", 3),
        backoff_s=0.01,
        timeout_s=knobs.pop("timeout_s", 5),
    )
    chain.receipt_timeout_s = knobs.pop("receipt_timeout_s", 20)
    for name, value in knobs.items():
        setattr(chain, name, value)
    return Marketplace(chain, net.market.deployment)


def ngx_zk(net: Net, state_dir: Path, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in its own process and wait for it."""
    return subprocess.run(
        [sys.executable, "-m", "ngx_zk", *args],
        env=net.env(state_dir, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(net: Net, state_dir: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    """Start the real CLI in its own process (stdout and stderr piped); :func:`finish` collects it."""
    return subprocess.Popen(
        [sys.executable, "-m", "ngx_zk", *args],
        env=net.env(state_dir, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> dict[str, Any]:
    """Wait for a :func:`start_cli` command run with ``--json``; assert it succeeded and return its JSON."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out + err
    return dict(json.loads(out))


def start_worker(net: Net, state_dir: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ngx_zk",
            "worker",
            "--model",
            "mlp",
            "--account",
            "provider",
            "--poll",
            "0.2",
            "--log-file",
            str(state_dir / "worker.log"),
            *args,
        ],
        env=net.env(state_dir, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def prove_mlp(net: Net, state_dir: Path, *, timeout: int = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """``prove-job --json`` of the mlp example's input at 10 NGX, as the consumer, in its own process."""
    return ngx_zk(
        net,
        state_dir,
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
        str(timeout),
        **env,
    )


def run_job(
    net: Net, tmp_path: Path, *worker_args: str, timeout: int = 120, worker_exits_cleanly: bool = False, **worker_env: str
) -> dict[str, object]:
    """One mlp job as users run it: a worker process taking one job, ``prove-job --json`` as the consumer.
    Returns prove-job's JSON; ``worker_exits_cleanly`` also asserts the worker ended with status 0."""
    worker = start_worker(net, tmp_path / "worker", "--max-jobs", "1", *worker_args, **worker_env)
    try:
        done = prove_mlp(net, tmp_path / "consumer", timeout=timeout)
    finally:
        status = worker.wait(timeout=timeout)
        if worker_exits_cleanly:
            assert status == 0, worker.stderr.read() if worker.stderr else ""
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(json.loads(done.stdout))
