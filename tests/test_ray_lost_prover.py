"""A proof whose prover is lost (a fleet node gone mid-proof) is proved again when the deadline
allows, else the job is given back before it could be slashed: the lifecycle's side, with the FAKE
chain and provers of tests/test_lifecycle.py (the real cluster: tests/test_ray_fleet.py)."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ngx_zk.chain.market import DeclineReason
from ngx_zk.inputs import InputData
from ngx_zk.worker.journal import Step
from ngx_zk.worker.provers import ProverLost

from .test_lifecycle import ProversFake, rig, run, seen  # noqa: F401  (rig: the lifecycle's fixture)


class LostLate(Future[Any]):
    """A proof future that reports its loss ``lost_after_s`` of chain time after it was started."""

    def __init__(self, market: Any, lost_after_s: int) -> None:
        super().__init__()
        self.market, self.lost_after_s = market, lost_after_s
        self.set_exception(ProverLost("node-b", "WorkerCrashedError: the worker died unexpectedly"))

    def result(self, timeout: float | None = None) -> Any:
        self.market.chain.now += self.lost_after_s
        return super().result(timeout)


class LosesFirstProof(ProversFake):
    """FAKE: the first proof's node is lost, found out ``lost_after_s`` later; later proofs succeed."""

    def __init__(self, market: Any, lost_after_s: int) -> None:
        super().__init__()
        self.market, self.lost_after_s = market, lost_after_s

    def submit(self, circuit: Any, salted: InputData, out: Path) -> Future[Any]:
        if self.runs == 0:
            self.runs += 1
            return LostLate(self.market, self.lost_after_s)
        return super().submit(circuit, salted, out)


def test_a_proof_lost_with_its_node_is_proved_again_and_settles_once(rig: SimpleNamespace) -> None:  # noqa: F811
    rig.life.crew.provers = rig.life.crew.offers.provers = rig.provers = LosesFirstProof(rig.market, lost_after_s=5)
    seen(rig)
    rig.mailbox[(1, "input")] = b"good"
    assert run(rig) is Step.DONE
    assert rig.provers.runs == 2 and rig.market.submits == [1] and rig.market.declines == []
    notes = [note for step, _, note in rig.journal.history(1) if step == "proving"]
    assert any(n.startswith("prover lost (node node-b)") for n in notes), notes


def test_a_proof_lost_too_late_to_prove_again_is_declined_before_the_deadline(rig: SimpleNamespace) -> None:  # noqa: F811
    rig.life.crew.provers = rig.life.crew.offers.provers = rig.provers = LosesFirstProof(
        rig.market, lost_after_s=290
    )  # of the 300 s prove window
    seen(rig)
    rig.mailbox[(1, "input")] = b"good"
    assert run(rig) is Step.DECLINED
    assert rig.provers.runs == 1 and rig.market.submits == [] and rig.market.declines == [(1, DeclineReason.OTHER)]
