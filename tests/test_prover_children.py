"""A worker killed with SIGKILL takes its proving children with it: they do not go on proving (and
holding the cores) for a worker that is gone."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# a worker's prover pool, both children busy (a proof is a long native call; a sleep stands in for it)
BUSY_WORKER = """
import sys, time
import ngx_zk as ngx
from ngx_zk.worker.provers import ProverPool
pool = ProverPool(2, [], ngx.load_settings())
pool.wait_ready()
for _ in range(2):
    pool._pool.apply_async(time.sleep, (120,))
print("busy", flush=True)
time.sleep(300)
"""


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found |= {int(child)} | descendants(int(child))
    except FileNotFoundError:
        pass
    return found


def alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal and /proc: Linux")
def test_busy_proving_children_die_with_a_sigkilled_worker(tmp_path: Path) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-c", BUSY_WORKER],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "NGX_ZK_HOME": str(tmp_path)},
    )
    children: set[int] = set()
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "busy"
        time.sleep(0.5)  # the children take their tasks
        children = descendants(worker.pid)
        assert len(children) >= 2, "the pool started its children"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(c) for c in children):
            time.sleep(0.05)
        assert not [c for c in children if alive(c)], "proving children outlived the killed worker"
    finally:
        for pid in [worker.pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        worker.wait(timeout=10)
