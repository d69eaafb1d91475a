"""What a consumer keeps of a job (:class:`JobRecord`, a private file) and what it gets back (:class:`JobResult`)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..artifacts import Circuit
from ..chain.types import JobStatus
from ..config import Settings
from ..errors import NgxZkError
from ..files import write_private


@dataclass
class JobRecord:
    chain_id: int
    job_id: int
    model: str
    model_id: int
    consumer: str
    commitments: list[str]
    price: int
    salted_input: dict[str, Any]
    post_tx: str
    deliveries: dict[str, str] = field(default_factory=dict)  # provider -> deliver tx
    posted_at: float = field(default_factory=time.time)
    offered_to: str = ""  # the provider the job was offered to before posting, if it took the offer
    deliverer_for: str = ""  # set when this machine hands over the input of a job a contract consumer posted
    output_felts: list[str] = field(default_factory=list)  # a private job's output, once fetched (for disclosures)
    gasless: bool = False  # posted by a provider filling this account's signed order: this account sends no transaction


@dataclass(frozen=True)
class JobResult:
    job_id: int
    status: JobStatus
    provider: str | None
    outputs: tuple[float, ...]
    proof_valid: bool
    price: int
    tx: dict[str, str]
    seconds: float
    refund: int = 0
    """What came back to the consumer: the whole escrow for a job that ended unsettled (less ``burned``), the escrow
    above the locked price for an auction."""
    burned: int = 0
    """The escrow burned by the input rule: a costly InputMissing or InputInvalid decline cuts the refund by the
    provider's slash (at most the price; issue 23, item 1)."""
    by_input: tuple[tuple[float, ...], ...] = ()
    """The outputs split per input: one entry per inference of a batch job (one for a single job)."""
    settlement: str = "eager"
    """``eager`` (verified on chain at submission) or ``optimistic`` (finalized after a challenge window)."""
    challenge_deadline: int | None = None
    """An optimistic job's end of the challenge window (chain time, unix seconds); None for an eager job."""
    finalized: bool = False
    """The job settled for good (paid out): an eager job at submission, an optimistic one at finalization or answer."""


def record_path(settings: Settings, chain_id: int, job_id: int) -> Path:
    return settings.state_dir / "jobs" / str(chain_id) / f"{job_id}.json"


def save_record(settings: Settings, record: JobRecord) -> None:
    write_private(record_path(settings, record.chain_id, record.job_id), json.dumps(asdict(record)).encode())


def load_record(settings: Settings, chain_id: int, job_id: int) -> JobRecord | None:
    try:
        return JobRecord(**json.loads(record_path(settings, chain_id, job_id).read_text()))
    except FileNotFoundError:
        return None


def require_private(circuit: Circuit) -> None:
    """A private job needs a model whose outputs are hashed: otherwise the output lands on chain."""
    if circuit.manifest.visibility.output != "hashed":
        raise NgxZkError(
            f"model {circuit.name!r} has public outputs: its output would be published on chain",
            "build a private variant: ngx-zk model build MODEL --name NAME --visibility hashed/fixed/hashed",
        )
