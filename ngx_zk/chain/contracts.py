"""The deployed contracts on one chain: the clients' common base (the token, and the events, read as typed records).

:class:`Contracts` holds one web3 contract per deployed contract; the clients of :mod:`.registry`,
:mod:`.staking` and :mod:`.jobs` build on it, and :class:`~ngx_zk.chain.market.Marketplace` joins them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from eth_utils.address import to_checksum_address
from web3.contract import Contract
from web3.logs import DISCARD

from ..errors import ChainError
from . import events
from .deployment import Deployment
from .fees import next_base_fee
from .history import LOG_SPAN_MAX
from .signer import Signer
from .tx import Chain, Mined
from .types import (
    ChainEvent,
    Logged,
    is_dev_chain,
    snake,
)

LOG_CHUNK = LOG_SPAN_MAX
"""Most blocks one ``eth_getLogs`` asks for; the node's limits may make it less (see :class:`~ngx_zk.chain.history.LogSpan`)."""
E = TypeVar("E", bound=ChainEvent)


def decode_struct(contract: Contract, function: str, value: Sequence[Any]) -> dict[str, Any]:
    """A struct returned by ``function`` as a dict keyed by its ABI field names (snake_case), never by position."""
    outputs = contract.get_function_by_name(function).abi["outputs"]
    components = outputs[0].get("components") if len(outputs) == 1 else outputs
    names = [snake(str(c["name"])) for c in components]
    if len(names) != len(value):
        raise ChainError(
            f"{function} returned {len(value)} fields, the ABI names {len(names)}",
            "the contract artifacts and the deployed contracts differ: redeploy or update ngx-zk",
        )
    return dict(zip(names, value, strict=True))


class Contracts:
    """The deployed contracts on one chain, the token's reads and writes, and their events as typed records."""

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.chain = chain
        self.deployment = deployment
        d = deployment
        self.token: Contract = chain.contract("NGXToken", d.address("NGXToken"))
        self.registry: Contract = chain.contract("ModelRegistry", d.address("ModelRegistry"))
        self.staking: Contract = chain.contract("ProviderStaking", d.address("ProviderStaking"))
        self.market: Contract = chain.contract("JobMarket", d.address("JobMarket"))
        self.reputation: Contract = chain.contract("Reputation", d.address("Reputation"))
        self.config: Contract = chain.contract("ProtocolConfig", d.address("ProtocolConfig"))
        self._token_name: str | None = None

    # --- token ---------------------------------------------------------------------------------
    def balance(self, address: str) -> int:
        return int(self.chain.call(self.token.functions.balanceOf(to_checksum_address(address))))

    def transfer(self, signer: Signer, to: str, amount: int) -> Mined:
        return self.chain.send(self.token.functions.transfer(to_checksum_address(to), amount), signer, what="transfer NGX")

    def allowance(self, owner: str, spender: str | None = None) -> int:
        """NGX ``owner`` lets ``spender`` (default: the market) pull."""
        spender = self.market.address if spender is None else to_checksum_address(spender)
        return int(self.chain.call(self.token.functions.allowance(to_checksum_address(owner), spender)))

    def permit_nonce(self, owner: str) -> int:
        """The NGX token's EIP-2612 nonce of ``owner``: the next permit it signs must carry it."""
        return int(self.chain.call(self.token.functions.nonces(to_checksum_address(owner))))

    def gas_shortfall(self, fn: Any, sender: str) -> int:
        """Wei ``sender`` lacks to send ``fn`` now (0: it can pay): the gas estimate at a max fee of twice the next
        base fee plus the node's tip (web3's default, which the node checks the balance against). A call that would
        revert raises its typed revert."""
        gas, w3 = self.chain.estimate_gas(fn, sender), self.chain.w3
        cost = gas * (2 * next_base_fee(w3) + int(w3.eth.max_priority_fee))
        return max(0, cost - int(w3.eth.get_balance(to_checksum_address(sender))))

    def ensure_allowance(self, signer: Signer, spender: str, amount: int) -> None:
        current = self.allowance(signer.address, spender)
        if current < amount:
            self.chain.send(self.token.functions.approve(spender, amount), signer, what="approve NGX")

    # --- events --------------------------------------------------------------------------------
    @property
    def dev_chain(self) -> bool:
        """The local dev chain with a dev deployment (see :func:`~ngx_zk.chain.types.is_dev_chain`)."""
        return is_dev_chain(self.chain.chain_id, self.deployment.dev)

    def _emitter(self, kind: type[ChainEvent]) -> Contract:
        return {"JobMarket": self.market, "ProviderStaking": self.staking, "ModelRegistry": self.registry}[kind.contract]

    def logs(self, kind: type[E], from_block: int, to_block: int | None = None, **filters: Any) -> list[Logged[E]]:
        """The ``kind`` events logged from ``from_block`` on, oldest first; ``filters`` match indexed fields
        (``job_id=7``)."""
        found = self._get_logs(kind.__name__, self._emitter(kind), from_block, to_block, events.abi_filters(kind, filters))
        return [events.logged(kind, log) for log in found]

    def emitted(self, kind: type[E], receipt: Mined) -> list[E]:
        """The ``kind`` events a mined transaction emitted (other logs skipped)."""
        found = getattr(self._emitter(kind).events, kind.__name__)().process_receipt(receipt.raw, errors=DISCARD)
        return [events.decode(kind, e["args"]) for e in found]

    def _get_logs(
        self, name: str, contract: Contract, from_block: int, to_block: int | None, filters: dict[str, Any]
    ) -> list[Any]:
        """web3's decoded logs of event ``name`` of ``contract``, fetched in the block spans the node accepts."""
        end = self.chain.block_number() if to_block is None else to_block
        event = getattr(contract.events, name)()
        return self.chain.chunked_logs(
            from_block, end, lambda a, b: list(event.get_logs(from_block=a, to_block=b, argument_filters=filters or None))
        )
