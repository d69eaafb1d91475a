"""README "Running on a public L2" runs as written, against a local node with the public-chain profile.

The profile: anvil with chain id 4242 (not the devnet's 31337, so every dev-chain allowance is off) mining a
block every 2 s; an encrypted keystore per role, made by the README's own ``ngx-zk account new``; role
addresses named at deploy; no ``--account``, no ``devnet up``. The test plays the three things the README
leaves to the reader: ``NGX_ZK_RPC_URL`` (the local node), ``NGX_ZK_KEYSTORE_PASSWORD_FILE`` (a file
here), and ETH for gas (before each block, every keystore under ``keys/`` holding less than 1 ETH gets 10
from the node's funded account: real transfers, as a bridge would make).

The ceremony SRS cannot be downloaded here. ``CEREMONY_SRS`` names a *test* SRS file that
``tests/public_l2_fake_ceremony/sitecustomize.py`` (a FAKE, on ``PYTHONPATH`` for the commands this test
runs only) adds to EZKL's pinned ceremony hashes; everything else (chain, contracts, proofs, the refusal
of a test-SRS circuit the README shows) is real.

Blocks marked ``<!-- test: public-l2 -->`` run in README order, each as one bash script in one folder
(the working directory and ``NGX_ZK_HOME``, ``models`` linked to the repository's). A console block's
commands run one by one: a command with an ``Error:`` line shown under it must fail, any other must
succeed, and every line shown under a command must be in what it printed (``...`` stands for any text).
What a block leaves in the background (the worker) runs on into the next blocks and is stopped at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

import ngx_zk as ngx
from ngx_zk import srs
from ngx_zk.chain import deployment, devnet
from ngx_zk.chain.market import Marketplace
from ngx_zk.chain.tx import Chain
from ngx_zk.chain.types import JobStatus

from .chain_fixtures import free_port
from .paths import REPO
from .test_readme_blocks import Block, readme_blocks

pytestmark = [pytest.mark.chain, pytest.mark.slow]

CHAIN_ID = 4242
BLOCK_TIME_S = 2
FAKE_CEREMONY = REPO / "tests" / "public_l2_fake_ceremony"
PASSWORD = "correct horse battery staple"
BLOCK_TIMEOUT_S = 420
ETH = 10**18


@dataclass
class PublicNode:
    """anvil with the public-chain profile, and the funded account the test takes gas money from."""

    url: str
    proc: subprocess.Popen[bytes]
    w3: Web3

    def fund_keystores(self, folder: Path) -> None:
        """10 ETH to every keystore in ``folder`` holding less than 1 ETH (the reader's bridge), mined before returning."""
        Account.enable_unaudited_hdwallet_features()
        faucet = Account.from_mnemonic(devnet.DEV_MNEMONIC)
        nonce = int(self.w3.eth.get_transaction_count(faucet.address))
        sent = []
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            to = Web3.to_checksum_address(json.loads(path.read_text())["address"])
            if self.w3.eth.get_balance(to) >= ETH:
                continue
            tx = {"to": to, "value": 10 * ETH, "gas": 21_000, "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9}
            signed = faucet.sign_transaction({**tx, "nonce": nonce, "chainId": CHAIN_ID, "type": 2})
            sent.append(self.w3.eth.send_raw_transaction(signed.raw_transaction))
            nonce += 1
        for tx_hash in sent:
            assert self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)["status"] == 1


@pytest.fixture
def public_node(tmp_path: Path) -> Iterator[PublicNode]:
    settings = ngx.load_settings({"NGX_ZK_HOME": str(tmp_path)})
    port = free_port()
    log = (tmp_path / "anvil.log").open("wb")
    cmd = [str(devnet.anvil_binary(settings)), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(CHAIN_ID)]
    proc = subprocess.Popen([*cmd, "--block-time", str(BLOCK_TIME_S)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
    try:
        deadline = time.monotonic() + 30
        while not _answers(w3):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "anvil.log").read_text()
            time.sleep(0.1)
        assert w3.eth.chain_id == CHAIN_ID
        yield PublicNode(url, proc, w3)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def _answers(w3: Web3) -> bool:
    try:
        return bool(w3.is_connected())
    except OSError:
        return False


def public_blocks() -> list[Block]:
    return [b for b in readme_blocks() if b.public_l2]


def script(block: Block, steps: Path) -> str:
    """The block as one bash script that records each command's output and exit status, and stops at the
    first command whose outcome is not the one the README shows."""
    if block.lang != "console":
        return "set -e\n" + block.commands()
    lines = []
    for n, (command, shown) in enumerate(block.transcript()):
        must_fail = any(s.startswith("Error:") for s in shown)
        out, rc = steps / f"{block.line}-{n}.out", steps / f"{block.line}-{n}.rc"
        lines.append(f'{{ {command}\n}} > "{out}" 2>&1; rc=$?; echo $rc > "{rc}"')
        lines.append(f"[ $rc {'-ne' if must_fail else '-eq'} 0 ] || exit 90")
    return "\n".join(lines)


def shows(expected: str, printed: str) -> bool:
    """``expected`` (a README line, ``...`` for any text) appears in ``printed``, whitespace runs folded."""
    fold = " ".join(printed.split())
    parts = [re.escape(" ".join(p.split())) for p in expected.split("...")]
    return re.search(".*?".join(parts), fold) is not None


def test_the_public_l2_section_runs_as_written(tmp_path: Path, public_node: PublicNode) -> None:
    blocks = public_blocks()
    assert len(blocks) >= 6, "README 'Running on a public L2' has its blocks marked <!-- test: public-l2 -->"
    home, steps, cache = tmp_path / "reader", tmp_path / "steps", tmp_path / "cache"
    for folder in (home, steps, cache):
        folder.mkdir()
    (home / "models").symlink_to(REPO / "models")
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    settings = ngx.load_settings({"NGX_ZK_HOME": str(home), "NGX_ZK_CACHE_DIR": str(cache)})
    fake_ceremony = tmp_path / "srs" / "kzg10.srs"  # mlp builds at logrows 10
    fake_ceremony.parent.mkdir()
    shutil.copyfile(srs.test_srs(settings, 10)[0], fake_ceremony)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NGX_ZK_", "VIRTUAL_ENV", "PYTHONPATH"))}
    env.update(
        NGX_ZK_HOME=str(home),
        NGX_ZK_CACHE_DIR=str(cache),
        NGX_ZK_RPC_URL=public_node.url,
        NGX_ZK_KEYSTORE_PASSWORD_FILE=str(password_file),
        CEREMONY_SRS=str(fake_ceremony),
        NGX_ZK_TEST_FAKE_CEREMONY_SRS=str(fake_ceremony),
        PYTHONPATH=str(FAKE_CEREMONY),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    groups: list[int] = []
    try:
        for block in blocks:
            public_node.fund_keystores(home / "keys")
            proc = subprocess.Popen(
                ["bash", "-c", script(block, steps)], cwd=home, env=env, text=True, start_new_session=True,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )  # fmt: skip
            groups.append(proc.pid)
            try:
                printed, _ = proc.communicate(timeout=BLOCK_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail(f"README.md block at line {block.line} did not finish within {BLOCK_TIMEOUT_S}s")
            for n, (command, shown) in enumerate(block.transcript() if block.lang == "console" else []):
                out, rc = steps / f"{block.line}-{n}.out", steps / f"{block.line}-{n}.rc"
                assert rc.is_file(), f"README.md line {block.line}: stopped before {command!r}"
                said = out.read_text()
                status = int(rc.read_text())
                must_fail = any(s.startswith("Error:") for s in shown)
                assert (status != 0) == must_fail, f"README.md block at line {block.line}: {command!r} exited {status}:\n{said}"
                for line in shown:
                    assert shows(line, said), f"README.md block at line {block.line}: {command!r} did not print {line!r}:\n{said}"
            assert proc.returncode == 0, f"README.md block at line {block.line} failed:\n{printed}"
        _check_the_outcome(home, cache, steps, public_node)
        _check_the_dev_allowances_are_off(home, env)
    finally:
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)


def _check_the_dev_allowances_are_off(home: Path, env: dict[str, str]) -> None:
    """What the README says is refused off the devnet: a loopback endpoint, a dev account by role."""
    for args, refusal in (
        (
            ["provider", "register", "--keystore", "keys/provider.json", "--endpoint", "http://127.0.0.1:7070"],
            "only the local dev chain",
        ),
        (["provider", "status", "--account", "provider"], "names a dev-chain account; this is chain 4242"),
    ):
        done = subprocess.run(["ngx-zk", *args], cwd=home, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 1 and refusal in done.stderr, done.stdout + done.stderr


def _check_the_outcome(home: Path, cache: Path, steps: Path, node: PublicNode) -> None:
    """What the README claims, read from the chain: roles as named, the job settled and paid, no key printed."""
    settings = ngx.load_settings({"NGX_ZK_HOME": str(home), "NGX_ZK_CACHE_DIR": str(cache)})
    chain = Chain([node.url], expected_chain_id=CHAIN_ID)
    deployed = deployment.load(settings, CHAIN_ID)
    assert not deployed.dev
    market = Marketplace(chain, deployed)
    keys = {p.stem: json.loads(p.read_text()) for p in (home / "keys").glob("*.json")}
    address = {role: Web3.to_checksum_address(k["address"]) for role, k in keys.items()}
    config = market.config.functions
    assert chain.call(config.treasury()) == address["treasury"]
    assert chain.call(config.guardian()) == address["guardian"]
    assert chain.call(config.verifierCurator()) == address["curator"]
    assert Web3.to_checksum_address(deployed.deployer) == address["deployer"]
    job = market.job(1)
    assert job.status is JobStatus.SETTLED and job.provider is not None
    assert Web3.to_checksum_address(job.provider) == address["provider"]
    assert market.claimable(address["provider"]) > 0, "the provider was paid (pull payment)"
    assert market.model(1).insecure_test_srs is False
    said = "".join(p.read_text(errors="replace") for p in steps.glob("*.out"))
    said += (home / "worker.log").read_text(errors="replace")
    for role, keystore in keys.items():
        secret = Account.decrypt(keystore, PASSWORD).hex().removeprefix("0x")
        assert secret not in said.lower(), f"the {role} key was printed"
    assert PASSWORD not in said
