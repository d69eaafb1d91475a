"""Proving keys: kept in the user cache, never in the repository, rebuilt on demand.

EZKL's setup is deterministic for a compiled circuit and an SRS, so a provider that lacks the key
regenerates it and checks the verification key that comes out against the manifest's pinned hash.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from . import _ezkl
from .artifacts import Circuit, sha256_file
from .config import Settings, cache_unwritable
from .errors import ArtifactMismatchError, CircuitError, ConfigError

PK = "pk.key"


def key_dir(settings: Settings, name: str, compiled_sha256: str, srs_sha256: str) -> Path:
    return settings.keys_dir / f"{name}-{compiled_sha256[:16]}-{srs_sha256[:16]}"


def setup(
    settings: Settings,
    name: str,
    compiled: Path,
    srs: Path,
    srs_sha256: str,
    vk_out: Path,
    *,
    made: tuple[Path, Path] | None = None,
) -> Path:
    """Run EZKL setup: the verification key goes to ``vk_out``, the proving key into the cache.

    ``made``: a (proving key, verification key) pair that an earlier setup of this same compiled circuit
    on this same SRS wrote (the tuner's timing stage): setup is deterministic, so they are moved into
    place instead of being made again (minutes for a large circuit)."""
    folder = key_dir(settings, name, sha256_file(compiled), srs_sha256)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cache_unwritable(settings, exc) from None
    with _locked(folder / ".lock"), tempfile.TemporaryDirectory(dir=folder, prefix=".setup-") as tmp:
        vk, pk = Path(tmp) / "vk.key", Path(tmp) / PK
        if made is not None and made[0].is_file() and made[1].is_file():
            shutil.move(made[0], pk)  # the cache may be on another filesystem than the build folder
            shutil.copyfile(made[1], vk)
        else:
            _ezkl.setup(CircuitError, compiled, vk, pk, srs)
        os.replace(pk, folder / PK)
        shutil.copyfile(vk, vk_out)
    return folder / PK


def proving_key(settings: Settings, circuit: Circuit, srs: Path) -> Path:
    """The circuit's proving key, regenerated (once, under a lock) if the cache lacks it."""
    m = circuit.manifest
    folder = key_dir(settings, m.name, m.compiled_sha256, m.srs.sha256)
    pk = folder / PK
    if pk.is_file():
        return pk
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".lock").touch()
    except OSError as exc:
        raise cache_unwritable(settings, exc) from None
    with _locked(folder / ".lock"):
        if pk.is_file():  # another process finished setup while we waited
            return pk
        with tempfile.TemporaryDirectory(dir=folder, prefix=".setup-") as tmp:
            vk, new_pk = Path(tmp) / "vk.key", Path(tmp) / PK
            _ezkl.setup(CircuitError, circuit.compiled, vk, new_pk, srs)
            digest = sha256_file(vk)
            if digest != m.vk_sha256:
                raise ArtifactMismatchError("regenerated verification key", circuit.vk, m.vk_sha256, digest)
            os.replace(new_pk, pk)
    return pk


def damaged(settings: Settings, pk: Path, detail: str) -> ConfigError:
    """The error for a proving key in the cache that EZKL cannot load (truncated, junk, another version)."""
    return ConfigError(
        f"the proving key {pk} in the cache NGX_ZK_CACHE_DIR={str(settings.cache_dir)!r} is damaged ({detail})",
        f"delete {pk.parent}: the key is made again from the circuit on the next proof",
    )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
