"""Deploying the marketplace and finding it again: one deployments file per chain id.

``$NGX_ZK_HOME/deployments/<chain_id>.json`` holds every contract address, the deployment block and
the models this user published or pulled (one :class:`RecordedModel` per local circuit name), so every
command finds the contracts and the models by the chain's id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ..config import Settings
from ..errors import DeploymentError
from .signer import Signer
from .tx import Chain

Progress = Callable[[str], None]

TIMELOCK_DELAY_S = 2 * 24 * 3600
INITIAL_REWARD = 10 * 10**18
EPOCH_SECONDS = 180 * 24 * 3600
REWARD_CAP_PER_EPOCH = 1_000 * 10**18
"""Most NGX one provider can receive from the RewardsPool per epoch."""
VESTING_SECONDS = 4 * 365 * 24 * 3600
GOVERNOR = {"voting_delay": 7200, "voting_period": 50400, "threshold": 10_000 * 10**18, "quorum_percent": 4}


@dataclass(frozen=True)
class Roles:
    """Who receives what at deployment (addresses, not keys). ``curator`` may edit the verifier allow-list
    besides governance; ``None`` means the deployer (which then allow-lists the reusable verifier)."""

    treasury: str
    guardian: str
    ecosystem: str
    team: str
    curator: str | None = None


@dataclass(frozen=True)
class RecordedModel:
    """The registry entry this user published or pulled for one local circuit name, on one chain.

    Written by ``model publish`` and ``model pull ID``: the only way consumers and workers find a model
    (by its id, never by scanning the registry). Files written before a field existed load with its
    default: the earliest ones hold only ``model_id``, ``kind``, ``verifier`` and ``vk_digest``."""

    model_id: int
    kind: str = ""
    """``dedicated`` or ``reusable``."""
    verifier: str = ""
    vk_digest: str = ""
    verifier_code_hash: str = ""
    artifacts_hash: str = ""
    """sha256 of the circuit's ``manifest.json`` the entry pins (0x-prefixed)."""
    owner: str = ""
    """The entry's registrant (its royalty receiver)."""
    publisher: str = ""
    """The publisher the circuit's manifest binds ('' for a manifest that binds none)."""
    verification_gas: int | None = None
    """Gas the verifier took on a sample proof in the publish dry run (None: pulled, or published before it was measured)."""

    @classmethod
    def from_json(cls, data: Any) -> RecordedModel:
        """Read one record as saved (any release's fields; unknown keys are ignored)."""
        if isinstance(data, RecordedModel):
            return data
        if not isinstance(data, dict) or "model_id" not in data:
            raise TypeError(f"a recorded model needs a model_id, got {str(data)[:80]}")
        gas = data.get("verification_gas")
        return cls(
            model_id=int(data["model_id"]),
            **{f: str(data[f]) for f in _TEXT_FIELDS if data.get(f) is not None},
            verification_gas=int(gas) if gas is not None else None,
        )

    def to_json(self) -> dict[str, Any]:
        """The saved form: empty fields are left out, so older releases read the file as before."""
        return {k: v for k, v in asdict(self).items() if v not in ("", None)}


_TEXT_FIELDS = ("kind", "verifier", "vk_digest", "verifier_code_hash", "artifacts_hash", "owner", "publisher")


@dataclass
class Deployment:
    chain_id: int
    contracts: dict[str, str]
    block: int
    deployer: str
    dev: bool
    models: dict[str, RecordedModel] = field(default_factory=dict)
    """Local circuit name -> the registry entry recorded for it on this chain."""

    def __post_init__(self) -> None:
        self.models = {str(name): RecordedModel.from_json(record) for name, record in self.models.items()}

    def model_id(self, name: str) -> int | None:
        """The registry id recorded for circuit ``name`` on this chain (publish or pull), if any."""
        record = self.models.get(name)
        return record.model_id if record is not None else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "models": {name: record.to_json() for name, record in self.models.items()}}

    def address(self, name: str) -> str:
        try:
            return self.contracts[name]
        except KeyError:
            raise DeploymentError(
                f"{name} is not in the deployment for chain {self.chain_id}", "redeploy: ngx-zk deploy"
            ) from None


def path_for(settings: Settings, chain_id: int) -> Path:
    return settings.deployments_dir / f"{chain_id}.json"


def load(settings: Settings, chain_id: int) -> Deployment:
    path = path_for(settings, chain_id)
    try:
        data = json.loads(path.read_text())
        return Deployment(**data)
    except FileNotFoundError:
        raise DeploymentError(f"no contracts deployed on chain {chain_id} (no {path})", "deploy them: ngx-zk deploy") from None
    except (json.JSONDecodeError, TypeError, ValueError, AttributeError) as exc:
        raise DeploymentError(f"{path} is corrupt ({exc})", "redeploy with ngx-zk deploy, or restore the file") from None


def save(settings: Settings, deployment: Deployment) -> Path:
    path = path_for(settings, deployment.chain_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(deployment.to_json(), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def deploy_all(chain: Chain, deployer: Signer, roles: Roles, *, dev: bool, progress: Progress = lambda _: None) -> Deployment:
    """Deploy and wire every contract, in dependency order; returns the addresses."""
    start_block = chain.block_number()
    now = chain.timestamp()
    a: dict[str, str] = {}

    def deploy(name: str, *args: Any) -> str:
        progress(f"deploying {name}")
        a[name] = chain.deploy(name, deployer, *args)
        return a[name]

    curator = deployer.address if dev or roles.curator is None else roles.curator
    deploy("NGXTimelock", TIMELOCK_DELAY_S, [], ["0x0000000000000000000000000000000000000000"], deployer.address)
    deploy("ProtocolConfig", a["NGXTimelock"], roles.treasury, roles.guardian, curator)
    deploy("RewardsPool", INITIAL_REWARD, EPOCH_SECONDS, REWARD_CAP_PER_EPOCH)
    deploy("TeamVesting", roles.team, now, VESTING_SECONDS)
    deploy("NGXToken", roles.treasury, a["RewardsPool"], roles.ecosystem, a["TeamVesting"])
    deploy("NGXGovernor", a["NGXToken"], a["NGXTimelock"], *GOVERNOR.values())
    deploy("ModelRegistry", a["ProtocolConfig"])
    deploy("ProviderStaking", a["NGXToken"], a["ProtocolConfig"])
    deploy("Reputation", a["ProviderStaking"], a["ProtocolConfig"])
    wiring = (a["NGXToken"], a["ProtocolConfig"], a["ModelRegistry"], a["ProviderStaking"], a["Reputation"], a["RewardsPool"])
    # The market runs every settlement in this module's code (DELEGATECALL), so both get the same wiring.
    deploy("JobSettlement", *wiring)
    deploy("JobMarket", *wiring, a["JobSettlement"])
    deploy("Halo2VerifierReusable")

    progress("wiring contracts")
    if curator.lower() == deployer.address.lower():
        # The shared EZKL verifier is trusted code: its jobs earn rewards and reputation.
        runtime = chain.w3.eth.get_code(to_checksum_address(a["Halo2VerifierReusable"]))
        config = chain.contract("ProtocolConfig", a["ProtocolConfig"])
        chain.send(
            config.functions.setVerifierCodeAllowed(keccak(bytes(runtime)), True),
            deployer,
            what="allow-list the reusable verifier",
        )
    market = a["JobMarket"]
    chain.send(
        chain.contract("ProviderStaking", a["ProviderStaking"]).functions.bindMarket(market), deployer, what="bind staking"
    )
    chain.send(chain.contract("Reputation", a["Reputation"]).functions.bindMarket(market), deployer, what="bind reputation")
    chain.send(
        chain.contract("RewardsPool", a["RewardsPool"]).functions.initialize(a["NGXToken"], market), deployer, what="init rewards"
    )
    timelock = chain.contract("NGXTimelock", a["NGXTimelock"])
    for role in ("PROPOSER_ROLE", "CANCELLER_ROLE"):
        role_id = chain.call(getattr(timelock.functions, role)())
        chain.send(timelock.functions.grantRole(role_id, a["NGXGovernor"]), deployer, what=f"grant {role}")
    admin = chain.call(timelock.functions.DEFAULT_ADMIN_ROLE())
    chain.send(timelock.functions.renounceRole(admin, deployer.address), deployer, what="renounce timelock admin")
    return Deployment(chain_id=chain.chain_id, contracts=a, block=start_block, deployer=deployer.address, dev=dev)
