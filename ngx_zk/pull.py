"""``model pull``: install a published model by its registry id, after checking it against the entry.

A model is addressed by (chain id, model id), never found by scanning for matching hashes: a copy
with the same hashes can name an always-true verifier or pay its royalty to someone else. Pulling:

1. reads entry ``model_id`` and fetches its bundle (from the URI its ``metadataURI`` names, or a
   bundle file the user already has), unpacking it safely (:mod:`ngx_zk.bundle`);
2. checks every hash against the entry: sha256 of ``manifest.json`` (``artifactsHash``, which pins
   every file), ONNX, settings, vk digest, instance counts, SRS flag; refuses circuits above the
   logrows cap and ONNX files the build would refuse;
3. re-renders the verifier from the bundle's key and compares code hashes (:mod:`ngx_zk.provenance`);
4. reports other entries with the same artifacts: an *earlier* one registered by another owner makes
   this id a probable copy, refused unless ``accept_copy`` (a person decides, the code does not guess);
5. installs the circuit under ``circuits/<name>/`` in one rename and records the id for this chain.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import bundle as bundles
from . import onnx_model, srs
from .chain.market import Marketplace
from .chain.types import ModelStatus
from .config import Settings
from .errors import ChainError, CircuitError, LogrowsCapError
from .provenance import artifacts_hash, require_verifier
from .publish import (
    AmbiguousModelError,
    describe,
    mismatches,
    record_model,
    recorded_id,
    same_address,
    same_artifacts,
)

Progress = Callable[[str], None]


class BundleMismatchError(CircuitError):
    """A bundle is not the model the registry entry pins."""

    def __init__(self, model_id: int, problems: list[str]) -> None:
        super().__init__(
            f"the bundle is not registry model {model_id}: {', '.join(problems)} differ",
            "get the bundle its publisher announced for this id; nothing was installed",
        )
        self.model_id = model_id
        self.problems = problems


@dataclass(frozen=True)
class PulledModel:
    name: str
    model_id: int
    chain_id: int
    path: str
    kind: str
    verifier: str
    verifier_code_hash: str
    verifier_allowed: bool
    """Whether the verifier's code is on governance's allow-list (only then do jobs earn rewards and NRS)."""
    owner: str
    royalty_bps: int
    status: ModelStatus
    artifacts_hash: str
    source: str
    replaced_circuit: bool = False
    previous_id: int | None = None
    """The id recorded for this name before (replaced by this pull), if another."""
    copies: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    """Other entries with the same artifacts (``model_id``, ``owner``, ``royalty_bps``, ``status``, ``earlier``)."""


def pull_model(
    settings: Settings,
    market: Marketplace,
    model_id: int,
    *,
    bundle: Path | None = None,
    accept_copy: bool = False,
    replace: bool = False,
    srs_file: Path | None = None,
    progress: Progress = lambda _: None,
) -> PulledModel:
    """Fetch, check and install registry model ``model_id``; record its id for this chain. Installs nothing on any failure."""
    entry = market.model(model_id)
    if entry.insecure_test_srs and not market.dev_chain:
        raise ChainError(
            f"registry model {model_id} was built on a TEST SRS: its proofs are forgeable",
            "test-SRS models are for a local dev chain only",
        )
    source = str(bundle) if bundle is not None else entry.metadata_uri
    staging = bundles.staging_dir(settings)
    try:
        with tempfile.TemporaryDirectory(prefix="ngx-pull-") as tmp:
            if bundle is None:
                progress(f"fetching the bundle from {source}")
                bundle = bundles.fetch(source, Path(tmp) / "bundle.tar.gz")
            progress("unpacking the bundle")
            staged = bundles.unpack(bundle, staging)
        progress("checking the bundle against the registry entry")
        problems = mismatches(settings, entry, staged)
        if problems:
            raise BundleMismatchError(model_id, problems)
        m = staged.manifest
        if m.logrows > settings.max_logrows:
            raise LogrowsCapError(m.logrows, settings.max_logrows)
        onnx_model.load_checked(staged.circuit_onnx)  # what the worker will run: refused if a build would refuse it
        if srs_file is not None:
            srs.public_srs(settings, srs_file, m.logrows)
        progress("re-rendering the verifier and comparing code hashes")
        require_verifier(settings, market, entry, staged)
        progress("looking for other entries with the same artifacts")
        copies = same_artifacts(market, staged, skip=model_id)
        earlier = [c for c in copies if c.model_id < model_id and not same_address(c.owner, entry.owner)]
        if earlier and not accept_copy:
            raise AmbiguousModelError(
                f"registry model {model_id} (owner {entry.owner}, royalty {entry.royalty_bps} bps) carries the same artifacts as "
                f"the earlier {describe(earlier)}: it may be a copy that pays someone else",
                f"pull the id the model's publisher announced; pass --accept-copy to use model {model_id} anyway",
                [entry, *earlier],
            )
        installed, replaced = bundles.install(staged, settings, replace=replace)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = recorded_id(market, installed.name)
    record_model(settings, market, installed, entry)
    return PulledModel(
        installed.name,
        model_id,
        market.chain.chain_id,
        str(installed.path),
        entry.kind.name.lower(),
        entry.verifier,
        "0x" + entry.verifier_code_hash.hex(),
        market.verifier_code_allowed(entry.verifier_code_hash),
        entry.owner,
        entry.royalty_bps,
        entry.status,
        "0x" + artifacts_hash(installed).hex(),
        source,
        replaced,
        previous if previous != model_id else None,
        tuple(
            {
                "model_id": c.model_id,
                "owner": c.owner,
                "royalty_bps": c.royalty_bps,
                "status": c.status.value,
                "earlier": c.model_id < model_id,
            }
            for c in copies
        ),
    )
