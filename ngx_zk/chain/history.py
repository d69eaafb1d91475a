"""The chain's past, as a follower reads it: blocks, logs, transactions and receipts as typed records.

:class:`ChainHistory` is the reading half of :class:`~ngx_zk.chain.tx.Chain` used by the explorer's
indexer. Lookups of many blocks, transactions or receipts go in JSON-RPC batches (one round trip per
``BATCH_CALLS``), one request at a time where a node or proxy refuses batches. :class:`ContractEvents`
decodes the logs and calls of named contracts by their exported ABIs.

Every ``eth_getLogs`` of the package goes through :meth:`ChainHistory.chunked_logs`: hosted RPC providers cap
a query's block range (from a handful of blocks on free tiers to a few thousand) or its result count, each
with its own error text. :class:`LogSpan` learns the span a node accepts: a range or size refusal halves the
range and the same blocks are asked again; successes grow it back, never past a span that was refused (that
memory fades after ``SPAN_FORGET_AFTER`` successes: a result-count cap depends on how dense the logs are).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import BlockNotFound, Web3RPCError
from web3.types import FilterParams, LogReceipt

from .abi import abi

log = logging.getLogger(__name__)
T = TypeVar("T")

BATCH_CALLS = 200
"""Most requests (block headers, transactions, receipts) sent in one JSON-RPC batch."""
LOG_SPAN_MAX = 2_000
"""Most blocks one ``eth_getLogs`` call asks for (the span :class:`LogSpan` starts from and grows back to)."""
SPAN_GROW_AFTER = 4
"""Successes in a row at the current span before it doubles."""
SPAN_FORGET_AFTER = 256
"""Successes after which a refused span may be tried again."""
LIMIT_CODES = frozenset({-32005, -32602, -32614, -32008})
"""JSON-RPC error codes providers give an ``eth_getLogs`` over their limits (EIP-1474 "limit exceeded",
"invalid params", QuickNode's -32614, "response too big"), checked together with the words of the message."""
_LIMIT_WORDS = re.compile(
    r"block range|range|too many|more than \d|results|response size|too big|too large|exceed|limit", re.IGNORECASE
)


def is_log_limit(exc: BaseException) -> bool:
    """Whether a failed ``eth_getLogs`` was refused for its block range or result size (ask less), not broken.

    Alchemy: "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range...";
    Infura: "query returned more than 10000 results" (-32005) or "range 1000000 exceeds limit of 10000";
    QuickNode: "eth_getLogs is limited to a 10,000 range" (-32614, over HTTP 413); others alike."""
    if not isinstance(exc, Web3RPCError | ValueError):
        return False
    response = getattr(exc, "rpc_response", None)
    error = response.get("error") if isinstance(response, Mapping) else None
    code = error.get("code") if isinstance(error, Mapping) else None
    text = str(error if error is not None else exc)
    return bool(_LIMIT_WORDS.search(text)) and (code is None or code in LIMIT_CODES or code == -32000)


class LogSpan:
    """The ``eth_getLogs`` block span one node accepts, learned from its refusals (thread-safe)."""

    def __init__(self, most: int = LOG_SPAN_MAX) -> None:
        self.most = most
        self.span = most
        self.refused: int | None = None
        """The smallest span refused lately: growth stays below it."""
        self._streak = 0
        self._since_refusal = 0
        self._lock = threading.Lock()

    def shrink(self, asked: int) -> int:
        """``asked`` blocks were refused: the span to ask next (half of it). Raises nothing: at one block the
        caller gives up."""
        with self._lock:
            self.refused = asked if self.refused is None else min(self.refused, asked)
            self.span = max(1, min(self.span, asked // 2))
            self._streak = self._since_refusal = 0
            return self.span

    def grow(self, asked: int) -> None:
        """``asked`` blocks were served."""
        with self._lock:
            self._since_refusal += 1
            if self.refused is not None and self._since_refusal >= SPAN_FORGET_AFTER:
                self.refused = None
            if asked < self.span:
                return
            self._streak += 1
            if self._streak >= SPAN_GROW_AFTER:
                ceiling = self.most if self.refused is None else max(1, self.refused - 1)
                self.span, self._streak = max(self.span, min(2 * self.span, ceiling)), 0


def chunked(span: LogSpan, start: int, stop: int, fetch: Callable[[int, int], list[T]]) -> list[T]:
    """``fetch(a, b)`` over blocks ``start`` to ``stop`` (inclusive) in spans ``span`` allows, in order; a range
    or size refusal halves the span and asks the same blocks again (see :func:`is_log_limit`)."""
    found: list[T] = []
    a = max(start, 0)
    while a <= stop:
        b = min(a + span.span - 1, stop)
        try:
            part = fetch(a, b)
        except (Web3RPCError, ValueError) as exc:
            if b == a or not is_log_limit(exc):
                raise
            log.info("eth_getLogs over %d blocks refused (%s): asking for %d", b - a + 1, exc, span.shrink(b - a + 1))
            continue
        span.grow(b - a + 1)
        found.extend(part)
        a = b + 1
    return found


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


@dataclass(frozen=True)
class Block:
    """A block header: what a follower keeps to detect reorgs and date events."""

    number: int
    hash: str
    """0x hex."""
    timestamp: int


@dataclass(frozen=True)
class Log:
    """One event log, as emitted (decode it with :meth:`ContractEvents.decode`)."""

    address: str
    """Lower-case."""
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    block_hash: str
    tx_hash: str
    tx_index: int
    log_index: int

    @classmethod
    def from_rpc(cls, entry: Mapping[str, Any]) -> Log:
        return cls(
            str(entry["address"]).lower(),
            tuple(bytes(t) for t in entry["topics"]),
            bytes(entry["data"]),
            int(entry["blockNumber"]),
            _hex(entry["blockHash"]),
            _hex(entry["transactionHash"]),
            int(entry["transactionIndex"]),
            int(entry["logIndex"]),
        )

    def to_rpc(self) -> LogReceipt:
        """The log in web3's shape (what its event decoder reads)."""
        return {
            "address": to_checksum_address(self.address),
            "topics": [HexBytes(t) for t in self.topics],
            "data": HexBytes(self.data),
            "blockNumber": self.block_number,  # type: ignore[typeddict-item]
            "blockHash": HexBytes(self.block_hash),
            "transactionHash": HexBytes(self.tx_hash),
            "transactionIndex": self.tx_index,
            "logIndex": self.log_index,
            "removed": False,
        }


@dataclass(frozen=True)
class Receipt:
    """What a follower keeps of a mined transaction's receipt."""

    tx_hash: str
    sender: str
    """Lower-case."""
    gas_used: int
    status: int


@dataclass(frozen=True)
class Transaction:
    """A transaction as sent: its target (None for a deployment) and calldata."""

    tx_hash: str
    to: str | None
    """Lower-case."""
    input: bytes


@dataclass(frozen=True)
class DecodedEvent:
    contract: str
    """The contract's artifact name."""
    name: str
    args: dict[str, Any]


class ContractEvents:
    """The events and calls of named contracts (``{artifact name: address}``), decoded by their ABIs."""

    def __init__(self, w3: Web3, contracts: Mapping[str, str]) -> None:
        self._contracts: dict[str, tuple[str, Contract]] = {}
        self._topics: dict[tuple[str, bytes], str] = {}
        for name, address in contracts.items():
            contract = w3.eth.contract(address=to_checksum_address(address), abi=abi(name))
            self._contracts[address.lower()] = (name, contract)
            for entry in abi(name):  # the exported artifact, read at run time
                if entry.get("type") == "event" and not entry.get("anonymous"):
                    topic = bytes(HexBytes(contract.events[str(entry["name"])]().topic))
                    self._topics[(address.lower(), topic)] = str(entry["name"])

    @property
    def contracts(self) -> dict[str, str]:
        """``{artifact name: lower-case address}`` of the followed contracts."""
        return {name: address for address, (name, _) in self._contracts.items()}

    @property
    def addresses(self) -> list[str]:
        """The followed addresses, lower-case."""
        return list(self._contracts)

    def decode(self, entry: Log) -> DecodedEvent | None:
        """The event a log of a followed contract carries; None for an unknown address or topic."""
        name = self._topics.get((entry.address, entry.topics[0])) if entry.topics else None
        if name is None:
            return None
        contract_name, contract = self._contracts[entry.address]
        event = contract.events[name]().process_log(entry.to_rpc())
        return DecodedEvent(contract_name, name, dict(event["args"]))

    def decode_call(self, tx: Transaction) -> tuple[str, dict[str, Any]] | None:
        """The function (and its arguments) a transaction called on a followed contract directly, if it did."""
        if tx.to is None or tx.to not in self._contracts:
            return None
        try:
            fn, args = self._contracts[tx.to][1].decode_function_input(tx.input)
        except ValueError:
            return None
        return str(fn.fn_name), dict(args)


class ChainHistory:
    """Typed reads of blocks, logs, transactions and receipts (mixed into :class:`~ngx_zk.chain.tx.Chain`)."""

    w3: Web3
    _batches: bool = True
    """False once a node refused a JSON-RPC batch: later lookups go one request at a time."""
    _log_span: LogSpan | None = None

    @property
    def log_span(self) -> LogSpan:
        """The ``eth_getLogs`` span this chain's node accepts, as learned so far."""
        if self._log_span is None:
            self._log_span = LogSpan()
        return self._log_span

    def chunked_logs(self, start: int, stop: int, fetch: Callable[[int, int], list[T]]) -> list[T]:
        """``fetch(from_block, to_block)`` (one ``eth_getLogs``) over ``start`` to ``stop`` inclusive, in the
        spans the node accepts: every log query of the package goes through here."""
        return chunked(self.log_span, start, stop, fetch)

    def contract_events(self, contracts: Mapping[str, str]) -> ContractEvents:
        """A decoder of the events and calls of ``{artifact name: address}``."""
        return ContractEvents(self.w3, contracts)

    def block(self, number: int) -> Block | None:
        """Block ``number``'s header, or None past the head."""
        try:
            return _block(self.w3.eth.get_block(number))
        except BlockNotFound:
            return None

    def blocks(self, numbers: Sequence[int]) -> dict[int, Block]:
        """The headers of ``numbers`` (each must exist), asked in batches."""
        return {n: _block(b) for n, b in self._batched(self.w3.eth.get_block, numbers).items()}

    def logs(self, start: int, stop: int, addresses: Iterable[str]) -> list[Log]:
        """The logs the contracts at ``addresses`` emitted in blocks ``start`` to ``stop`` (inclusive), in order."""
        targets = [to_checksum_address(a) for a in addresses]

        def fetch(a: int, b: int) -> list[Log]:
            query: FilterParams = {"fromBlock": a, "toBlock": b, "address": targets}
            return [Log.from_rpc(entry) for entry in self.w3.eth.get_logs(query)]

        return self.chunked_logs(start, stop, fetch)

    def receipts(self, tx_hashes: Sequence[str]) -> dict[str, Receipt]:
        """The receipts of mined transactions, asked in batches."""
        found = self._batched(self.w3.eth.get_transaction_receipt, [HexBytes(h) for h in tx_hashes])
        return {_hex(h): Receipt(_hex(h), str(r["from"]).lower(), int(r["gasUsed"]), int(r["status"])) for h, r in found.items()}

    def transactions(self, tx_hashes: Sequence[str]) -> dict[str, Transaction]:
        """The transactions themselves (target and calldata), asked in batches."""
        found = self._batched(self.w3.eth.get_transaction, [HexBytes(h) for h in tx_hashes])
        return {
            _hex(h): Transaction(_hex(h), str(t["to"]).lower() if t.get("to") else None, bytes(HexBytes(t["input"])))
            for h, t in found.items()
        }

    def _batched(self, get: Callable[[Any], Any], keys: Sequence[Any]) -> dict[Any, Any]:
        """``{key: get(key)}``, asked in JSON-RPC batches of BATCH_CALLS, one by one where the node refuses batches."""
        found: dict[Any, Any] = {}
        for i in range(0, len(keys), BATCH_CALLS):
            chunk = keys[i : i + BATCH_CALLS]
            if self._batches:
                try:
                    with self.w3.batch_requests() as batch:
                        for key in chunk:
                            batch.add(get(key))
                        found.update(zip(chunk, batch.execute(), strict=True))
                    continue
                except Exception as exc:  # a node or proxy without batch support
                    log.info("JSON-RPC batches refused (%s): one request at a time", exc)
                    self._batches = False
            found.update((key, get(key)) for key in chunk)
        return found


def _block(header: Mapping[str, Any]) -> Block:
    return Block(int(header["number"]), _hex(header["hash"]), int(header["timestamp"]))


__all__ = [
    "BATCH_CALLS",
    "LOG_SPAN_MAX",
    "Block",
    "ChainHistory",
    "ContractEvents",
    "DecodedEvent",
    "Log",
    "LogSpan",
    "Receipt",
    "Transaction",
    "chunked",
    "is_log_limit",
]
