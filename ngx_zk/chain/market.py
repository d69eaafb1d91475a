"""Typed clients for the marketplace contracts, over one :class:`Chain` and its deployment."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum, StrEnum
from typing import TYPE_CHECKING, Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.contract import Contract

from ..errors import ChainError
from .abi import abi, artifact
from .deployment import Deployment
from .signer import Signer
from .tx import Chain, Mined

if TYPE_CHECKING:
    from .orders import Order, Permit, SignedOrder

LOG_CHUNK = 2_000
ZERO = "0x0000000000000000000000000000000000000000"
PERMIT_TTL_S = 3_600


class JobStatus(StrEnum):
    """Mirrors ``IJobMarket.JobStatus`` (same names, same order; pinned by tests/test_chain_types.py)."""

    NONE = "None"
    OPEN = "Open"
    CLAIMED = "Claimed"
    SETTLED = "Settled"
    EXPIRED = "Expired"
    CANCELLED = "Cancelled"

    @classmethod
    def from_index(cls, index: int) -> JobStatus:
        return list(cls)[index]

    @property
    def final(self) -> bool:
        return self in (JobStatus.SETTLED, JobStatus.EXPIRED, JobStatus.CANCELLED)


TRANSITIONS = {
    JobStatus.OPEN: {JobStatus.CLAIMED, JobStatus.CANCELLED, JobStatus.EXPIRED},
    JobStatus.CLAIMED: {JobStatus.SETTLED, JobStatus.EXPIRED, JobStatus.CANCELLED, JobStatus.OPEN},
}
"""The lifecycle the contract enforces (Claimed -> Cancelled is a provider's decline; Claimed -> Open is a
missed job reopened once for a second prover)."""


class ModelStatus(StrEnum):
    """Mirrors ``IModelRegistry.ModelStatus``."""

    NONE = "None"
    ACTIVE = "Active"
    DEPRECATED = "Deprecated"
    PAUSED = "Paused"

    @classmethod
    def from_index(cls, index: int) -> ModelStatus:
        return list(cls)[index]


class VerifierKind(int, Enum):
    """Mirrors ``IModelRegistry.VerifierKind``."""

    DEDICATED = 0
    REUSABLE = 1


class DeclineReason(IntEnum):
    """Mirrors ``IJobMarket.DeclineReason``: why a provider gives a claimed job back.

    ``INPUT_MISSING`` (after the input deadline, nothing delivered on chain) and ``INPUT_INVALID`` are
    free while the provider has free declines left; ``OTHER`` always costs collateral and reputation."""

    OTHER = 0
    INPUT_MISSING = 1
    INPUT_INVALID = 2


FLAG_NO_REWARD = 1
"""Job flag: its commitments were posted before for this model (a replay); it earns no reward or NRS."""
FLAG_INPUT_ON_CHAIN = 2
"""Job flag: the consumer delivered the input on chain (``deliverInput``) for this claim."""
FLAG_AUCTION = 4
"""Job flag: a reverse Dutch auction whose price is not locked yet (``price`` is the escrowed maximum)."""
FLAG_REOPENED = 8
"""Job flag: its first provider missed it; it was reopened for a second prover, with a bounty."""
FLAG_DELIVERER = 16
"""Job flag: a deliverer besides the consumer may hand over the input."""


@dataclass(frozen=True)
class Job:
    job_id: int
    consumer: str
    status: JobStatus
    provider: str | None
    price: int
    collateral: int
    model_id: int
    claim_deadline: int
    prove_deadline: int
    prove_window: int
    min_reputation: int
    rating: int
    commitments_hash: bytes
    flags: int = 0
    callback_gas_limit: int = 0
    """Gas the market gives the consumer's ``onInferenceResult`` at settlement (0: no callback)."""

    @property
    def no_reward(self) -> bool:
        return bool(self.flags & FLAG_NO_REWARD)

    @property
    def auction(self) -> bool:
        """An auction not claimed yet: the claim locks :meth:`Marketplace.price_at`, not ``price``."""
        return bool(self.flags & FLAG_AUCTION)

    @property
    def reopened(self) -> bool:
        return bool(self.flags & FLAG_REOPENED)

    @property
    def has_deliverer(self) -> bool:
        return bool(self.flags & FLAG_DELIVERER)

    @property
    def input_on_chain(self) -> bool:
        return bool(self.flags & FLAG_INPUT_ON_CHAIN)

    @property
    def input_deadline(self) -> int:
        """The consumer must have handed over a valid input before this (0 while unclaimed)."""
        return self.prove_deadline - self.prove_window // 2 if self.prove_deadline else 0


@dataclass(frozen=True)
class JobTerms:
    """``IJobMarket.JobTerms``: a job's price (fixed, or a reverse Dutch auction) and its contract-consumer options.

    An auction's price rises linearly from ``min_price`` (until ``ramp_delay`` seconds after posting) to
    ``max_price`` (``ramp_length`` seconds later); ``max_price`` is escrowed and what a claim does not lock
    comes back to the consumer. Prices are in the token's smallest unit."""

    model_id: int
    min_price: int
    max_price: int
    claim_window: int
    prove_window: int
    min_reputation: int = 0
    ramp_delay: int = 0
    ramp_length: int = 0
    deliverer: str = ZERO
    callback_gas_limit: int = 0

    @classmethod
    def fixed(cls, model_id: int, price: int, claim_window: int, prove_window: int, min_reputation: int = 0) -> JobTerms:
        return cls(model_id, price, price, claim_window, prove_window, min_reputation)

    @property
    def auction(self) -> bool:
        return self.min_price != self.max_price

    def price_at(self, seconds_after_post: float) -> int:
        """The price a claim this long after posting locks (the contract's formula, rounded down)."""
        start = self.ramp_delay
        if not self.auction or seconds_after_post <= start:
            return self.min_price
        elapsed = int(seconds_after_post - start)
        if elapsed >= self.ramp_length:
            return self.max_price
        return self.min_price + (self.max_price - self.min_price) * elapsed // self.ramp_length

    def as_tuple(self) -> tuple[Any, ...]:
        """The ABI tuple, in ``IJobMarket.JobTerms`` field order (pinned by tests/test_chain_types.py)."""
        return (
            self.model_id,
            self.min_price,
            self.max_price,
            self.ramp_delay,
            self.ramp_length,
            self.claim_window,
            self.prove_window,
            self.min_reputation,
            to_checksum_address(self.deliverer),
            self.callback_gas_limit,
        )


@dataclass(frozen=True)
class JobExtras:
    """``IJobMarket.JobExtras``: what only some jobs have (zeros otherwise)."""

    min_price: int
    ramp_start: int
    ramp_length: int
    deliverer: str | None
    missed_by: str | None
    """The provider that missed the job before it was reopened."""
    bounty: int
    """Held for the provider that finishes a reopened job (0 once paid or burned)."""


@dataclass(frozen=True)
class ModelEntry:
    model_id: int
    onnx_hash: bytes
    settings_hash: bytes
    vk_digest: bytes
    verifier: str
    kind: VerifierKind
    input_commitment_count: int
    output_count: int
    royalty_bps: int
    status: ModelStatus
    insecure_test_srs: bool
    owner: str
    metadata_uri: str
    verifier_code_hash: bytes = b""
    artifacts_hash: bytes = b""
    last_unpaused_at: int = 0


@dataclass(frozen=True)
class ProviderProfile:
    """A provider's stake and profile, as ``IProviderStaking.getProvider`` returns it (fields by ABI name).
    An address that never registered reads as zeros with ``registered`` False."""

    address: str
    staked: int
    locked: int
    """Collateral held for live jobs (part of ``staked``)."""
    unbonding: int
    unbonding_release_at: int
    registered_at: int
    registered: bool
    encryption_pub_key: bytes
    """The X25519 key consumers seal job inputs to."""
    endpoint_uri: str
    """The data-plane endpoint ("" when none is registered)."""


def commitments_hash(commitments: Sequence[int]) -> bytes:
    """``keccak256(abi.encodePacked(uint256[]))`` of a job's input commitments, as ``Job.commitmentsHash`` stores it."""
    return keccak(b"".join(int(c).to_bytes(32, "big") for c in commitments))


def outputs_hash(outputs: Sequence[int]) -> bytes:
    """``keccak256(abi.encodePacked(uint256[]))`` of a settled job's outputs, as ``outputsHashOf`` stores it."""
    return commitments_hash(outputs)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def decode_struct(contract: Contract, function: str, value: Sequence[Any]) -> dict[str, Any]:
    """A struct returned by ``function`` as a dict keyed by its ABI field names (snake_case), never by position."""
    outputs = contract.get_function_by_name(function).abi["outputs"]
    components = outputs[0].get("components") if len(outputs) == 1 else outputs
    names = [_snake(str(c["name"])) for c in components]
    if len(names) != len(value):
        raise ChainError(
            f"{function} returned {len(value)} fields, the ABI names {len(names)}",
            "the contract artifacts and the deployed contracts differ: redeploy or update ngx-zk",
        )
    return dict(zip(names, value, strict=True))


class Marketplace:
    """The deployed contracts on one chain, with one method per protocol action."""

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

    def ensure_allowance(self, signer: Signer, spender: str, amount: int) -> None:
        current = self.allowance(signer.address, spender)
        if current < amount:
            self.chain.send(self.token.functions.approve(spender, amount), signer, what="approve NGX")

    # --- registry ------------------------------------------------------------------------------
    def register_model(self, signer: Signer, spec: dict[str, Any], vka: bytes = b"") -> tuple[int, Mined]:
        fields = (
            spec["onnx_hash"],
            spec["settings_hash"],
            spec["vk_digest"],
            to_checksum_address(spec["verifier"]),
            int(spec["kind"]),
            spec["input_commitment_count"],
            spec["output_count"],
            spec["royalty_bps"],
            spec["insecure_test_srs"],
            spec["metadata_uri"],
            spec["artifacts_hash"],
        )
        receipt = self.chain.send(self.registry.functions.registerModel(fields, vka), signer, what="register model")
        return int(self.chain.events_in(receipt, self.registry, "ModelRegistered")[0]["modelId"]), receipt

    def model(self, model_id: int) -> ModelEntry:
        m = decode_struct(self.registry, "getModel", self.chain.call(self.registry.functions.getModel(model_id)))
        status = ModelStatus.from_index(int(m["status"]))
        if status is ModelStatus.NONE:
            raise ChainError(f"no model with id {model_id} in the registry", "publish the model first: ngx-zk model publish NAME")
        return ModelEntry(
            model_id,
            bytes(m["onnx_hash"]),
            bytes(m["settings_hash"]),
            bytes(m["vk_digest"]),
            str(m["verifier"]),
            VerifierKind(int(m["kind"])),
            int(m["input_commitment_count"]),
            int(m["output_count"]),
            int(m["royalty_bps"]),
            status,
            bool(m["insecure_test_srs"]),
            str(m["owner"]),
            str(m["metadata_uri"]),
            bytes(m.get("verifier_code_hash", b"")),
            bytes(m.get("artifacts_hash", b"")),
            int(m.get("last_unpaused_at", 0)),
        )

    def code(self, address: str) -> bytes:
        """The runtime code at ``address`` (empty for an account without code)."""
        return bytes(self.chain.w3.eth.get_code(to_checksum_address(address)))

    def code_hash(self, address: str) -> bytes:
        """keccak256 of the runtime code at ``address`` (what ``EXTCODEHASH`` returns for a contract)."""
        return keccak(self.code(address))

    # --- polycommit inputs: the PolycommitBinding in front of a verifier -------------------------
    def _binding_constructor(self, inner: str, points: int) -> Any:
        factory = self.chain.w3.eth.contract(abi=abi("PolycommitBinding"), bytecode=artifact("PolycommitBinding")["bytecode"])
        return factory.constructor(to_checksum_address(inner), points)

    def deploy_binding(self, signer: Signer, inner: str, points: int, *, what: str) -> str:
        """Deploy a ``PolycommitBinding`` over the verifier ``inner`` for proofs starting with ``points`` G1 points."""
        return self.chain.deploy_bytecode(self._binding_constructor(inner, points), signer, what=what)

    def binding_of(self, address: str) -> tuple[str, int] | None:
        """(inner verifier, points) of the ``PolycommitBinding`` at ``address``; None if it does not answer as one."""
        binding = self.chain.contract("PolycommitBinding", address)
        try:
            return str(self.chain.call(binding.functions.inner())), int(self.chain.call(binding.functions.points()))
        except (ChainError, ValueError, TypeError):  # no code, or another contract's answer
            return None

    def binding_code(self, inner: str, points: int) -> bytes:
        """The runtime code ``PolycommitBinding(inner, points)`` deploys, from its creation code run by ``eth_call``."""
        return bytes(self.chain.w3.eth.call({"data": self._binding_constructor(inner, points).data_in_transaction}))

    def verifier_code_allowed(self, code_hash: bytes) -> bool:
        """Is this verifier code on governance's allow-list (the only verifiers that earn rewards and NRS)?"""
        return bool(self.chain.call(self.config.functions.isVerifierCodeAllowed(code_hash)))

    def allow_verifier_code(self, signer: Signer, code_hash: bytes, allowed: bool = True) -> Mined:
        """Add (or remove) verifier code on the allow-list: only the config's owner or its verifier curator may."""
        return self.chain.send(
            self.config.functions.setVerifierCodeAllowed(code_hash, allowed),
            signer,
            what="allow-list verifier code" if allowed else "remove verifier code from the allow-list",
        )

    def verifier_curator(self) -> str:
        return str(self.chain.call(self.config.functions.verifierCurator()))

    def model_count(self) -> int:
        return int(self.chain.call(self.registry.functions.modelCount()))

    # --- staking -------------------------------------------------------------------------------
    def provider(self, address: str) -> ProviderProfile:
        who = to_checksum_address(address)
        p = decode_struct(self.staking, "getProvider", self.chain.call(self.staking.functions.getProvider(who)))
        return ProviderProfile(
            who,
            int(p["staked"]),
            int(p["locked"]),
            int(p["unbonding"]),
            int(p["unbonding_release_at"]),
            int(p["registered_at"]),
            bool(p["registered"]),
            bytes(p["encryption_pub_key"]),
            str(p["endpoint_uri"]),
        )

    def register_provider(self, signer: Signer, pubkey: bytes, endpoint: str) -> Mined:
        return self.chain.send(self.staking.functions.register(pubkey, endpoint), signer, what="register provider")

    def update_provider(self, signer: Signer, pubkey: bytes, endpoint: str) -> Mined:
        return self.chain.send(self.staking.functions.updateProfile(pubkey, endpoint), signer, what="update provider profile")

    def stake(self, signer: Signer, amount: int) -> Mined:
        self.ensure_allowance(signer, self.staking.address, amount)
        return self.chain.send(self.staking.functions.stake(amount), signer, what="stake")

    def request_unstake(self, signer: Signer, amount: int) -> Mined:
        return self.chain.send(self.staking.functions.requestUnstake(amount), signer, what="request unstake")

    def withdraw_stake(self, signer: Signer) -> Mined:
        return self.chain.send(self.staking.functions.withdraw(), signer, what="withdraw stake")

    def min_stake(self) -> int:
        return int(self.chain.call(self.config.functions.minStake()))

    # --- reputation ----------------------------------------------------------------------------
    def nrs(self, address: str) -> tuple[int, tuple[int, int, int, int]]:
        who = to_checksum_address(address)
        return int(self.chain.call(self.reputation.functions.nrs(who))), tuple(
            self.chain.call(self.reputation.functions.components(who))
        )

    def facts(self, address: str) -> dict[str, int]:
        """The provider's recorded facts (completed, missed, declines, ratings, ...), keyed by ABI name."""
        raw = self.chain.call(self.reputation.functions.factsOf(to_checksum_address(address)))
        return {k: int(v) for k, v in decode_struct(self.reputation, "factsOf", raw).items()}

    def consumer_facts(self, address: str) -> dict[str, int]:
        """The consumer's record: jobs settled and cancelled, inputs withheld or invalid, jobs left unclaimed."""
        raw = self.chain.call(self.reputation.functions.consumerFactsOf(to_checksum_address(address)))
        return {k: int(v) for k, v in decode_struct(self.reputation, "consumerFactsOf", raw).items()}

    def consumer_score(self, address: str) -> int:
        """0-100: how reliably this consumer hands providers a valid input (100 for one who harmed no one)."""
        return int(self.chain.call(self.reputation.functions.consumerScore(to_checksum_address(address))))

    def free_declines_left(self, address: str) -> int:
        return int(self.chain.call(self.reputation.functions.freeDeclinesLeft(to_checksum_address(address))))

    # --- jobs ----------------------------------------------------------------------------------
    def post_job(
        self,
        signer: Signer,
        model_id: int,
        commitments: Sequence[int],
        price: int,
        claim_window: int,
        prove_window: int,
        min_reputation: int,
    ) -> tuple[int, Mined]:
        self.ensure_allowance(signer, self.market.address, price)
        fn = self.market.functions.postJob(model_id, list(commitments), price, claim_window, prove_window, min_reputation)
        receipt = self.chain.send(fn, signer, what="post job")
        return self._posted_id(receipt), receipt

    def post_job_with_permit(
        self,
        signer: Signer,
        model_id: int,
        commitments: Sequence[int],
        price: int,
        claim_window: int,
        prove_window: int,
        min_reputation: int,
    ) -> tuple[int, Mined]:
        """``postJob`` in one transaction: an EIP-2612 permit signed off chain replaces the approve."""
        permit = self.sign_permit(signer, price, self.chain.timestamp() + PERMIT_TTL_S)
        fn = self.market.functions.postJobWithPermit(
            model_id, list(commitments), price, claim_window, prove_window, min_reputation, *permit.as_tuple()
        )
        receipt = self.chain.send(fn, signer, what="post job (permit)")
        return self._posted_id(receipt), receipt

    def _posted_id(self, receipt: Mined) -> int:
        return int(self.chain.events_in(receipt, self.market, "JobPosted")[0]["jobId"])

    def sign_permit(self, signer: Signer, value: int, deadline: int) -> Permit:
        """An EIP-2612 permit (signed off chain, no gas) letting the market pull ``value`` NGX from ``signer``."""
        from .orders import Permit, permit_typed_data

        nonce = int(self.chain.call(self.token.functions.nonces(signer.address)))
        if self._token_name is None:  # immutable: part of the token's EIP-712 domain
            self._token_name = str(self.chain.call(self.token.functions.name()))
        signed = signer.sign_typed_data(
            permit_typed_data(
                self._token_name,
                self.chain.chain_id,
                self.token.address,
                signer.address,
                self.market.address,
                value,
                nonce,
                deadline,
            )
        )
        return Permit(deadline, int(signed.v), int(signed.r).to_bytes(32, "big"), int(signed.s).to_bytes(32, "big"))

    # --- gasless orders (see :mod:`ngx_zk.chain.orders`) -----------------------------------------------
    def fill_order(self, signer: Signer, signed: SignedOrder, on_sent: Callable[[str], None] | None = None) -> tuple[int, Mined]:
        """``fillOrder``: post the consumer's signed order and claim it for ``signer`` in one transaction."""
        fn = self.market.functions.fillOrder(
            signed.order.as_tuple(), list(signed.order.commitments), signed.signature, signed.permit.as_tuple()
        )
        receipt = self.chain.send(fn, signer, what=f"fill order {signed.order.nonce} of {signed.order.consumer}", on_sent=on_sent)
        return self._posted_id(receipt), receipt

    def cancel_order(self, signer: Signer, nonce: int) -> Mined:
        """``cancelOrder``: burn one of ``signer``'s order nonces, so an order signed with it never fills."""
        return self.chain.send(self.market.functions.cancelOrder(nonce), signer, what=f"cancel order {nonce}")

    def order_nonce_used(self, consumer: str, nonce: int) -> bool:
        return bool(self.chain.call(self.market.functions.orderNonceUsed(to_checksum_address(consumer), nonce)))

    def order_digest(self, order: Order) -> bytes:
        """The EIP-712 digest the market computes for ``order`` (the consumer signs it)."""
        return bytes(self.chain.call(self.market.functions.orderDigest(order.as_tuple(), list(order.commitments))))

    def order_filled(self, consumer: str, nonce: int, from_block: int) -> int | None:
        """The job id an order (``consumer``, ``nonce``) became, from its OrderFilled event; None while unfilled."""
        found = self.events("OrderFilled", from_block, consumer=to_checksum_address(consumer), nonce=nonce)
        return int(found[-1]["jobId"]) if found else None

    def job(self, job_id: int) -> Job:
        j = decode_struct(self.market, "getJob", self.chain.call(self.market.functions.getJob(job_id)))
        status = JobStatus.from_index(int(j["status"]))
        if status is JobStatus.NONE:
            raise ChainError(f"no job with id {job_id} on chain {self.chain.chain_id}", "list jobs with ngx-zk jobs")
        return Job(
            job_id=job_id,
            consumer=str(j["consumer"]),
            claim_deadline=int(j["claim_deadline"]),
            prove_window=int(j["prove_window"]),
            min_reputation=int(j["min_reputation"]),
            status=status,
            rating=int(j["rating"]),
            provider=None if j["provider"] == ZERO else str(j["provider"]),
            prove_deadline=int(j["prove_deadline"]),
            price=int(j["price"]),
            collateral=int(j["collateral"]),
            model_id=int(j["model_id"]),
            commitments_hash=bytes(j["commitments_hash"]),
            flags=int(j.get("flags", 0)),
            callback_gas_limit=int(j.get("callback_gas_limit", 0)),
        )

    def job_extras(self, job_id: int) -> JobExtras:
        e = decode_struct(self.market, "getJobExtras", self.chain.call(self.market.functions.getJobExtras(job_id)))
        return JobExtras(
            min_price=int(e["min_price"]),
            ramp_start=int(e["ramp_start"]),
            ramp_length=int(e["ramp_length"]),
            deliverer=None if e["deliverer"] == ZERO else str(e["deliverer"]),
            missed_by=None if e["missed_by"] == ZERO else str(e["missed_by"]),
            bounty=int(e["bounty"]),
        )

    def price_at(self, job_id: int, timestamp: int) -> int:
        """What a claim of ``job_id`` at chain time ``timestamp`` would lock (an auction's price rises)."""
        return int(self.chain.call(self.market.functions.priceAt(job_id, timestamp)))

    def post_job_with_terms(self, signer: Signer, terms: JobTerms, commitments: Sequence[int]) -> tuple[int, Mined]:
        """``postJobWithTerms``: an auction, a deliverer or a callback (the signer pays ``max_price``)."""
        self.ensure_allowance(signer, self.market.address, terms.max_price)
        fn = self.market.functions.postJobWithTerms(terms.as_tuple(), list(commitments))
        receipt = self.chain.send(fn, signer, what="post job")
        return self._posted_id(receipt), receipt

    def job_count(self) -> int:
        return int(self.chain.call(self.market.functions.jobCount()))

    def claim(self, signer: Signer, job_id: int, on_sent: Callable[[str], None] | None = None) -> Mined:
        return self.chain.send(self.market.functions.claimJob(job_id), signer, what=f"claim job {job_id}", on_sent=on_sent)

    def deliver_input(self, signer: Signer, job_id: int, payload: bytes) -> Mined:
        return self.chain.send(self.market.functions.deliverInput(job_id, payload), signer, what=f"deliver input of job {job_id}")

    def submit_fn(self, job_id: int, proof: bytes, instances: Sequence[int]) -> Any:
        return self.market.functions.submitResult(job_id, proof, list(instances))

    def submit(
        self,
        signer: Signer,
        job_id: int,
        proof: bytes,
        instances: Sequence[int],
        on_sent: Callable[[str], None] | None = None,
        gas: int | None = None,
        dry_run: bool = True,
    ) -> Mined:
        return self.chain.send(
            self.submit_fn(job_id, proof, instances),
            signer,
            what=f"submit proof for job {job_id}",
            on_sent=on_sent,
            gas=gas,
            dry_run=dry_run,
        )

    def decline(self, signer: Signer, job_id: int, reason: DeclineReason, on_sent: Callable[[str], None] | None = None) -> Mined:
        return self.chain.send(
            self.market.functions.declineJob(job_id, int(reason)),
            signer,
            what=f"decline job {job_id} ({reason.name.lower().replace('_', ' ')})",
            on_sent=on_sent,
        )

    def collateral_for(self, price: int, nrs: int) -> int:
        return int(self.chain.call(self.config.functions.collateralFor(price, nrs)))

    def free_stake(self, address: str) -> int:
        return int(self.chain.call(self.staking.functions.freeStake(to_checksum_address(address))))

    def cancel(self, signer: Signer, job_id: int) -> Mined:
        return self.chain.send(self.market.functions.cancelJob(job_id), signer, what=f"cancel job {job_id}")

    def expire(self, signer: Signer, job_id: int) -> Mined:
        return self.chain.send(self.market.functions.expireJob(job_id), signer, what=f"expire job {job_id}")

    def rate(self, signer: Signer, job_id: int, rating: int) -> Mined:
        return self.chain.send(self.market.functions.rateJob(job_id, rating), signer, what=f"rate job {job_id}")

    def claimable(self, address: str) -> int:
        return int(self.chain.call(self.market.functions.claimable(to_checksum_address(address))))

    def withdraw(self, signer: Signer) -> Mined:
        return self.chain.send(self.market.functions.withdraw(), signer, what="withdraw earnings")

    def outputs_hash(self, job_id: int) -> bytes:
        """What the market stores for settled job ``job_id``: keccak256 of its outputs (zero bytes before)."""
        return bytes(self.chain.call(self.market.functions.outputsHashOf(job_id)))

    def settled(self, job_id: int) -> dict[str, Any]:
        """The JobSettled event of ``job_id``, whose outputs hash to what the market stores.

        The market keeps only the outputs' hash in storage; the outputs themselves live in this log. A node
        that returns a log the chain does not back (forged or altered outputs) is caught here."""
        found = self.events("JobSettled", self.deployment.block, jobId=job_id)
        if not found:
            raise ChainError(f"job {job_id} has no settlement on chain", "only settled jobs carry a proof")
        stored = self.outputs_hash(job_id)
        backed = [e for e in found if outputs_hash([int(v) for v in e["outputs"]]) == stored]
        if not backed:
            raise ChainError(
                f"job {job_id}: the outputs in the JobSettled log from {self.chain.provider.url} do not hash to the "
                f"market's stored outputsHashOf 0x{stored.hex()}",
                "the node served a log the chain does not back; query another RPC node",
            )
        return backed[-1]

    def outputs(self, job_id: int) -> list[int]:
        """The outputs of settled job ``job_id``, from its JobSettled log, checked against the stored hash."""
        return [int(v) for v in self.settled(job_id)["outputs"]]

    def submitted_result(self, job_id: int) -> tuple[bytes, list[int], dict[str, Any]]:
        """The proof and instances of the transaction that settled ``job_id``, read back from chain.

        The instances must end with the outputs the market hashed at settlement (checked against storage)."""
        event = self.settled(job_id)
        tx = self.chain.w3.eth.get_transaction(event["transactionHash"])
        fn, args = self.market.decode_function_input(tx["input"])
        if fn.fn_name != "submitResult" or int(args["jobId"]) != job_id:
            raise ChainError(f"settlement transaction of job {job_id} is not a direct submitResult call")
        instances = [int(v) for v in args["instances"]]
        outputs = [int(v) for v in event["outputs"]]
        if len(outputs) > len(instances) or instances[len(instances) - len(outputs) :] != outputs:
            raise ChainError(
                f"settlement transaction of job {job_id} does not carry the outputs the market stored",
                "the node served a transaction the chain does not back; query another RPC node",
            )
        return bytes(args["proof"]), instances, event

    def posted(self, job_id: int) -> dict[str, Any]:
        """The JobPosted event of ``job_id`` (it carries the input commitments in full)."""
        found = self.events("JobPosted", self.deployment.block, jobId=job_id)
        if not found:
            raise ChainError(f"no JobPosted event for job {job_id}")
        return found[0]

    # --- events --------------------------------------------------------------------------------
    def providers(self) -> list[str]:
        """Every address that registered as a provider."""
        seen = self.events("ProviderRegistered", self.deployment.block, contract=self.staking)
        return list(dict.fromkeys(str(e["provider"]) for e in seen))

    def events(
        self, name: str, from_block: int, to_block: int | None = None, *, contract: Contract | None = None, **filters: Any
    ) -> list[dict[str, Any]]:
        """Decoded events of one type (of JobMarket unless ``contract`` is given), fetched in chunks."""
        end = self.chain.block_number() if to_block is None else to_block
        found: list[dict[str, Any]] = []
        event = getattr((contract or self.market).events, name)()
        start = max(from_block, 0)
        while start <= end:
            stop = min(start + LOG_CHUNK - 1, end)
            logs = event.get_logs(from_block=start, to_block=stop, argument_filters=filters or None)
            found.extend(
                {
                    **dict(log["args"]),
                    "blockNumber": log["blockNumber"],
                    "transactionHash": "0x" + bytes(log["transactionHash"]).hex(),
                }
                for log in logs
            )
            start = stop + 1
        return found
