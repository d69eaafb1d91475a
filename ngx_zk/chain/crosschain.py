"""Chain B's contracts: deploy the mirror and the receiver, record where they are, and read them back.

A chain is named by its id and its genesis block hash (two local devnets share the id 31337), so the record is
``$NGX_ZK_HOME/deployments/crosschain-<chain id>-<genesis hash prefix>.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.exceptions import ContractLogicError, Web3Exception

from ..config import Settings
from ..errors import ChainError, DeploymentError
from .signer import Signer
from .tx import Chain


@dataclass(frozen=True)
class Deployed:
    """Chain B's contracts and the market on chain A they mirror."""

    chain_id: int
    genesis: str
    mirror: str
    receiver: str
    source_chain_id: int
    source_market: str
    source_registry: str
    updater: str


def genesis_of(chain: Chain) -> str:
    return "0x" + bytes(chain.w3.eth.get_block(0)["hash"]).hex()


def record_path(settings: Settings, chain: Chain) -> Path:
    return settings.deployments_dir / f"crosschain-{chain.chain_id}-{genesis_of(chain)[2:14]}.json"


def deploy(chain_b: Chain, signer: Signer, *, source_chain_id: int, source_market: str, source_registry: str) -> Deployed:
    """Deploy a ModelMirror (``signer`` its updater: hand it to a timelock with ``proposeUpdater``) and its receiver."""
    mirror = chain_b.deploy(
        "ModelMirror",
        signer,
        signer.address,
        source_chain_id,
        to_checksum_address(source_registry),
        to_checksum_address(source_market),
    )
    receiver = chain_b.deploy("InferenceReceiver", signer, mirror)
    return Deployed(
        chain_b.chain_id,
        genesis_of(chain_b),
        mirror,
        receiver,
        source_chain_id,
        to_checksum_address(source_market),
        to_checksum_address(source_registry),
        signer.address,
    )


def save(settings: Settings, chain_b: Chain, deployed: Deployed) -> Path:
    path = record_path(settings, chain_b)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(deployed), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def load(settings: Settings, chain_b: Chain) -> Deployed:
    """The recorded contracts on ``chain_b``, checked to have code there."""
    path = record_path(settings, chain_b)
    try:
        deployed = Deployed(**json.loads(path.read_text()))
    except FileNotFoundError:
        raise DeploymentError(
            f"no cross-chain contracts recorded for chain {chain_b.chain_id} at {chain_b.url} (no {path.name})",
            "deploy them there: ngx-zk crosschain deploy --from RPC_A --to RPC_B",
        ) from None
    except (json.JSONDecodeError, TypeError) as exc:
        raise DeploymentError(
            f"{path} is corrupt ({exc})", "redeploy: ngx-zk crosschain deploy --from RPC_A --to RPC_B"
        ) from None
    if not chain_b.has_code(deployed.receiver):
        raise DeploymentError(
            f"no InferenceReceiver at {deployed.receiver} on chain {chain_b.chain_id}",
            "deploy again: ngx-zk crosschain deploy --from RPC_A --to RPC_B",
        )
    return deployed


class ChainB:
    """The mirror and receiver on chain B, read through their ABIs."""

    def __init__(self, chain: Chain, deployed: Deployed) -> None:
        self.chain, self.deployed = chain, deployed
        self.mirror: Contract = chain.contract("ModelMirror", deployed.mirror)
        self.receiver: Contract = chain.contract("InferenceReceiver", deployed.receiver)

    def source(self) -> tuple[int, str]:
        """(chain id, market address) of the market the mirror copies, as the contract says."""
        f = self.mirror.functions
        return int(self.chain.call(f.sourceChainId())), to_checksum_address(self.chain.call(f.sourceMarket()))

    def is_mirrored(self, model_id: int) -> bool:
        return bool(self.chain.call(self.mirror.functions.isMirrored(model_id)))

    def entry(self, model_id: int) -> dict[str, Any]:
        """The mirrored entry: its commitment's fields plus ``paused``."""
        commitment, paused, _pointer, _at = self.chain.call(self.mirror.functions.modelOf(model_id))
        names = ("onnx_hash", "settings_hash", "artifacts_hash", "vk_digest", "verifier_code_hash", "kind", "inputs", "outputs")
        return {**dict(zip(names, commitment, strict=True)), "paused": bool(paused)}

    def verifier_of(self, code_hash: bytes) -> str | None:
        address = str(self.chain.call(self.mirror.functions.verifierOf(code_hash)))
        return None if int(address, 16) == 0 else to_checksum_address(address)

    def delivery_key(self, consumer: str, model_id: int, commitments: list[int], outputs: list[int]) -> bytes:
        fn = self.receiver.functions.deliveryKey(to_checksum_address(consumer), model_id, commitments, outputs)
        return bytes(self.chain.call(fn))

    def delivered(self, key: bytes) -> bool:
        return bool(self.chain.call(self.receiver.functions.delivered(key)))


COPY_PREFIX = bytes.fromhex("80600a3d393df3")
"""After PUSH2 <size>: DUP1, PUSH1 10, RETURNDATASIZE, CODECOPY, RETURNDATASIZE, RETURN: returns the 10-byte header's tail."""

INNER_SELECTOR = keccak(text="inner()")[:4]


def inner_verifier(chain: Chain, verifier: str) -> str | None:
    """The verifier ``verifier`` wraps, if it is a binding (a ``PolycommitBinding`` or ``ParamsBinding`` answers
    ``inner()`` with a contract); None for a verifier that stands alone."""
    try:
        answer = bytes(chain.w3.eth.call({"to": to_checksum_address(verifier), "data": INNER_SELECTOR}))
    except (ValueError, ContractLogicError, Web3Exception):
        return None
    if len(answer) != 32 or any(answer[:12]):
        return None
    inner = to_checksum_address(answer[12:])
    return inner if chain.has_code(inner) else None


def copy_code(b: ChainB, signer: Signer, runtime: bytes, *, what: str) -> str:
    """Deploy ``runtime`` unchanged on chain B; returns the address (its code hash is keccak256(runtime))."""
    if not runtime or len(runtime) > 0xFFFF:
        raise ChainError(f"{what}: cannot copy {len(runtime)} bytes of code")
    initcode = b"\x61" + len(runtime).to_bytes(2, "big") + COPY_PREFIX + runtime
    factory = b.chain.w3.eth.contract(abi=[], bytecode=initcode)
    address = b.chain.deploy_bytecode(factory.constructor(), signer, what=what)
    if b.chain.w3.eth.get_code(to_checksum_address(address)) != runtime:
        raise ChainError(f"{what}: the code deployed at {address} is not the code copied")
    return address
