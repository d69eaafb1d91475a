"""``prove-job --allowance``: refused at once, with one line, when it cannot be a gasless order's standing permit."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ngx_zk.cli import main

from .paths import MODELS

PROVIDER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gasless", "--provider", PROVIDER, "--allowance", "5"], "5 NGX is below the order's price (10 NGX)"),
        (["--gasless", "--provider", PROVIDER, "--allowance", "ten"], "is not a number of NGX"),
        (["--gasless", "--provider", PROVIDER, "--allowance", "0"], "must be above 0 NGX"),
        (["--allowance", "50"], "--allowance sets a gasless order's standing permit: add --gasless"),
    ],
)
def test_a_bad_allowance_is_one_usage_error(args: list[str], message: str) -> None:
    out = CliRunner().invoke(main, ["prove-job", "mlp", "--input", str(MODELS / "mlp" / "input.json"), *args])
    assert out.exit_code == 2 and message in out.output and "Traceback" not in out.output, out.output


def test_the_help_shows_an_allowance_example() -> None:
    out = CliRunner().invoke(main, ["prove-job", "--help"])
    assert out.exit_code == 0 and "--allowance AMOUNT" in out.output and "--gasless --allowance 50" in out.output
