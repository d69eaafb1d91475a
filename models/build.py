"""Rebuild every example model: export `network.onnx`, `input.json` and `calibration.json`.

Deterministic (fixed seeds), so running it again reproduces the committed files byte for byte:

    .venv/bin/python models/build.py            # all models
    .venv/bin/python models/build.py mlp        # one model
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import torch

MODELS_DIR = Path(__file__).resolve().parent
SEED = 20261125
CALIBRATION_SAMPLES = 16
OPSET = 17


def load_module(folder: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"ngx_example_{folder.name}", folder / "model.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(folder: Path) -> None:
    module = load_module(folder)
    torch.manual_seed(SEED)
    model = module.Model().eval()
    generator = torch.Generator().manual_seed(SEED)
    sample = module.sample_inputs(generator, 1)
    calibration = module.sample_inputs(generator, CALIBRATION_SAMPLES)

    torch.onnx.export(
        model,
        (sample,),
        str(folder / "network.onnx"),
        dynamo=False,
        opset_version=OPSET,
        input_names=["input"],
        output_names=["output"],
    )
    with torch.no_grad():
        expected = model(sample)
    write_json(folder / "input.json", {"input_data": [flat(sample)]})
    write_json(folder / "expected_output.json", {"output_data": [flat(expected)]})
    write_json(folder / "calibration.json", {"input_data": [flat(calibration)]})
    print(f"built {folder.name}: input {tuple(sample.shape)} -> output {tuple(expected.shape)}")


def flat(tensor: torch.Tensor) -> list[float]:
    return [round(float(v), 6) for v in tensor.detach().reshape(-1)]


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data) + "\n")


def main(names: list[str]) -> None:
    folders = [MODELS_DIR / n for n in names] if names else sorted(p for p in MODELS_DIR.iterdir() if (p / "model.py").is_file())
    for folder in folders:
        build(folder)


if __name__ == "__main__":
    main(sys.argv[1:])
