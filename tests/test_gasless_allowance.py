"""``prove-job --allowance``: refused at once, with one line, when it cannot be a gasless order's standing permit; and
the order book that keeps the standing permit, when it is not one."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from ngx_zk.cli import main
from ngx_zk.config import Settings
from ngx_zk.consumer.standing import OrderBook, StandingError

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


@pytest.mark.parametrize("text", ["{not json", '{"unfilled": []}', '{"next_nonce": 1, "unfilled": [{"nonce": 1}]}', "[]"])
def test_an_order_book_that_is_not_one_is_one_clear_error_and_is_left_as_it_was(tmp_path: Path, text: str) -> None:
    """A damaged or foreign state file: one line naming it and what to do, no traceback, the file untouched."""
    market = SimpleNamespace(market=SimpleNamespace(address="0x" + "44" * 20), chain=SimpleNamespace(chain_id=31337))
    signer = SimpleNamespace(address="0x" + "cc" * 20)
    book = OrderBook(Settings(tmp_path, tmp_path / "circuits", tmp_path / "cache", 20), market, signer)  # type: ignore[arg-type]
    book.path.parent.mkdir(parents=True)
    book.path.write_text(text)
    with pytest.raises(StandingError) as info:
        book.reserve(10, 120)
    assert str(book.path) in info.value.message and "\n" not in info.value.message
    assert "move it away" in (info.value.hint or "")
    assert book.path.read_text() == text
