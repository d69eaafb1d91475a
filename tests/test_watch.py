"""The watchtower's decisions, pass by pass, in milliseconds: an in-memory market, clock and proof sources.

``ViewFake`` is an in-memory stand-in for the market's optimistic settlement with the rules the watchtower
relies on (challenge only a Submitted job inside its window; uphold only after the answer deadline). The
watchtower itself runs unchanged (:class:`ngx_zk.watch.Watchtower`, the real SQLite journal, the real proof
parsing and the real :func:`ngx_zk.watch.check_proof`: hash, commitments, outputs); only EZKL's verification
is replaced by ``fake_verify`` (a proof is valid when it starts with ``VALID``). The same watchtower runs
against the real contracts and real proofs in test_watch_chain.py.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from eth_utils.crypto import keccak

from ngx_zk import prover
from ngx_zk.chain.signer import Signer, from_key
from ngx_zk.chain.types import Job, JobStatus, ModelEntry
from ngx_zk.config import Secret
from ngx_zk.errors import ContractRevert, InvalidProofError
from ngx_zk.watch import (
    Decision,
    Problem,
    State,
    Submission,
    WatchJournal,
    Watchtower,
    check_proof,
    fetch_proof,
    sources,
)
from ngx_zk.watch.proofs import ProofFetchError, parse_served

WATCHER: Signer = from_key(Secret("0x" + "22" * 32))
PROVIDER = "0x" + "aa" * 20
ENDPOINT = "http://provider.test"
EXPLORER = "http://explorer.test"
COMMITMENTS = [111, 222]
WINDOW, ANSWER = 3600, 3600


def proof_of(job_id: int, valid: bool = True) -> bytes:
    return (b"VALID" if valid else b"BOGUS") + job_id.to_bytes(8, "big")


def fake_verify(_settings: Any, _circuit: Any, proof: bytes, instances: list[int]) -> SimpleNamespace:
    """FAKE: EZKL's verification replaced by a rule (valid proofs start with VALID and carry the commitments)."""
    if not proof.startswith(b"VALID") or instances[:2] != COMMITMENTS:
        raise InvalidProofError("proof is NOT valid (fake verifier)")
    return SimpleNamespace(outputs=tuple(float(v) for v in instances[2:]))


CIRCUIT = SimpleNamespace(manifest=SimpleNamespace(commitment_count=2, polycommit=False, commitment_points=0))


class ViewFake:
    """FAKE: the market's optimistic settlement as the watchtower sees it (the shape of ``WatchView``)."""

    def __init__(self) -> None:
        self.chain_id, self.market_address, self.dev_chain, self.start_block = 31337, "0x" + "4d" * 20, True, 1
        self.block, self.time = 10, 1_000_000
        self.jobs: dict[int, Job] = {}
        self.subs: list[tuple[int, Submission]] = []
        self.challenges: dict[int, tuple[str, int]] = {}
        self.sent: list[tuple[str, int]] = []
        self.endpoints = {PROVIDER: ENDPOINT}
        self.land_challenge = True
        """False: the challenge transaction is lost with the process (a crash right after sending)."""

    def submit(self, job_id: int, outputs: tuple[int, ...] = (7,), proof: bytes | None = None) -> Submission:
        proof = proof_of(job_id) if proof is None else proof
        self.jobs[job_id] = Job(job_id, "0xc0", JobStatus.SUBMITTED, PROVIDER, 10, 1, 1, 0, 0, 600, 0, 0, b"")
        sub = Submission(job_id, 1, PROVIDER, outputs, keccak(proof), self.time + WINDOW)
        self.block += 1
        self.subs.append((self.block, sub))
        return sub

    def status(self, job_id: int, status: JobStatus) -> None:
        self.jobs[job_id] = dataclasses.replace(self.jobs[job_id], status=status)

    # --- WatchView -----------------------------------------------------------------------------------
    def head(self) -> int:
        return self.block

    def clock(self, due: int) -> int:
        return self.time

    def submissions(self, start: int, stop: int) -> list[Submission]:
        return [s for b, s in self.subs if start <= b <= stop]

    def job(self, job_id: int) -> Job:
        return self.jobs[job_id]

    def commitments(self, job_id: int) -> list[int]:
        return list(COMMITMENTS)

    def model(self, model_id: int) -> ModelEntry:
        raise AssertionError("the watchtower reads models through its circuit finder")

    def endpoint(self, provider: str) -> str:
        return self.endpoints.get(provider, "")

    def challenge(self, signer: Signer, sub: Submission) -> tuple[str, int]:
        job = self.jobs[sub.job_id]
        if job.status is not JobStatus.SUBMITTED:
            raise ContractRevert("JobMarket__InvalidStatus", {"jobId": sub.job_id})
        assert self.time < sub.challenge_deadline, "JobMarket__ChallengeWindowClosed"
        self.sent.append(("challenge", sub.job_id))
        if not self.land_challenge:
            raise KeyboardInterrupt  # the process died with the transaction unsent
        self.challenges[sub.job_id] = (signer.address, self.time + ANSWER)
        self.status(sub.job_id, JobStatus.CHALLENGED)
        return f"0xchallenge{sub.job_id}", self.time + ANSWER

    def challenger(self, job_id: int) -> tuple[str, int]:
        return self.challenges[job_id]

    def uphold(self, signer: Signer, job_id: int) -> str:
        assert self.jobs[job_id].status is JobStatus.CHALLENGED and self.time >= self.challenges[job_id][1]
        self.sent.append(("uphold", job_id))
        self.status(job_id, JobStatus.EXPIRED)
        return f"0xuphold{job_id}"


class Sources:
    """FAKE: what the provider's endpoint and the explorer serve, by URL; a missing URL is a source that is down."""

    def __init__(self) -> None:
        self.served: dict[str, bytes] = {}
        self.asked: list[str] = []

    def serve(self, base: str, job_id: int, proof: bytes, instances: list[int] | None = None) -> None:
        path = f"/v1/proofs/{job_id}" if base == ENDPOINT else f"/api/jobs/{job_id}/proof"
        words = instances if instances is not None else [*COMMITMENTS, 7]
        body = {"job_id": job_id, "proof": "0x" + proof.hex(), "instances": [f"0x{v:064x}" for v in words]}
        self.served[base + path] = json.dumps(body).encode()

    def fetch(self, base: str, path: str) -> bytes:
        self.asked.append(base + path)
        if base + path not in self.served:
            raise ProofFetchError(f"{base} is down")
        return self.served[base + path]


@pytest.fixture(autouse=True)
def _fake_ezkl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prover, "verify_calldata", fake_verify)


@pytest.fixture
def view() -> ViewFake:
    return ViewFake()


@pytest.fixture
def web() -> Sources:
    return Sources()


def tower(view: ViewFake, web: Sources, path: Path | str = ":memory:", **options: Any) -> Watchtower:
    journal = WatchJournal(path, view.chain_id, view.market_address)
    return Watchtower(
        view,  # type: ignore[arg-type]  # a structural fake of WatchView
        journal,
        WATCHER,
        lambda model_id: CIRCUIT if model_id == 1 else None,  # type: ignore[arg-type,return-value]
        lambda circuit, sub, commitments, served: check_proof(None, circuit, sub, commitments, served),  # type: ignore[arg-type]
        web.fetch,
        **options,
    )


def decided(decisions: list[Decision]) -> list[tuple[int, str, str]]:
    return [(d.job_id, d.decision, d.reason) for d in decisions]


# --- deciding -------------------------------------------------------------------------------------------
def test_a_valid_result_is_left_to_finalize_and_not_fetched_again(view: ViewFake, web: Sources) -> None:
    view.submit(1)
    web.serve(ENDPOINT, 1, proof_of(1))
    t = tower(view, web)
    assert decided(t.run_pass()) == [(1, "valid", "")]
    assert t.run_pass() == [] and len(web.asked) == 1 and view.sent == []


def test_an_invalid_proof_is_challenged_then_upheld_after_the_answer_window(view: ViewFake, web: Sources, tmp_path: Path) -> None:
    view.submit(1, proof=proof_of(1, valid=False))
    web.serve(ENDPOINT, 1, proof_of(1, valid=False))
    first = tower(view, web, tmp_path / "w.sqlite").run_pass()
    assert decided(first) == [(1, "challenged", "invalid")] and first[0].tx == "0xchallenge1"
    restarted = tower(view, web, tmp_path / "w.sqlite")  # a restart: the journal knows the challenge
    assert restarted.run_pass() == [] and view.sent == [("challenge", 1)]
    view.time += ANSWER - 1
    assert restarted.run_pass() == []  # the provider may still answer
    view.time += 1
    assert decided(restarted.run_pass()) == [(1, "upheld", "")]
    assert view.sent == [("challenge", 1), ("uphold", 1)]
    assert restarted.journal.get(1).state is State.UPHELD  # type: ignore[union-attr]


def test_wrong_outputs_are_challenged_as_invalid(view: ViewFake, web: Sources) -> None:
    """The provider committed outputs its proof does not prove: the proof checked with the committed outputs fails."""
    view.submit(1, outputs=(8,), proof=proof_of(1))

    def strict(_s: Any, _c: Any, proof: bytes, instances: list[int]) -> SimpleNamespace:  # FAKE: the proof proves output 7
        if instances != [*COMMITMENTS, 7]:
            raise InvalidProofError("proof is NOT valid for these instances (fake verifier)")
        return SimpleNamespace(outputs=(7.0,))

    web.serve(ENDPOINT, 1, proof_of(1))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(prover, "verify_calldata", strict)
        assert decided(tower(view, web).run_pass()) == [(1, "challenged", "invalid")]


def test_a_served_proof_that_is_not_the_committed_one_is_a_mismatch(view: ViewFake, web: Sources) -> None:
    view.submit(1)
    web.serve(ENDPOINT, 1, proof_of(2))  # a valid proof, but not the one whose hash was committed
    d = tower(view, web).run_pass()
    assert decided(d) == [(1, "challenged", "mismatched")] and "the committed proofHash" in d[0].detail


def test_an_unavailable_proof_is_challenged_only_at_the_grace_point(view: ViewFake, web: Sources) -> None:
    sub = view.submit(1)
    t = tower(view, web, grace_s=600)
    assert decided(t.run_pass()) == [(1, "waiting", "")]
    assert t.run_pass() == [] and view.sent == []  # still asked each pass, reported once
    view.time = sub.challenge_deadline - 600
    d = t.run_pass()
    assert decided(d) == [(1, "challenged", "unavailable")] and "provider: http://provider.test is down" in d[0].detail


def test_the_explorer_mirror_stands_in_for_a_provider_that_is_down(view: ViewFake, web: Sources) -> None:
    view.submit(1)
    web.serve(EXPLORER, 1, proof_of(1))
    d = tower(view, web, explorer=EXPLORER + "/").run_pass()
    assert decided(d) == [(1, "valid", "")] and d[0].source == "explorer"
    assert web.asked == [ENDPOINT + "/v1/proofs/1", EXPLORER + "/api/jobs/1/proof"]


def test_a_model_without_a_local_circuit_is_skipped_not_challenged(view: ViewFake, web: Sources) -> None:
    view.submit(1)
    view.jobs[1] = dataclasses.replace(view.jobs[1], model_id=9)
    d = tower(view, web).run_pass()
    assert decided(d) == [(1, "skipped", "no local circuit for model 9")] and "ngx-zk model pull 9" in d[0].detail
    assert view.sent == [] and web.asked == []


def test_an_answered_challenge_is_recorded_as_lost(view: ViewFake, web: Sources) -> None:
    view.submit(1)
    web.serve(ENDPOINT, 1, proof_of(1, valid=False))
    view.submit(2)
    web.serve(ENDPOINT, 2, proof_of(2, valid=False))
    t = tower(view, web)
    assert decided(t.run_pass()) == [(1, "challenged", "mismatched"), (2, "challenged", "mismatched")]
    view.status(1, JobStatus.SETTLED)  # the provider answered with the committed (valid) proof
    view.status(2, JobStatus.EXPIRED)  # someone else upheld
    assert decided(t.run_pass()) == [(1, "answered", ""), (2, "upheld", "")]
    assert t.run_pass() == []


def test_a_crash_after_journaling_a_challenge_resends_it_once(view: ViewFake, web: Sources, tmp_path: Path) -> None:
    view.submit(1)
    web.serve(ENDPOINT, 1, proof_of(1, valid=False))
    view.land_challenge = False
    with pytest.raises(KeyboardInterrupt):
        tower(view, web, tmp_path / "w.sqlite").run_pass()
    view.land_challenge = True
    t = tower(view, web, tmp_path / "w.sqlite")
    assert t.journal.get(1).state is State.CHALLENGING  # type: ignore[union-attr]
    assert decided(t.run_pass()) == [(1, "challenged", "mismatched")]
    assert t.run_pass() == [] and view.sent == [("challenge", 1), ("challenge", 1)]


def test_a_result_challenged_by_someone_else_first_is_skipped(view: ViewFake, web: Sources) -> None:
    view.submit(1)
    web.serve(ENDPOINT, 1, proof_of(1, valid=False))
    view.status(1, JobStatus.CHALLENGED)
    d = tower(view, web).run_pass()
    assert decided(d) == [(1, "skipped", "already challenged when looked at")] and view.sent == []


def test_a_batch_finalized_between_the_look_and_the_challenge_is_too_late_not_a_failure(view: ViewFake, web: Sources) -> None:
    """Someone finalized the batch (the contract deleted it) after the watch looked: the challenge reverts with
    UnknownBatch, which is the window closing, not an error."""
    view.submit(1)
    web.serve(ENDPOINT, 1, proof_of(1, valid=False))

    def finalized_meanwhile(signer: Signer, sub: Submission) -> tuple[str, int]:
        raise ContractRevert("JobMarket__UnknownBatch", {"batchId": sub.batch_id})

    view.challenge = finalized_meanwhile  # type: ignore[method-assign]
    assert decided(tower(view, web).run_pass()) == [(1, "skipped", "too late to challenge (JobMarket__UnknownBatch)")]


def test_a_result_seen_after_its_window_closed_is_skipped(view: ViewFake, web: Sources) -> None:
    sub = view.submit(1)
    view.time = sub.challenge_deadline
    assert decided(tower(view, web).run_pass()) == [(1, "skipped", "the challenge window closed before it was checked")]


def test_the_scan_resumes_from_the_journal_cursor(view: ViewFake, web: Sources, tmp_path: Path) -> None:
    view.submit(1)
    web.serve(ENDPOINT, 1, proof_of(1))
    tower(view, web, tmp_path / "w.sqlite").run_pass()
    view.submit(2)
    web.serve(ENDPOINT, 2, proof_of(2))
    seen: list[str] = []
    assert decided(tower(view, web, tmp_path / "w.sqlite", progress=seen.append).run_pass()) == [(2, "valid", "")]
    assert len(seen) == 1 and seen[0].startswith("job 2: submitted in batch 1")


# --- the proof answer -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not valid JSON"),
        (b'{"job_id": 2, "proof": "0x00", "instances": []}', "the proof of job 2, not job 1"),
        (b'{"job_id": 1, "proof": "0xzz", "instances": []}', "not 0x hex"),
        (b'{"job_id": 1, "proof": "0x00"}', "not {job_id, proof, instances}"),
    ],
)
def test_a_malformed_proof_answer_is_named(body: bytes, problem: str) -> None:
    with pytest.raises(ProofFetchError, match=None) as caught:
        parse_served(body, 1, "provider")
    assert problem in caught.value.message


def test_a_source_with_the_wrong_proof_does_not_hide_the_mirror_with_the_right_one(web: Sources) -> None:
    sub = Submission(1, 1, PROVIDER, (7,), keccak(proof_of(1)), 2_000_000)
    web.serve(ENDPOINT, 1, proof_of(5))
    web.serve(EXPLORER, 1, proof_of(1))
    served, failures = fetch_proof(web.fetch, sources(ENDPOINT, EXPLORER), sub)
    assert served is not None and served.source == "explorer" and served.proof == proof_of(1)
    assert failures == ["provider: served a proof whose keccak is not the committed proofHash"]
    assert Problem.UNAVAILABLE.value == "unavailable"


def test_watch_help_has_examples() -> None:
    from ngx_zk.cli import main

    result = CliRunner().invoke(main, ["watch", "--help"])
    assert result.exit_code == 0, result.output
    assert "ngx-zk watch --once" in result.output and "--grace" in result.output and "--explorer" in result.output
