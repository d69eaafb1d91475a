"""The watchtower's real view of the chain: the market (:class:`~ngx_zk.chain.market.Marketplace`) and its
settlement calls (:class:`~ngx_zk.chain.settlement.Settlement`), in the shape of :class:`~.tower.WatchView`;
and the local circuit that checks each registry model's proofs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..artifacts import MANIFEST, Circuit
from ..catalog import binding, mismatches
from ..chain import devnet
from ..chain.settlement import Settlement
from ..chain.settlement_types import JobSubmitted
from ..chain.types import Job, ModelEntry
from ..config import Settings
from ..errors import ChainError, NgxZkError
from .proofs import Submission

if TYPE_CHECKING:
    from ..chain.market import Marketplace
    from ..chain.signer import Signer


class ChainWatch:
    """:class:`~.tower.WatchView` over one deployed market."""

    def __init__(self, market: Marketplace) -> None:
        self.market = market
        self.settlement = Settlement(market)
        self._deadlines: dict[int, int] = {}

    @property
    def chain_id(self) -> int:
        return self.market.chain.chain_id

    @property
    def market_address(self) -> str:
        return str(self.market.market.address)

    @property
    def dev_chain(self) -> bool:
        return self.market.dev_chain

    @property
    def start_block(self) -> int:
        return self.market.deployment.block

    def head(self) -> int:
        return self.market.chain.block_number()

    def clock(self, due: int) -> int:
        return devnet.catch_up(self.market.chain, due)

    def submissions(self, start: int, stop: int) -> list[Submission]:
        found = self.market.logs(JobSubmitted, start, stop)
        return [
            Submission(e.job_id, e.batch_id, e.provider, tuple(e.outputs), e.proof_hash, self._deadline(e.batch_id))
            for e in (logged.event for logged in found)
        ]

    def _deadline(self, batch_id: int) -> int:
        if batch_id not in self._deadlines:
            batch = self.settlement.batch(batch_id)
            if not batch.exists:  # finalized and deleted: its window is long closed
                return 0
            self._deadlines[batch_id] = batch.challenge_deadline
        return self._deadlines[batch_id]

    def job(self, job_id: int) -> Job:
        return self.market.job(job_id)

    def commitments(self, job_id: int) -> list[int]:
        return list(self.market.posted(job_id).event.input_commitments)

    def model(self, model_id: int) -> ModelEntry:
        return self.market.model(model_id)

    def endpoint(self, provider: str) -> str:
        return self.market.provider(provider).endpoint_uri

    def challenge(self, signer: Signer, sub: Submission) -> tuple[str, int]:
        batch = self.settlement.batch_results(sub.batch_id)
        index = next((i for i, r in enumerate(batch) if r.job_id == sub.job_id), None)
        if index is None:
            raise ChainError(f"job {sub.job_id} is not in batch {sub.batch_id}'s JobSubmitted logs", "query another RPC node")
        self._check_bond(signer)
        receipt = self.settlement.challenge(signer, sub.batch_id, batch, index)
        return receipt.tx, self.challenger(sub.job_id)[1]

    def _check_bond(self, signer: Signer) -> None:
        from ..units import fmt_ngx

        bond, balance = self.settlement.terms().challenge_bond, self.market.balance(signer.address)
        if balance < bond:
            raise ChainError(
                f"{signer.address} holds {fmt_ngx(balance)}, a challenge's bond is {fmt_ngx(bond)}",
                "fund the challenger's account with NGX (the bond comes back with a reward when the challenge is upheld)",
            )

    def challenger(self, job_id: int) -> tuple[str, int]:
        found = self.settlement.challenge_of(job_id)
        if found is None:
            raise ChainError(f"job {job_id} has no open challenge")
        return found.challenger, self.answer_deadline(job_id, found.answer_deadline)

    def answer_deadline(self, job_id: int, stored: int) -> int:
        """The answer deadline moved by guardian pauses (``answerDeadlineOf``), where the market has that view."""
        functions = self.market.market.functions
        if not any(f.get("name") == "answerDeadlineOf" for f in self.market.market.abi):
            return stored
        return int(self.market.chain.call(functions.answerDeadlineOf(job_id)))

    def uphold(self, signer: Signer, job_id: int) -> str:
        return self.settlement.uphold(signer, job_id).tx


def circuit_finder(settings: Settings, market: Marketplace) -> Callable[[int], Circuit | None]:
    """Registry model id -> the local circuit whose artifacts the entry pins (None: none here), looked up once per id.

    A circuit is matched by the entry's artifacts hash and then checked in full (:func:`ngx_zk.catalog.mismatches`):
    checking a proof against another build's key would challenge honest providers."""
    found: dict[int, Circuit | None] = {}

    def find(model_id: int) -> Circuit | None:
        if model_id not in found:
            entry = market.model(model_id)
            candidates = [c for c in _local_circuits(settings) if binding(c).artifacts_hash == entry.artifacts_hash]
            found[model_id] = next((c for c in candidates if not mismatches(settings, entry, c)), None)
        return found[model_id]

    return find


def _local_circuits(settings: Settings) -> list[Circuit]:
    found = []
    folders = sorted(settings.circuits_dir.iterdir()) if settings.circuits_dir.is_dir() else []
    for folder in folders:
        if not folder.name.startswith(".") and (folder / MANIFEST).is_file():
            try:
                found.append(Circuit.load(folder))
            except NgxZkError:
                continue
    return found
