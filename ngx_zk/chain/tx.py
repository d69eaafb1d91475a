"""A connection to an EVM chain: calls, transactions with receipts, deployments, decoded reverts."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import requests
from eth_utils.address import to_checksum_address
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, TimeExhausted, TransactionNotFound, Web3RPCError
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import TxParams

from ..errors import ContractRevert, RpcError, TransactionError, WrongChainError
from .abi import abi, artifact, decode_revert
from .signer import Signer

RECEIPT_TIMEOUT_S = 120
RPC_TIMEOUT_S = 10

REVERT_HINTS = {
    "JobMarket__ReputationTooLow": "the provider's NRS is below the job's minimum reputation",
    "JobMarket__StakeBelowMinimum": "stake more NGX: ngx-zk provider stake AMOUNT",
    "JobMarket__ProviderNotRegistered": "register first: ngx-zk provider register",
    "JobMarket__InvalidProof": "the verifier rejected the proof",
    "JobMarket__ClaimWindowClosed": "the job can no longer be claimed",
    "JobMarket__ProveWindowClosed": "the prove deadline has passed; the job can only expire now",
    "ERC20InsufficientBalance": "the account holds too few NGX",
    "ERC20InsufficientAllowance": "approve the contract to spend the amount first",
    "ProviderStaking__InsufficientFreeStake": "part of the stake is locked as collateral for live jobs",
}


class Chain:
    """One JSON-RPC connection (the first URL that answers), with the chain id checked."""

    def __init__(self, urls: Sequence[str], *, expected_chain_id: int | None = None) -> None:
        failures = []
        for url in urls:
            w3 = Web3(HTTPProvider(
                url,
                request_kwargs={"timeout": RPC_TIMEOUT_S},
                exception_retry_configuration=ExceptionRetryConfiguration(
                    errors=(requests.ConnectionError, requests.Timeout, requests.HTTPError), retries=3, backoff_factor=0.25,
                ),
            ))
            try:
                chain_id = int(w3.eth.chain_id)
            except (requests.RequestException, Web3RPCError, OSError, ValueError) as exc:
                failures.append(f"{url}: {type(exc).__name__}")
                continue
            if expected_chain_id is not None and chain_id != expected_chain_id:
                raise WrongChainError(expected_chain_id, chain_id, url)
            self.w3, self.url, self.chain_id = w3, url, chain_id
            self._send_lock = threading.Lock()
            return
        raise RpcError(f"no chain node answers at {', '.join(urls)} ({'; '.join(failures)})",
                       "start one with `ngx-zk devnet up`, or point --rpc-url / NGX_ZK_RPC_URL at a node")

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

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """The receipt of a transaction, or None while it is pending or unknown."""
        try:
            return dict(self.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return None

    def has_code(self, address: str) -> bool:
        return len(self.w3.eth.get_code(to_checksum_address(address))) > 0

    # --- writing -----------------------------------------------------------------------------
    def send(self, fn: ContractFunction, signer: Signer, *, what: str, on_sent: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Dry-run with eth_call (decoding any revert), then sign, send and wait for the receipt.

        ``on_sent`` gets the transaction hash as soon as the node accepted it (journal it there)."""
        self.call(fn, sender=signer.address)
        with self._send_lock:
            try:
                tx = fn.build_transaction(self._tx_params(signer))
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
            receipt = self._submit(tx, signer, what)
        return str(receipt["contractAddress"])

    def _tx_params(self, signer: Signer) -> TxParams:
        sender = to_checksum_address(signer.address)
        return {"from": sender, "nonce": self.w3.eth.get_transaction_count(sender, "pending"), "chainId": self.chain_id}

    def _submit(self, tx: dict[str, Any], signer: Signer, what: str, on_sent: Callable[[str], None] | None = None) -> dict[str, Any]:
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signer.sign_transaction(tx))
            if on_sent is not None:
                on_sent("0x" + bytes(tx_hash).hex())
            receipt = dict(self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S))
            receipt["tx"] = "0x" + bytes(tx_hash).hex()
        except TimeExhausted:
            raise TransactionError(f"{what}: not mined within {RECEIPT_TIMEOUT_S}s", "check the node; the transaction may still be pending") from None
        except (requests.RequestException, Web3RPCError) as exc:
            raise RpcError(f"{what}: sending failed: {exc}") from None
        if receipt.get("status") != 1:
            raise TransactionError(f"{what}: transaction {receipt['tx']} reverted")
        return receipt


def revert_error(exc: ContractLogicError) -> Exception:
    """A typed :class:`ContractRevert` decoded from the revert data's selector, when the ABI knows it."""
    raw = exc.data if isinstance(exc.data, str) else None
    if raw and raw.startswith("0x"):
        decoded = decode_revert(bytes.fromhex(raw[2:]))
        if decoded is not None:
            name, args = decoded
            return ContractRevert(name, args, REVERT_HINTS.get(name))
    return TransactionError(f"the contract reverted: {exc.message or exc}")
