"""EZKL 23's switches: the tuner uses each only where it is sound for the circuit's visibility.

The rule and its reasoning are in ``ngx_zk/tuner/candidates.py``'s docstring; these tests pin the rule and
the EZKL behaviour it rests on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ngx_zk import _ezkl, tuner
from ngx_zk.errors import CircuitError
from ngx_zk.onnx_model import TensorInfo, with_salt_slots

from . import onnx_factory

INPUTS = ("hashed", "public", "private")
OUTPUTS = ("public", "hashed", "private")


@pytest.mark.parametrize("vis_out", OUTPUTS)
@pytest.mark.parametrize("vis_in", INPUTS)
def test_the_range_check_switch_is_used_only_for_hashed_inputs_with_unpublished_outputs(vis_in: str, vis_out: str) -> None:
    why = tuner.knob_rule("ignore_range_check_inputs_outputs", vis_in, vis_out)
    assert (why is None) == (vis_in == "hashed" and vis_out in ("hashed", "private"))
    # Freivalds' argument and the bounded logarithm constrain their results either way
    assert tuner.knob_rule("disable_freivalds", vis_in, vis_out) is None
    assert tuner.knob_rule("bounded_log_lookup", vis_in, vis_out) is None


def test_an_unsound_switch_is_refused_before_any_work() -> None:
    unsound = tuner.Candidate(512, 2, ignore_range_check_inputs_outputs=True)
    args = {"input_visibility": "hashed", "param_visibility": "fixed", "output_visibility": "public"}
    with pytest.raises(ValueError, match="unsound for hashed inputs / public outputs"):
        tuner.tune(
            Path("/nonexistent"),
            Path("x.onnx"),
            Path("c.json"),
            args,
            max_logrows=20,
            tolerance=1.0,
            measure=lambda s, c: 0.0,
            candidates=(unsound,),
        )
    with pytest.raises(ValueError, match="unknown knob"):
        tuner.knob_rule("check_mode", "hashed", "hashed")


def _salted_linear(folder: Path) -> Path:
    """The 4 -> 2 linear model as ngx-zk compiles it: one flat input with 8 salt slots."""
    path = onnx_factory.linear(folder / "linear.onnx", 4, 2)
    info = TensorInfo("x", (1, 4))
    salted = with_salt_slots(onnx.load(str(path)), (info,), 8)
    onnx.save(salted, str(folder / "salted.onnx"))
    return folder / "salted.onnx"


def _calibration(folder: Path) -> Path:
    values = [v for k in range(6) for v in [((k * 7 + j * 3) % 11 - 5) / 5 for j in range(4)] + [0.0] * 8]
    (folder / "cal.json").write_text(json.dumps({"input_data": [values]}))
    return folder / "cal.json"


def _build(folder: Path, graph: Path, tag: str, **args: object) -> tuple[Path, Path, Path, Path]:
    settings, compiled = folder / f"{tag}.json", folder / f"{tag}.compiled"
    _ezkl.gen_settings(
        CircuitError, graph, settings, _ezkl.run_args(param_visibility="fixed", decomp_base=512, decomp_legs=2, **args)
    )
    _ezkl.calibrate(CircuitError, _calibration(folder), graph, settings, margin=2.0, max_logrows=12, scales=[10])
    _ezkl.compile_circuit(CircuitError, graph, compiled, settings)
    logrows = json.loads(settings.read_text())["run_args"]["logrows"]
    srs = folder / f"k{logrows}.srs"
    if not srs.is_file():
        _ezkl.gen_test_srs(CircuitError, srs, logrows)
    _ezkl.setup(CircuitError, compiled, folder / f"{tag}.vk", folder / f"{tag}.pk", srs)
    return settings, compiled, folder / f"{tag}.vk", srs


def test_a_hashed_input_is_not_range_checked_in_the_circuit_so_the_switch_removes_nothing_there(tmp_path: Path) -> None:
    """EZKL's default circuit (range check on) accepts a proof whose salt element is 2^40, far outside
    its 512^2 range: only honest witness generation applies the check. Poseidon, not the range check,
    binds the input, so switching the check off for hashed inputs weakens nothing."""
    graph = _salted_linear(tmp_path)
    checked = _build(tmp_path, graph, "checked", input_visibility="hashed", output_visibility="hashed")
    unchecked = _build(
        tmp_path,
        graph,
        "unchecked",
        input_visibility="hashed",
        output_visibility="hashed",
        ignore_range_check_inputs_outputs=True,
    )
    data = tmp_path / "input.json"
    scale = json.loads(checked[0].read_text())["run_args"]["input_scale"]
    data.write_text(json.dumps({"input_data": [[0.5, -0.25, 0.125, 1.0, float(1 << 40) / (1 << scale)] + [0.0] * 7]}))
    with pytest.raises(CircuitError, match="decomposition"):  # the honest prover refuses it...
        _ezkl.gen_witness(CircuitError, data, checked[1], tmp_path / "w.json", vk=None, srs=None)
    # ...but a witness made without the check proves and verifies under the checked circuit's key
    _ezkl.gen_witness(CircuitError, data, unchecked[1], tmp_path / "w.json", vk=None, srs=None)
    _ezkl.prove(tmp_path / "w.json", checked[1], tmp_path / "checked.pk", tmp_path / "proof.json", checked[3])
    assert _ezkl.verify(tmp_path / "proof.json", checked[0], checked[2], checked[3])
    salt = json.loads((tmp_path / "w.json").read_text())["inputs"][0][4]
    assert _ezkl.felt_to_int(salt) == 1 << 40


def test_with_public_outputs_the_switch_drops_a_real_range_check(tmp_path: Path) -> None:
    """For public outputs EZKL lays the check out on the output and instance cells (rows drop without it)."""
    graph = _salted_linear(tmp_path)
    rows = {}
    for out in ("public", "hashed"):
        for off in (False, True):
            settings = tmp_path / f"{out}-{off}.json"
            _ezkl.gen_settings(
                CircuitError,
                graph,
                settings,
                _ezkl.run_args(
                    input_visibility="hashed",
                    param_visibility="fixed",
                    output_visibility=out,
                    ignore_range_check_inputs_outputs=off,
                ),
            )
            rows[out, off] = json.loads(settings.read_text())["total_assignments"]
    # the input check (2 legs x 12 values) is gone either way; for public outputs the output and instance checks too
    assert rows["public", False] - rows["public", True] > rows["hashed", False] - rows["hashed", True] > 0


def test_switches_are_tried_only_where_sound_and_where_they_change_the_circuit(tmp_path: Path) -> None:
    """A model with a logarithm gets bounded-log variants; a hashed/hashed circuit gets range-check
    variants; a linear model never gets Freivalds variants (no batched product)."""
    w = numpy_helper.from_array(np.full((4, 2), 0.5, dtype=np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["h"]),
            helper.make_node("Sigmoid", ["h"], ["s"]),
            helper.make_node("Log", ["s"], ["y"]),
        ],
        "lognet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [w],
    )
    path = onnx_factory.save(graph, tmp_path / "log.onnx")
    cal = tmp_path / "cal.json"
    cal.write_text(json.dumps({"input_data": [[((k * 5) % 9 - 4) / 4 for k in range(24)]]}))
    base = tuner.Candidate(512, 2, scale=10)
    for vis_out, expected in (
        ("public", {(), ("bounded_log_lookup",)}),
        (
            "hashed",
            {
                (),
                ("bounded_log_lookup",),
                ("ignore_range_check_inputs_outputs",),
                ("bounded_log_lookup", "ignore_range_check_inputs_outputs"),
            },
        ),
    ):
        args = {"input_visibility": "hashed", "param_visibility": "fixed", "output_visibility": vis_out}
        chosen = tuner.tune(
            tmp_path, path, cal, args, max_logrows=16, tolerance=10.0, measure=lambda s, c: 0.0, candidates=(base,)
        )
        tried = {tuple(k for k in tuner.KNOBS if t[k]) for t in chosen.tried}
        assert tried == expected, vis_out
        # every variant went through the same gates as the plain layout: sized, then calibrated or skipped
        assert all("bound_logrows" in t or "rejected" in t for t in chosen.tried)
