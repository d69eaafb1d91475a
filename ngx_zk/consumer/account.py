"""The consumer: one account on one market (:class:`Consumer`), posting jobs, offering and ordering them,
and waiting for a verified output. The module functions are the same calls without the object."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypedDict

from eth_utils.address import to_checksum_address

from ..artifacts import Circuit
from ..catalog import resolve_model
from ..chain import devnet
from ..chain.heads import NewHeads, ws_url_for
from ..chain.orders import Order, SignedOrder
from ..chain.types import FLAG_OPTIMISTIC, ZERO, Job, JobStatus, JobTerms
from ..commitment import commit, kzg_key
from ..config import Settings
from ..errors import ChainError, NgxZkError
from ..inputs import InputData
from ..units import fmt_ngx
from . import delivery
from .delivery import Progress
from .optimistic import Guard, settlement_mode, settlement_terms, verify_optimistic
from .records import JobRecord, JobResult, load_record, save_record
from .standing import OrderBook
from .steps import Ended, Follow, interrupted

if TYPE_CHECKING:
    from ..chain.market import Marketplace
    from ..chain.signer import Signer

POLL_S = 0.25
ORDER_TTL_S = 120
"""A gasless order fills within this long (chain time) or never (the provider proves while it fills)."""


def _quiet(_: str) -> None:
    pass


@dataclass
class Consumer:
    """What every consumer call takes: the settings (where job records live), the market and the signer.

    ``post`` / ``order`` / ``adopt`` start a job and keep its secret :class:`JobRecord`; ``wait`` follows
    it to the end (:mod:`.steps`) and checks the proof."""

    settings: Settings
    market: Marketplace
    signer: Signer

    def record(self, job_id: int) -> JobRecord | None:
        """The record this machine kept of job ``job_id`` on this chain (None: not posted from here)."""
        return load_record(self.settings, self.market.chain.chain_id, job_id)

    def save(self, record: JobRecord) -> None:
        save_record(self.settings, record)

    def post(
        self,
        circuit: Circuit,
        data: InputData,
        *,
        price: int,
        claim_window: int,
        prove_window: int,
        min_reputation: int,
        permit: bool = True,
        offer_to: str | None = None,
        progress: Progress = _quiet,
        min_price: int | None = None,
        ramp: int = 0,
        ramp_delay: int = 0,
        gasless: bool = False,
        optimistic: bool = False,
        allowance: int | None = None,
    ) -> JobRecord:
        """Commit to the input (fresh salt), escrow ``price`` and post the job; keep the secret record.

        With ``offer_to``, the job is first offered to that provider (:func:`.delivery.offer`), which then
        proves while the job is posted and claimed. With ``min_price`` (below ``price``) the job is a
        reverse Dutch auction: its price rises from ``min_price`` (after ``ramp_delay`` seconds) to
        ``price`` over ``ramp`` seconds, and the first provider to claim locks the price of that moment.

        With ``gasless`` the consumer sends no transaction: it signs an order and a permit for ``offer_to``,
        which posts and claims the job in one transaction it pays for (:meth:`order`; ``allowance``: its standing
        permit's least value). ``optimistic``: see :mod:`.optimistic`."""
        if gasless:
            if offer_to is None:
                raise NgxZkError("a gasless order goes to one provider's endpoint", "name the provider: --provider ADDRESS")
            return self.order(
                circuit, data, offer_to, allowance=allowance,
                price=price, claim_window=claim_window, prove_window=prove_window, min_reputation=min_reputation,
                min_price=min_price, ramp=ramp, ramp_delay=ramp_delay, progress=progress, optimistic=optimistic,
            )  # fmt: skip
        market, signer = self.market, self.signer
        commitment, salted = commit(circuit.manifest, data, new_salt=True, kzg=kzg_key(circuit, self.settings))
        offered, known = "", market.deployment.models.get(circuit.name)
        if offer_to is not None:  # first, so the provider proves while the checks and the post below run
            model_id = known.model_id if known else resolve_model(self.settings, market, circuit).model_id
            if delivery.offer(market, signer, model_id, commitment.values, salted, offer_to, progress=progress):
                offered = to_checksum_address(offer_to)
        entry = resolve_model(self.settings, market, circuit)
        if offered and entry.model_id != model_id:
            offered = ""  # offered under a stale registry id: the input goes to whoever claims
        self._check_balance(price)
        auction = min_price is not None and min_price != price
        if auction or optimistic:
            terms = JobTerms(
                entry.model_id,
                min_price if auction and min_price is not None else price,
                price,
                claim_window,
                prove_window,
                min_reputation,
                ramp_delay=ramp_delay if auction else 0,
                ramp_length=ramp if auction else 0,
                settlement=settlement_mode(optimistic),
            )
            job_id, receipt = market.post_job_with_terms(signer, terms, commitment.values)
        else:
            send = market.post_job_with_permit if permit else market.post_job
            job_id, receipt = send(signer, entry.model_id, commitment.values, price, claim_window, prove_window, min_reputation)
        record = JobRecord(
            chain_id=market.chain.chain_id,
            job_id=job_id,
            model=circuit.name,
            model_id=entry.model_id,
            consumer=signer.address,
            commitments=commitment.hex,
            price=price,
            salted_input=salted.to_json(),
            post_tx=receipt.tx,
            offered_to=offered,
        )
        self.save(record)
        return record

    def order(
        self,
        circuit: Circuit,
        data: InputData,
        provider: str,
        *,
        price: int,
        claim_window: int,
        prove_window: int,
        min_reputation: int,
        min_price: int | None = None,
        ramp: int = 0,
        ramp_delay: int = 0,
        progress: Progress = _quiet,
        ttl_s: int = ORDER_TTL_S,
        optimistic: bool = False,
        allowance: int | None = None,
    ) -> JobRecord:
        """A job without gas: sign an order (EIP-712, the next order nonce) with the standing permit (EIP-2612) that
        covers all unfilled orders of this consumer (:mod:`.standing`; ``allowance``: sign it for at least this much),
        offer both with the sealed input to ``provider``, and wait for it to fill the order (``OrderFilled``).

        Only calls, no transaction: the account needs NGX for the escrow and no ETH. The order names the
        provider (only it can fill; it alone has the input) and dies at ``ttl_s`` seconds of chain time; an
        unfilled order costs nothing. An auction order's price rises from the moment it is signed."""
        market, signer = self.market, self.signer
        commitment, salted = commit(circuit.manifest, data, new_salt=True, kzg=kzg_key(circuit, self.settings))
        if len(commitment.values) != 1:
            raise NgxZkError(
                f"model {circuit.name!r} has {len(commitment.values)} input commitments: gasless orders carry one",
                "post the job with a transaction (drop --gasless)",
            )
        entry = resolve_model(self.settings, market, circuit)
        self._check_balance(price)
        auction = min_price is not None and min_price != price
        terms = JobTerms(
            entry.model_id,
            min_price if auction and min_price is not None else price,
            price,
            claim_window,
            prove_window,
            min_reputation,
            ramp_delay=ramp_delay if auction else 0,
            ramp_length=ramp if auction else 0,
            settlement=settlement_mode(optimistic),
        )
        taken = OrderBook(self.settings, market, signer).reserve(price, ttl_s, allowance=allowance, progress=progress)
        order = Order(signer.address, terms, tuple(commitment.values), to_checksum_address(provider),
                      taken.nonce, taken.signed_at, taken.deadline)  # fmt: skip
        signed = SignedOrder.sign(signer, order, taken.permit, market.chain.chain_id, market.market.address)
        start_block = market.chain.block_number()
        delivery.offer(
            market, signer, entry.model_id, commitment.values, salted, provider, progress=progress, order=signed.to_wire(),
            retry_s=ttl_s / 2,
        )  # fmt: skip
        progress(f"signed a gasless order (nonce {order.nonce}); waiting for {order.provider} to fill it")
        while True:
            expired = market.chain.timestamp() >= order.deadline  # read first: a fill mined before it is seen below
            job_id = market.order_filled(signer.address, order.nonce, start_block)
            if job_id is not None:
                break
            if expired:
                raise NgxZkError(
                    f"{order.provider} did not fill the order within {ttl_s}s: no job was posted and nothing was paid",
                    "try another --provider, or post the job yourself (drop --gasless)",
                )
            time.sleep(POLL_S)
        event = market.posted(job_id)
        record = JobRecord(
            chain_id=market.chain.chain_id,
            job_id=job_id,
            model=circuit.name,
            model_id=entry.model_id,
            consumer=signer.address,
            commitments=commitment.hex,
            price=price,
            salted_input=salted.to_json(),
            post_tx=event.meta.tx_hash,
            offered_to=order.provider,
            gasless=True,
        )
        self.save(record)
        return record

    def adopt(self, circuit: Circuit, job_id: int, salted: InputData) -> JobRecord:
        """Take on a job a contract consumer posted naming this signer its deliverer: keep a local record so
        its input (``salted``, whose commitments the contract posted) is handed to whoever claims.

        Refuses, before anything is sent, a job of another model, one that does not name this signer, and a
        salted input that does not open the job's posted commitments."""
        market, signer = self.market, self.signer
        job = market.job(job_id)
        entry = resolve_model(self.settings, market, circuit)
        if job.model_id != entry.model_id:
            raise NgxZkError(
                f"job {job_id} is for model {job.model_id}, not {circuit.name} (model {entry.model_id})",
                "pass the circuit the job was posted for with --model",
            )
        deliverer = market.job_extras(job_id).deliverer if job.has_deliverer else None
        if signer.address.lower() not in {job.consumer.lower(), (deliverer or ZERO).lower()}:
            raise NgxZkError(
                f"job {job_id} does not name {signer.address} as its deliverer "
                f"(consumer {job.consumer}, deliverer {deliverer or 'none'})",
                "use the account the job names",
            )
        if salted.salt is None:
            raise NgxZkError("the input has no salt: give the salted input whose commitments were posted (ngx-zk commit --out)")
        commitment, _ = commit(circuit.manifest, salted, new_salt=False, kzg=kzg_key(circuit, self.settings))
        event = market.posted(job_id)
        if list(commitment.values) != list(event.event.input_commitments):
            raise NgxZkError(
                f"this input does not open job {job_id}'s posted commitments: a provider would decline it",
                "give the salted input whose commitments the contract posted",
            )
        record = JobRecord(
            chain_id=market.chain.chain_id,
            job_id=job_id,
            model=circuit.name,
            model_id=entry.model_id,
            consumer=job.consumer,
            commitments=commitment.hex,
            price=event.event.price,
            salted_input=salted.to_json(),
            post_tx=event.meta.tx_hash,
            deliverer_for=signer.address,
        )
        self.save(record)
        return record

    def deliver(self, record: JobRecord, job: Job, *, progress: Progress = _quiet) -> str:
        """Seal the input to the provider that claimed ``job`` and hand it over (:func:`.delivery.deliver_input`)."""
        return delivery.deliver_input(self.market, self.signer, record, job, progress=progress)

    def wait(
        self,
        circuit: Circuit,
        record: JobRecord,
        *,
        progress: Progress = _quiet,
        timeout_s: float | None = None,
        expire_when_due: bool = True,
        poll_s: float | None = None,
        explorer: str | None = None,
        confirmations: int = 0,
    ) -> JobResult:
        """Follow the job until it is final (:class:`.steps.Follow`: deliver the input once claimed, expire
        it at a deadline; ``confirmations``: a settlement counts once that many blocks sit on top of it), then
        check the proof. Ctrl-C raises :class:`~ngx_zk.errors.Interrupted` naming the job. Looks at the chain when the node announces a block (a newHeads subscription, when the node has a
        WebSocket) and at least every ``poll_s`` seconds (default ``POLL_S``): one cheap block-number call,
        and the job itself only when a new block arrived. An optimistic job's proof is checked once submitted
        (the provider's endpoint, then the ``explorer`` mirror), a bad one challenged (:mod:`.optimistic`)."""
        poll = POLL_S if poll_s is None else poll_s
        woken = threading.Event()

        def pause() -> None:
            woken.wait(poll)
            woken.clear()

        chain = self.market.chain
        try:
            with NewHeads(ws_url_for(chain.url, self.settings.ws_url), woken.set):
                follow = Follow(
                    self.market, self.signer, record,
                    pause=pause, catch_up=lambda due: devnet.catch_up(chain, due), save=self.save,
                    progress=progress, timeout_s=timeout_s, expire_when_due=expire_when_due, confirmations=confirmations,
                    guard=Guard(self.settings, self.market, circuit, explorer), settled_block=partial(settled_block, self.market),
                )  # fmt: skip
                return self.result(circuit, record, follow.run(), progress=progress)
        except KeyboardInterrupt:
            raise interrupted(record.job_id) from None

    def result(self, circuit: Circuit, record: JobRecord, ended: Ended, *, progress: Progress = _quiet) -> JobResult:
        """What the job came to: for a settled job the proof re-verified offline against our commitments
        (and a private output fetched and checked); else the refund."""
        job, tx = ended.job, dict(ended.tx)
        seconds = time.time() - record.posted_at
        terms = settlement_terms(self.market, job, ended.submission)
        if job.status is not JobStatus.SETTLED:
            return JobResult(record.job_id, job.status, job.provider, (), False, record.price, tx, seconds,
                             **unsettled_refund(self.market, job, record.price), **terms)  # fmt: skip
        progress("verifying the proof locally")
        if job.flags & FLAG_OPTIMISTIC:  # settled by finalization (no proof on chain) or by an answer
            outputs, tx["settle"] = verify_optimistic(Guard(self.settings, self.market, circuit), job.job_id, ended.checked)
        else:
            outputs, tx["settle"] = delivery.verify_settled(self.settings, self.market, circuit, job.job_id, record.commitments)
        if circuit.manifest.visibility.output == "hashed":
            progress("fetching the private output from the provider")
            outputs = delivery.fetch_private_output(self.market, self.signer, circuit, record, job)
            self.save(record)
        by_input = tuple(tuple(o) for o in circuit.manifest.per_inference(list(outputs)))
        refund = record.price - job.price  # an auction locked a price below the escrowed maximum
        return JobResult(record.job_id, job.status, job.provider, outputs, True, job.price, tx, seconds,
                         refund=refund, by_input=by_input, **terms)  # fmt: skip

    def _check_balance(self, price: int) -> None:
        balance = self.market.balance(self.signer.address)
        if balance < price:
            raise ChainError(
                f"{self.signer.address} holds {fmt_ngx(balance)}, the job costs {fmt_ngx(price)}", "fund the account first"
            )


# --- the same calls without the object (as the tests and older scripts make them) ----------------------
def post_job(
    settings: Settings, market: Marketplace, signer: Signer, circuit: Circuit, data: InputData, **terms: Any
) -> JobRecord:
    """:meth:`Consumer.post`."""
    return Consumer(settings, market, signer).post(circuit, data, **terms)


def order_job(
    settings: Settings, market: Marketplace, signer: Signer, circuit: Circuit, data: InputData, provider: str, **terms: Any
) -> JobRecord:
    """:meth:`Consumer.order`."""
    return Consumer(settings, market, signer).order(circuit, data, provider, **terms)


def adopt_as_deliverer(
    settings: Settings, market: Marketplace, signer: Signer, circuit: Circuit, job_id: int, salted: InputData
) -> JobRecord:
    """:meth:`Consumer.adopt`."""
    return Consumer(settings, market, signer).adopt(circuit, job_id, salted)


class Refund(TypedDict):
    refund: int
    burned: int


def unsettled_refund(market: Marketplace, job: Job, price: int) -> Refund:
    """``refund`` and ``burned`` of a job that ended unsettled: the whole escrow comes back, less what the input rule
    burned of a declined job's refund (issue 23, item 1: a costly input decline cuts it by the provider's slash, at
    most the price; its JobDeclined event says how much)."""
    declined = market.declined(job.job_id) if job.status is JobStatus.CANCELLED and job.provider else None
    burned = declined.burned if declined else 0
    return Refund(refund=price - burned, burned=burned)


def settled_block(market: Marketplace, job_id: int) -> int | None:
    """The block of ``job_id``'s JobSettled log (``Consumer.wait(confirmations=N)`` counts blocks on top of it);
    None when the node cannot show it yet (a lagging node)."""
    try:
        return market.settled(job_id).meta.block_number
    except ChainError:
        return None


def wait_for_result(
    settings: Settings, market: Marketplace, signer: Signer, circuit: Circuit, record: JobRecord, **options: Any
) -> JobResult:
    """:meth:`Consumer.wait`."""
    return Consumer(settings, market, signer).wait(circuit, record, **options)
