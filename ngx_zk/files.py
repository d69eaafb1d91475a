"""Writing secret files (salted inputs, keystores, sealed payloads): atomically, owner-only."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 via a temporary file, so no reader sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_bounded(path: Path, max_bytes: int, *, what: str = "file", hint: str | None = None) -> bytes:
    """Read at most ``max_bytes`` of a file the user named, refusing more: a pipe or a device
    (``/dev/zero``, ``/proc/self/mem``) must not be read without end, and a read error is an
    :class:`~ngx_zk.errors.InputError` naming the path, not a traceback."""
    from .errors import InputError

    if not path.exists():
        raise InputError(f"{what} not found: {path}", hint)
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a file", hint)
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}", hint) from None
    if len(data) > max_bytes:
        raise InputError(f"{path} is larger than {max_bytes:,} bytes", hint)
    return data
