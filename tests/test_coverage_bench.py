"""``make bench`` part g (benchmarks/coverage.py): models nobody here wrote, bare EZKL against ngx-zk."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import coverage, coverage_models


def test_a_side_that_does_not_finish_is_stopped_and_reported_not_waited_for(tmp_path: Path) -> None:
    """Bare EZKL hung proving EZKL's rnn example: one model must not stall the whole run."""
    (folder,) = coverage.prepare(coverage_models.write(tmp_path / "src", ("tree",))[0].parent, tmp_path / "work")
    result = coverage.measure_side("raw", folder, tmp_path / "side", repeats=1, timeout_s=0.5, cache_dir=tmp_path / "cache")
    assert result["ok"] is False and "no result within" in result["error"]
    assert result["spent_s"] < 30


def test_the_report_counts_each_side_and_takes_the_geomean_over_models_both_prove() -> None:
    def side(ok: bool, prove_s: float = 1.0) -> dict[str, object]:
        if not ok:
            return {"ok": False, "error": "RuntimeError: ezkl.gen_witness failed"}
        return {"ok": True, "logrows": 10, "build_s": 5.0, "prove_s": prove_s}

    rows = [
        {"model": "a", "raw": side(True, 10.0), "tuned": side(True, 1.0), "prove_ratio": 0.1},
        {"model": "b", "raw": side(True, 4.0), "tuned": side(True, 1.0), "prove_ratio": 0.25},
        {"model": "c", "raw": side(False), "tuned": side(True)},
    ]
    text = "\n".join(
        coverage.markdown(
            {
                "models_dir": "x",
                "repeats": 3,
                "models": rows,
                "count": 3,
                "raw_proves": 2,
                "tuned_proves": 3,
                "both_prove": 2,
                "geomean_prove_ratio": coverage.geomean([0.1, 0.25]),
            }
        )
    )
    assert "Bare EZKL proves 2 of 3, ngx-zk 3 of 3" in text
    assert "**0.158**" in text  # sqrt(0.1 * 0.25)
    assert "| c | fails / 10 |" in text and "- c, bare EZKL: RuntimeError: ezkl.gen_witness failed" in text


@pytest.mark.parametrize("name", list(coverage_models.MODELS))
def test_the_external_style_models_are_valid_onnx_with_a_symbolic_batch(tmp_path: Path, name: str) -> None:
    import onnx

    (folder,) = coverage_models.write(tmp_path, (name,))
    model = onnx.load(str(folder / "network.onnx"))
    onnx.checker.check_model(model)  # not full_check: an int8 MatMul fails its type inference, as in hummingbird's exports
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == coverage_models.BATCH
    assert (folder / "input.json").read_bytes() == coverage_models.write(tmp_path / "again", (name,))[0].joinpath(
        "input.json"
    ).read_bytes()
