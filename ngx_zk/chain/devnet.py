"""A local development chain: anvil from the pinned npm package, its state kept across restarts.

``up`` starts anvil in the background (pid, log and state files in ``$NGX_ZK_HOME/devnet``) with
``--state`` and ``--state-interval`` so blocks, transactions and contracts survive a restart and a
crash loses at most a second. ``block_time`` makes it mine on a timer (anvil ``--block-time``), like a
public chain, instead of one block per transaction. It also writes throw-away keystores for anvil's well-known dev
accounts, one per role, so every command signs the same way on a dev chain as on a real one.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from eth_account import Account

from ..config import Secret, Settings
from ..errors import ChainError, RpcError
from ..files import write_private
from ..tools import node_tool
from .signer import Signer, from_keystore, write_keystore
from .tx import Chain
from .types import DEV_CHAIN_ID as DEV_CHAIN_ID  # re-exported: the data plane and the CLI import it from here
from .types import is_dev_chain

if TYPE_CHECKING:
    from .market import Marketplace

DEV_MNEMONIC = "test test test test test test test test test test test junk"
"""Anvil's public default mnemonic: its keys are known to everyone, so they guard nothing."""
ROLES = ("deployer", "consumer", "provider", "provider2", "treasury", "guardian", "ecosystem", "team", "auditor", "consumer2")
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DevnetStatus:
    running: bool
    pid: int | None
    url: str
    chain_id: int | None = None
    block: int | None = None
    block_time: float | None = None
    """Seconds between blocks when anvil mines on a timer; None: a block per transaction."""
    discarded_deployment: str | None = None
    """``up(fresh=True)``: where the previous chain's deployments file was moved (its contracts are gone)."""


def anvil_binary(settings: Settings) -> Path:
    """anvil from the project's node_modules (installed by `make setup`), else from PATH."""
    return node_tool("anvil", settings.home)


def _pid_file(settings: Settings) -> Path:
    return settings.devnet_dir / "anvil.pid"


def _running_pid(settings: Settings) -> int | None:
    try:
        data = json.loads(_pid_file(settings).read_text())
        pid = int(data["pid"])
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, KeyError, ProcessLookupError, json.JSONDecodeError):
        return None
    except PermissionError:
        pass
    return pid


def up(settings: Settings, *, port: int = 8545, fresh: bool = False, block_time: float | None = None) -> DevnetStatus:
    """Start the devnet (or report the running one). ``fresh`` discards the saved chain state.

    ``port=0`` lets anvil pick a free port (read back from its log), which no other process can race for.
    ``block_time`` (seconds, > 0): interval mining, a block every so often whether or not transactions wait.
    """
    if block_time is not None and not block_time > 0:
        raise ChainError(f"block time {block_time} is not a positive number of seconds", "pass e.g. --block-time 2")
    if _running_pid(settings) is not None:
        return status(settings)
    settings.devnet_dir.mkdir(parents=True, exist_ok=True)
    state = settings.devnet_dir / "state.json"
    discarded = None
    if fresh:
        state.unlink(missing_ok=True)
        discarded = _discard_deployment(settings)
    log_path = settings.devnet_dir / "anvil.log"
    offset = log_path.stat().st_size if log_path.exists() else 0
    cmd = [
        str(anvil_binary(settings)),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chain-id",
        str(DEV_CHAIN_ID),
        "--mnemonic",
        DEV_MNEMONIC,
        "--accounts",
        str(len(ROLES)),
        "--balance",
        "10000",
        "--state",
        str(state),
        "--state-interval",
        "1",
    ]
    if block_time is not None:
        cmd += ["--block-time", f"{block_time:g}"]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    url = None
    while url is None:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
            raise ChainError(
                f"anvil exited at start (code {proc.returncode}): {' | '.join(tail)}", f"is port {port} already in use?"
            )
        url = _listening_url(log_path, offset)
        if url is None:
            if time.monotonic() > deadline:
                proc.kill()
                raise ChainError(f"anvil did not start listening within {START_TIMEOUT_S:.0f}s (see {log_path})")
            time.sleep(0.05)
    _pid_file(settings).write_text(
        json.dumps({"pid": proc.pid, "port": int(url.rsplit(":", 1)[1]), "url": url, "block_time": block_time})
    )
    while True:
        try:
            Chain([url], expected_chain_id=DEV_CHAIN_ID)
            break
        except RpcError:
            if time.monotonic() > deadline or proc.poll() is not None:
                down(settings)
                raise ChainError(f"anvil did not answer on {url} within {START_TIMEOUT_S:.0f}s") from None
            time.sleep(0.05)
    write_dev_keystores(settings)
    return replace(status(settings), discarded_deployment=str(discarded) if discarded else None)


def _discard_deployment(settings: Settings) -> Path | None:
    """A fresh chain has none of the old contracts: move the dev chain's deployments file (and the model
    ids it records) aside to ``<chain id>.json.old``, so commands say "deploy" rather than use dead addresses."""
    path = settings.deployments_dir / f"{DEV_CHAIN_ID}.json"
    if not path.is_file():
        return None
    old = path.with_name(path.name + ".old")
    os.replace(path, old)
    return old


def _listening_url(log_path: Path, offset: int) -> str | None:
    """The address anvil reports ("Listening on HOST:PORT") in this start's part of its log."""
    with log_path.open("rb") as fh:
        fh.seek(offset)
        for line in fh.read().decode(errors="replace").splitlines():
            if line.startswith("Listening on "):
                return "http://" + line.removeprefix("Listening on ").strip()
    return None


def down(settings: Settings) -> bool:
    """Stop the devnet gracefully (anvil writes its state on exit). False if it was not running."""
    pid = _running_pid(settings)
    if pid is None:
        _pid_file(settings).unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    _pid_file(settings).unlink(missing_ok=True)
    return True


def status(settings: Settings) -> DevnetStatus:
    pid = _running_pid(settings)
    if pid is None:
        return DevnetStatus(False, None, settings.rpc_url)
    recorded = json.loads(_pid_file(settings).read_text())
    url, block_time = recorded.get("url", settings.rpc_url), recorded.get("block_time")
    try:
        chain = Chain([url])
        return DevnetStatus(True, pid, url, chain.chain_id, chain.block_number(), block_time)
    except RpcError:
        return DevnetStatus(True, pid, url, block_time=block_time)


def url(settings: Settings) -> str | None:
    """The running devnet's URL, if one runs."""
    if _running_pid(settings) is None:
        return None
    return str(json.loads(_pid_file(settings).read_text())["url"])


def keystore_dir(settings: Settings) -> Path:
    return settings.devnet_dir / "keystores"


def password_file(settings: Settings) -> Path:
    return keystore_dir(settings) / "password"


def write_dev_keystores(settings: Settings) -> None:
    """Throw-away keystores for the dev accounts (anvil's and Hardhat's default mnemonic), one per role."""
    folder = keystore_dir(settings)
    pw_path = password_file(settings)
    if not pw_path.is_file():
        write_private(pw_path, secrets.token_hex(16).encode())
    password = Secret(pw_path.read_text().strip())
    Account.enable_unaudited_hdwallet_features()
    for index, role in enumerate(ROLES):
        path = folder / f"{role}.json"
        if not path.is_file():
            account = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
            write_keystore(path, Secret(account.key.hex()), password, fast_kdf=True)


def dev_signer(settings: Settings, role: str) -> Signer:
    """The throw-away dev account for ``role`` (deployer, consumer, provider, ...)."""
    if role not in ROLES:
        raise ChainError(f"unknown dev account {role!r}", f"choose one of: {', '.join(ROLES)}")
    path = keystore_dir(settings) / f"{role}.json"
    if not path.is_file():
        raise ChainError(f"no dev keystore for {role!r}", "start the devnet first: ngx-zk devnet up")
    return from_keystore(path, Secret(password_file(settings).read_text().strip()))


def dev_address(role: str) -> str:
    Account.enable_unaudited_hdwallet_features()
    return str(Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{ROLES.index(role)}").address)


DEV_FUNDED_ROLES = ("consumer", "consumer2", "provider", "provider2", "auditor")


def deploy_dev(
    settings: Settings,
    chain: Chain,
    *,
    fund: tuple[str, ...] = DEV_FUNDED_ROLES,
    amount: int = 100_000 * 10**18,
    progress: Callable[[str], None] = lambda _: None,
) -> Marketplace:
    """Deploy every contract on the local dev chain with the dev accounts in their roles, record the
    deployment, and fund the ``fund`` roles from the ecosystem allocation. The one setup shared by
    ``ngx-zk deploy``, the test fixtures and the benchmarks."""
    from . import deployment
    from .market import Marketplace

    roles = deployment.Roles(*(dev_address(r) for r in ("treasury", "guardian", "ecosystem", "team")))
    deployed = deployment.deploy_all(chain, dev_signer(settings, "deployer"), roles, dev=True, progress=progress)
    deployment.save(settings, deployed)
    market = Marketplace(chain, deployed)
    funder = dev_signer(settings, "ecosystem")
    for role in fund:
        progress(f"funding the dev {role}")
        market.transfer(funder, dev_address(role), amount)
    return market


def clock(chain: Chain) -> int:
    """The chain's time now. anvil mines only on transactions (unless started with a block time), so on an
    idle devnet the latest block's time stands still while anvil's own clock (the wall clock, shifted by
    ``evm_increaseTime`` and snapshot reverts) runs on: there the pending block's timestamp, the time the
    next block will carry, is the clock (with interval mining too: the next block is on its way). Any other
    chain: the latest block's time (its blocks keep coming)."""
    block = chain.w3.eth.get_block("pending" if is_dev_chain(chain.chain_id) else "latest")
    return int(block["timestamp"])


def catch_up(chain: Chain, deadline: int) -> int:
    """The chain's time, on the local dev chain first moved on once its clock (:func:`clock`) has passed
    ``deadline``: one empty block (``evm_mine``) brings the chain's time up to it, so a deadline passes
    on an idle devnet too. A devnet that mines on a timer gets no extra block: its next one is awaited
    (at most one block time), as on a public chain."""
    now = chain.timestamp()
    if now >= deadline or not is_dev_chain(chain.chain_id) or clock(chain) < deadline:
        return now
    interval = mining_interval(chain)
    if interval is None:
        chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        return chain.timestamp()
    until = time.monotonic() + interval + CATCH_UP_SLACK_S
    while now < deadline and time.monotonic() < until:
        time.sleep(CATCH_UP_POLL_S)
        now = chain.timestamp()
    return now


CATCH_UP_SLACK_S = 2.0
"""Beyond one block time, how long :func:`catch_up` waits for an interval-mined block before giving up."""
CATCH_UP_POLL_S = 0.1


def mining_interval(chain: Chain) -> float | None:
    """Seconds between blocks if the dev node mines on a timer (0 for a sub-second timer); None when it
    mines per transaction or on demand, or does not say (a node without ``anvil_getIntervalMining``)."""
    try:
        answer = chain.w3.provider.make_request("anvil_getIntervalMining", [])  # type: ignore[arg-type]
    except (RpcError, OSError, ValueError):
        return None
    result = answer.get("result") if isinstance(answer, dict) else None
    return float(result) if isinstance(result, int | float) and not isinstance(result, bool) else None
