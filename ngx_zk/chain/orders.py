"""Gasless job orders: the consumer signs, the provider sends.

A consumer holding NGX but no ETH signs two things off chain: an :class:`Order` (EIP-712, domain
"NeuroGrid JobMarket" v1 at the market's address on its chain) and an EIP-2612 :class:`Permit` to the
market of at least the order's ``max_price`` (one standing permit may cover several unfilled orders:
the market runs it only when the allowance is short, see :mod:`ngx_zk.consumer.standing`). The provider the order names hands both to ``JobMarket.fillOrder``
in one transaction that checks the signature, burns the order's nonce, pulls the escrow from the
consumer, posts the job in the consumer's name and claims it for the provider (``OrderFilled``). The
provider pays the gas; the consumer sends no transaction at all.

An order travels to the provider with an offer (the ``X-NGX-Order`` header of
``PUT /v1/offers/...``, see :mod:`ngx_zk.dataplane`): bytes from a stranger, so :meth:`SignedOrder.from_wire`
checks every field's type and range and :meth:`SignedOrder.signer` recovers who signed it before the
worker spends anything on it. An auction order's price is timed from ``signed_at``, not from the fill.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak

from ..errors import NgxZkError
from .signer import Signer
from .types import JobTerms, TermsError

DOMAIN_NAME = "NeuroGrid JobMarket"
DOMAIN_VERSION = "1"
MAX_WIRE_BYTES = 4096
"""Largest encoded order a worker reads (an order with one commitment is about 1 KiB)."""
MAX_FILL_BATCH = 64
"""``JobMarket.MAX_FILL_BATCH``: the most orders one ``fillOrders`` transaction takes."""
SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
"""Signatures with a larger ``s`` are the malleable twin of a valid one: the market refuses them."""

_UINT = {"uint8": 8, "uint32": 32, "uint40": 40, "uint96": 96, "uint256": 256}
TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Order": [
        {"name": "consumer", "type": "address"},
        {"name": "terms", "type": "JobTerms"},
        {"name": "inputCommitments", "type": "uint256[]"},
        {"name": "provider", "type": "address"},
        {"name": "nonce", "type": "uint256"},
        {"name": "signedAt", "type": "uint40"},
        {"name": "deadline", "type": "uint40"},
    ],
    "JobTerms": [
        {"name": "modelId", "type": "uint256"},
        {"name": "minPrice", "type": "uint96"},
        {"name": "maxPrice", "type": "uint96"},
        {"name": "rampDelay", "type": "uint32"},
        {"name": "rampLength", "type": "uint32"},
        {"name": "claimWindow", "type": "uint32"},
        {"name": "proveWindow", "type": "uint32"},
        {"name": "minReputation", "type": "uint8"},
        {"name": "deliverer", "type": "address"},
        {"name": "callbackGasLimit", "type": "uint32"},
        {"name": "settlement", "type": "uint8"},
    ],
}
"""The EIP-712 types, as ``JobMarket.ORDER_TYPEHASH`` hashes them (pinned by tests/test_orders.py against the contract)."""


SKIP_REASONS: dict[int, tuple[str, bool]] = {
    1: ("its signature is not its consumer's (BadSignature)", False),
    2: ("it expired before the fill was mined (Expired)", False),
    3: ("it is signed later than the block's time (NotYetValid)", True),
    4: ("it names another provider (ForAnotherProvider)", False),
    5: ("its nonce was filled or cancelled already (NonceUsed)", False),
    6: ("its model is not active: unknown, paused or retired (ModelNotActive)", False),
    7: ("the market rejects its terms or commitments (BadTerms)", False),
    8: ("this provider's NRS is below the order's minimum reputation (ReputationTooLow)", False),
    9: ("the consumer's escrow could not be pulled: balance or allowance too low (PaymentFailed)", False),
    10: ("it is this provider's own order (OwnOrder)", False),
}
"""``OrderSkipped.reason`` codes (``IJobMarket.OrderSkip``) -> (what it means, transient): a transient skip is the
moment's (the order is tried again next round), any other the order's or the consumer's (it is refused)."""


def skip_reason(code: int) -> tuple[str, bool]:
    """What ``OrderSkipped.reason`` ``code`` means, and whether filling the order again may succeed."""
    return SKIP_REASONS.get(code, (f"reason code {code}, unknown to this ngx-zk (update it)", False))


class OrderError(NgxZkError):
    """A malformed or unacceptable order (from the wire, or refused before it is filled)."""


@dataclass(frozen=True)
class Permit:
    """``IJobMarket.Permit``: the consumer's EIP-2612 approval of ``value`` NGX to the market (the market runs it only
    when the allowance is short of an order's price); ``v == 0`` means none (the allowance is used)."""

    value: int
    deadline: int
    v: int
    r: bytes
    s: bytes

    @classmethod
    def none(cls) -> Permit:
        return cls(0, 0, 0, bytes(32), bytes(32))

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.value, self.deadline, self.v, self.r, self.s)


@dataclass(frozen=True)
class Order:
    """``IJobMarket.Order``: a job the consumer will pay for if ``provider`` (or, when zero, any eligible
    provider) fills it before ``deadline``; ``nonce`` makes it fill at most once."""

    consumer: str
    terms: JobTerms
    commitments: tuple[int, ...]
    provider: str
    nonce: int
    signed_at: int
    deadline: int

    def price_at(self, timestamp: int) -> int:
        """What a fill at chain time ``timestamp`` locks (an auction's ramp counts from ``signed_at``)."""
        return self.terms.price_at(max(0, timestamp - self.signed_at))

    def typed_data(self, chain_id: int, market: str) -> dict[str, Any]:
        t = self.terms
        return {
            "types": TYPES,
            "primaryType": "Order",
            "domain": {
                "name": DOMAIN_NAME,
                "version": DOMAIN_VERSION,
                "chainId": chain_id,
                "verifyingContract": to_checksum_address(market),
            },
            "message": {
                "consumer": to_checksum_address(self.consumer),
                "terms": {
                    "modelId": t.model_id,
                    "minPrice": t.min_price,
                    "maxPrice": t.max_price,
                    "rampDelay": t.ramp_delay,
                    "rampLength": t.ramp_length,
                    "claimWindow": t.claim_window,
                    "proveWindow": t.prove_window,
                    "minReputation": t.min_reputation,
                    "deliverer": to_checksum_address(t.deliverer),
                    "callbackGasLimit": t.callback_gas_limit,
                    "settlement": t.settlement,
                },
                "inputCommitments": list(self.commitments),
                "provider": to_checksum_address(self.provider),
                "nonce": self.nonce,
                "signedAt": self.signed_at,
                "deadline": self.deadline,
            },
        }

    def digest(self, chain_id: int, market: str) -> bytes:
        """The EIP-712 digest the consumer signs (``JobMarket.orderDigest``)."""
        signable = encode_typed_data(full_message=self.typed_data(chain_id, market))
        return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))

    def as_tuple(self) -> tuple[Any, ...]:
        """The ABI tuple, in ``IJobMarket.Order`` field order."""
        return (
            to_checksum_address(self.consumer),
            self.terms.as_tuple(),
            to_checksum_address(self.provider),
            self.nonce,
            self.signed_at,
            self.deadline,
        )


@dataclass(frozen=True)
class SignedOrder:
    order: Order
    signature: bytes
    permit: Permit

    @classmethod
    def sign(cls, signer: Signer, order: Order, permit: Permit, chain_id: int, market: str) -> SignedOrder:
        if order.consumer.lower() != signer.address.lower():
            raise OrderError(f"the order names consumer {order.consumer}, not the signer {signer.address}")
        signed = signer.sign_typed_data(order.typed_data(chain_id, market))
        return cls(order, bytes(signed.signature), permit)

    def signer(self, chain_id: int, market: str) -> str | None:
        """Who signed this order for ``market`` on ``chain_id`` (None: malformed, or a malleable high-s copy)."""
        sig = self.signature
        if len(sig) != 65 or sig[64] not in (27, 28) or int.from_bytes(sig[32:64], "big") > SECP256K1_HALF_N:
            return None
        try:
            signable = encode_typed_data(full_message=self.order.typed_data(chain_id, market))
            return str(Account.recover_message(signable, signature=sig))
        except Exception:  # any malformed signature is simply not a signature
            return None

    # --- the wire -------------------------------------------------------------------------------------
    def to_wire(self) -> str:
        """Base64 of compact JSON: the value of an offer's ``X-NGX-Order`` header."""
        o, t, p = self.order, self.order.terms, self.permit
        data = {
            "consumer": o.consumer,
            "terms": {
                "model_id": t.model_id,
                "min_price": str(t.min_price),
                "max_price": str(t.max_price),
                "ramp_delay": t.ramp_delay,
                "ramp_length": t.ramp_length,
                "claim_window": t.claim_window,
                "prove_window": t.prove_window,
                "min_reputation": t.min_reputation,
                "deliverer": t.deliverer,
                "callback_gas_limit": t.callback_gas_limit,
                "settlement": t.settlement,
            },
            "commitments": [f"0x{c:064x}" for c in o.commitments],
            "provider": o.provider,
            "nonce": str(o.nonce),
            "signed_at": o.signed_at,
            "deadline": o.deadline,
            "signature": "0x" + self.signature.hex(),
            "permit": {"value": str(p.value), "deadline": p.deadline, "v": p.v, "r": "0x" + p.r.hex(), "s": "0x" + p.s.hex()},
        }
        return base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()

    @classmethod
    def from_wire(cls, text: str) -> SignedOrder:
        """Parse a stranger's ``X-NGX-Order`` value; raises :class:`OrderError` naming the first bad field."""
        if len(text) > MAX_WIRE_BYTES:
            raise OrderError(f"order too long ({len(text)} bytes, at most {MAX_WIRE_BYTES})")
        try:
            data = json.loads(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise OrderError("the order is not base64 of JSON") from None
        if not isinstance(data, dict):
            raise OrderError("the order is not a JSON object")
        terms = _obj(data, "terms")
        permit = _obj(data, "permit")
        commitments = data.get("commitments")
        if not isinstance(commitments, list) or not 1 <= len(commitments) <= 64:
            raise OrderError("order.commitments must be a list of 1 to 64 field elements")
        try:
            job_terms = JobTerms(
                model_id=_uint(terms, "model_id", "uint256"),
                min_price=_uint(terms, "min_price", "uint96"),
                max_price=_uint(terms, "max_price", "uint96"),
                claim_window=_uint(terms, "claim_window", "uint32"),
                prove_window=_uint(terms, "prove_window", "uint32"),
                min_reputation=_uint(terms, "min_reputation", "uint8"),
                ramp_delay=_uint(terms, "ramp_delay", "uint32"),
                ramp_length=_uint(terms, "ramp_length", "uint32"),
                deliverer=_address(terms, "deliverer"),
                callback_gas_limit=_uint(terms, "callback_gas_limit", "uint32"),
                settlement=_uint(terms, "settlement", "uint8") if "settlement" in terms else 0,
            )
        except TermsError as exc:
            raise OrderError(f"order.{exc.message}") from None
        order = Order(
            consumer=_address(data, "consumer"),
            terms=job_terms,
            commitments=tuple(_uint({"commitments": c}, "commitments", "uint256") for c in commitments),
            provider=_address(data, "provider"),
            nonce=_uint(data, "nonce", "uint256"),
            signed_at=_uint(data, "signed_at", "uint40"),
            deadline=_uint(data, "deadline", "uint40"),
        )
        return cls(
            order,
            _bytes(data, "signature", 65),
            Permit(
                _uint(permit, "value", "uint256") if "value" in permit else job_terms.max_price,  # older consumers: the price
                _uint(permit, "deadline", "uint256"),
                _uint(permit, "v", "uint8"),
                _bytes(permit, "r", 32),
                _bytes(permit, "s", 32),
            ),
        )


def permit_typed_data(
    token_name: str, chain_id: int, token: str, owner: str, spender: str, value: int, nonce: int, deadline: int
) -> dict[str, Any]:
    """The EIP-2612 ``Permit`` typed data of the NGX token (OpenZeppelin's ERC20Permit, version "1")."""
    return {
        "types": {
            "EIP712Domain": TYPES["EIP712Domain"],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {"name": token_name, "version": "1", "chainId": chain_id, "verifyingContract": to_checksum_address(token)},
        "message": {"owner": owner, "spender": spender, "value": value, "nonce": nonce, "deadline": deadline},
    }


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise OrderError(f"order.{key} must be a JSON object")
    return value


def _uint(data: dict[str, Any], key: str, kind: str) -> int:
    """An unsigned integer of ``kind``: a JSON number, a decimal string or a 0x hex string (big values)."""
    value = data.get(key)
    if isinstance(value, str) and len(value) <= 78:
        text = value[2:] if value.startswith("0x") else value
        digits = "0123456789abcdefABCDEF" if value.startswith("0x") else "0123456789"
        if text and all(c in digits for c in text):
            value = int(text, 16 if value.startswith("0x") else 10)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << _UINT[kind]:
        raise OrderError(f"order field {key!r} must be a {kind}")
    return value


def _address(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not is_address(value) or not value.startswith("0x"):
        raise OrderError(f"order field {key!r} must be a 0x address")
    return to_checksum_address(value)


def _bytes(data: dict[str, Any], key: str, length: int) -> bytes:
    value = data.get(key)
    try:
        raw = bytes.fromhex(value[2:]) if isinstance(value, str) and value.startswith("0x") else None
    except ValueError:
        raw = None
    if raw is None or len(raw) != length:
        raise OrderError(f"order field {key!r} must be {length} bytes as 0x hex")
    return raw
