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
    ("JobMarket.sol", "JobMarket"),
    ("NGXGovernor.sol", "NGXGovernor"),
    ("NGXTimelock.sol", "NGXTimelock"),
    ("Halo2VerifierReusable.sol", "Halo2VerifierReusable"),
    ("PolycommitBinding.sol", "PolycommitBinding"),
    ("IJobMarket.sol", "IJobMarket"),
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
]

EIP170_LIMIT = 24_576


def _hex(obj: object) -> str:
    raw = obj.get("object", "") if isinstance(obj, dict) else (obj or "")
    raw = str(raw)
    return raw if raw.startswith("0x") else "0x" + raw


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
        target = DEST / f"{name}.json"
        payload = {"abi": artifact["abi"], "bytecode": bytecode, "deployedBytecodeSize": size}
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
