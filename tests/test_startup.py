"""The CLI starts at once: `ngx-zk --help` and the help of the local commands load no chain, prover or
PyTorch code, and the local pipeline never imports web3 (each checked in a fresh interpreter). And the
chain stack stays behind one door: no module outside ``ngx_zk/chain/`` imports web3 or eth_account."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from ngx_zk.artifacts import Circuit
from ngx_zk.cli import LazyGroup, main

from .paths import MODELS, REPO

HEAVY = ("web3", "eth_account", "ezkl", "onnxruntime", "torch")
CHAIN = ("web3", "eth_account")

PROBE = """
import json, sys
from click.testing import CliRunner
from ngx_zk.cli import main
codes = [CliRunner().invoke(main, args, catch_exceptions=False).exit_code for args in json.loads(sys.argv[1])]
print(json.dumps({"codes": codes, "modules": sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)}))
"""


def probe(*commands: list[str], watch: tuple[str, ...] = HEAVY, env: dict[str, str] | None = None) -> tuple[list[int], list[str]]:
    """Run CLI commands in a fresh interpreter; their exit codes and which of ``watch`` got imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(commands), json.dumps(watch)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=300,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["codes"], result["modules"]


def test_help_imports_no_chain_prover_or_torch_code() -> None:
    codes, loaded = probe(["--help"], ["model", "--help"], ["provider", "--help"], ["devnet", "--help"])
    assert codes == [0, 0, 0, 0] and loaded == []


@pytest.mark.parametrize("command", ["prove", "commit", "verify", "model build", "model show", "devnet up"])
def test_a_local_commands_help_imports_no_web3(command: str) -> None:
    codes, loaded = probe([*command.split(), "--help"], watch=CHAIN)
    assert codes == [0] and loaded == []


def test_the_local_pipeline_never_imports_web3_or_torch(mlp_circuit: Circuit, cache_dir: Path, tmp_path: Path) -> None:
    """commit, prove and verify FILE run without the chain stack (or PyTorch) loaded."""
    env = {
        **os.environ,
        "NGX_ZK_HOME": str(tmp_path),
        "NGX_ZK_CACHE_DIR": str(cache_dir),
        "NGX_ZK_CIRCUITS_DIR": str(mlp_circuit.path.parent),
    }
    salted, proof = str(tmp_path / "salted.json"), str(tmp_path / "proof.json")
    codes, loaded = probe(
        ["commit", str(MODELS / "mlp" / "input.json"), "--model", "mlp", "--out", salted],
        ["prove", "--model", "mlp", "--input", salted, "--out", proof],
        ["verify", proof, "--model", "mlp"],
        watch=(*CHAIN, "torch"),
        env=env,
    )
    assert codes == [0, 0, 0] and loaded == []


def test_model_build_never_imports_web3_or_torch(tmp_path: Path, cache_dir: Path) -> None:
    """The build command's process (the build itself runs in a limited child) loads no chain stack or PyTorch;
    a file that is not ONNX keeps it short: refused by the child after the command's imports."""
    env = {**os.environ, "NGX_ZK_HOME": str(tmp_path), "NGX_ZK_CACHE_DIR": str(cache_dir)}
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    codes, loaded = probe(["model", "build", str(tmp_path / "bad.onnx")], watch=(*CHAIN, "torch"), env=env)
    assert codes == [1] and loaded == []


def _lazy_groups(group: click.Group) -> list[click.Group]:
    ctx = click.Context(group)
    groups = [group]
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if isinstance(cmd, click.Group):
            groups += _lazy_groups(cmd)
    return groups


def test_the_registered_one_line_help_is_the_commands_own() -> None:
    """A listing shows the help registered with the name; it must not drift from the command's docstring."""
    for group in _lazy_groups(main):
        assert isinstance(group, LazyGroup)
        ctx = click.Context(group)
        for name, (_target, short) in group.lazy.items():
            cmd = group.get_command(ctx, name)
            assert cmd is not None and cmd.help is not None
            assert cmd.help.split("\n\n")[0].replace("\n", " ").strip() == short, f"{group.name} {name}"


def test_every_public_name_resolves_lazily() -> None:
    """``ngx_zk.__all__`` stays whole: each name resolves, and ``export`` stays the function even once the
    ``ngx_zk.export`` submodule is imported (the import system sets the submodule on the package)."""
    code = (
        "import ngx_zk as ngx, ngx_zk.export; "
        "missing = [n for n in ngx.__all__ if getattr(ngx, n, None) is None]; "
        "assert not missing, missing; assert callable(ngx.export) and ngx.export.__module__ == 'ngx_zk.export'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def chain_stack_imports(path: Path) -> list[str]:
    """``file:line module`` for each import of web3 or eth_account in ``path`` (lazy and TYPE_CHECKING ones too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.level == 0
            else []
        )
        found += [f"{path.relative_to(REPO)}:{node.lineno} {n}" for n in names if n.split(".")[0] in CHAIN]
    return found


def test_no_module_outside_chain_imports_web3_or_eth_account() -> None:
    """Every chain read and write goes through ``ngx_zk.chain`` (typed, reverts decoded): web3 stays inside it."""
    package = REPO / "ngx_zk"
    inside = [p for p in package.rglob("*.py") if p.is_relative_to(package / "chain")]
    outside = [p for p in package.rglob("*.py") if not p.is_relative_to(package / "chain")]
    assert len(outside) > 20 and any(chain_stack_imports(p) for p in inside)  # the scan sees the package and finds imports
    assert [hit for p in outside for hit in chain_stack_imports(p)] == []
