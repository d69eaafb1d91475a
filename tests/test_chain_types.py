"""The shared vocabulary is pinned to the contracts: enum names and order, struct and event fields by ABI name;
the terms refuse what the market would revert, and the auction maths matches the contract's."""

from __future__ import annotations

import dataclasses
import json
import re
from enum import Enum
from pathlib import Path

import pytest

from ngx_zk.chain import events
from ngx_zk.chain.abi import abi
from ngx_zk.chain.types import (
    DEV_CHAIN_ID,
    EVENTS,
    ChainEvent,
    DeclineReason,
    InputDelivered,
    Job,
    JobClaimed,
    JobDeclined,
    JobExtras,
    JobPosted,
    JobStatus,
    JobTerms,
    LogMeta,
    ModelEntry,
    ModelStatus,
    ProviderProfile,
    TermsError,
    VerifierKind,
    is_dev_chain,
)
from ngx_zk.chain.types import snake as _snake
from ngx_zk.errors import ChainError

from .paths import REPO

INTERFACES = REPO / "verifier_contracts" / "src" / "interfaces"


def solidity_enum(interface: str, name: str) -> list[str]:
    source = (INTERFACES / f"{interface}.sol").read_text()
    found = re.search(rf"enum {name}\s*\{{([^}}]*)\}}", source)
    assert found, f"enum {name} not in {interface}.sol"
    return [m.strip() for m in re.sub(r"//[^\n]*", "", found.group(1)).split(",") if m.strip()]


@pytest.mark.parametrize(
    ("python", "interface", "name"),
    [
        (JobStatus, "IJobMarket", "JobStatus"),
        (DeclineReason, "IJobMarket", "DeclineReason"),
        (ModelStatus, "IModelRegistry", "ModelStatus"),
        (VerifierKind, "IModelRegistry", "VerifierKind"),
    ],
)
def test_python_enums_mirror_the_solidity_enums(python: type[Enum], interface: str, name: str) -> None:
    members = solidity_enum(interface, name)
    assert [_snake(m).upper() for m in members] == [m.name for m in python], "same names, same order"
    if issubclass(python, str):
        assert [m.value for m in python] == members


def _struct_components(contract: str, function: str) -> list[str]:
    entry = next(e for e in abi(contract) if e.get("type") == "function" and e["name"] == function)
    return [_snake(c["name"]) for c in entry["outputs"][0]["components"]]


def _struct_fields(contract: str, function: str) -> set[str]:
    return set(_struct_components(contract, function))


def test_the_job_dataclass_reads_every_field_of_the_contracts_job_by_name() -> None:
    fields = {f.name for f in dataclasses.fields(Job)} - {"job_id"}
    assert fields == _struct_fields("JobMarket", "getJob")


def test_the_model_entry_reads_the_registry_fields_it_names() -> None:
    on_chain = _struct_fields("ModelRegistry", "getModel")
    fields = {f.name for f in dataclasses.fields(ModelEntry)} - {"model_id"}
    assert fields <= on_chain, f"not in the ABI: {fields - on_chain}"


def test_the_provider_profile_reads_every_field_of_the_staking_contracts_provider_by_name() -> None:
    """Same fields, same order as ``IProviderStaking.Provider`` (after the address it was read for)."""
    fields = [f.name for f in dataclasses.fields(ProviderProfile)]
    assert fields[0] == "address" and fields[1:] == _struct_components("ProviderStaking", "getProvider")


def test_job_terms_and_extras_mirror_the_contracts_structs_field_by_field() -> None:
    """``JobTerms.as_tuple`` is sent by position: its order must be the ABI's; extras are read by name."""
    entry = next(e for e in abi("JobMarket") if e.get("type") == "function" and e["name"] == "postJobWithTerms")
    on_chain = [_snake(c["name"]) for c in entry["inputs"][0]["components"]]
    terms = JobTerms(
        model_id=1,
        min_price=2,
        max_price=3,
        claim_window=400,
        prove_window=5,
        min_reputation=6,
        ramp_delay=7,
        ramp_length=8,
        deliverer="0x" + "09" * 20,
        callback_gas_limit=10,
    )
    by_name = {f.name: getattr(terms, f.name) for f in dataclasses.fields(JobTerms)}
    assert set(by_name) == set(on_chain)
    assert [str(v).lower() for v in terms.as_tuple()] == [str(by_name[n]).lower() for n in on_chain]
    assert {f.name for f in dataclasses.fields(JobExtras)} == _struct_fields("JobMarket", "getJobExtras")


@pytest.mark.parametrize("t", [0, 59, 60, 61, 300, 659, 660, 661, 10_000])
def test_job_terms_price_matches_the_contracts_ramp(t: int) -> None:
    terms = JobTerms(model_id=1, min_price=10, max_price=70, claim_window=900, prove_window=60, ramp_delay=60, ramp_length=600)
    expected = 10 if t <= 60 else 70 if t >= 660 else 10 + 60 * (t - 60) // 600
    assert terms.price_at(t) == expected


def _event_inputs(contract: str, name: str) -> list[str]:
    entry = next(e for e in abi(contract) if e.get("type") == "event" and e["name"] == name)
    return [_snake(i["name"]) for i in entry["inputs"]]


@pytest.mark.parametrize("kind", EVENTS, ids=lambda k: k.__name__)
def test_each_event_record_mirrors_its_abi_event_field_by_field(kind: type[ChainEvent]) -> None:
    """Same names, same order as the event's ABI inputs, on the contract the record says emits it."""
    assert [f.name for f in dataclasses.fields(kind)] == _event_inputs(kind.contract, kind.__name__)  # type: ignore[arg-type]


def test_every_event_the_package_reads_has_a_record() -> None:
    """The events the worker, consumer, auditor and market client read (each a record, not a dict)."""
    read = {"JobPosted", "JobClaimed", "JobSettled", "JobReopened", "InputDelivered", "OrderFilled", "ProviderRegistered"}
    assert read | {"ModelRegistered"} <= {k.__name__ for k in EVENTS}


def test_a_log_decodes_into_its_record_with_where_it_was_logged_kept_apart() -> None:
    log = {
        "args": {"jobId": 7, "provider": "0x" + "ab" * 20, "refund": 5, "reason": 2, "free": True, "slashed": 0, "burned": 0},
        "blockNumber": 12,
        "transactionHash": bytes.fromhex("cd" * 32),
        "logIndex": 3,
    }
    found = events.logged(JobDeclined, log)
    assert found.event == JobDeclined(7, "0x" + "ab" * 20, 5, DeclineReason.INPUT_INVALID, True, 0, 0)
    assert found.meta == LogMeta(12, "0x" + "cd" * 32, 3)
    posted = events.decode(
        JobPosted,
        {"jobId": 1, "consumer": "0x1", "modelId": 2, "inputCommitments": [3, 4], "price": 5, "claimDeadline": 6}
        | {"proveWindow": 7, "minReputation": 8},
    )
    assert posted.input_commitments == (3, 4) and posted.model_id == 2


def test_a_log_missing_a_field_is_a_chain_error_naming_it() -> None:
    with pytest.raises(ChainError, match="JobClaimed log has no prove_deadline"):
        events.decode(JobClaimed, {"jobId": 1, "provider": "0x1", "collateral": 2})


def test_filters_are_named_as_the_abi_names_indexed_fields() -> None:
    assert events.abi_filters(InputDelivered, {"job_id": 1, "provider": "0x2"}) == {"jobId": 1, "provider": "0x2"}
    with pytest.raises(TypeError, match="cannot be filtered by payload"):
        events.abi_filters(InputDelivered, {"payload": b""})


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"min_price": 80}, "price must rise"),
        ({"ramp_length": 0}, "price must rise"),
        ({"ramp_delay": 400}, "ends within the claim window"),
        ({"min_reputation": 101}, "min reputation 101"),
        ({"callback_gas_limit": 2_000_001}, "callback gas"),
        ({"max_price": 1 << 96}, "max_price must be a uint96"),
        ({"claim_window": -1}, "claim_window must be a uint32"),
        ({"deliverer": "nobody"}, "not a 0x address"),
    ],
)
def test_job_terms_refuse_what_the_market_would_revert(changes: dict[str, object], problem: str) -> None:
    good = {"model_id": 1, "min_price": 10, "max_price": 70, "claim_window": 900, "prove_window": 60, "ramp_length": 600}
    JobTerms(**good)  # type: ignore[arg-type]
    with pytest.raises(TermsError, match=problem):
        JobTerms(**{**good, **changes})  # type: ignore[arg-type]


def test_a_fixed_price_is_no_auction_and_ramp_fields_make_one() -> None:
    assert not JobTerms.fixed(1, 10, 300, 60).auction
    assert JobTerms(1, 10, 20, 300, 60, ramp_length=60).auction


@pytest.mark.parametrize("floor", [0, 10, 11, 39, 40, 41, 69, 70, 71])
def test_when_the_price_reaches_a_floor_is_the_first_second_it_does(floor: int) -> None:
    """``seconds_to_reach`` inverts ``price_at`` exactly: at that second the price is at the floor, a second
    earlier it is not; a floor above the maximum is never reached."""
    terms = JobTerms(model_id=1, min_price=10, max_price=70, claim_window=900, prove_window=60, ramp_delay=60, ramp_length=600)
    at = terms.seconds_to_reach(floor)
    if floor > 70:
        assert at is None
        return
    assert at is not None and terms.price_at(at) >= floor
    assert at == 0 or terms.price_at(at - 1) < floor


def test_extras_say_when_a_posted_auction_reaches_a_floor_in_chain_time() -> None:
    extras = JobExtras(min_price=10, ramp_start=1_000, ramp_length=600, deliverer=None, missed_by=None, bounty=0)
    assert extras.reaches(40, 70) == 1_000 + 300
    assert extras.reaches(5, 70) == 1_000 and extras.reaches(71, 70) is None


def test_one_dev_chain_check() -> None:
    assert is_dev_chain(31337) and is_dev_chain(DEV_CHAIN_ID, dev_deployment=True)
    assert not is_dev_chain(31337, dev_deployment=False) and not is_dev_chain(1)


def test_the_status_names_of_typed_schemas_are_the_posted_job_statuses() -> None:
    from typing import get_args

    from ngx_zk.chain.types import JobStatusName

    assert set(get_args(JobStatusName)) == {s.value for s in JobStatus if s is not JobStatus.NONE}


_VECTORS = Path(__file__).resolve().parents[1] / "verifier_contracts" / "test" / "fixtures" / "job_terms_prices.json"


def _ramp(row: list[int]) -> JobTerms:
    low, high, delay, length = row[:4]
    return JobTerms(
        model_id=1,
        min_price=low,
        max_price=high,
        claim_window=max(delay + length, 1),
        prove_window=60,
        ramp_delay=delay,
        ramp_length=length,
    )


def test_job_terms_price_maths_match_the_solidity_librarys_vectors() -> None:
    """The vectors test/JobTermsLib.t.sol checks ``JobTermsLib.priceAt`` and ``secondsToReach`` against."""
    vectors = json.loads(_VECTORS.read_text())
    assert len(vectors["prices"]) == vectors["priceCount"] > 20 and len(vectors["reach"]) == vectors["reachCount"] > 20
    for row in vectors["prices"]:
        assert _ramp(row).price_at(row[4]) == row[5], row
    for row in vectors["reach"]:
        at = _ramp(row).seconds_to_reach(row[4])
        assert (at is not None, at or 0) == (bool(row[5]), row[6]), row
