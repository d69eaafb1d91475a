"""The README's Python client example runs as written against a real chain with a real worker."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .chain_fixtures import Net, start_worker
from .paths import REPO

pytestmark = pytest.mark.chain


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    found = re.search(r"<!-- client-example -->\n```python\n(.*?)```", text, re.S)
    assert found, "the README's client example is missing"
    return found.group(1)


def test_the_readme_client_example_posts_a_job_and_gets_a_verified_output(chain_snapshot: Net, tmp_path: Path) -> None:
    net = chain_snapshot
    worker = start_worker(net, tmp_path / "worker", "--max-jobs", "1")
    try:
        run = subprocess.run(
            [sys.executable, "-c", readme_example()],
            env=net.env(tmp_path / "consumer"),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    finally:
        worker.wait(timeout=120)
    assert run.returncode == 0, run.stderr
    first, record = run.stdout.splitlines()[:2]
    assert "Settled" in first
    assert "'settled': 1" in record
