"""What a transaction costs, and the most an operator lets one offer.

* **Caps** (``--max-fee-gwei``, ``--max-priority-fee-gwei``; ``NGX_ZK_MAX_FEE_GWEI`` for every command): :func:`capped` clips a
  transaction's fees to them before it is signed, and refuses to send (:class:`FeeAboveCap`, nothing sent)
  while the next block's base fee is above the cap: a transaction offering less could not be mined. A
  stuck transaction's replacements (:func:`bumped`) are raised up to the cap and no further.
* **Cost** (:class:`FeeModel`): L2 execution gas at the price the next block asks (base fee plus tip,
  within the caps) plus, on an OP-stack chain, the L1 data fee of the transaction's bytes, read from the
  ``GasPriceOracle`` predeploy (``getL1Fee(bytes)``) where the chain has code at its address. Readings are
  kept ``cache_s`` seconds: a worker prices every job it sees, the fee moves once a block.

The byte sizes of a job's transactions are modelled (:func:`claim_shape`, :func:`submit_shape`): an
EIP-1559 envelope around the calldata, whose proof bytes are random-looking (field elements and curve
points), so the L1 fee is read for incompressible bytes of that size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import Web3Exception

from ..errors import ConfigError, TransactionError


class Chain(Protocol):
    """What this module asks of :class:`ngx_zk.chain.tx.Chain` (which imports this module)."""

    w3: Web3
    max_fee_per_gas: int | None
    max_priority_fee_per_gas: int | None

    def has_code(self, address: str) -> bool: ...
    def call(self, fn: Any, *, sender: str | None = None) -> Any: ...


GWEI = 10**9
WEI_PER_ETH = 10**18
GAS_PRICE_ORACLE = "0x420000000000000000000000000000000000000F"
"""The OP stack's GasPriceOracle predeploy (the L1 data fee of a transaction's bytes)."""
GAS_PRICE_ORACLE_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "getL1Fee",
        "stateMutability": "view",
        "inputs": [{"name": "_data", "type": "bytes"}],
        "outputs": [{"name": "", "type": "uint256"}],
    }
]
FEE_CACHE_S = 6.0
"""Seconds a reading of the gas price or of an L1 fee is reused."""
TX_ENVELOPE_BYTES = 60
"""An unsigned EIP-1559 transaction's bytes around its calldata (type, chain id, nonce, fees, gas, to, value, empty
access list): what getL1Fee takes; the oracle adds the signature's 68 bytes itself."""
CLAIM_GAS = 130_000
"""Execution gas of ``claimJob``: 101k on anvil (README, make bench part c), with head-room (tests/test_fees.py checks)."""
SUBMIT_BASE_GAS = 620_000
"""Execution gas of ``submitResult`` besides its calldata, until this worker estimated one for the circuit: the
mlp example's is 677k in all (473k in its verifier), ~55k of it calldata."""
CALLDATA_GAS_PER_BYTE = 16
DECLINE_GAS = 240_000
"""Execution gas of ``declineJob`` (a give-back, not free): 184k on anvil, with head-room (tests/test_fees.py checks)."""
DEFAULT_PROOF_BYTES = 4096
"""Proof bytes assumed for a circuit before this worker made a proof of it (the mlp example's: 2,912)."""


class FeeAboveCap(TransactionError):
    """The next block's base fee is above the operator's cap: nothing was sent. The worker waits."""

    def __init__(self, what: str, base_fee: int, cap: int) -> None:
        super().__init__(
            f"{what}: the base fee is {gwei(base_fee)} gwei, above the fee cap of {gwei(cap)} gwei; nothing was sent",
            "wait for the base fee to fall (the worker waits), or raise --max-fee-gwei / NGX_ZK_MAX_FEE_GWEI",
        )
        self.base_fee, self.cap = base_fee, cap


def gwei(wei: int) -> str:
    """``12_500_000_000`` -> ``"12.5"``."""
    return f"{wei / GWEI:.9f}".rstrip("0").rstrip(".")


def parse_gwei(text: str, source: str) -> int:
    """A fee in gwei (``"30"``, ``"0.05"``) as wei; ``source`` (the option or variable) names a bad one."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1e12:  # the rule NGX_ZK_MAX_FEE_GWEI follows (config.py); nan and inf fail it too
        raise ConfigError(f"{source}={text!r} is not a positive number of gwei", f"e.g. {source.split('=')[0]}=50")
    return max(1, round(value * GWEI))


def next_base_fee(w3: Web3) -> int:
    """The base fee the next block charges (the pending block's, where the node serves one)."""
    try:
        block = w3.eth.get_block("pending")
    except (Web3Exception, ValueError):  # not every node serves the pending block
        block = w3.eth.get_block("latest")
    return int(block.get("baseFeePerGas", 0))


def capped(w3: Web3, tx: dict[str, Any], max_fee: int | None, max_tip: int | None, what: str) -> dict[str, Any]:
    """``tx`` with its fees clipped to the caps; :class:`FeeAboveCap` while the next base fee is above ``max_fee``."""
    if max_fee is None and max_tip is None:
        return tx
    if max_fee is not None:
        base = next_base_fee(w3)
        if base > max_fee:
            raise FeeAboveCap(what, base, max_fee)
    if "maxFeePerGas" in tx:
        fee = min(int(tx["maxFeePerGas"]), max_fee) if max_fee is not None else int(tx["maxFeePerGas"])
        tip = min(int(tx["maxPriorityFeePerGas"]), fee, *(() if max_tip is None else (max_tip,)))
        return {**tx, "maxFeePerGas": fee, "maxPriorityFeePerGas": tip}
    if "gasPrice" in tx:
        price = int(tx["gasPrice"])
        return {**tx, "gasPrice": min(price, max_fee) if max_fee is not None else price}
    return tx


def bumped(w3: Web3, tx: dict[str, Any], cap: int, max_tip: int | None, bump: tuple[int, int]) -> dict[str, Any] | None:
    """``tx`` with its fees raised by ``bump`` (and to what the next block needs, if more), at most to ``cap``;
    None when it offers ``cap`` already (no replacement can offer more)."""
    num, den = bump
    if "maxFeePerGas" in tx:
        fee, tip = int(tx["maxFeePerGas"]), int(tx["maxPriorityFeePerGas"])
        new_tip = max(-(-tip * num // den), tip + 1)
        new_tip = new_tip if max_tip is None else min(new_tip, max(max_tip, tip))
        new_fee = min(cap, max(-(-fee * num // den), fee + 1, 2 * next_base_fee(w3) + new_tip))
        if new_fee <= fee:
            return None
        return {**tx, "maxFeePerGas": new_fee, "maxPriorityFeePerGas": min(new_tip, new_fee)}
    if "gasPrice" not in tx:
        return None
    price = int(tx["gasPrice"])
    new_price = min(cap, max(-(-price * num // den), price + 1, int(w3.eth.gas_price)))
    return None if new_price <= price else {**tx, "gasPrice": new_price}


@contextmanager
def cap_lifted(chain: Chain) -> Iterator[None]:
    """Send without the operator's caps inside the block (a give-back that costs less than the slash it saves)."""
    saved = chain.max_fee_per_gas, chain.max_priority_fee_per_gas
    chain.max_fee_per_gas = chain.max_priority_fee_per_gas = None
    try:
        yield
    finally:
        chain.max_fee_per_gas, chain.max_priority_fee_per_gas = saved


# --- what a job's transactions cost ---------------------------------------------------------------
@dataclass(frozen=True)
class TxShape:
    """A transaction as its cost sees it: execution gas and its unsigned size in bytes (what getL1Fee takes)."""

    gas: int
    size: int


def claim_shape() -> TxShape:
    return TxShape(CLAIM_GAS, TX_ENVELOPE_BYTES + 4 + 32)


def submit_shape(proof_bytes: int, instances: int, callback_gas: int = 0, gas: int | None = None) -> TxShape:
    """``submitResult(jobId, proof, instances)``: ABI head, the proof padded to words, one word per instance.
    ``gas``: the execution gas measured (estimated) for this circuit, when known; else modelled."""
    calldata = 4 + 32 * 5 + 32 * -(-proof_bytes // 32) + 32 * instances
    execution = gas if gas is not None else SUBMIT_BASE_GAS + CALLDATA_GAS_PER_BYTE * calldata
    return TxShape(execution + callback_gas, TX_ENVELOPE_BYTES + calldata)


def decline_shape() -> TxShape:
    return TxShape(DECLINE_GAS, TX_ENVELOPE_BYTES + 4 + 64)


class FeeModel:
    """What transactions cost on ``chain`` now, in wei: :meth:`cost` = gas x :meth:`gas_price` + :meth:`l1_fee`."""

    def __init__(self, chain: Chain, *, cache_s: float = FEE_CACHE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.chain, self.cache_s, self.clock = chain, cache_s, clock
        self._oracle: Any = None
        self._op_stack: bool | None = None
        self._cache: dict[object, tuple[float, int]] = {}

    @property
    def op_stack(self) -> bool:
        """Does the chain have the GasPriceOracle predeploy (an OP-stack chain charging an L1 data fee)?"""
        if self._op_stack is None:
            self._op_stack = self.chain.has_code(GAS_PRICE_ORACLE)
            if self._op_stack:
                self._oracle = self.chain.w3.eth.contract(
                    address=Web3.to_checksum_address(GAS_PRICE_ORACLE), abi=GAS_PRICE_ORACLE_ABI
                )
        return self._op_stack

    def gas_price(self) -> int:
        """Wei per gas a transaction sent now pays: the next base fee plus the node's tip, within the caps."""
        return self._cached("gas", self._read_gas_price)

    def l1_fee(self, size: int) -> int:
        """The L1 data fee of a transaction of ``size`` bytes (0 off the OP stack)."""
        if size <= 0 or not self.op_stack:
            return 0
        return self._cached(("l1", size), lambda: int(self.chain.call(self._oracle.functions.getL1Fee(sample_bytes(size)))))

    def cost(self, shape: TxShape) -> int:
        return shape.gas * self.gas_price() + self.l1_fee(shape.size)

    def _read_gas_price(self) -> int:
        c = self.chain
        base = next_base_fee(c.w3)
        try:
            tip = int(c.w3.eth.max_priority_fee)
        except (Web3Exception, ValueError):  # a node without eth_maxPriorityFeePerGas
            tip = 0
        if c.max_priority_fee_per_gas is not None:
            tip = min(tip, c.max_priority_fee_per_gas)
        return base + tip

    def _cached(self, key: object, read: Callable[[], int]) -> int:
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.cache_s:
            return hit[1]
        value = read()
        self._cache[key] = (now, value)
        return value


def sample_bytes(size: int) -> bytes:
    """``size`` incompressible bytes with no zero byte (a signed transaction with proof bytes: the L1 fee's worst case)."""
    out, seed = bytearray(), b"ngx-zk fee sample"
    while len(out) < size:
        seed = keccak(seed)
        out += bytes(b or 1 for b in seed)
    return bytes(out[:size])


def to_ngx(wei: int, ngx_per_eth: int) -> int:
    """An amount of the chain's gas token (wei) in NGX base units at ``ngx_per_eth`` (NGX base units per ETH), rounded up."""
    return -(-wei * ngx_per_eth // WEI_PER_ETH)


@dataclass
class CapNotice:
    """When to log that the fee cap holds the worker back: at the first refusal, then every ``remind_s``
    while it lasts; a refusal after ``quiet_s`` without one starts a new episode (logged again)."""

    remind_s: float = 300.0
    quiet_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _logged: float | None = None
    _seen: float | None = None

    def due(self) -> bool:
        now = self.clock()
        new_episode = self._seen is None or now - self._seen > self.quiet_s
        self._seen = now
        if new_episode or self._logged is None or now - self._logged >= self.remind_s:
            self._logged = now
            return True
        return False
