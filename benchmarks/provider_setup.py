"""The claim simulator's plumbing (benchmarks/providers.py): P simulated providers in one process.

Their shared connection and read cache, their clock, the shared count of registered providers, and the setup's
transactions signed ahead and sent without waiting (see providers.py's module doc, "One process for P providers").
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address
from web3.types import Nonce, TxParams
from web3.utils.caching import SimpleCache

from ngx_zk import crypto
from ngx_zk.chain import devnet
from ngx_zk.chain.market import Marketplace
from ngx_zk.chain.signer import Signer, from_key
from ngx_zk.chain.tx import Chain
from ngx_zk.config import Secret
from ngx_zk.worker.claim_spread import ClaimSpread

Log = Callable[[str], None]
BLOCK_S = 2.0
"""Seconds of the spread's clock per block (an L2's block time)."""


class Clock:
    """The simulation's time: ``BLOCK_S`` per mined block."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class BlockCache:
    """Answers to the same read within one block, shared by the simulated providers (they live in one process).

    Every provider's requests are counted as sent (they would be, each worker to its own node); a read another
    provider already made since the last mined block (the same method and parameters, of
    ``CACHEABLE``) is answered from here instead of the node: the node's answer cannot have changed, no block
    was mined in between (the driver calls :meth:`clear` after each ``evm_mine``). It keeps the simulation's own
    cost from growing with P times the node's, not what it measures."""

    CACHEABLE = frozenset({"eth_blockNumber", "eth_getLogs", "eth_call", "eth_getBlockByNumber", "eth_getCode", "eth_chainId"})

    def __init__(self) -> None:
        self._answers: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()

    def answer(self, method: str, data: bytes, ask: Callable[[], bytes]) -> bytes:
        if method not in self.CACHEABLE:
            return ask()
        request = json.loads(data)
        key = method + json.dumps(request.get("params"), sort_keys=True)
        with self._lock:
            cached = self._answers.get(key)
            self.hits += cached is not None
        if cached is None:
            cached = ask()
            if b'"error"' not in cached:
                with self._lock:
                    self._answers[key] = cached
                    self.misses += 1
            return cached
        answer = json.loads(cached)
        answer["id"] = request.get("id")
        return json.dumps(answer).encode()


CURRENT = threading.local()
"""The simulated provider whose tick runs on this thread: its requests are counted as its own."""


def shared_chain(url: str, chain_id: int, cache: BlockCache) -> Chain:
    """One connection for every simulated provider (its contract objects built once: building them took 0.2 s a
    provider), counting each request as the provider's whose tick runs on the thread (:data:`CURRENT`), reads
    deduplicated within a block by ``cache``."""
    chain = Chain([url], expected_chain_id=chain_id)
    manager = chain.provider._request_session_manager
    manager.session_cache = SimpleCache(8192)  # one HTTP session per thread, as many threads as providers
    inner = chain.provider._make_request

    def make_request(method: Any, data: bytes) -> bytes:
        sim: Any = getattr(CURRENT, "sim", None)  # a providers.SimProvider: its calls Counter and sent flag
        if sim is not None:
            sim.calls[str(method)] += 1
        answer = cache.answer(str(method), data, lambda: inner(method, data))
        if method == "eth_sendRawTransaction" and sim is not None:
            sim.sent = True
        return answer

    chain.provider._make_request = make_request  # type: ignore[method-assign,assignment]
    return chain


def own_market(market: Marketplace) -> Marketplace:
    """``market`` over the same connection with a :class:`Chain` of its own (its own send lock: a provider
    waiting for its claim's receipt must not hold up another's claim)."""
    chain = copy.copy(market.chain)
    chain._send_lock = threading.Lock()
    chain.poll_s = 0.05  # receipt polls: a mined block is seen soon
    chain.replace_after_s = chain.receipt_timeout_s = 1e9  # lockstep: unmined only until the others are done
    own = copy.copy(market)
    own.chain = chain
    return own


class SharedCount:
    """The number of registered providers, read from the chain by one :class:`ClaimSpread` for all the simulated
    providers (each worker reads ``ProviderRegistered`` once from the deployment block, then new blocks every
    60 s: P providers in one process would decode P times the same P logs)."""

    def __init__(self, reader: ClaimSpread) -> None:
        self.reader = reader
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            return self.reader.competitors()


class SharedSpread(ClaimSpread):
    """The worker's claim spread with the provider count from a :class:`SharedCount`."""

    def __init__(self, market: Marketplace, me: str, *, clock: Clock, count: SharedCount) -> None:
        super().__init__(market, me, clock=clock)
        self.count = count

    def competitors(self) -> int:
        return self.count()


def fund(m: Any, count: int, ngx: int) -> list[tuple[Signer, str]]:
    """``count`` fresh accounts with 100 ETH (anvil_setBalance) and ``ngx`` NGX from the ecosystem allocation."""
    ecosystem = devnet.dev_signer(m.settings, "ecosystem")
    made = []
    for _ in range(count):
        key = "0x" + bytes(Account.create().key).hex()
        signer = from_key(Secret(key))
        m.market.chain.w3.provider.make_request("anvil_setBalance", [signer.address, hex(100 * 10**18)])
        m.market.transfer(ecosystem, signer.address, ngx)
        made.append((signer, key))
    return made


def _send_all(market: Marketplace, signed: list[bytes], what: str) -> None:
    """Send ``signed`` transactions with mining off, mine until every one has a receipt, check each succeeded."""
    chain = market.chain
    rpc = chain.w3.provider.make_request
    rpc("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        hashes = [chain.w3.eth.send_raw_transaction(raw).to_0x_hex() for raw in signed]
        for _ in range(len(hashes) + 2):
            rpc("evm_mine", [])  # type: ignore[arg-type]
            pending = rpc("txpool_status", [])["result"]["pending"]  # type: ignore[arg-type]
            if int(str(pending), 16) == 0:
                break
    finally:
        rpc("evm_setAutomine", [True])  # type: ignore[arg-type]
    failed = [h for h, r in chain.receipts(hashes).items() if r.status != 1]
    if failed or len(chain.receipts(hashes)) != len(hashes):
        raise RuntimeError(f"setup: {len(failed)} of {len(hashes)} {what} transactions failed or were not mined")


def presigned_setup(m: Any, count: int, stake: int, log: Log) -> list[tuple[Signer, str]]:
    """``count`` fresh providers with 100 ETH (anvil_setBalance) and ``stake`` NGX from the ecosystem allocation,
    registered and staked. The same transactions as the worker's own (``transfer``, ``approve``, ``register``,
    ``stake``), signed here with fixed gas and sent without waiting, a block holding as many as fit: setting up
    1,000 providers one receipt at a time took longer than the run."""
    market: Marketplace = m.market
    chain = market.chain
    rpc = chain.w3.provider.make_request
    ecosystem = devnet.dev_signer(m.settings, "ecosystem")
    made = []
    for _ in range(count):
        key = "0x" + bytes(Account.create().key).hex()
        signer = from_key(Secret(key))
        rpc("anvil_setBalance", [signer.address, hex(100 * 10**18)])  # type: ignore[arg-type]
        made.append((signer, key))
    fees = {"maxFeePerGas": 100 * 10**9, "maxPriorityFeePerGas": 10**9, "chainId": chain.chain_id}

    def signed(signer: Signer, fn: Any, nonce: int, gas: int) -> bytes:
        params: TxParams = {"from": to_checksum_address(signer.address), "nonce": Nonce(nonce), "gas": gas, **fees}  # type: ignore[typeddict-item]
        return bytes(signer.sign_transaction(dict(fn.build_transaction(params))))

    first = int(chain.w3.eth.get_transaction_count(to_checksum_address(ecosystem.address), "pending"))
    token, staking = market.token.functions, market.staking.functions
    _send_all(market, [signed(ecosystem, token.transfer(to_checksum_address(s.address), stake), first + i, 120_000)
                       for i, (s, _) in enumerate(made)], "NGX transfer")  # fmt: skip
    log(f"providers: {count} funded")
    register_gas = 2 * chain.estimate_gas(staking.register(bytes(32), ""), made[0][0].address)
    batch = []
    for signer, _ in made:
        pub = crypto.public_bytes(crypto.derive_key(signer.encryption_key_material()))
        batch += [
            signed(signer, token.approve(market.staking.address, stake), 0, 100_000),
            signed(signer, staking.register(pub, ""), 1, register_gas),
            signed(signer, staking.stake(stake), 2, 600_000),
        ]
    _send_all(market, batch, "approve, register and stake")
    return made
