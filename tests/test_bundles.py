"""Model bundles as a stranger hands them over, and what `model publish` refuses before any chain work.

No chain here: unpacking hostile bundles and the publish refusals of circuits that give consumers less
than the marketplace promises (unsalted inputs, private outputs). Fetching a bundle from its URI is
`pull.fetch_bundle`, played against hostile hosts in test_pull_trust.py and test_registry_room.py.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import ngx_zk as ngx
from ngx_zk.artifacts import Circuit
from ngx_zk.bundle import BUNDLE_FILES, BundleError, make_bundle, staging_dir, unpack
from ngx_zk.cli import main
from ngx_zk.publish import PublishRefusedError, publish_warnings

from .paths import MODELS


def tar_gz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def circuit_members(circuit: Circuit, skip: str = "") -> list[tuple[tarfile.TarInfo, bytes | None]]:
    return [(tarfile.TarInfo(name), (circuit.path / name).read_bytes()) for name in BUNDLE_FILES if name != skip]


def hostile(kind: str, circuit: Circuit) -> bytes:
    """A bundle that carries the real circuit files plus (or instead of one) a hostile member, listed first."""
    evil: list[tuple[tarfile.TarInfo, bytes | None]]
    if kind == "traversal":
        evil = [(tarfile.TarInfo("../escaped.txt"), b"owned")]
    elif kind == "absolute":
        evil = [(tarfile.TarInfo("/tmp/ngx-absolute-escape.txt"), b"owned")]
    elif kind in ("symlink", "hardlink"):
        link = tarfile.TarInfo("vk.key")
        link.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
        link.linkname = "/etc/passwd"
        return tar_gz([(link, None), *circuit_members(circuit, skip="vk.key")])
    elif kind == "folder":
        folder = tarfile.TarInfo("keys")
        folder.type = tarfile.DIRTYPE
        evil = [(folder, None)]
    elif kind == "unknown":
        evil = [(tarfile.TarInfo("pk.key"), b"not a proving key")]
    else:
        raise AssertionError(kind)
    return tar_gz([*evil, *circuit_members(circuit)])


def test_a_bundle_is_reproducible_and_holds_the_circuit_files_only(mlp_circuit: Circuit, tmp_path: Path) -> None:
    one = make_bundle(mlp_circuit, tmp_path / "one.tar.gz")
    two = make_bundle(mlp_circuit, tmp_path / "two.tar.gz")
    assert one.sha256 == two.sha256, "the same circuit must bundle to the same bytes"
    with tarfile.open(one.path) as tar:
        assert sorted(tar.getnames()) == sorted(BUNDLE_FILES)
    (tmp_path / "out").mkdir()
    unpacked = unpack(one.path, tmp_path / "out")
    assert unpacked.manifest == mlp_circuit.manifest
    assert (unpacked.path / "manifest.json").read_bytes() == (mlp_circuit.path / "manifest.json").read_bytes()


@pytest.mark.parametrize("kind", ["traversal", "absolute", "symlink", "hardlink", "folder", "unknown"])
def test_hostile_bundle_members_are_refused_before_anything_is_written(
    kind: str, mlp_circuit: Circuit, settings: ngx.Settings, tmp_path: Path
) -> None:
    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(hostile(kind, mlp_circuit))
    into = staging_dir(settings)
    with pytest.raises(BundleError) as refused:
        unpack(evil, into)
    assert {
        "traversal": "points outside the bundle",
        "absolute": "points outside the bundle",
        "symlink": "is a symbolic link",
        "hardlink": "is a hard link",
        "folder": "is a folder",
        "unknown": "is not a circuit file",
    }[kind] in str(refused.value)
    assert list(into.iterdir()) == [], "a refused member must be refused before any file is written"
    assert not (settings.circuits_dir / "escaped.txt").exists() and not Path("/tmp/ngx-absolute-escape.txt").exists()


def test_a_bundle_whose_files_do_not_match_its_own_manifest_is_refused(
    mlp_circuit: Circuit, settings: ngx.Settings, tmp_path: Path
) -> None:
    members = circuit_members(mlp_circuit, skip="vk.key")
    vk = bytearray((mlp_circuit.path / "vk.key").read_bytes())
    vk[100] ^= 0xFF
    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(tar_gz([*members, (tarfile.TarInfo("vk.key"), bytes(vk))]))
    with pytest.raises(ngx.NgxZkError, match=r"verification key .* does not match the manifest"):
        unpack(evil, staging_dir(settings))


def test_a_deeply_nested_manifest_is_refused_without_a_crash(
    mlp_circuit: Circuit, settings: ngx.Settings, tmp_path: Path
) -> None:
    members = circuit_members(mlp_circuit, skip="manifest.json")
    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(tar_gz([*members, (tarfile.TarInfo("manifest.json"), b"[" * 200_000 + b"]" * 200_000)]))
    with pytest.raises(ngx.NgxZkError, match="nested"):
        unpack(evil, staging_dir(settings))


# --- publish refusals ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def weak_circuits(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    """A home with two circuits a consumer should be warned about: unsalted, and with a private output."""
    home = tmp_path_factory.mktemp("weak-home")
    settings = ngx.load_settings({"NGX_ZK_HOME": str(home), "NGX_ZK_CACHE_DIR": str(cache_dir)})
    ngx.build_circuit(MODELS / "mlp", settings, name="mlp_unsalted", salt=False, tune=False)
    ngx.build_circuit(
        MODELS / "mlp", settings, name="mlp_private_out", visibility=ngx.Visibility("hashed", "fixed", "private"), tune=False
    )
    return home


@pytest.mark.slow  # its fixture builds two circuits
@pytest.mark.parametrize(
    ("name", "message", "flag"),
    [
        ("mlp_unsalted", "has unsalted input commitments", "--allow-unsalted"),
        ("mlp_private_out", "keeps its output private", "--allow-private-output"),
    ],
)
def test_publish_refuses_unsalted_and_private_output_circuits_without_the_flag(
    weak_circuits: Path, monkeypatch: pytest.MonkeyPatch, name: str, message: str, flag: str
) -> None:
    monkeypatch.setenv("NGX_ZK_HOME", str(weak_circuits))
    monkeypatch.setenv("NGX_ZK_RPC_URL", "http://127.0.0.1:9")  # never reached: refused before any chain work
    result = CliRunner().invoke(main, ["model", "publish", name])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and flag in lines[0] and "Traceback" not in result.output

    settings = ngx.load_settings({"NGX_ZK_HOME": str(weak_circuits)})
    circuit = ngx.load_circuit(name, settings)
    with pytest.raises(PublishRefusedError):
        publish_warnings(circuit)
    allowed = publish_warnings(circuit, allow_unsalted=True, allow_private_output=True)
    assert len(allowed) == 1 and ("guess" in allowed[0] or "any output" in allowed[0]), "the flag must say what it gives up"


def test_salted_public_and_hashed_output_circuits_publish_without_flags(mlp_circuit: Circuit) -> None:
    assert publish_warnings(mlp_circuit) == []
