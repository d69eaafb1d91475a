"""``ngx-zk bench``: run the benchmark harness of a source checkout (``benchmarks/run.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from ..errors import NgxZkError

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


@click.command("bench", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench_cmd(args: tuple[str, ...]) -> None:
    """Measure ngx-zk against bare EZKL: prove time per example model, job latency, gas, throughput.

    Runs benchmarks/run.py (the same as `make bench`) and passes ARGS on: --quick for a short run,
    --repeats N, --models NAME..., --only pipeline|market|batch|coverage (coverage: models nobody here
    wrote, bare EZKL against ngx-zk; --coverage-dir DIR for your own), --keep. Writes benchmarks/results/latest.json,
    latest.md and latest.png, and prints the markdown tables. Needs a source checkout of ngx-zk.

    \b
    Example:
      ngx-zk bench --quick
    """
    if not SCRIPT.is_file():
        raise NgxZkError(
            "ngx-zk bench needs a source checkout (benchmarks/run.py is not installed with the package)",
            "clone the repository and run: make bench",
        )
    code = subprocess.call([sys.executable, str(SCRIPT), *args])
    if code:
        sys.exit(code)
