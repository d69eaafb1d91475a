"""Smoke test of the benchmark harness: part a (raw EZKL vs the tuned build) for mlp, one repeat."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import pipeline


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_pipeline_bench_reports_raw_and_tuned_side_by_side(tmp_path: Path) -> None:
    row = pipeline.bench_model("mlp", tmp_path, repeats=1)

    for side in ("raw", "tuned"):
        for field in ("logrows", "setup_s", "prove_s", "pk_bytes", "verify_s", "max_abs_error"):
            assert field in row[side], f"{side} lacks {field}"
        assert row[side]["prove_s"] > 0 and row[side]["pk_bytes"] > 0
        assert row[side]["max_abs_error"] < 0.01
    assert row["raw"]["logrows"] >= row["tuned"]["logrows"]
    assert row["prove_ratio"] > 0
