"""Models beyond the shipped examples go through build -> commit -> prove -> verify unchanged.

Each is exported from PyTorch the way users export theirs (``dynamo=False``, opset 17).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import ngx_zk as ngx

from .conftest import MODELS

pytestmark = pytest.mark.slow


class ConvPool(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(2 * 3 * 3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


class TinyAttention(nn.Module):
    """Single-head self-attention over 3 tokens of width 4: softmax is a lookup in the circuit."""

    def __init__(self) -> None:
        super().__init__()
        self.q, self.k, self.v = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.q(x) @ self.k(x).transpose(1, 2) / 2.0
        return torch.softmax(scores, dim=-1) @ self.v(x)


class TwoInputs(nn.Module):
    """Two input tensors: the circuit commits to each separately."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(3, 2), nn.Linear(5, 2)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.a(x) + self.b(y))


CASES = {
    "conv_pool": (ConvPool, [(1, 1, 8, 8)]),
    "attention": (TinyAttention, [(1, 3, 4)]),
    "two_inputs": (TwoInputs, [(1, 3), (1, 5)]),
}


def export(folder: Path, name: str) -> tuple[Path, list[np.ndarray], np.ndarray]:
    torch.manual_seed(7)
    cls, shapes = CASES[name]
    model = cls().eval()
    gen = torch.Generator().manual_seed(7)
    sample = [torch.rand(s, generator=gen) * 2 - 1 for s in shapes]
    calibration = [torch.rand((12, *s[1:]), generator=gen) * 2 - 1 for s in shapes]
    folder.mkdir(parents=True)
    names = [f"in{i}" for i in range(len(shapes))]
    torch.onnx.export(model, tuple(sample), str(folder / "network.onnx"), dynamo=False, opset_version=17, input_names=names)
    (folder / "calibration.json").write_text(json.dumps({"input_data": [c.reshape(-1).tolist() for c in calibration]}))
    with torch.no_grad():
        expected = model(*sample).numpy()
    return folder, [s.numpy() for s in sample], expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_architecture_round_trip(name: str, settings: ngx.Settings, tmp_path: Path) -> None:
    folder, sample, expected = export(tmp_path / name, name)
    circuit = ngx.build_circuit(folder, settings)
    assert circuit.manifest.commitment_count == len(sample)
    data = ngx.InputData(tuple(tuple(float(v) for v in s.reshape(-1)) for s in sample))
    commitment, salted = ngx.commit(circuit.manifest, data)
    proof = ngx.prove(circuit, salted, tmp_path / "proof.json", settings)
    assert proof.commitments == commitment.values
    span = max(1.0, float(np.ptp(expected)))
    assert max(abs(a - b) for a, b in zip(proof.outputs, expected.reshape(-1), strict=True)) <= 0.02 * span
    ngx.verify(proof.path, circuit, settings)


def test_mnist_sized_cnn_round_trip(settings: ngx.Settings, tmp_path: Path) -> None:
    circuit = ngx.build_circuit(MODELS / "mnist_cnn", settings)
    data = ngx.load_input(MODELS / "mnist_cnn" / "input.json", circuit.manifest)
    proof = ngx.prove(circuit, ngx.commit(circuit.manifest, data)[1], tmp_path / "proof.json", settings)
    want = json.loads((MODELS / "mnist_cnn" / "expected_output.json").read_text())["output_data"][0]
    assert all(math.isclose(a, b, abs_tol=0.05) for a, b in zip(proof.outputs, want, strict=True))
    assert int(np.argmax(proof.outputs)) == int(np.argmax(want))
    ngx.verify(proof.path, circuit, settings)
