"""Shared fixtures: isolated settings and a fixture chain model -> circuit -> proof, built once."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import ngx_zk as ngx
from ngx_zk.artifacts import Circuit

from .chain_fixtures import chain_snapshot, mlp_b4, net, private_circuit  # noqa: F401  (fixtures for tests against anvil)
from .paths import MODELS, REPO  # noqa: F401

ANVIL_FIXTURES = frozenset({"net", "chain_snapshot"})


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the anvil fixtures is in the chain tier, marked or not: `make test-fast` never starts anvil."""
    for item in items:
        if ANVIL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.chain)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One proving-key/SRS cache for the whole session (test SRS generation is the slow part)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> ngx.Settings:
    home = tmp_path_factory.mktemp("home")
    return ngx.load_settings({"NGX_ZK_HOME": str(home), "NGX_ZK_CACHE_DIR": str(cache_dir)})


@pytest.fixture
def settings(tmp_path: Path, cache_dir: Path) -> ngx.Settings:
    """Settings with a fresh circuits folder per test, sharing the session's key cache."""
    return ngx.load_settings({"NGX_ZK_HOME": str(tmp_path), "NGX_ZK_CACHE_DIR": str(cache_dir)})


@pytest.fixture
def env(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The process environment pointed at a fresh home, for CLI tests; returns the home."""
    monkeypatch.setenv("NGX_ZK_HOME", str(tmp_path))
    monkeypatch.setenv("NGX_ZK_CACHE_DIR", str(cache_dir))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def mlp_circuit(session_settings: ngx.Settings) -> Circuit:
    return ngx.build_circuit(MODELS / "mlp", session_settings)


@pytest.fixture(scope="session")
def sigmoid_circuit(session_settings: ngx.Settings) -> Circuit:
    return ngx.build_circuit(MODELS / "logistic_sigmoid", session_settings)


@pytest.fixture(scope="session")
def mlp_salted(mlp_circuit: Circuit) -> ngx.InputData:
    data = ngx.load_input(MODELS / "mlp" / "input.json", mlp_circuit.manifest)
    return ngx.commit(mlp_circuit.manifest, data)[1]


@pytest.fixture(scope="session")
def mlp_proof(
    mlp_circuit: Circuit, mlp_salted: ngx.InputData, session_settings: ngx.Settings, tmp_path_factory: pytest.TempPathFactory
) -> ngx.Proof:
    out = tmp_path_factory.mktemp("proofs") / "mlp-proof.json"
    return ngx.prove(mlp_circuit, mlp_salted, out, session_settings)


@pytest.fixture
def circuit_copy(mlp_circuit: Circuit, tmp_path: Path) -> Iterator[Circuit]:
    """A private copy of the mlp circuit folder that a test may damage."""
    target = tmp_path / "copy" / mlp_circuit.name
    shutil.copytree(mlp_circuit.path, target)
    yield Circuit.load(target)


def flip_byte(path: Path, offset: int = 64) -> None:
    """Damage a file the way a bit flip or a careless edit would."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
