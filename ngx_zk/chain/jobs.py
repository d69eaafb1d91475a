"""Jobs on the ``JobMarket``: post (with an allowance, a permit or a signed order), claim, submit, decline,
settle, and read back what settled."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from eth_utils.address import to_checksum_address

from ..errors import ChainError
from . import events
from .contracts import Contracts, decode_struct
from .orders import MAX_FILL_BATCH, Order, OrderError, Permit, SignedOrder, permit_typed_data, skip_reason
from .rpc import mask_url
from .settlement_types import JobSubmitted
from .signer import Signer
from .tx import Mined
from .types import (
    ZERO,
    DeclineReason,
    Job,
    JobDeclined,
    JobExtras,
    JobPosted,
    JobSettled,
    JobStatus,
    JobTerms,
    Logged,
    OrderFilled,
    OrderSkipped,
    outputs_hash,
)

PERMIT_TTL_S = 3_600


@dataclass(frozen=True)
class Skipped:
    """An order ``fillOrders`` passed over (``OrderSkipped``): nothing of it happened on chain."""

    code: int
    reason: str
    """What the code means, in words."""
    transient: bool
    """The provider's or the moment's doing (filling it again may succeed), not the order's."""


@dataclass(frozen=True)
class BatchFill:
    """What one ``fillOrders`` transaction did with each order, in the order they were given: the job it became,
    or why it was skipped, read from the receipt's ``OrderFilled`` and ``OrderSkipped`` logs."""

    outcomes: tuple[int | Skipped, ...]
    receipt: Mined

    @property
    def job_ids(self) -> list[int | None]:
        return [o if isinstance(o, int) else None for o in self.outcomes]


class Jobs(Contracts):
    """One method per job action of the ``JobMarket``, and the reads of a job and its settlement."""

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
            model_id, list(commitments), price, claim_window, prove_window, min_reputation, *permit.as_tuple()[1:]
        )
        receipt = self.chain.send(fn, signer, what="post job (permit)")
        return self._posted_id(receipt), receipt

    def post_job_with_terms(self, signer: Signer, terms: JobTerms, commitments: Sequence[int]) -> tuple[int, Mined]:
        """``postJobWithTerms``: an auction, a deliverer or a callback (the signer pays ``max_price``)."""
        self.ensure_allowance(signer, self.market.address, terms.max_price)
        fn = self.market.functions.postJobWithTerms(terms.as_tuple(), list(commitments))
        receipt = self.chain.send(fn, signer, what="post job")
        return self._posted_id(receipt), receipt

    def _posted_id(self, receipt: Mined) -> int:
        return self.emitted(JobPosted, receipt)[0].job_id

    def sign_permit(self, signer: Signer, value: int, deadline: int, nonce: int | None = None) -> Permit:
        """An EIP-2612 permit (signed off chain, no gas) letting the market pull ``value`` NGX from ``signer``, at
        the token's current permit nonce unless ``nonce`` is given."""
        nonce = self.permit_nonce(signer.address) if nonce is None else nonce
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
        return Permit(value, deadline, int(signed.v), int(signed.r).to_bytes(32, "big"), int(signed.s).to_bytes(32, "big"))

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

    def job_count(self) -> int:
        return int(self.chain.call(self.market.functions.jobCount()))

    def claim(self, signer: Signer, job_id: int, on_sent: Callable[[str], None] | None = None) -> Mined:
        return self.chain.send(self.market.functions.claimJob(job_id), signer, what=f"claim job {job_id}", on_sent=on_sent)

    def deliver_input(self, signer: Signer, job_id: int, payload: bytes) -> Mined:
        return self.chain.send(self.market.functions.deliverInput(job_id, payload), signer, what=f"deliver input of job {job_id}")

    def delivery_shortfall(self, sender: str, job_id: int, payload: bytes) -> int:
        """:meth:`gas_shortfall` of ``deliverInput(job_id, payload)``."""
        return self.gas_shortfall(self.market.functions.deliverInput(job_id, payload), sender)

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

    def cancel(self, signer: Signer, job_id: int) -> Mined:
        return self.chain.send(self.market.functions.cancelJob(job_id), signer, what=f"cancel job {job_id}")

    def expire(self, signer: Signer, job_id: int) -> Mined:
        return self.chain.send(self.market.functions.expireJob(job_id), signer, what=f"expire job {job_id}")

    def rate(self, signer: Signer, job_id: int, rating: int) -> Mined:
        return self.chain.send(self.market.functions.rateJob(job_id, rating), signer, what=f"rate job {job_id}")

    def claimable(self, address: str) -> int:
        return int(self.chain.call(self.market.functions.claimable(to_checksum_address(address))))

    def rewards_owed(self, address: str) -> int:
        """NGX rewards the RewardsPool owes ``address``: :meth:`withdraw` pays them too, beside :meth:`claimable`."""
        pool = self.chain.contract("RewardsPool", self.deployment.address("RewardsPool"))
        return int(self.chain.call(pool.functions.owedTo(to_checksum_address(address))))

    def withdraw(self, signer: Signer) -> Mined:
        return self.chain.send(self.market.functions.withdraw(), signer, what="withdraw earnings")

    # --- gasless orders (see :mod:`ngx_zk.chain.orders`) -----------------------------------------------
    def fill_order(self, signer: Signer, signed: SignedOrder, on_sent: Callable[[str], None] | None = None) -> tuple[int, Mined]:
        """``fillOrder``: post the consumer's signed order and claim it for ``signer`` in one transaction."""
        fn = self.market.functions.fillOrder(
            signed.order.as_tuple(), list(signed.order.commitments), signed.signature, signed.permit.as_tuple()
        )
        receipt = self.chain.send(fn, signer, what=f"fill order {signed.order.nonce} of {signed.order.consumer}", on_sent=on_sent)
        return self._posted_id(receipt), receipt

    def fill_orders(
        self, signer: Signer, signed: Sequence[SignedOrder], on_sent: Callable[[str], None] | None = None
    ) -> BatchFill:
        """``fillOrders``: post and claim up to :data:`MAX_FILL_BATCH` signed orders for ``signer`` in one transaction.

        An order that fails one of the market's per-order checks is skipped, not reverted. Each order's outcome
        is read from the receipt's logs by (consumer, nonce), never from the return value: a batch holds at most
        one order per (consumer, nonce)."""
        keys = [(s.order.consumer.lower(), s.order.nonce) for s in signed]
        if not 1 <= len(signed) <= MAX_FILL_BATCH:
            raise OrderError(f"fillOrders takes 1 to {MAX_FILL_BATCH} orders, not {len(signed)}")
        if len(set(keys)) != len(keys):
            raise OrderError("two orders in one batch share a consumer and nonce: at most one of them can fill")
        fn = self.market.functions.fillOrders(
            [s.order.as_tuple() for s in signed],
            [list(s.order.commitments) for s in signed],
            [s.signature for s in signed],
            [s.permit.as_tuple() for s in signed],
        )
        receipt = self.chain.send(fn, signer, what=f"fill {len(signed)} orders", on_sent=on_sent)
        found: dict[tuple[str, int], int | Skipped] = {}
        for filled in self.emitted(OrderFilled, receipt):
            found[(filled.consumer.lower(), filled.nonce)] = filled.job_id
        for skipped in self.emitted(OrderSkipped, receipt):
            words, transient = skip_reason(skipped.reason)
            found[(skipped.consumer.lower(), skipped.nonce)] = Skipped(skipped.reason, words, transient)
        missing = [nonce for consumer, nonce in keys if (consumer, nonce) not in found]
        if missing:
            raise ChainError(
                f"fillOrders transaction {receipt.tx} logged neither OrderFilled nor OrderSkipped for order nonce(s) "
                f"{', '.join(map(str, missing))}",
                "the contract artifacts and the deployed contracts differ: redeploy or update ngx-zk",
            )
        return BatchFill(tuple(found[key] for key in keys), receipt)

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
        found = self.logs(OrderFilled, from_block, consumer=to_checksum_address(consumer), nonce=nonce)
        return found[-1].event.job_id if found else None

    # --- results ---------------------------------------------------------------------------------------
    def outputs_hash(self, job_id: int) -> bytes:
        """What the market stores for settled job ``job_id``: keccak256 of its outputs (zero bytes before)."""
        return bytes(self.chain.call(self.market.functions.outputsHashOf(job_id)))

    def settled(self, job_id: int) -> Logged[JobSettled]:
        """The JobSettled event of ``job_id`` with the outputs whose hash the market stores: logged there, or (a
        finalized optimistic job's JobSettled logs none) in its JobSubmitted. A log the chain does not back is caught."""
        found = self.logs(JobSettled, self.deployment.block, job_id=job_id)
        if not found:
            raise ChainError(f"job {job_id} has no settlement on chain", "only settled jobs carry a proof")
        stored = self.outputs_hash(job_id)
        backed = [e for e in found if outputs_hash(e.event.outputs) == stored]
        if not backed and any(not e.event.outputs for e in found):
            logged = [e.event.outputs for e in self.logs(JobSubmitted, self.deployment.block, job_id=job_id)]
            backed = [replace(e, event=replace(e.event, outputs=o)) for e in found if not e.event.outputs for o in logged]
            backed = [e for e in backed if outputs_hash(e.event.outputs) == stored]
        if not backed:
            raise ChainError(
                f"job {job_id}: the outputs in the JobSettled (or JobSubmitted) log from {mask_url(self.chain.provider.url)} "
                f"do not hash to the market's stored outputsHashOf 0x{stored.hex()}",
                "the node served a log the chain does not back; query another RPC node",
            )
        return backed[-1]

    def declined(self, job_id: int) -> JobDeclined | None:
        """The JobDeclined event of ``job_id`` (its refund and the input rule's cut); None if it was not declined."""
        found = self.logs(JobDeclined, self.deployment.block, job_id=job_id)
        return found[-1].event if found else None

    def outputs(self, job_id: int) -> list[int]:
        """The outputs of settled job ``job_id``, from its JobSettled log, checked against the stored hash."""
        return list(self.settled(job_id).event.outputs)

    def submitted_result(self, job_id: int) -> tuple[bytes, list[int], Logged[JobSettled]]:
        """The proof and instances of the transaction that settled ``job_id``, read back from chain.

        The proof is in the calldata of ``submitResult``, ``settleResults`` (many eager jobs at once) or
        ``answerChallenge`` (an optimistic job whose challenge was answered); an optimistic job finalized
        unchallenged (``finalizeBatch``) has no proof on chain. The instances must end with the outputs the
        market hashed at settlement (checked against storage)."""
        settled = self.settled(job_id)
        tx = self.chain.w3.eth.get_transaction(settled.meta.tx_hash)  # type: ignore[arg-type]
        fn, raw = self.market.decode_function_input(tx["input"])
        args = events.call_args(raw)
        if fn.fn_name in ("submitResult", "answerChallenge") and int(args["job_id"]) == job_id:
            proof, instances = bytes(args["proof"]), [int(v) for v in args["instances"]]
        elif fn.fn_name == "settleResults" and job_id in [int(j) for j in args["job_ids"]]:
            k = [int(j) for j in args["job_ids"]].index(job_id)
            proof, instances = bytes(args["proofs"][k]), [int(v) for v in args["instances"][k]]
        elif fn.fn_name == "finalizeBatch":
            raise ChainError(
                f"job {job_id} settled optimistically (finalizeBatch, unchallenged): its proof is not on chain",
                f"its provider serves it at GET /v1/proofs/{job_id} until a day after finalization (an explorer mirrors it)",
            )
        else:
            raise ChainError(
                f"settlement transaction of job {job_id} is not a submitResult, settleResults or answerChallenge call"
            )
        outputs = list(settled.event.outputs)
        if len(outputs) > len(instances) or instances[len(instances) - len(outputs) :] != outputs:
            raise ChainError(
                f"settlement transaction of job {job_id} does not carry the outputs the market stored",
                "the node served a transaction the chain does not back; query another RPC node",
            )
        return proof, instances, settled

    def posted(self, job_id: int) -> Logged[JobPosted]:
        """The JobPosted event of ``job_id`` (it carries the input commitments in full)."""
        found = self.logs(JobPosted, self.deployment.block, job_id=job_id)
        if not found:
            raise ChainError(f"no JobPosted event for job {job_id}")
        return found[0]
