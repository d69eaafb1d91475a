"""The provider's mailbox: received inputs and outputs waiting for their consumer, on disk.

Each input remembers its owner (the consumer that uploaded it) so per-consumer quotas survive a
restart; the worker releases a final job's input at once and discards the rest once it is fetched.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ..files import write_private


class Mailbox:
    """The worker's side of the data plane: received inputs and outputs ready to fetch, on disk.

    Each input remembers its owner (the consumer that uploaded it) so quotas survive a restart;
    :meth:`discard` removes everything of a job once it is final."""

    KINDS = ("input", "output", "fetched", "owner")

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._inputs: dict[int, tuple[str, int]] = {}  # job id -> (owner, bytes)
        for path in folder.glob("*.input"):
            if path.stem.isdigit():
                owner = folder / f"{path.stem}.owner"
                self._inputs[int(path.stem)] = (owner.read_text().strip() if owner.is_file() else "", path.stat().st_size)

    def _path(self, job_id: int, kind: str) -> Path:
        return self.folder / f"{job_id}.{kind}"

    def put(self, job_id: int, kind: str, data: bytes, *, owner: str = "") -> None:
        with self._lock:
            if kind == "input":
                write_private(self._path(job_id, "owner"), owner.lower().encode())
            write_private(self._path(job_id, kind), data)
            if kind == "input":
                self._inputs[job_id] = (owner.lower(), len(data))

    def get(self, job_id: int, kind: str) -> bytes | None:
        path = self._path(job_id, kind)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def mark_fetched(self, job_id: int) -> None:
        self._path(job_id, "fetched").touch()

    def unfetched_outputs(self, job_ids: list[int]) -> list[int]:
        return [j for j in job_ids if self._path(j, "output").is_file() and not self._path(j, "fetched").is_file()]

    def release_input(self, job_id: int) -> None:
        """Drop the job's input and its quota entry, keeping an output that waits for its consumer.

        Call when the job is final: a settled job's input must not count against its consumer's
        quota (the consumer keeps the input it committed to; a disclosure needs nothing from here)."""
        with self._lock:
            for kind in ("input", "owner"):
                self._path(job_id, kind).unlink(missing_ok=True)
            self._inputs.pop(job_id, None)

    def inputs_held(self) -> list[int]:
        """Ids of the jobs whose input the mailbox holds."""
        with self._lock:
            return list(self._inputs)

    def discard(self, job_id: int) -> None:
        """Remove the job's input, output and marks (call when the job is final and its output fetched or not needed)."""
        with self._lock:
            for kind in self.KINDS:
                self._path(job_id, kind).unlink(missing_ok=True)
            self._inputs.pop(job_id, None)

    def held(self, job_id: int) -> tuple[str, int] | None:
        """(owner, bytes) of the job's input, if the mailbox holds one."""
        with self._lock:
            return self._inputs.get(job_id)

    def usage(self, owner: str | None = None) -> tuple[int, int]:
        """(inputs, bytes) held for ``owner``, or for everyone."""
        with self._lock:
            held = [size for who, size in self._inputs.values() if owner is None or who == owner.lower()]
            return len(held), sum(held)

    def sweep(self, max_age_s: float, now: float | None = None) -> list[int]:
        """Discard the jobs whose input is older than ``max_age_s``; returns their ids."""
        cutoff = (time.time() if now is None else now) - max_age_s
        with self._lock:
            old = []
            for job_id in list(self._inputs):
                try:
                    if self._path(job_id, "input").stat().st_mtime < cutoff:
                        old.append(job_id)
                except FileNotFoundError:
                    old.append(job_id)
            for job_id in old:
                self.discard(job_id)
            return old
