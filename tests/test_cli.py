"""The CLI as a user meets it: help with examples, exit codes, one-line errors, --json for scripts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ngx_zk.artifacts import Circuit
from ngx_zk.cli import main

from .conftest import MODELS, flip_byte


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path, lazy ones included (listing imports nothing; this loads each command)."""
    ctx = click.Context(group)
    found = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
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


@pytest.mark.slow  # builds (and proves) a circuit of its own: seconds, beyond the session's shared mlp
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
            "weights visibility 'private' is refused",
        ),
    ],
)
def test_user_mistakes_get_one_line_errors(env: Path, args: tuple[str, ...], message: str) -> None:
    code, out = run(*args)
    assert code != 0
    assert message in out
    assert "Traceback" not in out


def test_commit_without_out_refuses_to_lose_the_salt(env: Path, mlp_circuit: Circuit) -> None:
    shutil.copytree(mlp_circuit.path, env / "circuits" / "mlp")  # the session's build: a rebuild here costs seconds
    code, out = run("commit", str(MODELS / "mlp" / "input.json"), "--model", "mlp")
    assert code == 2 and "pass --out" in out


def test_bad_env_setting_is_a_clear_error(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NGX_ZK_MAX_LOGROWS", "lots")
    code, out = run("model", "list")
    assert code == 1 and "NGX_ZK_MAX_LOGROWS='lots' is not an integer" in out


@pytest.mark.slow  # starts a real mnist_cnn build each time
@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("NGX_ZK_BUILD_MEMORY_MB", "300", "raise NGX_ZK_BUILD_MEMORY_MB"),  # refused on its estimate, before any work
        ("NGX_ZK_BUILD_TIMEOUT_S", "10", "10s time limit"),
    ],
)
def test_build_runs_under_memory_and_time_limits(
    env: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    """A model that needs more than its limits is stopped with a clear error, and leaves no half-built folder."""
    monkeypatch.setenv(variable, value)
    code, out = run("model", "build", str(MODELS / "mnist_cnn"))
    assert code == 1 and message in out and "Traceback" not in out
    assert not list((env / "circuits").glob("*")) and not list((env / "circuits").glob(".*"))


@pytest.mark.parametrize(
    "args",
    [
        ("prove-job", "mlp", "--input", "input.json", "--provider", "0x12"),
        ("provider", "status", "notanaddress"),
        ("reputation", "0x" + "g" * 40),
    ],
)
def test_addresses_are_checked_before_any_chain_work(env: Path, args: tuple[str, ...]) -> None:
    code, out = run(*args)
    assert code == 2 and "is not an Ethereum address (0x followed by 40 hex digits)" in out and "Traceback" not in out


@pytest.fixture
def built(env: Path, mlp_circuit: object, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The session's mlp circuit, reachable by name from a fresh home."""
    from ngx_zk.artifacts import Circuit

    assert isinstance(mlp_circuit, Circuit)
    monkeypatch.setenv("NGX_ZK_CIRCUITS_DIR", str(mlp_circuit.path.parent))
    return env


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("prove", "--model", "mlp", "--input", "salted.json", "--out", "outdir"), "outdir is a folder: name the file to write"),
        (("prove", "--model", "mlp", "--input", "salted.json", "--out", "afile/proof.json"), "afile is not a folder"),
        (("commit", "INPUT", "--model", "mlp", "--out", "outdir"), "outdir is a folder"),
        (("model", "bundle", "mlp", "--out", "outdir"), "'outdir' is a directory"),
    ],
)
def test_output_paths_are_checked_before_the_work(built: Path, args: tuple[str, ...], message: str) -> None:
    (built / "outdir").mkdir()
    (built / "afile").write_text("not a folder")
    (built / "salted.json").write_text((MODELS / "mlp" / "input.json").read_text())
    args = tuple(str(MODELS / "mlp" / "input.json") if a == "INPUT" else a for a in args)
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert "proving" not in result.output, "refused before proving"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_out_is_refused_before_proving(built: Path) -> None:
    locked = built / "locked"
    locked.mkdir(mode=0o500)
    code, out = run("prove", "--model", "mlp", "--input", str(MODELS / "mlp" / "input.json"), "--out", str(locked / "p.json"))
    assert code == 2 and "permission denied" in out


def test_a_missing_srs_file_is_reported_before_calibration(env: Path) -> None:
    code, out = run("model", "build", str(MODELS / "mlp"), "--srs", "kzg17.srs")
    assert code == 2 and "'kzg17.srs' does not exist" in out and "calibrating" not in out


def test_ctrl_c_in_model_build_exits_130_and_leaves_no_staging_folder(env: Path) -> None:
    # a terminal's foreground job takes Ctrl-C; one started in the background (make test-fast &) inherits
    # SIGINT ignored, and Python then never raises KeyboardInterrupt: give the build the terminal's default
    build = subprocess.Popen(
        [sys.executable, "-m", "ngx_zk", "model", "build", str(MODELS / "mnist_cnn")],
        cwd=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while not list((env / "circuits").glob(".mnist_cnn.building-*")) and build.poll() is None:
            assert time.monotonic() < deadline, "the build never started"
            time.sleep(0.05)
        os.killpg(build.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
        _, err = build.communicate(timeout=60)
    finally:
        if build.poll() is None:
            os.killpg(build.pid, signal.SIGKILL)
    assert build.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not list((env / "circuits").glob(".*"))


def test_worker_documents_json_and_its_summary() -> None:
    code, out = run("worker", "--help")
    assert code == 0 and "--json" in out and "summary on stdout" in out


def test_verify_documents_its_exit_statuses() -> None:
    code, out = run("verify", "--help")
    assert code == 0 and "3  --job: the job is not settled yet" in out and "1  not valid" in out


def test_chain_commands_share_one_option_set() -> None:
    """Every command that talks to the chain takes --rpc-url; those that sign take --keystore and --account too."""
    signing = {
        ("deploy",),
        ("model", "publish"),
        ("provider", "register"),
        ("provider", "stake"),
        ("provider", "unstake"),
        ("provider", "withdraw"),
        ("provider", "status"),
        ("prove-job",),
        ("job", "wait"),
        ("job", "deliver"),
        ("job", "expire"),
        ("withdraw",),
        ("worker",),
        ("watch",),
        ("account", "show"),
        ("account", "transfer"),
        ("crosschain", "adapter"),
        ("model", "install-license"),
    }
    reading = {
        ("model", "license"),
        ("model", "pull"),
        ("job", "show"),
        ("job", "disclose"),
        ("jobs",),
        ("reputation",),
        ("verify",),
        ("explorer",),
    }
    for path in all_commands(main):
        group: click.Command = main
        for name in path:
            assert isinstance(group, click.Group)
            found = group.get_command(click.Context(group), name)
            assert found is not None
            group = found
        options = {o for p in group.params for o in p.opts}
        if path in signing:
            assert {"--rpc-url", "--keystore", "--account"} <= options, path
        elif path in reading:
            assert "--rpc-url" in options and "--account" not in options, path
        else:
            assert "--rpc-url" not in options, path


def test_fmt_ngx_never_prints_an_exponent() -> None:
    from ngx_zk.units import fmt_ngx

    assert fmt_ngx(10**26) == "100000000 NGX" and fmt_ngx(15 * 10**17) == "1.5 NGX" and fmt_ngx(0) == "0 NGX"


@pytest.mark.parametrize("path", [("prove-job", "mlp", "--input", "in.json"), ("job", "wait", "1")], ids=" ".join)
def test_prove_job_and_job_wait_take_the_same_confirmations_depth(path: tuple[str, ...]) -> None:
    """Both waits for a settlement follow a --confirmations depth (issue 25), with one range and one help."""
    result = CliRunner().invoke(main, [*path, "--confirmations", "-1"], prog_name="ngx-zk")
    assert result.exit_code == 2 and "--confirmations" in result.output and "0<=x<=1000" in result.output
    command = path[:2] if path[0] == "job" else path[:1]
    help_text = CliRunner().invoke(main, [*command, "--help"], prog_name="ngx-zk").output
    assert "blocks sit on top of its settlement" in " ".join(help_text.split())
