"""A model's artifact bundle: its circuit folder as a tar.gz, and unpacking one from a stranger.

A bundle holds exactly the files of ``circuits/<name>/`` (manifest, settings, compiled circuit, vk,
circuit ONNX), flat, never a proving key. A hashed-weights circuit's bundle is public: manifest, settings and vk
only (its manifest pins the private files' sha256; the owner seals them to licensed providers, see
:mod:`ngx_zk.licensing`), enough to verify its proofs and nothing to prove with (setup is deterministic: providers rebuild it). It is made
reproducibly (sorted, zero times and owners), so the same circuit always gives the same bytes.

A bundle someone else made is hostile until checked: :func:`unpack` reads only regular files with
the expected names (no links, devices, absolute paths, ``..`` or folders), bounds the download and
the unpacked size, and writes into a staging folder that :func:`install` swaps in whole. Its
contents are then checked against the registry by :mod:`ngx_zk.pull`.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from . import safejson
from .artifacts import CIRCUIT_ONNX, COMPILED, MANIFEST, PRIVATE_FILES, SETTINGS, VK, Circuit, sha256_file
from .config import Settings
from .errors import CircuitError

BUNDLE_FILES = (MANIFEST, SETTINGS, COMPILED, VK, CIRCUIT_ONNX)
"""The members of a bundle: the circuit folder's files, nothing else."""
PUBLIC_FILES = tuple(f for f in BUNDLE_FILES if f not in PRIVATE_FILES)
"""The members of a hashed-weights circuit's bundle: no file that holds the weights."""


def bundle_files(circuit: Circuit) -> tuple[str, ...]:
    """What ``circuit``'s bundle holds: every circuit file, or the public ones for hashed weights."""
    return PUBLIC_FILES if circuit.manifest.hashed_weights else BUNDLE_FILES


MAX_BUNDLE_BYTES = 256 * 1024 * 1024
"""Largest bundle downloaded or read (compressed)."""
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
"""Largest total size of a bundle's files once unpacked (a gzip bomb stops here)."""
FETCH_TIMEOUT_S = 60.0
"""Per-read timeout when downloading a bundle over HTTP(S)."""
NAME_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")
"""A circuit name that is safe as a folder name (what ``model build`` accepts)."""
_CHUNK = 1 << 20


class BundleError(CircuitError):
    """A bundle cannot be made, fetched or unpacked safely."""


@dataclass(frozen=True)
class BundleInfo:
    path: Path
    name: str
    sha256: str
    size: int
    files: tuple[str, ...]


def make_bundle(circuit: Circuit, out: Path) -> BundleInfo:
    """Write ``circuit``'s folder (checked against its manifest) as a reproducible tar.gz at ``out``; a hashed-weights
    circuit's without the files that hold its weights."""
    circuit.check_public()
    files = bundle_files(circuit)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with (
            tmp.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for name in sorted(files):
                path = circuit.path / name
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return BundleInfo(out, circuit.name, sha256_file(out), out.stat().st_size, tuple(sorted(files)))


def unpack(bundle: Path, into: Path, *, max_bytes: int = MAX_BUNDLE_BYTES, max_unpacked: int = MAX_UNPACKED_BYTES) -> Circuit:
    """Unpack a bundle into the empty folder ``into`` and load it, its files checked against its manifest.

    Raises :class:`BundleError` naming the first member that is not a plain file with an expected
    name; nothing is written outside ``into`` (the caller removes ``into`` on failure)."""
    try:
        size = bundle.stat().st_size
    except OSError as exc:
        raise BundleError(f"cannot read the bundle {bundle}: {exc.strerror or exc}") from None
    if size > max_bytes:
        raise BundleError(f"the bundle {bundle} is {size:,} bytes, above the {max_bytes:,}-byte limit")
    seen: set[str] = set()
    total = 0
    try:
        with tarfile.open(bundle, mode="r:gz") as tar:
            for member in tar:
                name = _member_name(member, seen)
                total += member.size
                if total > max_unpacked:
                    raise BundleError(f"the bundle unpacks to more than {max_unpacked:,} bytes")
                source = tar.extractfile(member)
                if source is None:
                    raise BundleError(f"bundle member {member.name!r} has no data")
                fd = os.open(into / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
                seen.add(name)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, OSError, zlib.error) as exc:
        raise BundleError(
            f"{bundle} is not a readable tar.gz bundle ({exc})", "make bundles with: ngx-zk model bundle NAME --out FILE"
        ) from None
    missing = [f for f in PUBLIC_FILES if f not in seen]
    if missing:
        raise BundleError(f"the bundle lacks {', '.join(missing)}", "make bundles with: ngx-zk model bundle NAME --out FILE")
    for name in (MANIFEST, SETTINGS):  # parsed by ngx-zk later: bound their size and nesting first
        safejson.loads((into / name).read_bytes(), what=f"the bundle's {name}", max_bytes=64 * 1024 * 1024)
    missing = [f for f in BUNDLE_FILES if f not in seen]
    if missing and not Circuit.load(into).manifest.hashed_weights:  # only hashed weights may stay out of a bundle
        raise BundleError(f"the bundle lacks {', '.join(missing)}", "make bundles with: ngx-zk model bundle NAME --out FILE")
    circuit = Circuit.load(into)
    if not NAME_RE.fullmatch(circuit.name):
        raise BundleError(f"the bundle's circuit name {circuit.name[:80]!r} is not a safe folder name")
    if circuit.has_weights:
        circuit.check()
    else:
        circuit.check_public()  # a hashed-weights model's public bundle
    return circuit


def _member_name(member: tarfile.TarInfo, seen: set[str]) -> str:
    name = member.name
    if not member.isreg():
        kind = (
            "symbolic link"
            if member.issym()
            else "hard link"
            if member.islnk()
            else "folder"
            if member.isdir()
            else "special file"
        )
        raise BundleError(f"bundle member {name!r} is a {kind}: a bundle holds plain files only")
    if name.startswith("/") or "\\" in name or ".." in name.split("/") or re.match(r"[A-Za-z]:", name):
        raise BundleError(f"bundle member {name!r} points outside the bundle (absolute path or '..')")
    clean = name.removeprefix("./")
    if clean not in BUNDLE_FILES:
        raise BundleError(f"bundle member {name!r} is not a circuit file ({', '.join(BUNDLE_FILES)})")
    if clean in seen:
        raise BundleError(f"bundle member {name!r} appears twice")
    return clean


def staging_dir(settings: Settings) -> Path:
    """A fresh folder next to the circuits (same filesystem, so :func:`install` is one rename)."""
    settings.circuits_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".pull-", dir=settings.circuits_dir))


def install(staged: Circuit, settings: Settings, *, replace: bool = False) -> tuple[Circuit, bool]:
    """Move a checked staging folder to ``circuits/<name>/`` in one rename; returns the circuit and
    whether a different circuit of that name was replaced (only with ``replace``)."""
    final = settings.circuits_dir / staged.name
    replaced = False
    if (final / MANIFEST).is_file():
        if sha256_file(final / MANIFEST) == sha256_file(staged.path / MANIFEST):
            shutil.rmtree(staged.path, ignore_errors=True)
            return Circuit.load(final), False
        if not replace:
            raise BundleError(
                f"a different circuit named {staged.name!r} is already in {final}",
                "pass --replace to replace it with the published one",
            )
        replaced = True
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        os.replace(staged.path, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged.path, final)
    return Circuit.load(final), replaced
