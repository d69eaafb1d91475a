"""Rebuild every example model: export `network.onnx`, `input.json`, `calibration.json` and `expected_output.json`.

Each folder's `model.py` defines `Model` and `sample_inputs(generator, count)`; the files are written by
`ngx_zk.export` (the library behind `ngx-zk model export`). Deterministic (fixed seeds), so running it
again reproduces the committed files byte for byte:

    .venv/bin/python models/build.py            # all models
    .venv/bin/python models/build.py mlp        # one model
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

from ngx_zk.export import export

MODELS_DIR = Path(__file__).resolve().parent
SEED = 20261125
CALIBRATION_SAMPLES = 16


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
    exported = export(model, sample, folder, calibration=calibration, overwrite=True)
    shapes = " ".join(f"{i.name}{list(i.shape)} {i.dtype}" for i in exported.inputs)
    print(f"built {folder.name}: {shapes} -> {' '.join(f'{o.name}{list(o.shape)}' for o in exported.outputs)}")


def main(names: list[str]) -> None:
    folders = [MODELS_DIR / n for n in names] if names else sorted(p for p in MODELS_DIR.iterdir() if (p / "model.py").is_file())
    for folder in folders:
        build(folder)


if __name__ == "__main__":
    main(sys.argv[1:])
