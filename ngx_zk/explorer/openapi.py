"""The API's answers as typed models: FastAPI validates every answer against them and derives the OpenAPI
3.1 document served at ``/api/v1/openapi.json`` from them (see :func:`document`).

Every model forbids fields it does not name, so a view that renames or adds a field fails the tests
(a 500 from response validation) before a client sees it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..chain.types import JobStatusName

Wei = Annotated[str, Field(pattern=r"^[0-9]+$", description="an amount in wei (1 NGX = 10^18), as a decimal string")]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-f]{40}$", description="an address, lower case")]
Hex32 = Annotated[str, Field(pattern=r"^0x[0-9a-f]{64}$", description="a 256-bit value as 0x and 64 hex digits")]
Status = JobStatusName
Outcome = Literal["open", "claimed", "settled", "expired", "cancelled", "declined", "reopened"]
OutputKind = Literal["public", "hashed"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(Model):
    status: int
    message: str


class Error(Model):
    """Every 4xx and 5xx answer of the API."""

    error: ErrorBody


class IndexStatus(Model):
    chain_id: int
    indexed_block: int
    head: int | None
    lag_blocks: int | None
    confirmations: int
    contracts: dict[str, str]


class Job(Model):
    job_id: int
    consumer: Address
    provider: Address | None
    model_id: int
    model_name: str | None = Field(description="the local circuit name this server knows the model by")
    status: Status
    outcome: Outcome
    price: Wei
    posted_block: int
    posted_time: int
    ended_time: int | None
    provider_pay: Wei | None
    royalty: Wei | None
    fee: Wei | None
    reward: Wei | None
    gas_used: int
    proof_bytes: int | None
    latency_s: int | None
    inferences: int


class JobList(Model):
    total: int
    limit: int
    offset: int
    jobs: list[Job]


class TimelineEvent(Model):
    event: str
    block: int
    time: int
    tx_hash: str
    method: str | None
    gas_used: int | None
    args: dict[str, Any]


class Split(Model):
    provider_pay: Wei
    royalty: Wei
    fee: Wei
    reward: Wei
    price: Wei
    adds_up: bool


class ChallengeRow(Model):
    challenger: Address
    bond: Wei
    answer_deadline: int = Field(description="chain time (unix s) by which the provider must answer with the proof")
    outcome: Literal["open", "answered", "upheld"]
    tx_hash: str


class Settlement(Model):
    """How the job settles: eager (verified on chain at submission) or optimistic (finalized after a challenge window)."""

    mode: Literal["eager", "optimistic"]
    batch_id: int | None
    proof_hash: Hex32 | None = Field(description="keccak256 of the proof the provider committed to")
    challenge_deadline: int | None = Field(description="chain time (unix s) until which anyone may challenge the result")
    proof_mirrored: bool = Field(description="this explorer holds a copy of the committed proof: GET /api/jobs/{id}/proof")
    challenges: list[ChallengeRow]


class ServedProof(Model):
    """An optimistic job's committed proof, as its provider serves it (the calldata a challenge's answer sends)."""

    job_id: int
    proof: str = Field(pattern=r"^0x[0-9a-f]*$")
    instances: list[Hex32]


class Decline(Model):
    """A provider's decline, from its JobDeclined event."""

    reason: Literal["other", "input_missing", "input_invalid"]
    free: bool
    slashed: str = Field(description="of the provider's collateral (NGX wei)")
    refund: str = Field(description="what came back to the consumer: the price less `burned` (NGX wei)")
    burned: str = Field(description="the input rule's cut: a costly input decline burns min(slashed, price) of the escrow")


class JobDetail(Job):
    timeline: list[TimelineEvent]
    commitments: list[Hex32]
    outputs: list[str] | None = Field(description="the public instances after the inputs: outputs, or their hash")
    output_kind: OutputKind | None = Field(
        description="`hashed`: `outputs` is the Poseidon hash of a private output; null: no local circuit says"
    )
    output_values: list[list[float]] | None
    split: Split
    decline: Decline | None = Field(None, description="set when the provider declined the job")
    verifier: str | None
    verifier_kind: str | None
    settlement: Settlement


class Check(Model):
    name: str
    ok: bool
    detail: str


class Verdict(Model):
    job_id: int
    model: str
    valid: bool
    checks: list[Check]
    outputs: list[float]


class NrsComponents(Model):
    performance: int
    reliability: int
    longevity: int
    peer: int


class ProviderLive(Model):
    nrs: int
    components: NrsComponents
    staked: Wei
    locked: Wei
    unbonding: Wei
    collateral_per_10_ngx: Wei | None


class ProviderJobs(Model):
    settled: int
    expired: int
    declined: int
    claimed: int
    total: int


class Provider(Model):
    address: Address
    registered_at: int | None
    endpoint: str | None
    jobs: ProviderJobs
    earnings: Wei
    rewards: Wei
    credited: Wei
    withdrawn: Wei
    claimable: Wei
    rewards_owed: Wei
    to_withdraw: Wei
    slashed: Wei
    live: ProviderLive | None


class ProviderList(Model):
    total: int
    limit: int
    offset: int
    providers: list[Provider]


class Earnings(Model):
    t: int
    earnings: Wei


class ProviderDetail(Provider):
    earnings_over_time: list[Earnings]
    recent_jobs: list[Job]


class CircuitInfo(Model):
    logrows: int
    batch: int


class Provenance(Model):
    code_matches_pin: bool
    allow_listed: bool


class ModelLive(Model):
    status: str
    royalty_bps: int
    metadata_uri: str
    input_commitments: int
    outputs: int
    verifier_code_hash: str
    provenance: Provenance


class RegistryModel(Model):
    model_id: int
    name: str | None
    circuit: CircuitInfo | None
    owner: Address
    verifier: str
    kind: Literal["dedicated", "reusable", "unknown"]
    onnx_hash: str | None
    settings_hash: str | None
    vk_digest: str | None
    insecure_test_srs: bool
    registered_at: int
    jobs: int
    settled: int
    royalties: Wei
    live: ModelLive | None


class ModelList(Model):
    total: int
    limit: int
    offset: int
    models: list[RegistryModel]


class Consumer(Model):
    address: Address
    jobs: int
    open: int
    claimed: int
    settled: int
    expired: int
    cancelled: int
    declined: int
    reopened: int
    spent: Wei


class ConsumerList(Model):
    total: int
    limit: int
    offset: int
    consumers: list[Consumer]


class ConsumerLive(Model):
    score: int
    facts: dict[str, int]


class ConsumerDetail(Consumer):
    recent_jobs: list[Job]
    live: ConsumerLive | None


class StatsBucket(Model):
    t: int
    posted: int
    open: int
    claimed: int
    settled: int
    expired: int
    cancelled: int
    declined: int
    reopened: int
    volume: Wei
    fees: Wei
    royalties: Wei
    rewards: Wei
    proofs_verified: int
    median_latency_s: float | None
    gas_per_job: int | None
    gas_per_inference: int | None


class StatsTotals(Model):
    jobs: int
    open: int
    claimed: int
    settled: int
    expired: int
    cancelled: int
    declined: int
    reopened: int
    volume: Wei
    fees: Wei
    royalties: Wei


class Stats(Model):
    bucket_s: int
    totals: StatsTotals
    series: list[StatsBucket]


class AnomalyFlag(Model):
    address: Address
    role: Literal["consumer", "provider"]
    kinds: list[Literal["wash-ring", "junk-input", "self-dealing", "decline-harvest"]] = Field(
        description="the attack kinds its evidence names, the primary (heaviest) first"
    )
    score: float = Field(description="isolation-forest anomaly score among its role (higher: more unusual; 0: too few actors)")
    outlier: bool
    evidence: list[str] = Field(description="what was seen, one readable line each")


class Anomalies(Model):
    """Flagged actors with their evidence (``ngx-zk reputation --anomalies``): evidence, not proof."""

    weighed: dict[str, int] = Field(description="actors weighed per role")
    flags: list[AnomalyFlag]


__all__ = ["Anomalies", "Error", "JobDetail", "JobList", "ModelList", "ProviderList", "Stats"]
