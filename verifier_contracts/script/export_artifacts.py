#!/usr/bin/env python3
"""Export ABI + bytecode of the contracts the Python side deploys or calls.

Reads forge's build output (``verifier_contracts/out``; run ``forge build`` first) and writes
``ngx_zk/chain/artifacts/<Name>.json`` = {"abi": [...], "bytecode": "0x...", "deployedBytecodeSize": n}.
Interfaces get an empty bytecode ("0x") and size 0. A file whose content is unchanged is not
rewritten, and only changed files are listed (``make contracts`` runs this on every call). Standard
library only.

Usage (from the repository root): ``python3 verifier_contracts/script/export_artifacts.py``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "verifier_contracts" / "out"
DEST = ROOT / "ngx_zk" / "chain" / "artifacts"

# (source file name in out/, contract name) for every contract the Python side needs.
CONTRACTS = [
    ("NGXToken.sol", "NGXToken"),
    ("TeamVesting.sol", "TeamVesting"),
    ("ProtocolConfig.sol", "ProtocolConfig"),
    ("ModelRegistry.sol", "ModelRegistry"),
    ("ProviderStaking.sol", "ProviderStaking"),
    ("Reputation.sol", "Reputation"),
    ("RewardsPool.sol", "RewardsPool"),
    ("JobSettlement.sol", "JobSettlement"),
    ("JobMarket.sol", "JobMarket"),
    ("NGXGovernor.sol", "NGXGovernor"),
    ("NGXTimelock.sol", "NGXTimelock"),
    ("Halo2VerifierReusable.sol", "Halo2VerifierReusable"),
    ("PolycommitBinding.sol", "PolycommitBinding"),
    ("ParamsBinding.sol", "ParamsBinding"),
    ("IJobMarket.sol", "IJobMarket"),
    ("IJobSettlement.sol", "IJobSettlement"),
    ("IModelRegistry.sol", "IModelRegistry"),
    ("IProviderStaking.sol", "IProviderStaking"),
    ("IReputation.sol", "IReputation"),
    ("IRewardsPool.sol", "IRewardsPool"),
    ("IProtocolConfig.sol", "IProtocolConfig"),
    ("IHalo2Verifier.sol", "IHalo2Verifier"),
    ("IHalo2Verifier.sol", "IHalo2VerifierReusable"),
    ("INgxConsumer.sol", "INgxConsumer"),
    ("LoanGate.sol", "LoanGate"),
    ("ClassifierMarket.sol", "ClassifierMarket"),
    # Verified inference on a second chain (issue 26): chain B's mirror, receiver and example consumer; A's adapter.
    ("ModelMirror.sol", "ModelMirror"),
    ("IModelMirror.sol", "IModelMirror"),
    ("InferenceReceiver.sol", "InferenceReceiver"),
    ("IVerifiedInferenceConsumer.sol", "IVerifiedInferenceConsumer"),
    ("VerifiedOutputBoard.sol", "VerifiedOutputBoard"),
    ("NgxAgentAdapter.sol", "NgxAgentAdapter"),
]

EIP170_LIMIT = 24_576

# The JobMarket runs IJobSettlement's functions (and its events and errors) by DELEGATECALL to the
# JobSettlement module, so callers see one ABI at the market's address: the market's own entries
# plus the module's interface entries it does not already have.
MERGED_ABI = {"JobMarket": ("IJobSettlement.sol", "IJobSettlement")}


def _hex(obj: object) -> str:
    raw = obj.get("object", "") if isinstance(obj, dict) else (obj or "")
    raw = str(raw)
    return raw if raw.startswith("0x") else "0x" + raw


def _signature(entry: dict) -> tuple[str, str, tuple[str, ...]]:
    return entry["type"], entry.get("name", ""), tuple(i["type"] for i in entry.get("inputs", []))


def _merged(abi: list, extra: tuple[str, str]) -> list:
    """``abi`` plus the entries of the interface ``extra`` = (source, name) that it lacks."""
    source, name = extra
    path = OUT / source / f"{name}.json"
    if not path.is_file():
        sys.exit(f"missing forge artifact {path}: did `forge build` succeed?")
    have = {_signature(e) for e in abi}
    return abi + [e for e in json.loads(path.read_text())["abi"] if _signature(e) not in have]


def _named(abi: list, interfaces: tuple[tuple[str, str], ...]) -> list:
    """``abi`` with each entry whose inputs are unnamed (``f(uint256, bytes calldata)``: a body that only
    delegates) replaced by the same-signature entry of one of ``interfaces``, which names them: callers decode
    calldata by name (``decode_function_input``), and unnamed inputs would collapse into one key."""
    named = {}
    for source, name in interfaces:
        path = OUT / source / f"{name}.json"
        if path.is_file():
            named.update({_signature(e): e for e in json.loads(path.read_text())["abi"]})
    return [named.get(_signature(e), e) if any(not i.get("name") for i in e.get("inputs", [])) else e for e in abi]


def export() -> list[Path]:
    """Write every artifact whose content changed; return those written."""
    if not OUT.is_dir():
        sys.exit(f"{OUT} not found: run `forge build` in verifier_contracts first")
    DEST.mkdir(parents=True, exist_ok=True)
    written = []
    for source, name in CONTRACTS:
        path = OUT / source / f"{name}.json"
        if not path.is_file():
            sys.exit(f"missing forge artifact {path}: did `forge build` succeed?")
        artifact = json.loads(path.read_text())
        bytecode = _hex(artifact.get("bytecode"))
        deployed = _hex(artifact.get("deployedBytecode"))
        size = (len(deployed) - 2) // 2
        if size > EIP170_LIMIT:
            sys.exit(f"{name} runtime is {size} bytes, above the EIP-170 limit of {EIP170_LIMIT}")
        if "__$" in bytecode:
            sys.exit(f"{name} needs library linking, which this exporter does not do")
        abi = artifact["abi"]
        if name in MERGED_ABI:
            abi = _named(_merged(abi, MERGED_ABI[name]), (("IJobMarket.sol", "IJobMarket"), MERGED_ABI[name]))
        target = DEST / f"{name}.json"
        payload = {"abi": abi, "bytecode": bytecode, "deployedBytecodeSize": size}
        text = json.dumps(payload, indent=1, sort_keys=True) + "\n"
        if target.is_file() and target.read_text() == text:
            continue
        target.write_text(text)
        written.append(target)
    return written


def main() -> None:
    for path in export():
        print(f"exported {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
