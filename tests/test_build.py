"""Stage 2: building a circuit writes a complete, hash-pinned folder, or nothing at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ngx_zk as ngx
from ngx_zk import defaults, tuner
from ngx_zk.artifacts import Circuit, sha256_file
from ngx_zk.errors import ArtifactMismatchError, CircuitError, InvalidModelError, LogrowsCapError, SrsError

from . import onnx_factory
from .conftest import MODELS, flip_byte


def leftovers(settings: ngx.Settings) -> list[str]:
    return sorted(p.name for p in settings.circuits_dir.iterdir()) if settings.circuits_dir.exists() else []


def test_manifest_pins_every_artifact(mlp_circuit: Circuit) -> None:
    m = mlp_circuit.manifest
    assert m.onnx_sha256 == sha256_file(MODELS / "mlp" / "network.onnx")
    assert m.settings_sha256 == sha256_file(mlp_circuit.settings)
    assert m.compiled_sha256 == sha256_file(mlp_circuit.compiled)
    assert m.vk_sha256 == sha256_file(mlp_circuit.vk)
    assert m.ezkl_version == "23.0.5"
    assert str(m.visibility) == "hashed/fixed/public"
    assert m.inputs[0].shape == (1, 8) and m.outputs[0].shape == (1, 4)
    assert m.inputs[0].salt_elements * m.inputs[0].salt_bits >= 128
    assert m.instance_count == 1 + 4
    mlp_circuit.check()


def test_test_srs_build_is_marked_insecure(mlp_circuit: Circuit) -> None:
    data = json.loads((mlp_circuit.path / "manifest.json").read_text())
    assert data["insecure"] is True and data["srs"]["kind"] == "test"


def test_proving_key_lives_in_the_cache_not_the_circuit_folder(mlp_circuit: Circuit, session_settings: ngx.Settings) -> None:
    assert not list(mlp_circuit.path.glob("*pk*"))
    assert list(session_settings.keys_dir.glob(f"{mlp_circuit.name}-*/pk.key"))


def test_tuner_beats_ezkl_default_and_records_its_choice(mlp_circuit: Circuit) -> None:
    tuning = mlp_circuit.manifest.tuning
    tried = tuning["tried"]
    assert len(tried) == len(tuner.CANDIDATES)
    default = next(t for t in tried if t["label"] == tuner.EZKL_DEFAULT.label)
    assert mlp_circuit.manifest.logrows < default.get("logrows", default["bound_logrows"])
    assert tuning["max_abs_error"] <= tuning["tolerance"]
    # the manifest names every knob of the choice, and they are the ones the circuit was built with
    run_args = mlp_circuit.settings_json()["run_args"]
    for knob in ("decomp_base", "decomp_legs", "num_inner_cols", "scale_rebase_multiplier", "input_scale", "param_scale"):
        assert tuning[knob] == run_args[knob], knob
    (chosen,) = [t for t in tried if t.get("chosen")]
    assert chosen["label"] == tuning["label"] and chosen["logrows"] == mlp_circuit.manifest.logrows


def test_tuner_prunes_with_bounds_that_hold(mlp_circuit: Circuit) -> None:
    """Calibrated candidates never beat their row-count bound; the rest were skipped, not calibrated."""
    tried = mlp_circuit.manifest.tuning["tried"]
    calibrated = [t for t in tried if "logrows" in t]
    assert calibrated and all(t["bound_logrows"] <= t["logrows"] for t in calibrated)
    skipped = [t for t in tried if "skipped" in t]
    assert len(calibrated) < len(tried) / 4 and all("cannot beat" in t["skipped"] for t in skipped)
    # nothing skipped could have been cheaper than the choice
    cost = (mlp_circuit.manifest.logrows, mlp_circuit.manifest.tuning["num_inner_cols"])
    assert all((t.get("logrows", t["bound_logrows"]), t["num_inner_cols"]) >= cost for t in skipped)


def test_every_candidate_keeps_the_salt_range() -> None:
    floor = 1 << (defaults.SALT_ELEMENT_BITS + 2)
    assert all(c.decomp_base**c.decomp_legs >= floor for c in tuner.CANDIDATES)
    assert len({c.label for c in tuner.CANDIDATES}) == len({c.tag for c in tuner.CANDIDATES}) == len(tuner.CANDIDATES)
    with pytest.raises(ValueError, match="range"):
        tuner.tune(
            Path("/nonexistent"),
            Path("x.onnx"),
            Path("c.json"),
            {},
            max_logrows=20,
            tolerance=1.0,
            measure=lambda s, c: 0.0,
            candidates=(tuner.Candidate(256, 2),),
        )


def test_largest_salt_proves_on_the_tuned_circuit(mlp_circuit: Circuit, session_settings: ngx.Settings, tmp_path: Path) -> None:
    m = mlp_circuit.manifest
    top = (1 << m.inputs[0].salt_bits) - 1
    data = ngx.load_input(MODELS / "mlp" / "input.json", m).with_salt(tuple((top,) * s.salt_elements for s in m.inputs))
    proof = ngx.prove(mlp_circuit, data, tmp_path / "p.json", session_settings)
    ngx.verify(proof.path, mlp_circuit, session_settings)


def _tune_mlp(tmp_path: Path, candidates: tuple[tuner.Candidate, ...], measure: tuner.Measure) -> tuner.Tuning:
    return tuner.tune(
        tmp_path,
        MODELS / "mlp" / "network.onnx",
        MODELS / "mlp" / "calibration.json",
        {"input_visibility": "public", "param_visibility": "fixed", "output_visibility": "public"},
        max_logrows=20,
        tolerance=0.01,
        measure=measure,
        candidates=candidates,
    )


def test_inaccurate_candidate_is_rejected(tmp_path: Path) -> None:
    """The cheaper one-column circuit is measured first; when it is inaccurate the next one wins."""
    cheap = tuner.Candidate(512, 2, num_inner_cols=1, scale_rebase_multiplier=2, scale=8)
    fine = tuner.Candidate(512, 2, num_inner_cols=2, scale_rebase_multiplier=2, scale=8)

    def measure(settings: Path, compiled: Path) -> float:
        return 0.5 if json.loads(settings.read_text())["run_args"]["num_inner_cols"] == 1 else 0.001

    chosen = _tune_mlp(tmp_path, (fine, cheap), measure)
    assert chosen.candidate == fine and chosen.logrows == 10
    rejected = next(t for t in chosen.tried if t["label"] == cheap.label)
    assert "above tolerance" in rejected["rejected"] and rejected["max_abs_error"] == 0.5
    with pytest.raises(CircuitError, match="accuracy tolerance"):
        _tune_mlp(tmp_path, (fine, cheap), lambda s, c: 0.5)


def test_logrows_cap_refuses_and_leaves_nothing(settings: ngx.Settings) -> None:
    with pytest.raises((LogrowsCapError, CircuitError)) as info:
        ngx.build_circuit(MODELS / "mlp", settings, max_logrows=8)
    assert "cap" in str(info.value) or "logrows" in str(info.value)
    assert leftovers(settings) == []


def test_unsupported_operator_is_a_clear_error_and_leaves_nothing(settings: ngx.Settings, tmp_path: Path) -> None:
    with pytest.raises(CircuitError, match=r"generating circuit settings failed|no circuit settings fit"):
        ngx.build_circuit(onnx_factory.unsupported_op(tmp_path / "topk.onnx"), settings)
    assert leftovers(settings) == []


def test_hostile_model_leaves_nothing(settings: ngx.Settings, tmp_path: Path) -> None:
    with pytest.raises(InvalidModelError):
        ngx.build_circuit(onnx_factory.with_external_data(tmp_path / "ext.onnx"), settings)
    assert leftovers(settings) == []


@pytest.mark.slow  # builds (and proves) a circuit of its own: seconds, beyond the session's shared mlp
def test_failed_rebuild_keeps_the_previous_circuit(settings: ngx.Settings, tmp_path: Path) -> None:
    model = onnx_factory.linear(tmp_path / "lin.onnx")
    first = ngx.build_circuit(model, settings, name="lin")
    with pytest.raises(SrsError):
        ngx.build_circuit(model, settings, name="lin", srs_file=tmp_path / "missing.srs")
    assert leftovers(settings) == ["lin"]
    Circuit.load(first.path).check()


def test_srs_that_is_not_the_public_ceremony_one_is_refused(settings: ngx.Settings, tmp_path: Path) -> None:
    fake = tmp_path / "kzg11.srs"
    fake.write_bytes(b"\x01" * 4096)
    with pytest.raises(SrsError, match="not a public KZG ceremony SRS"):
        ngx.build_circuit(onnx_factory.linear(tmp_path / "lin.onnx"), settings, srs_file=fake)


def test_modified_vk_is_detected(circuit_copy: Circuit) -> None:
    flip_byte(circuit_copy.vk)
    with pytest.raises(ArtifactMismatchError, match=r"verification key .* does not match the manifest"):
        circuit_copy.check()


def test_corrupt_manifest_is_a_clear_error(circuit_copy: Circuit) -> None:
    (circuit_copy.path / "manifest.json").write_text("{not json")
    with pytest.raises(CircuitError, match="not valid JSON"):
        Circuit.load(circuit_copy.path)


def test_proving_key_is_regenerated_on_demand(circuit_copy: Circuit, tmp_path: Path, cache_dir: Path) -> None:
    """A provider with an empty key cache rebuilds the pk; the vk it derives must match the manifest."""
    fresh = ngx.load_settings({"NGX_ZK_HOME": str(tmp_path), "NGX_ZK_CACHE_DIR": str(tmp_path / "cache")})
    (tmp_path / "cache").mkdir()
    # the SRS is shared (a test SRS cannot be regenerated identically); keys are not
    (tmp_path / "cache" / "srs").symlink_to(cache_dir / "srs")
    data = ngx.load_input(MODELS / "mlp" / "input.json", circuit_copy.manifest)
    proof = ngx.prove(circuit_copy, ngx.commit(circuit_copy.manifest, data)[1], tmp_path / "p.json", fresh)
    assert list((tmp_path / "cache" / "keys").glob("*/pk.key"))
    ngx.verify(proof.path, circuit_copy, fresh)
