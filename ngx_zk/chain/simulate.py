"""What-if calls: run a call against the latest state with some accounts' code or storage replaced.

``model publish`` uses them to try a proof against a verifier before it exists on chain (its code
placed by state override) or before its VKA is registered (one storage slot overridden), and to
deploy the verifier once the dry run passed. The rest of the package never sees web3's types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from eth_utils.address import to_checksum_address
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import StateOverride, TxParams

from .signer import Signer
from .tx import Chain


@dataclass(frozen=True)
class Override:
    """Replacement code, or replacement storage slots (slot -> 32-byte value), for one account."""

    address: str
    code: bytes | None = None
    slots: tuple[tuple[bytes, bytes], ...] = ()

    def rpc(self) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        if self.code is not None:
            entry["code"] = "0x" + self.code.hex()
        if self.slots:
            entry["stateDiff"] = {"0x" + slot.hex(): "0x" + value.hex() for slot, value in self.slots}
        return {to_checksum_address(self.address): entry}


class SimulationReverted(Exception):
    """The simulated call reverted."""


class SimulationFailed(Exception):
    """The node could not run the simulated call (out of gas, or another RPC error); ``detail`` says why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def out_of_gas(self) -> bool:
        return "gas" in self.detail.lower()


def block_gas_limit(chain: Chain) -> int:
    return int(chain.w3.eth.get_block("latest")["gasLimit"])


def _params(sender: str, to: str, data: bytes, gas: int | None = None) -> TxParams:
    params: dict[str, Any] = {"from": to_checksum_address(sender), "to": to_checksum_address(to), "data": "0x" + data.hex()}
    if gas is not None:
        params["gas"] = gas
    return cast(TxParams, params)


def call(chain: Chain, sender: str, to: str, data: bytes, *, gas: int, override: Override) -> bytes:
    """``eth_call`` at the latest block under ``override``; raises SimulationReverted / SimulationFailed."""
    try:
        return bytes(chain.w3.eth.call(_params(sender, to, data, gas), "latest", cast(StateOverride, override.rpc())))
    except ContractLogicError:
        raise SimulationReverted() from None
    except Web3RPCError as exc:
        detail = str(exc.rpc_response.get("error", {}).get("message", exc)) if exc.rpc_response else str(exc)
        raise SimulationFailed(detail) from None


def estimate_gas(chain: Chain, sender: str, to: str, data: bytes, *, override: Override) -> int:
    """``eth_estimateGas`` at the latest block under ``override``. A node whose ``eth_estimateGas`` takes no
    state override (Hardhat's node refuses the third parameter) gets the least gas limit under which the
    ``eth_call`` succeeds, found by bisection (:data:`BISECT_TOLERANCE` of the block gas limit)."""
    try:
        return int(chain.w3.eth.estimate_gas(_params(sender, to, data), "latest", cast(StateOverride, override.rpc())))
    except (ContractLogicError, Web3RPCError) as refused:
        low, high = 21_000, block_gas_limit(chain)
        if not _runs(chain, sender, to, data, high, override):
            raise refused from None
        while high - low > max(1_000, int(high * BISECT_TOLERANCE)):
            middle = (low + high) // 2
            low, high = (low, middle) if _runs(chain, sender, to, data, middle, override) else (middle, high)
        return high


BISECT_TOLERANCE = 0.005
"""How close to the least gas limit the bisection of :func:`estimate_gas` comes (a fraction of it)."""


def _runs(chain: Chain, sender: str, to: str, data: bytes, gas: int, override: Override) -> bool:
    try:
        call(chain, sender, to, data, gas=gas, override=override)
    except (SimulationReverted, SimulationFailed):
        return False
    return True


def deploy(chain: Chain, abi: list[dict[str, Any]], bytecode: bytes | str, signer: Signer, *, what: str) -> str:
    """Deploy a contract with no constructor arguments; returns its address."""
    factory = chain.w3.eth.contract(abi=abi, bytecode=bytecode)
    return chain.deploy_bytecode(factory.constructor(), signer, what=what)
