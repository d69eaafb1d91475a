"""Typed clients for the marketplace contracts, over one :class:`Chain` and its deployment."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum, StrEnum
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.logs import DISCARD

from ..errors import ChainError
from .deployment import Deployment
from .signer import Signer
from .tx import Chain

LOG_CHUNK = 2_000
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
    JobStatus.CLAIMED: {JobStatus.SETTLED, JobStatus.EXPIRED, JobStatus.CANCELLED},
}
"""The lifecycle the contract enforces (Claimed -> Cancelled is a provider's decline)."""


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

    @property
    def no_reward(self) -> bool:
        return bool(self.flags & FLAG_NO_REWARD)

    @property
    def input_on_chain(self) -> bool:
        return bool(self.flags & FLAG_INPUT_ON_CHAIN)

    @property
    def input_deadline(self) -> int:
        """The consumer must have handed over a valid input before this (0 while unclaimed)."""
        return self.prove_deadline - self.prove_window // 2 if self.prove_deadline else 0


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
        raise ChainError(f"{function} returned {len(value)} fields, the ABI names {len(names)}",
                         "the contract artifacts and the deployed contracts differ: redeploy or update ngx-zk")
    return dict(zip(names, value, strict=True))


ZERO = "0x0000000000000000000000000000000000000000"


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

    def transfer(self, signer: Signer, to: str, amount: int) -> dict[str, Any]:
        return self.chain.send(self.token.functions.transfer(to_checksum_address(to), amount), signer, what="transfer NGX")

    def ensure_allowance(self, signer: Signer, spender: str, amount: int) -> None:
        current = int(self.chain.call(self.token.functions.allowance(signer.address, spender)))
        if current < amount:
            self.chain.send(self.token.functions.approve(spender, amount), signer, what="approve NGX")

    # --- registry ------------------------------------------------------------------------------
    def register_model(self, signer: Signer, spec: dict[str, Any], vka: bytes = b"") -> tuple[int, dict[str, Any]]:
        fields = (
            spec["onnx_hash"], spec["settings_hash"], spec["vk_digest"], to_checksum_address(spec["verifier"]),
            int(spec["kind"]), spec["input_commitment_count"], spec["output_count"], spec["royalty_bps"],
            spec["insecure_test_srs"], spec["metadata_uri"], spec["artifacts_hash"],
        )
        receipt = self.chain.send(self.registry.functions.registerModel(fields, vka), signer, what="register model")
        event = self.registry.events.ModelRegistered().process_receipt(receipt, errors=DISCARD)
        return int(event[0]["args"]["modelId"]), receipt

    def model(self, model_id: int) -> ModelEntry:
        m = decode_struct(self.registry, "getModel", self.chain.call(self.registry.functions.getModel(model_id)))
        status = ModelStatus.from_index(int(m["status"]))
        if status is ModelStatus.NONE:
            raise ChainError(f"no model with id {model_id} in the registry", "publish the model first: ngx-zk model publish NAME")
        return ModelEntry(
            model_id, bytes(m["onnx_hash"]), bytes(m["settings_hash"]), bytes(m["vk_digest"]), str(m["verifier"]),
            VerifierKind(int(m["kind"])), int(m["input_commitment_count"]), int(m["output_count"]), int(m["royalty_bps"]),
            status, bool(m["insecure_test_srs"]), str(m["owner"]), str(m["metadata_uri"]),
            bytes(m.get("verifier_code_hash", b"")), bytes(m.get("artifacts_hash", b"")), int(m.get("last_unpaused_at", 0)),
        )

    def code(self, address: str) -> bytes:
        """The runtime code at ``address`` (empty for an account without code)."""
        return bytes(self.chain.w3.eth.get_code(to_checksum_address(address)))

    def code_hash(self, address: str) -> bytes:
        """keccak256 of the runtime code at ``address`` (what ``EXTCODEHASH`` returns for a contract)."""
        return keccak(self.code(address))

    def verifier_code_allowed(self, code_hash: bytes) -> bool:
        """Is this verifier code on governance's allow-list (the only verifiers that earn rewards and NRS)?"""
        return bool(self.chain.call(self.config.functions.isVerifierCodeAllowed(code_hash)))

    def allow_verifier_code(self, signer: Signer, code_hash: bytes, allowed: bool = True) -> dict[str, Any]:
        """Add (or remove) verifier code on the allow-list: only the config's owner or its verifier curator may."""
        return self.chain.send(self.config.functions.setVerifierCodeAllowed(code_hash, allowed), signer,
                               what="allow-list verifier code" if allowed else "remove verifier code from the allow-list")

    def verifier_curator(self) -> str:
        return str(self.chain.call(self.config.functions.verifierCurator()))

    def model_count(self) -> int:
        return int(self.chain.call(self.registry.functions.modelCount()))

    # --- staking -------------------------------------------------------------------------------
    def provider(self, address: str) -> dict[str, Any]:
        p = self.chain.call(self.staking.functions.getProvider(to_checksum_address(address)))
        keys = ("staked", "locked", "unbonding", "unbonding_release_at", "registered_at", "registered", "encryption_pubkey", "endpoint")
        return dict(zip(keys, p, strict=True))

    def register_provider(self, signer: Signer, pubkey: bytes, endpoint: str) -> dict[str, Any]:
        return self.chain.send(self.staking.functions.register(pubkey, endpoint), signer, what="register provider")

    def update_provider(self, signer: Signer, pubkey: bytes, endpoint: str) -> dict[str, Any]:
        return self.chain.send(self.staking.functions.updateProfile(pubkey, endpoint), signer, what="update provider profile")

    def stake(self, signer: Signer, amount: int) -> dict[str, Any]:
        self.ensure_allowance(signer, self.staking.address, amount)
        return self.chain.send(self.staking.functions.stake(amount), signer, what="stake")

    def request_unstake(self, signer: Signer, amount: int) -> dict[str, Any]:
        return self.chain.send(self.staking.functions.requestUnstake(amount), signer, what="request unstake")

    def withdraw_stake(self, signer: Signer) -> dict[str, Any]:
        return self.chain.send(self.staking.functions.withdraw(), signer, what="withdraw stake")

    def min_stake(self) -> int:
        return int(self.chain.call(self.config.functions.minStake()))

    # --- reputation ----------------------------------------------------------------------------
    def nrs(self, address: str) -> tuple[int, tuple[int, int, int, int]]:
        who = to_checksum_address(address)
        return int(self.chain.call(self.reputation.functions.nrs(who))), tuple(self.chain.call(self.reputation.functions.components(who)))

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
    def post_job(self, signer: Signer, model_id: int, commitments: Sequence[int], price: int, claim_window: int,
                 prove_window: int, min_reputation: int) -> tuple[int, dict[str, Any]]:
        self.ensure_allowance(signer, self.market.address, price)
        fn = self.market.functions.postJob(model_id, list(commitments), price, claim_window, prove_window, min_reputation)
        receipt = self.chain.send(fn, signer, what="post job")
        return int(self.market.events.JobPosted().process_receipt(receipt, errors=DISCARD)[0]["args"]["jobId"]), receipt

    def post_job_with_permit(self, signer: Signer, model_id: int, commitments: Sequence[int], price: int, claim_window: int,
                             prove_window: int, min_reputation: int) -> tuple[int, dict[str, Any]]:
        """``postJob`` in one transaction: an EIP-2612 permit signed off chain replaces the approve."""
        deadline = self.chain.timestamp() + PERMIT_TTL_S
        nonce = int(self.chain.call(self.token.functions.nonces(signer.address)))
        if self._token_name is None:  # immutable: part of the token's EIP-712 domain
            self._token_name = str(self.chain.call(self.token.functions.name()))
        name = self._token_name
        signed = signer.sign_typed_data({
            "types": {
                "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                                 {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
                "Permit": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"},
                           {"name": "value", "type": "uint256"}, {"name": "nonce", "type": "uint256"},
                           {"name": "deadline", "type": "uint256"}],
            },
            "primaryType": "Permit",
            "domain": {"name": name, "version": "1", "chainId": self.chain.chain_id, "verifyingContract": self.token.address},
            "message": {"owner": signer.address, "spender": self.market.address, "value": price, "nonce": nonce, "deadline": deadline},
        })
        fn = self.market.functions.postJobWithPermit(model_id, list(commitments), price, claim_window, prove_window, min_reputation,
                                                     deadline, signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big"))
        receipt = self.chain.send(fn, signer, what="post job (permit)")
        return int(self.market.events.JobPosted().process_receipt(receipt, errors=DISCARD)[0]["args"]["jobId"]), receipt

    def job(self, job_id: int) -> Job:
        j = decode_struct(self.market, "getJob", self.chain.call(self.market.functions.getJob(job_id)))
        status = JobStatus.from_index(int(j["status"]))
        if status is JobStatus.NONE:
            raise ChainError(f"no job with id {job_id} on chain {self.chain.chain_id}", "list jobs with ngx-zk jobs")
        return Job(job_id=job_id, consumer=str(j["consumer"]), claim_deadline=int(j["claim_deadline"]),
                   prove_window=int(j["prove_window"]), min_reputation=int(j["min_reputation"]), status=status,
                   rating=int(j["rating"]), provider=None if j["provider"] == ZERO else str(j["provider"]),
                   prove_deadline=int(j["prove_deadline"]), price=int(j["price"]), collateral=int(j["collateral"]),
                   model_id=int(j["model_id"]), commitments_hash=bytes(j["commitments_hash"]), flags=int(j.get("flags", 0)))

    def job_count(self) -> int:
        return int(self.chain.call(self.market.functions.jobCount()))

    def claim(self, signer: Signer, job_id: int, on_sent: Callable[[str], None] | None = None) -> dict[str, Any]:
        return self.chain.send(self.market.functions.claimJob(job_id), signer, what=f"claim job {job_id}", on_sent=on_sent)

    def deliver_input(self, signer: Signer, job_id: int, payload: bytes) -> dict[str, Any]:
        return self.chain.send(self.market.functions.deliverInput(job_id, payload), signer, what=f"deliver input of job {job_id}")

    def submit_fn(self, job_id: int, proof: bytes, instances: Sequence[int]) -> Any:
        return self.market.functions.submitResult(job_id, proof, list(instances))

    def submit(self, signer: Signer, job_id: int, proof: bytes, instances: Sequence[int],
               on_sent: Callable[[str], None] | None = None, gas: int | None = None, dry_run: bool = True) -> dict[str, Any]:
        return self.chain.send(self.submit_fn(job_id, proof, instances), signer, what=f"submit proof for job {job_id}",
                               on_sent=on_sent, gas=gas, dry_run=dry_run)

    def decline(self, signer: Signer, job_id: int, reason: DeclineReason,
                on_sent: Callable[[str], None] | None = None) -> dict[str, Any]:
        return self.chain.send(self.market.functions.declineJob(job_id, int(reason)), signer,
                               what=f"decline job {job_id} ({reason.name.lower().replace('_', ' ')})", on_sent=on_sent)

    def collateral_for(self, price: int, nrs: int) -> int:
        return int(self.chain.call(self.config.functions.collateralFor(price, nrs)))

    def free_stake(self, address: str) -> int:
        return int(self.chain.call(self.staking.functions.freeStake(to_checksum_address(address))))

    def cancel(self, signer: Signer, job_id: int) -> dict[str, Any]:
        return self.chain.send(self.market.functions.cancelJob(job_id), signer, what=f"cancel job {job_id}")

    def expire(self, signer: Signer, job_id: int) -> dict[str, Any]:
        return self.chain.send(self.market.functions.expireJob(job_id), signer, what=f"expire job {job_id}")

    def rate(self, signer: Signer, job_id: int, rating: int) -> dict[str, Any]:
        return self.chain.send(self.market.functions.rateJob(job_id, rating), signer, what=f"rate job {job_id}")

    def claimable(self, address: str) -> int:
        return int(self.chain.call(self.market.functions.claimable(to_checksum_address(address))))

    def withdraw(self, signer: Signer) -> dict[str, Any]:
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
            raise ChainError(f"job {job_id}: the outputs in the JobSettled log from {self.chain.provider.url} do not hash to the "
                             f"market's stored outputsHashOf 0x{stored.hex()}",
                             "the node served a log the chain does not back; query another RPC node")
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
        if len(outputs) > len(instances) or instances[len(instances) - len(outputs):] != outputs:
            raise ChainError(f"settlement transaction of job {job_id} does not carry the outputs the market stored",
                             "the node served a transaction the chain does not back; query another RPC node")
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

    def events(self, name: str, from_block: int, to_block: int | None = None, *, contract: Contract | None = None,
               **filters: Any) -> list[dict[str, Any]]:
        """Decoded events of one type (of JobMarket unless ``contract`` is given), fetched in chunks."""
        end = self.chain.block_number() if to_block is None else to_block
        found: list[dict[str, Any]] = []
        event = getattr((contract or self.market).events, name)()
        start = max(from_block, 0)
        while start <= end:
            stop = min(start + LOG_CHUNK - 1, end)
            logs = event.get_logs(from_block=start, to_block=stop, argument_filters=filters or None)
            found.extend({**dict(log["args"]), "blockNumber": log["blockNumber"], "transactionHash": "0x" + bytes(log["transactionHash"]).hex()}
                         for log in logs)
            start = stop + 1
        return found
