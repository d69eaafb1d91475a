"""The CLI as a user meets it: help with examples, exit codes, one-line errors, --json for scripts."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ngx_zk.cli import main

from .conftest import MODELS, flip_byte


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, cmd in group.commands.items():
        found.append((*prefix, name))
        if isinstance(cmd, click.Group):
            found.extend(all_commands(cmd, (*prefix, name)))
    return found


@pytest.mark.parametrize("path", all_commands(main), ids=" ".join)
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"], prog_name="ngx-zk")
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert "ngx-zk " in result.output.split("Example:")[1]


def run(*args: str) -> tuple[int, str]:
    """Exit code and stdout (where results go; progress and warnings go to stderr)."""
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def test_build_commit_prove_verify_round_trip(env: Path) -> None:
    code, out = run("model", "build", str(MODELS / "mlp"), "--json")
    assert code == 0, out
    built = json.loads(out)
    assert built["name"] == "mlp" and built["insecure"] is True

    code, out = run("commit", str(MODELS / "mlp" / "input.json"), "--model", "mlp", "--out", "salted.json", "--json")
    assert code == 0, out
    commitment = json.loads(out)["commitments"]
    assert (env / "salted.json").stat().st_mode & 0o077 == 0, "salted input must be private to its owner"

    code, out = run("prove", "--model", "mlp", "--input", "salted.json", "--out", "proof.json", "--json")
    assert code == 0, out
    proved = json.loads(out)
    assert proved["commitments"] == commitment and len(proved["outputs"]) == 4

    code, out = run("verify", "proof.json", "--model", "mlp")
    assert code == 0 and out.startswith("valid"), out

    flip_byte(env / "circuits" / "mlp" / "vk.key", 200)
    code, out = run("verify", "proof.json", "--model", "mlp")
    assert code == 1 and "does not match the manifest" in out and "Traceback" not in out

    code, out = run("model", "list", "--json")
    assert json.loads(out)["circuits"][0]["name"] == "mlp"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("model", "build", "no/such/model"), "model not found"),
        (("prove", "--model", "ghost", "--input", "x.json"), "no circuit named 'ghost'"),
        (("verify", "proof.json", "--model", "ghost"), "no circuit named 'ghost'"),
        (("model", "build", str(MODELS / "mlp"), "--visibility", "public"), "expected input/params/output"),
        (
            ("model", "build", str(MODELS / "mlp"), "--visibility", "hashed/private/public"),
            "params visibility 'private' is not supported",
        ),
    ],
)
def test_user_mistakes_get_one_line_errors(env: Path, args: tuple[str, ...], message: str) -> None:
    code, out = run(*args)
    assert code != 0
    assert message in out
    assert "Traceback" not in out


def test_commit_without_out_refuses_to_lose_the_salt(env: Path, mlp_circuit: object) -> None:
    run("model", "build", str(MODELS / "mlp"))
    code, out = run("commit", str(MODELS / "mlp" / "input.json"), "--model", "mlp")
    assert code == 2 and "pass --out" in out


def test_bad_env_setting_is_a_clear_error(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NGX_ZK_MAX_LOGROWS", "lots")
    code, out = run("model", "list")
    assert code == 1 and "NGX_ZK_MAX_LOGROWS='lots' is not an integer" in out


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("NGX_ZK_BUILD_MEMORY_MB", "300", "memory limit"),
    ("NGX_ZK_BUILD_TIMEOUT_S", "10", "10s time limit"),
])
def test_build_runs_under_memory_and_time_limits(env: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
                                                 message: str) -> None:
    """A model that needs more than its limits is stopped with a clear error, and leaves no half-built folder."""
    monkeypatch.setenv(variable, value)
    code, out = run("model", "build", str(MODELS / "mnist_cnn"))
    assert code == 1 and message in out and "Traceback" not in out
    assert not list((env / "circuits").glob("*")) and not list((env / "circuits").glob(".*"))


@pytest.mark.parametrize("args", [
    ("prove-job", "mlp", "--input", "input.json", "--provider", "0x12"),
    ("provider", "status", "notanaddress"),
    ("reputation", "0x" + "g" * 40),
])
def test_addresses_are_checked_before_any_chain_work(env: Path, args: tuple[str, ...]) -> None:
    code, out = run(*args)
    assert code == 2 and "is not an Ethereum address (0x followed by 40 hex digits)" in out and "Traceback" not in out
