"""A connection to an EVM chain: calls, transactions with receipts, deployments, decoded reverts.

Faults a long-running worker meets are handled here, below every caller:

* **RPC faults** (connection refused, timeouts, HTTP 5xx/429): :class:`FailoverProvider` retries a
  request that is safe to repeat with backoff, then fails over to the next configured URL (checking
  that it serves the same chain), and gives up with one :class:`RpcError` line naming each node's fault.
* **Stuck transactions**: :meth:`Chain.send` re-sends the same nonce with higher fees when no receipt
  comes within ``replace_after_s``, keeps every hash it sent, and finishes when any of them is mined.
  The operator's caps (``max_fee_per_gas``, ``max_priority_fee_per_gas``: :mod:`~ngx_zk.chain.fees`)
  bound every version; while the base fee is above the cap nothing is sent (:class:`~ngx_zk.chain.fees.FeeAboveCap`).
  The node's "already known", "nonce too low" and "replacement underpriced" answers are settled by
  the receipts of those hashes, so a transaction is never sent twice under two nonces.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import requests
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.logs import DISCARD
from web3.types import TxParams

from ..errors import ContractRevert, RpcError, TransactionError, WrongChainError
from .abi import abi, artifact, decode_revert
from .fees import bumped, capped, gwei
from .history import ChainHistory
from .rpc import RPC_BACKOFF_S, RPC_TIMEOUT_S, RPC_TRIES, FailoverProvider, mask_url
from .signer import Signer

RECEIPT_TIMEOUT_S = 120
"""Give up waiting for a transaction after this long (the error lists every hash sent: one may still land)."""
GAS_MARGIN_PCT = 125
"""Gas limit = the node's estimate x 1.25 (unused gas is not charged)."""
REPLACE_AFTER_S = 30.0
"""With no receipt after this long, re-send the transaction with the same nonce and higher fees."""
MAX_REPLACEMENTS = 4
"""Replacements per transaction; after them, wait on every hash sent until RECEIPT_TIMEOUT_S."""
FEE_BUMP = (5, 4)
"""Each replacement multiplies maxFeePerGas and maxPriorityFeePerGas (or gasPrice) by at least 5/4."""
FEE_CAP_MULTIPLE = 4
"""Without an explicit cap, a replacement never pays more than this multiple of the first fee."""
RECEIPT_POLL_S = 0.1
RECEIPT_LAG_S = 2.0
READ_LAG_WAIT_S = 60.0
"""After a receipt, how long to wait for the node's reads to reach its block (a lagging backend catching up)."""
"""A node may count a mined nonce a moment before it serves the receipt (seen on anvil under load;
load-balanced RPCs lag too): a used nonce means "not ours" only once this long passed without one."""

REVERT_HINTS = {
    "ProviderStaking__NotRegistered": "register first: ngx-zk provider register --endpoint URL",
    "ProviderStaking__AlreadyRegistered": "this account is registered already: see it with ngx-zk provider status",
    "JobMarket__ModelNotActive": "the model is paused or deprecated: it takes no new jobs",
    "JobMarket__PriceBelowMinimum": "raise --price to at least the market's minimum job price",
    "JobMarket__InputDeadlineNotReached": "a missing input may be declined for free only after the input deadline",
    "JobMarket__InputWasDelivered": "the input was delivered on chain: decline it as invalid, or prove it",
    "JobMarket__InputDeadlinePassed": "the input deadline has passed: a late delivery does not count; the job will be declined or expire",
    "JobMarket__VerifierCodeChanged": "the code at the model's verifier address is not the code its registry entry pinned",
    "JobMarket__ReputationTooLow": "the provider's NRS is below the job's minimum reputation",
    "JobMarket__StakeBelowMinimum": "stake more NGX: ngx-zk provider stake AMOUNT",
    "JobMarket__ProviderNotRegistered": "register first: ngx-zk provider register",
    "JobMarket__InvalidProof": "the verifier rejected the proof",
    "JobMarket__ClaimWindowClosed": "the job can no longer be claimed",
    "JobMarket__ProveWindowClosed": "the prove deadline has passed; the job can only expire now",
    "ERC20InsufficientBalance": "the account holds too few NGX",
    "ERC20InsufficientAllowance": "approve the contract to spend the amount first",
    "ProviderStaking__InsufficientFreeStake": "part of the stake is locked as collateral for live jobs",
    "ProviderStaking__NothingToWithdraw": "nothing has finished unbonding: ngx-zk provider unstake AMOUNT first, "
    "then withdraw after the unbonding delay (ngx-zk provider status shows when)",
    "ModelRegistry__UnknownModel": "no model has this id on this chain: check the id (and --rpc-url)",
    "SafeCastOverflowedUintDowncast": "the amount is more than the contract can hold: use a smaller one",
    "JobMarket__ClaimWindowOutOfBounds": "pick a --claim-window between the min and max the error names (seconds)",
    "JobMarket__ProveWindowOutOfBounds": "pick a --prove-window between the min and max the error names (seconds)",
    "JobMarket__NothingToWithdraw": "the market holds nothing for this account: see ngx-zk provider status",
    "JobMarket__UnknownJob": "no job has this id on this chain: ngx-zk jobs lists them",
    "JobMarket__NotExpired": "its deadline has not passed yet: ngx-zk job show ID says when it does",
    "JobMarket__OptimisticNeedsTrustedVerifier": "this model's verifier code is not allow-listed, so a challenge "
    "could not be judged: post the job with --settlement eager",
}


@dataclass(frozen=True)
class Mined:
    """The receipt of a mined transaction: the hash that got mined (of the fee-bumped versions sent
    under one nonce, the one that landed), its block, the gas it used and its status (1: success).
    ``raw`` is the node's receipt, kept for decoding the events in it (:meth:`Chain.events_in`)."""

    tx: str
    block_number: int
    gas_used: int
    status: int
    contract_address: str | None
    """The contract a deployment created; None for a call."""
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == 1


class Chain(ChainHistory):
    """A JSON-RPC connection to one chain over one or more nodes (failover), with the chain id checked.

    ``expected_chain_id`` refuses a node that serves another chain. The fault-handling knobs are
    attributes, defaulted from the module constants (tests make them small). Typed reads of past
    blocks, logs, transactions and receipts come from :class:`~ngx_zk.chain.history.ChainHistory`."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        expected_chain_id: int | None = None,
        timeout_s: float = RPC_TIMEOUT_S,
        tries: int = RPC_TRIES,
        backoff_s: float = RPC_BACKOFF_S,
    ) -> None:
        self.provider = FailoverProvider(urls, timeout_s=timeout_s, tries=tries, backoff_s=backoff_s)
        self.w3 = Web3(self.provider)
        try:
            chain_id = int(self.w3.eth.chain_id)
        except (RpcError, Web3RPCError, ValueError) as exc:
            raise RpcError(
                f"no chain node answers at {', '.join(mask_url(u) for u in urls)} ({getattr(exc, 'message', exc)})",
                "start one with `ngx-zk devnet up`, or point --rpc-url / NGX_ZK_RPC_URL at a node",
            ) from None
        if expected_chain_id is not None and chain_id != expected_chain_id:
            raise WrongChainError(expected_chain_id, chain_id, mask_url(self.provider.url))
        self.chain_id = chain_id
        self.provider.pin(chain_id)
        self.receipt_timeout_s: float = RECEIPT_TIMEOUT_S
        self.replace_after_s: float = REPLACE_AFTER_S
        self.max_replacements = MAX_REPLACEMENTS
        self.max_fee_per_gas: int | None = None
        """The operator's cap on maxFeePerGas (wei), first try and replacements; None: replacements up to
        FEE_CAP_MULTIPLE times the first fee. ``max_priority_fee_per_gas`` caps the tip likewise."""
        self.max_priority_fee_per_gas: int | None = None
        self.poll_s = RECEIPT_POLL_S
        self._send_lock = threading.Lock()

    @property
    def url(self) -> str:
        """The node that answers now (it changes on failover)."""
        return self.provider.url

    # --- reading -----------------------------------------------------------------------------
    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=abi(name))

    def call(self, fn: ContractFunction, *, sender: str | None = None) -> Any:
        try:
            return fn.call({"from": sender} if sender else {})
        except ContractLogicError as exc:
            raise revert_error(exc) from None
        except (requests.RequestException, Web3RPCError) as exc:
            raise RpcError(f"RPC call failed: {exc}") from None

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    def timestamp(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def receipt(self, tx_hash: str) -> Mined | None:
        """The receipt of a transaction, or None while it is pending or unknown."""
        try:
            raw = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        created = raw.get("contractAddress")
        return Mined(
            tx=tx_hash,
            block_number=int(raw["blockNumber"]),
            gas_used=int(raw["gasUsed"]),
            status=int(raw["status"]),
            contract_address=str(created) if created else None,
            raw=raw,
        )

    def transaction_known(self, tx_hash: str) -> bool:
        """Does the node hold this transaction (mined or in its mempool)?"""
        try:
            self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
            return True
        except Exception:  # web3 raises TransactionNotFound; any failure means "not known"
            return False

    def estimate_gas(self, fn: ContractFunction, sender: str) -> int:
        try:
            return int(fn.estimate_gas({"from": to_checksum_address(sender)}))
        except ContractLogicError as exc:
            raise revert_error(exc) from None
        except (requests.RequestException, Web3RPCError) as exc:
            raise RpcError(f"gas estimate failed: {exc}") from None

    @staticmethod
    def events_in(receipt: Mined, contract: Contract, name: str) -> list[dict[str, Any]]:
        """The ``name`` events ``contract`` emitted in a transaction (its arguments by name; other logs skipped)."""
        return [dict(e["args"]) for e in contract.events[name]().process_receipt(receipt.raw, errors=DISCARD)]

    def has_code(self, address: str) -> bool:
        return len(self.w3.eth.get_code(to_checksum_address(address))) > 0

    # --- writing -----------------------------------------------------------------------------
    def send(
        self,
        fn: ContractFunction,
        signer: Signer,
        *,
        what: str,
        on_sent: Callable[[str], None] | None = None,
        gas: int | None = None,
        dry_run: bool = True,
    ) -> Mined:
        """Dry-run (decoding any revert), then sign, send and wait for the receipt.

        The node's gas estimate is the dry run: it executes the call and reverts as eth_call would.
        A caller that gives ``gas`` gets an eth_call instead, unless it already dry-ran the call
        (``dry_run=False``). ``on_sent`` gets each transaction hash (the first and every fee-bumped
        replacement) as soon as the node may hold it: journal it there."""
        if dry_run and gas is not None:
            self.call(fn, sender=signer.address)
        with self._send_lock:
            try:
                params = self._tx_params(signer)
                # the node's estimate is exact for the current block; the mined block may take a
                # slightly costlier path (time-dependent reputation math), so leave head-room
                params["gas"] = gas if gas is not None else self.estimate_gas(fn, signer.address) * GAS_MARGIN_PCT // 100
                tx = fn.build_transaction(params)
            except ContractLogicError as exc:
                raise revert_error(exc) from None
            return self._submit(dict(tx), signer, what, on_sent)

    def deploy(self, name: str, signer: Signer, *args: Any) -> str:
        """Deploy contract ``name`` from the exported artifacts; returns its address."""
        factory = self.w3.eth.contract(abi=abi(name), bytecode=artifact(name)["bytecode"])
        return self.deploy_bytecode(factory.constructor(*args), signer, what=f"deploy {name}")

    def deploy_bytecode(self, constructor: Any, signer: Signer, *, what: str) -> str:
        with self._send_lock:
            try:
                tx = constructor.build_transaction(self._tx_params(signer))
            except ContractLogicError as exc:
                raise revert_error(exc) from None
            receipt = self._submit(dict(tx), signer, what)
        if receipt.contract_address is None:
            raise TransactionError(f"{what}: transaction {receipt.tx} created no contract")
        return receipt.contract_address

    def _tx_params(self, signer: Signer) -> TxParams:
        sender = to_checksum_address(signer.address)
        return {"from": sender, "nonce": self.w3.eth.get_transaction_count(sender, "pending"), "chainId": self.chain_id}

    def _submit(self, tx: dict[str, Any], signer: Signer, what: str, on_sent: Callable[[str], None] | None = None) -> Mined:
        """Send ``tx`` and return the receipt of whichever of its versions (same nonce) gets mined.

        The steps: broadcast a version and classify the node's answer (:meth:`_send_version`); wait
        for a receipt of any version sent, for ``replace_after_s`` while a replacement is allowed;
        otherwise raise the fees (:func:`~ngx_zk.chain.fees.bumped`) and broadcast again; at the end, check the receipt."""
        tx = capped(self.w3, tx, self.max_fee_per_gas, self.max_priority_fee_per_gas, what)
        sending = _Sending(
            tx,
            nonce=int(tx["nonce"]),
            sender=to_checksum_address(signer.address),
            cap=self.max_fee_per_gas or FEE_CAP_MULTIPLE * int(tx.get("maxFeePerGas", tx.get("gasPrice", 0))),
            deadline=time.monotonic() + self.receipt_timeout_s,
        )
        while True:
            verdict, detail = self._send_version(sending, signer, what, on_sent)
            receipt = self._wait_or_replace(sending, verdict, detail, what)
            if receipt is not None:
                self._reads_reach(receipt.block_number)
                return _checked(receipt, what)

    def _reads_reach(self, block: int) -> None:
        """Wait (up to ``READ_LAG_WAIT_S``) until the node's reads show ``block``: a load-balanced provider may
        serve the receipt from one backend and the next read from another, a few blocks behind, which would
        not yet show what the transaction did (a job just posted: "no job with that id")."""
        until = time.monotonic() + READ_LAG_WAIT_S
        while self.block_number() < block and time.monotonic() < until:
            time.sleep(max(self.poll_s, 0.05))

    def _send_version(
        self, sending: _Sending, signer: Signer, what: str, on_sent: Callable[[str], None] | None
    ) -> tuple[Verdict, str]:
        """Sign and broadcast the current version; keep its hash if a node may hold it."""
        raw = signer.sign_transaction(sending.tx)
        tx_hash = "0x" + keccak(raw).hex()
        verdict, detail = self._broadcast(raw)
        # "nonce too low" may mean this very transaction was mined (an earlier attempt whose answer was lost)
        ours = verdict in (Verdict.ACCEPTED, Verdict.KNOWN, Verdict.UNSURE) or (
            verdict is Verdict.NONCE_USED and self.receipt(tx_hash) is not None
        )
        if ours and tx_hash not in sending.sent:
            sending.sent.append(tx_hash)
            if on_sent is not None:
                on_sent(tx_hash)
        if not sending.sent and verdict is Verdict.REFUSED:
            raise TransactionError(f"{what}: the node refused the transaction: {detail}")
        return verdict, detail

    def _wait_or_replace(self, sending: _Sending, verdict: Verdict, detail: str, what: str) -> Mined | None:
        """A receipt of any version sent; or None after raising the fees (the caller broadcasts again)."""
        can_replace = sending.replacements < self.max_replacements and verdict is not Verdict.REFUSED
        if not sending.sent and verdict is Verdict.UNDERPRICED and not can_replace:
            raise TransactionError(
                f"{what}: the node refused the fee ({detail}) after {sending.replacements} raises",
                "wait for lower fees, or raise --max-fee-gwei (NGX_ZK_MAX_FEE_GWEI)",
            )
        # a fee the node refused outright is raised at once; a pending one gets replace_after_s to land
        wait = 0.0 if verdict is Verdict.UNDERPRICED and not sending.sent else self.replace_after_s
        until = min(sending.deadline, time.monotonic() + wait) if can_replace else sending.deadline
        receipt = self._first_receipt(sending.sent, sending.sender, sending.nonce, until, what)
        if receipt is not None or not can_replace:
            return receipt if receipt is not None else self._no_receipt(sending, what)
        raised = bumped(self.w3, sending.tx, sending.cap, self.max_priority_fee_per_gas, FEE_BUMP)
        if raised is not None and time.monotonic() < sending.deadline:
            sending.tx, sending.replacements = raised, sending.replacements + 1
            return None
        sending.at_cap = raised is None
        if not sending.sent:
            raise TransactionError(
                f"{what}: the node refused the fee ({detail}) and a higher one would pass the cap of {gwei(sending.cap)} gwei",
                "wait for lower fees, or raise --max-fee-gwei (NGX_ZK_MAX_FEE_GWEI)",
            )
        receipt = self._first_receipt(sending.sent, sending.sender, sending.nonce, sending.deadline, what)  # no higher fee: wait
        return receipt if receipt is not None else self._no_receipt(sending, what)

    def _no_receipt(self, sending: _Sending, what: str) -> Mined:
        capped_at = f" at the fee cap of {gwei(sending.cap)} gwei" if sending.at_cap else ""
        raise TransactionError(
            f"{what}: not mined within {self.receipt_timeout_s:g}s{capped_at} (sent {', '.join(sending.sent)})",
            "one of these may still be mined: check them before sending again"
            + ("; the base fee rose past the cap: raise --max-fee-gwei, or wait for it to fall" if capped_at else ""),
        )

    def _broadcast(self, raw: bytes) -> tuple[Verdict, str]:
        """Hand a signed transaction to the node and classify its answer."""
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Web3RPCError as exc:
            message = _rpc_message(exc)
            lowered = message.lower()
            for verdict, needles in NODE_ANSWERS:
                if any(n in lowered for n in needles):
                    return verdict, message
            return Verdict.REFUSED, message
        except (RpcError, requests.RequestException) as exc:
            return Verdict.UNSURE, str(exc)  # the node may have it: wait for its receipt all the same
        return Verdict.ACCEPTED, ""

    def _first_receipt(self, sent: list[str], sender: str, nonce: int, until: float, what: str) -> Mined | None:
        """Poll the receipts of ``sent`` until ``until``; fail once the nonce is used by a transaction not ours."""
        try:
            while True:
                found = self._any_receipt(sent)
                if found is not None:
                    return found
                if int(self.w3.eth.get_transaction_count(sender, "latest")) > nonce:  # type: ignore[arg-type]
                    found = self._receipt_after_lag(sent)
                    if found is not None:
                        return found
                    raise TransactionError(
                        f"{what}: nonce {nonce} of {sender} was used by another transaction; none of ours was mined"
                        + (f" ({', '.join(sent)})" if sent else ""),
                        "is another program signing with this key? Nothing was spent by this call",
                    )
                if time.monotonic() >= until:
                    return None
                time.sleep(self.poll_s)
        except RpcError as exc:
            if not sent:
                raise
            raise RpcError(f"{what}: {exc.message}; sent {', '.join(sent)}, which may still be mined", exc.hint) from None

    def _receipt_after_lag(self, hashes: list[str]) -> Mined | None:
        """The nonce is used: a receipt of ours, if one shows within ``RECEIPT_LAG_S``."""
        until = time.monotonic() + RECEIPT_LAG_S
        while True:
            found = self._any_receipt(hashes)
            if found is not None or time.monotonic() >= until:
                return found
            time.sleep(min(self.poll_s, 0.05))

    def _any_receipt(self, hashes: list[str]) -> Mined | None:
        for tx_hash in hashes:
            receipt = self.receipt(tx_hash)
            if receipt is not None:
                return receipt
        return None


@dataclass
class _Sending:
    """One transaction on its way: the current version, every hash sent (oldest first), the replacements."""

    tx: dict[str, Any]
    nonce: int
    sender: str
    cap: int
    deadline: float
    sent: list[str] = field(default_factory=list)
    replacements: int = 0
    at_cap: bool = False
    """The fees reached the cap: no replacement may offer more."""


class Verdict(Enum):
    """What a node's answer to eth_sendRawTransaction means for the transaction."""

    ACCEPTED = "accepted"
    KNOWN = "already known"  # the node holds this exact transaction
    NONCE_USED = "nonce too low"  # a transaction with this nonce is mined: ours or another
    UNDERPRICED = "underpriced"  # the fee is too low now, or another transaction holds the nonce at a higher fee
    REFUSED = "refused"  # anything else (insufficient funds, invalid): nothing was sent
    UNSURE = "unsure"  # the answer was lost: the node may hold it


NODE_ANSWERS: tuple[tuple[Verdict, tuple[str, ...]], ...] = (
    (
        Verdict.KNOWN,
        (
            "already known",
            "already imported",
            "alreadyknown",
            "known transaction",
            "already exists",
            "already in mempool",
            "already in the mempool",
        ),
    ),
    (Verdict.NONCE_USED, ("nonce too low", "oldnonce", "nonce has already been used", "nonce is too low")),
    (
        Verdict.UNDERPRICED,
        (
            "underpriced",
            "fee too low",
            "feetoolow",
            "less than block base fee",
            "less than base fee",
            "max fee per gas less than",
            "gas price too low",
            "fee cap less than",
        ),
    ),
)
"""The wording of geth, anvil, reth, erigon and nethermind. These node errors carry no ABI selector and
their codes differ between clients, so their text is the only signal there is."""


def _checked(receipt: Mined, what: str) -> Mined:
    if not receipt.ok:
        raise TransactionError(f"{what}: transaction {receipt.tx} reverted")
    return receipt


def _rpc_message(exc: Web3RPCError) -> str:
    response = exc.rpc_response or {}
    error = response.get("error") if isinstance(response, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(exc.message)


def revert_error(exc: ContractLogicError) -> Exception:
    """A typed :class:`ContractRevert` decoded from the revert data's selector, when the ABI knows it."""
    raw = exc.data if isinstance(exc.data, str) else None
    if raw and raw.startswith("0x"):
        decoded = decode_revert(bytes.fromhex(raw[2:]))
        if decoded is not None:
            name, args = decoded
            return ContractRevert(name, args, REVERT_HINTS.get(name))
    return TransactionError(f"the contract reverted: {exc.message or exc}")
