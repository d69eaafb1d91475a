"""The typed chain client is pinned to the contracts: enum names and order, struct fields by ABI name."""

from __future__ import annotations

import dataclasses
import re
from enum import Enum

import pytest

from ngx_zk.chain.abi import abi
from ngx_zk.chain.market import DeclineReason, Job, JobStatus, ModelEntry, ModelStatus, VerifierKind, _snake

from .paths import REPO

INTERFACES = REPO / "verifier_contracts" / "src" / "interfaces"


def solidity_enum(interface: str, name: str) -> list[str]:
    source = (INTERFACES / f"{interface}.sol").read_text()
    found = re.search(rf"enum {name}\s*\{{([^}}]*)\}}", source)
    assert found, f"enum {name} not in {interface}.sol"
    return [m.strip() for m in re.sub(r"//[^\n]*", "", found.group(1)).split(",") if m.strip()]


@pytest.mark.parametrize(("python", "interface", "name"), [
    (JobStatus, "IJobMarket", "JobStatus"),
    (DeclineReason, "IJobMarket", "DeclineReason"),
    (ModelStatus, "IModelRegistry", "ModelStatus"),
    (VerifierKind, "IModelRegistry", "VerifierKind"),
])
def test_python_enums_mirror_the_solidity_enums(python: type[Enum], interface: str, name: str) -> None:
    members = solidity_enum(interface, name)
    assert [_snake(m).upper() for m in members] == [m.name for m in python], "same names, same order"
    if issubclass(python, str):
        assert [m.value for m in python] == members


def _struct_fields(contract: str, function: str) -> set[str]:
    entry = next(e for e in abi(contract) if e.get("type") == "function" and e["name"] == function)
    return {_snake(c["name"]) for c in entry["outputs"][0]["components"]}


def test_the_job_dataclass_reads_every_field_of_the_contracts_job_by_name() -> None:
    fields = {f.name for f in dataclasses.fields(Job)} - {"job_id"}
    assert fields == _struct_fields("JobMarket", "getJob")


def test_the_model_entry_reads_the_registry_fields_it_names() -> None:
    on_chain = _struct_fields("ModelRegistry", "getModel")
    fields = {f.name for f in dataclasses.fields(ModelEntry)} - {"model_id"}
    assert fields <= on_chain, f"not in the ABI: {fields - on_chain}"
