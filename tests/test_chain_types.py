"""The typed chain client is pinned to the contracts: enum names and order, struct fields by ABI name."""

from __future__ import annotations

import dataclasses
import re
from enum import Enum

import pytest

from ngx_zk.chain.abi import abi
from ngx_zk.chain.market import (
    DeclineReason,
    Job,
    JobExtras,
    JobStatus,
    JobTerms,
    ModelEntry,
    ModelStatus,
    ProviderProfile,
    VerifierKind,
    _snake,
)

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
        claim_window=4,
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
