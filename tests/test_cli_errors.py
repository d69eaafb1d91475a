"""One place owns every command's failure: one line on stderr, a non-zero exit, and with --json a JSON
error object on stdout. Walked over every command the group lists, so a new command is covered (and a
new command with --json must name a failure path below)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ngx_zk.cli import main
from ngx_zk.cli._errors import describe, wants_json
from ngx_zk.config import Settings

from .test_cli import all_commands


def command_at(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = main
    for name in path:
        assert isinstance(cmd, click.Group)
        found = cmd.get_command(click.Context(cmd), name)
        assert found is not None
        cmd = found
    return cmd


def leaf_commands() -> list[tuple[str, ...]]:
    return [p for p in all_commands(main) if not isinstance(command_at(p), click.Group)]


def has_json(path: tuple[str, ...]) -> bool:
    return any("--json" in p.opts for p in command_at(path).params)


def dead_port() -> int:
    """A local port nothing listens on: a chain command there fails fast with connection refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


NOT_A_FOLDER = "NOT_A_FOLDER"
"""Placeholder for a path that names a file (set as NGX_ZK_HOME: a config error)."""

DEAD_B = "http://127.0.0.1:9"  # chain B of the cross-chain commands: nothing listens on the discard port
FAILURES: dict[tuple[str, ...], tuple[tuple[str, ...], dict[str, str], str]] = {
    # command -> (arguments reaching the command's body, extra environment, expected code)
    ("commit",): (("nothing.json", "--model", "ghost"), {}, "not_found"),
    ("deploy",): ((), {}, "rpc"),
    ("jobs",): ((), {}, "rpc"),
    ("prove",): (("--model", "ghost", "--input", "x.json"), {}, "not_found"),
    ("prove-job",): (("ghost", "--input", "x.json", "--account", "consumer"), {}, "not_found"),
    ("reputation",): ((), {}, "rpc"),
    ("verify",): (("p.json", "--model", "ghost"), {}, "not_found"),
    ("withdraw",): (("--account", "consumer"), {}, "rpc"),
    ("worker",): (("--model", "ghost", "--account", "provider"), {}, "not_found"),
    ("watch",): (("--once", "--account", "consumer2"), {}, "rpc"),
    ("model", "build"): (("no/such/model",), {}, "not_found"),
    ("model", "bundle"): (("ghost", "--out", "ghost.tar.gz"), {}, "not_found"),
    ("model", "export"): (("m.py:M", "--input-shape", "1,8", "--samples", "2", "--calibration", "c.json"), {}, "usage"),
    ("model", "list"): ((), {"NGX_ZK_MAX_LOGROWS": "lots"}, "config"),
    ("model", "publish"): (("ghost", "--account", "deployer"), {}, "not_found"),
    ("model", "pull"): (("1",), {}, "rpc"),
    ("model", "license"): (("ghost", "--provider", "0x" + "11" * 20), {}, "not_found"),
    ("model", "install-license"): (("missing.licence.json", "--account", "provider"), {}, "licence"),
    ("model", "show"): (("ghost",), {}, "not_found"),
    ("devnet", "down"): ((), {"NGX_ZK_HOME": NOT_A_FOLDER}, "config"),
    ("devnet", "status"): ((), {"NGX_ZK_HOME": NOT_A_FOLDER}, "config"),
    ("devnet", "up"): ((), {"NGX_ZK_HOME": NOT_A_FOLDER}, "config"),
    ("provider", "register"): (("--account", "provider"), {}, "rpc"),
    ("provider", "stake"): (("10", "--account", "provider"), {}, "rpc"),
    ("provider", "status"): (("--account", "provider"), {}, "rpc"),
    ("provider", "unstake"): (("10", "--account", "provider"), {}, "rpc"),
    ("provider", "withdraw"): (("--account", "provider"), {}, "rpc"),
    ("job", "disclose"): (("1", "--out", "d.json"), {}, "rpc"),
    ("job", "deliver"): (("1", "--input", "x.json", "--model", "ghost", "--account", "consumer"), {}, "rpc"),
    ("job", "expire"): (("1", "--account", "consumer"), {}, "rpc"),
    ("job", "show"): (("1",), {}, "rpc"),
    ("job", "wait"): (("1", "--account", "consumer"), {}, "rpc"),
    ("relay",): (("--job", "1", "--consumer", "0x" + "11" * 20, "--to", DEAD_B, "--account", "consumer"), {}, "rpc"),
    ("crosschain", "deploy"): (("--to", DEAD_B, "--account", "deployer"), {}, "rpc"),
    ("crosschain", "mirror"): (("--model", "1", "--to", DEAD_B, "--account", "deployer"), {}, "rpc"),
    ("crosschain", "board"): (("--model", "1", "--to", DEAD_B, "--account", "consumer"), {}, "rpc"),
    ("crosschain", "adapter"): (("--account", "deployer"), {}, "rpc"),
    ("account", "new"): (("k.json",), {"NGX_ZK_KEYSTORE_PASSWORD": "short"}, "signer"),
    ("account", "show"): (("--account", "consumer"), {}, "rpc"),
    ("account", "transfer"): (("10", "--to", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "--account", "ecosystem"), {}, "rpc"),
}


def invoke(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args, env=env)
    return result.exit_code, result.stdout, result.stderr


def check_json_failure(code: int, out: str, err: str, family: str | None = None) -> dict[str, object]:
    assert code != 0, out + err
    assert "Traceback" not in out + err
    error = json.loads(out)  # the whole of stdout is the one JSON object
    assert set(error) >= {"error", "hint", "code"} and isinstance(error["error"], str) and error["error"]
    if family is not None:
        assert error["code"] == family, error
    last = err.strip().splitlines()[-1]
    assert last.startswith("Error: ") and str(error["error"]) in last, err
    return error


def test_every_command_with_json_names_a_failure_path() -> None:
    with_json = {p for p in leaf_commands() if has_json(p)}
    assert with_json - set(FAILURES) == set(), "add a failure path for each new --json command"
    assert set(FAILURES) - with_json == set(), "a command listed here lost its --json"


@pytest.mark.parametrize("path", sorted(FAILURES), ids=" ".join)
def test_a_failing_json_run_prints_a_json_error(env: Path, path: tuple[str, ...]) -> None:
    args, extra, family = FAILURES[path]
    (env / "home-file").write_text("a file, not a folder")
    environ = {"NGX_ZK_RPC_URL": f"http://127.0.0.1:{dead_port()}"}
    environ.update({k: str(env / "home-file") if v == NOT_A_FOLDER else v for k, v in extra.items()})
    code, out, err = invoke([*path, *args, "--json"], environ)
    error = check_json_failure(code, out, err, family)
    assert code == (2 if family == "usage" else 1)
    assert error["hint"], "every failure here says what to do"
    # the same failure without --json: the same line, nothing on stdout
    code, out, err = invoke([*path, *args], environ)
    assert code != 0 and out == "" and err.strip().splitlines()[-1].startswith("Error: ")


@pytest.mark.parametrize("path", leaf_commands(), ids=" ".join)
def test_a_usage_error_is_one_line_and_json_for_every_command(path: tuple[str, ...]) -> None:
    if command_at(path).context_settings.get("ignore_unknown_options"):
        pytest.skip("passes unknown options on (bench hands them to benchmarks/run.py)")
    code, out, err = invoke([*path, "--no-such-option", "--json"])
    error = check_json_failure(code, out, err, "usage")
    assert code == 2 and "--no-such-option" in str(error["error"]) and f"ngx-zk {' '.join(path)} --help" in str(error["hint"])


def test_an_unexpected_exception_is_one_line_unless_debugging(tmp_path: Path) -> None:
    """A bug (here: a command whose code raises ZeroDivisionError) is reported as internal, no traceback;
    NGX_ZK_DEBUG=1 shows the traceback."""
    code = (
        "import click, sys\n"
        "from ngx_zk.cli import main\n"
        "@main.command('boom')\n"
        "@click.option('--json', 'as_json', is_flag=True)\n"
        "def boom(as_json):\n"
        "    '''Fail.'''\n"
        "    1 / 0\n"
        "main(['boom', '--json'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NGX_ZK_DEBUG"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    error = json.loads(done.stdout)
    assert error["code"] == "internal" and "ZeroDivisionError" in error["error"] and "NGX_ZK_DEBUG=1" in error["hint"]
    assert done.stderr.strip().splitlines() == [f"Error: {error['error']} ({error['hint']})"]

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**env, "NGX_ZK_DEBUG": "1"}, timeout=60
    )
    assert done.returncode == 1 and "Traceback" in done.stderr and "ZeroDivisionError" in done.stderr


def test_json_is_seen_only_among_the_options() -> None:
    assert wants_json(["jobs", "--json"]) and not wants_json(["bench", "--", "--json"]) and not wants_json(["jobs"])


@pytest.mark.parametrize(
    ("exc", "family"),
    [
        (PermissionError(13, "Permission denied", "/root/x"), "io"),
        (KeyboardInterrupt(), "interrupted"),
        (click.BadParameter("nope"), "usage"),
        (ValueError("x" * 5000 + "\nsecond line"), "internal"),
    ],
)
def test_every_failure_has_a_family_and_one_short_line(exc: BaseException, family: str) -> None:
    failure = describe(exc)
    assert failure.code == family and "\n" not in failure.line() and len(failure.line()) < 400


def test_an_internal_error_never_shows_signature_bytes() -> None:
    """web3 put the permit's signature bytes in its MismatchedABI message (60 lines of it, on stderr)."""
    signature = "0x" + "ab" * 65
    failure = describe(ValueError(f"no match for postJob with args (b'\\x1b\\xa3', {signature}, 4294967296)"))
    assert failure.code == "internal" and "ab" * 32 not in failure.line() and "\\x1b" not in failure.line()


@pytest.mark.parametrize("group", [(), ("model",), ("provider",), ("job",), ("devnet",)], ids=lambda g: " ".join(g) or "ngx-zk")
def test_a_group_alone_shows_its_help_not_an_error(group: tuple[str, ...]) -> None:
    code, out, err = invoke(list(group))
    assert code == 2 and "Commands:" in out + err and "Error" not in out + err


CACHES = {
    # how the cache is bad -> what the user must be told about it
    "a file": "is not a folder",
    "an empty folder": "is not in the cache",
    "a junk SRS": "is not the SRS this circuit was built on",
    "a junk proving key": "is damaged",
    "keys/ a file": "cannot write the cache",
}


def bad_cache(kind: str, root: Path, good: Path, circuit: object) -> Path:
    """A cache folder damaged the way ``kind`` says, next to a copy of the good one's SRS."""
    import shutil

    from ngx_zk.artifacts import Circuit
    from ngx_zk.keys import PK, key_dir

    assert isinstance(circuit, Circuit)
    cache = root / "cache"
    if kind == "a file":
        cache.write_text("not a folder")
        return cache
    cache.mkdir()
    if kind == "an empty folder":
        return cache
    shutil.copytree(good / "srs", cache / "srs")
    m = circuit.manifest
    if kind == "a junk SRS":
        (cache / "srs" / "test" / f"kzg{m.srs.logrows}.srs").write_bytes(b"junk" * 100)
    elif kind == "a junk proving key":
        folder = key_dir(load_settings_for(cache), m.name, m.compiled_sha256, m.srs.sha256)
        folder.mkdir(parents=True)
        (folder / PK).write_bytes(b"junk" * 1000)
    elif kind == "keys/ a file":
        (cache / "keys").write_text("not a folder")
    return cache


def load_settings_for(cache: Path) -> Settings:
    from ngx_zk.config import load_settings

    return load_settings({"NGX_ZK_HOME": str(cache.parent), "NGX_ZK_CACHE_DIR": str(cache)})


@pytest.mark.parametrize("kind", list(CACHES))
def test_a_bad_cache_dir_is_named_not_blamed_on_the_circuit(
    env: Path, cache_dir: Path, mlp_circuit: object, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """A cache folder that is a file, empty, or holds junk used to be reported as a circuit to rebuild
    ("the test SRS this circuit was built on is gone", "proving failed: ... failed to load pk"): the
    message names the cache folder, NGX_ZK_CACHE_DIR, and what to do about it."""
    from ngx_zk.artifacts import Circuit

    assert isinstance(mlp_circuit, Circuit)
    monkeypatch.setenv("NGX_ZK_CIRCUITS_DIR", str(mlp_circuit.path.parent))
    cache = bad_cache(kind, env, cache_dir, mlp_circuit)
    input_file = Path(__file__).parents[1] / "models" / "mlp" / "input.json"
    result = CliRunner().invoke(
        main,
        ["prove", "--model", "mlp", "--input", str(input_file), "--out", str(env / "p.json"), "--json"],
        env={"NGX_ZK_CACHE_DIR": str(cache)},
    )
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)
    said = f"{error['error']} ({error['hint']})"
    assert CACHES[kind] in said and str(cache) in said and "NGX_ZK_CACHE_DIR" in said, said
    assert "proving failed" not in said and "Traceback" not in result.stderr
    assert not (env / "p.json").exists()
