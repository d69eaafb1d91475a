"""Structured reference strings (SRS) for KZG proofs.

Two kinds. A **public** SRS comes from the KZG ceremony: the user supplies the file (``--srs``) and
it must match EZKL's pinned sha256 for its size; it is then copied into the cache. A **test** SRS is
generated locally when no public one is given: whoever generated it can forge proofs, so every
circuit built on it is marked insecure in its manifest and refused on any non-dev chain.
"""

from __future__ import annotations

import json
import os
import shutil
from importlib import resources
from pathlib import Path

from . import _ezkl
from .artifacts import SrsInfo, sha256_file
from .config import Settings, cache_unwritable
from .errors import SrsError


def pinned_public_hashes() -> dict[int, str]:
    text = resources.files("ngx_zk").joinpath("public_srs_sha256.json").read_text()
    return {int(k): v for k, v in json.loads(text)["sha256"].items()}


def identify_public(srs_file: Path) -> tuple[int, str]:
    """``(k, sha256)`` of a public KZG ceremony SRS file; anything else is refused (checked before any build work)."""
    if not srs_file.is_file():
        raise SrsError(f"SRS file not found: {srs_file}", "pass the path of a kzg<k>.srs file from the KZG ceremony")
    digest = sha256_file(srs_file)
    by_hash = {v: k for k, v in pinned_public_hashes().items()}
    k = by_hash.get(digest)
    if k is None:
        raise SrsError(
            f"{srs_file} is not a public KZG ceremony SRS (its sha256 {digest[:16]}... matches no pinned hash)",
            "download kzg<k>.srs from the ceremony set EZKL uses, or omit --srs for a local test SRS",
        )
    return k, digest


def public_srs(settings: Settings, srs_file: Path, logrows: int) -> tuple[Path, SrsInfo]:
    """Check a user-supplied ceremony SRS file and install it in the cache."""
    k, digest = identify_public(srs_file)
    if k < logrows:
        raise SrsError(
            f"{srs_file} is the k={k} SRS, too small for a circuit of 2^{logrows} rows", f"use kzg{logrows}.srs or larger"
        )
    target = settings.srs_dir / "public" / f"kzg{k}.srs"
    if not target.is_file() or sha256_file(target) != digest:
        _atomic_copy(srs_file, target)
    return target, SrsInfo(kind="public", logrows=k, sha256=digest)


def test_srs(settings: Settings, logrows: int) -> tuple[Path, SrsInfo]:
    """The cached local test SRS for ``logrows``, generated on first use. INSECURE: for dev chains only."""
    target = settings.srs_dir / "test" / f"kzg{logrows}.srs"
    if not target.is_file():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise cache_unwritable(settings, exc) from None
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            _ezkl.gen_test_srs(SrsError, tmp, logrows)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return target, SrsInfo(kind="test", logrows=logrows, sha256=sha256_file(target))


def locate(settings: Settings, info: SrsInfo) -> Path:
    """The cached SRS a circuit was built on, checked against the hash in its manifest."""
    name = f"kzg{info.logrows}.srs"
    path = settings.srs_dir / ("public" if info.kind == "public" else "test") / name
    cache = f"the cache NGX_ZK_CACHE_DIR={str(settings.cache_dir)!r}"
    if not path.is_file():
        hint = (
            "set NGX_ZK_CACHE_DIR back to the cache the circuit was built with, or rebuild the circuit with "
            "ngx-zk model build (a new test SRS means new keys)"
            if info.insecure
            else f"install it again with ngx-zk model build --srs {name}"
        )
        raise SrsError(f"the SRS this circuit was built on ({name}) is not in {cache}: {path}", hint)
    digest = sha256_file(path)
    if digest != info.sha256:
        raise SrsError(
            f"{path} in {cache} is not the SRS this circuit was built on (sha256 {digest[:12]}..., "
            f"expected {info.sha256[:12]}...)",
            "set NGX_ZK_CACHE_DIR back to the cache the circuit was built with, or delete that file and "
            + ("rebuild the circuit with ngx-zk model build" if info.insecure else f"run ngx-zk model build --srs {name}"),
        )
    return path


def _atomic_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
