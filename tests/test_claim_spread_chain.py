"""Claim races on the real contracts (issue #25): simulated providers (the worker's monitor, journal and
claim step each, benchmarks/providers.py) race for jobs in lockstep blocks on anvil. Without the claim
spread most providers' claims of each job are mined as reverts; with it, about one is, and every job is
still claimed within a few blocks, also when the only provider that runs ranks late for every job."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks.providers import simulate
from ngx_zk.worker.claim_spread import SPREAD_FIRST

from .chain_fixtures import Net

pytestmark = pytest.mark.chain

PROVIDERS, JOBS = 14, 10
JOBS_LONE = 6


def test_the_claim_spread_keeps_failed_claims_per_job_low_where_racing_wastes_one_per_provider(
    chain_snapshot: Net, tmp_path: Path
) -> None:
    spread = simulate(chain_snapshot, tmp_path / "spread", providers=PROVIDERS, jobs=JOBS, spread=True)
    race = simulate(chain_snapshot, tmp_path / "race", providers=PROVIDERS, jobs=JOBS, spread=False)

    assert spread["claimed"] == race["claimed"] == JOBS
    assert spread["claims_won"] == race["claims_won"] == JOBS, "one successful claim per job, either way"
    assert race["failed_claims_per_job"] > PROVIDERS / 3, race["journal_ends"]
    assert spread["failed_claims_per_job"] < SPREAD_FIRST + 0.5, spread["journal_ends"]
    assert spread["wasted_gas_per_job"] < race["wasted_gas_per_job"] / 3
    assert spread["claim_delay_blocks"]["max"] <= 6, "a job waits a few slots at most"
    assert spread["rpc_per_job_per_provider"] < race["rpc_per_job_per_provider"]


def test_a_job_nobody_ranked_first_wants_is_claimed_once_the_late_providers_turn_comes(
    chain_snapshot: Net, tmp_path: Path
) -> None:
    idle = 30  # registered and staked, never claiming: the one running provider ranks late for most jobs
    run = simulate(chain_snapshot, tmp_path / "lone", providers=1, idle=idle, jobs=JOBS_LONE, spread=True)

    registered = idle + 1 + 2  # the fixture's two dev providers too
    last_slot = 1 + int(math.log2(registered / SPREAD_FIRST))  # a slot is one block here
    queued = JOBS_LONE - 1  # one provider claims one job per block (it waits for each claim's receipt)
    assert run["claimed"] == run["claims_won"] == JOBS_LONE and run["claims_failed"] == 0
    assert run["claim_delay_blocks"]["max"] <= 1 + last_slot + queued, run["claim_delay_blocks"]
    assert run["claim_delay_blocks"]["max"] > 1, "some job waited its turn (it ranked late among 33 providers)"
