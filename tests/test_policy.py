"""The worker's terms against griefing (issue #23, "worker policy"): exposure to fresh consumers is capped,
callback gas is priced into the floor, and a bad input is declined with the reason the chain checks."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from click.testing import CliRunner

from ngx_zk.artifacts import Circuit
from ngx_zk.chain.types import DeclineReason
from ngx_zk.cli import main
from ngx_zk.worker.policy import (
    DEFAULT_MAX_FRESH_JOBS,
    DEFAULT_MIN_CONSUMER_SCORE,
    FRESH_WEIGHT_MILLI,
    ClaimPolicy,
    input_decline_reason,
)

NGX = 10**18
# Only the manifest's logrows is read, and only before a proof time was measured.
CIRCUIT = cast(Circuit, SimpleNamespace(manifest=SimpleNamespace(logrows=10)))


def refusal(policy: ClaimPolicy, **job: Any) -> str | None:
    terms: dict[str, Any] = {
        "model_id": 1,
        "circuit": CIRCUIT,
        "price": 10 * NGX,
        "prove_window": 600,
        "claim_left": 600.0,
        "held": 0,
        "consumer_score": 100,
    }
    return policy.refusal(**{**terms, **job})


def test_jobs_of_fresh_consumers_are_capped_by_count() -> None:
    policy = ClaimPolicy()
    fresh = {"consumer_weight_milli": 0, "collateral": 5 * NGX}
    assert refusal(policy, fresh_held=DEFAULT_MAX_FRESH_JOBS - 1, **fresh) is None
    why = refusal(policy, fresh_held=DEFAULT_MAX_FRESH_JOBS, **fresh)
    assert why is not None and "no paid history" in why
    # a consumer with rewarded history is not capped, however many fresh jobs are held
    assert refusal(policy, consumer_weight_milli=FRESH_WEIGHT_MILLI, fresh_held=50, collateral=5 * NGX) is None


def test_jobs_of_fresh_consumers_are_capped_by_collateral_at_risk() -> None:
    policy = ClaimPolicy(max_fresh_jobs=None, max_fresh_collateral=10 * NGX)
    assert refusal(policy, consumer_weight_milli=999, fresh_held=9, fresh_collateral=5 * NGX, collateral=5 * NGX) is None
    why = refusal(policy, consumer_weight_milli=999, fresh_collateral=5 * NGX, collateral=5 * NGX + 1)
    assert why is not None and "collateral" in why


def test_the_exposure_caps_wait_for_the_consumers_record() -> None:
    """Before the consumer's record is read (weight None), only the cheap checks run."""
    assert refusal(ClaimPolicy(max_fresh_jobs=0), consumer_weight_milli=None, fresh_held=3) is None


def test_callback_gas_is_priced_into_the_floor() -> None:
    """The provider pays the consumer's callback gas in the settlement: a job whose price covers the work but not
    the callback is refused, and an auction is claimed only once its price covers both."""
    policy = ClaimPolicy(min_price=10 * NGX, price_per_gas=10**12)  # 0.000001 NGX per gas
    assert policy.floor(1, CIRCUIT) == 10 * NGX
    assert policy.floor(1, CIRCUIT, callback_gas=500_000) == 10 * NGX + NGX // 2
    why = refusal(policy, price=10 * NGX, callback_gas=500_000)
    assert why is not None and "below this worker's minimum" in why
    assert refusal(policy, price=10 * NGX + NGX // 2, callback_gas=500_000) is None


@pytest.mark.parametrize(
    ("on_chain", "deadline_passed", "reason"),
    [
        (False, False, None),  # wait: the consumer may still deliver, off chain or on chain
        (False, True, DeclineReason.INPUT_MISSING),  # the chain checks it: deadline passed, nothing on chain
        (True, False, DeclineReason.INPUT_INVALID),  # junk on chain: InputMissing would revert
        (True, True, DeclineReason.INPUT_INVALID),
    ],
)
def test_a_bad_input_is_declined_with_the_reason_the_chain_checks(
    on_chain: bool, deadline_passed: bool, reason: DeclineReason | None
) -> None:
    assert input_decline_reason(on_chain=on_chain, deadline_passed=deadline_passed) == reason


def test_the_default_minimum_consumer_score_refuses_repeat_harm_without_history() -> None:
    """Scores from Reputation.consumerScore: a new consumer 100, one chain-checked harm 66, two 50."""
    policy = ClaimPolicy(min_consumer_score=DEFAULT_MIN_CONSUMER_SCORE)
    assert refusal(policy, consumer_score=100) is None
    assert refusal(policy, consumer_score=66) is None
    why = refusal(policy, consumer_score=50)
    assert why is not None and "consumer score 50" in why


def test_the_worker_command_defaults_to_the_policy_minimum_score() -> None:
    result = CliRunner().invoke(main, ["worker", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    option = text[text.index("--min-consumer-score INTEGER") :]
    option = option[: option.index(" --", 1)]
    assert f"default: {DEFAULT_MIN_CONSUMER_SCORE}" in option
