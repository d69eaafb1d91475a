"""Stage 1: unusable or hostile ONNX files are refused before any circuit work, with a clear reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from ngx_zk.errors import InvalidModelError, ModelNotFoundError
from ngx_zk.onnx_model import load_checked, resolve

from . import onnx_factory
from .conftest import MODELS


def test_example_model_folder_resolves_with_shapes_and_calibration() -> None:
    source = resolve(MODELS / "mnist_cnn")
    assert source.name == "mnist_cnn"
    assert source.inputs[0].shape == (1, 1, 28, 28)
    assert source.outputs[0].shape == (1, 10)
    assert source.calibration is not None and source.calibration.name == "calibration.json"


def test_missing_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"model not found: .*nope"):
        resolve(tmp_path / "nope")


def test_folder_without_onnx(tmp_path: Path) -> None:
    with pytest.raises(InvalidModelError, match=r"folder has no network\.onnx"):
        resolve(tmp_path)


def test_not_onnx(tmp_path: Path) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x00\xffthis is not a protobuf at all" * 10)
    with pytest.raises(InvalidModelError, match="not an ONNX model"):
        resolve(bad)


def test_external_data_is_refused_before_reading_it(tmp_path: Path) -> None:
    path = onnx_factory.with_external_data(tmp_path / "ext.onnx")
    with pytest.raises(InvalidModelError, match="external data"):
        resolve(path)


def test_constant_of_shape_memory_bomb_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidModelError, match="ConstantOfShape"):
        resolve(onnx_factory.constant_of_shape_bomb(tmp_path / "bomb.onnx"))


def test_dynamic_feature_dimension_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidModelError, match="dynamic dimension 1"):
        resolve(onnx_factory.dynamic_feature_dim(tmp_path / "dyn.onnx"))


def test_symbolic_batch_dimension_is_proved_as_one(tmp_path: Path) -> None:
    source = resolve(onnx_factory.linear(tmp_path / "lin.onnx", batch="batch"))
    assert source.inputs[0].shape == (1, 4)


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = onnx_factory.linear(tmp_path / "lin.onnx")
    with pytest.raises(InvalidModelError, match="above the 16-byte limit"):
        load_checked(path, max_bytes=16)
