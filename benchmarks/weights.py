"""Part k: what private weights cost the prover, hashed weights side by side with fixed.

Each example model is built twice on the same test SRS with the same layout (no tuning, so both circuits
have EZKL's default run args): ``--weights fixed`` (weights are circuit constants) and ``--weights hashed``
(weights are private witnesses with a Poseidon hash among the instances). The same salted input is then
proved ``repeats`` times on each; reported: median wall and CPU seconds of ``ngx_zk.prove`` (witness +
proof, keys warm), their ratio hashed / fixed, the circuits' rows and logrows, and what the verifier
holds (vk bytes, fixed constants). Run alone: ``.venv/bin/python benchmarks/run.py --only weights``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import ngx_zk as ngx
from ngx_zk import keys, srs
from ngx_zk.artifacts import Visibility

from .pipeline import MODELS, median

MODELS_RUN = ("mlp", "mnist_cnn")
QUICK_MODELS = ("mlp",)


def _side(settings: ngx.Settings, model: str, weights: str, repeats: int, workdir: Path) -> dict[str, Any]:
    circuit = ngx.build_circuit(
        MODELS / model, settings, name=f"{model}_{weights}", visibility=Visibility("hashed", weights, "public"), tune=False
    )
    m = circuit.manifest
    keys.proving_key(settings, circuit, srs.locate(settings, m.srs))  # warm: setup is not proving
    data = ngx.commit(m, ngx.load_input(MODELS / model / "input.json", m))[1]
    wall, cpu = [], []
    for k in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        ngx.prove(circuit, data, workdir / f"{circuit.name}-{k}.json", settings)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    st = circuit.settings_json()
    return {
        "logrows": m.logrows,
        "rows": int(st.get("num_rows", 0)),
        "fixed_constants": int(st.get("total_const_size", 0)),
        "vk_bytes": circuit.vk.stat().st_size,
        "weight_hashes": len(m.param_hashes),
        "prove_wall_s": median(wall),
        "prove_cpu_s": median(cpu),
    }


def run(workdir: Path, cache: Path, repeats: int, *, quick: bool = False) -> dict[str, Any]:
    """Both sides for each model; ``ratio`` is hashed / fixed of the median wall time."""
    settings = ngx.load_settings({"NGX_ZK_HOME": str(workdir / "home"), "NGX_ZK_CACHE_DIR": str(cache)})
    out: dict[str, Any] = {"repeats": repeats, "models": {}}
    for model in QUICK_MODELS if quick else MODELS_RUN:
        fixed = _side(settings, model, "fixed", repeats, workdir)
        hashed = _side(settings, model, "hashed", repeats, workdir)
        out["models"][model] = {
            "fixed": fixed,
            "hashed": hashed,
            "ratio_wall": hashed["prove_wall_s"] / fixed["prove_wall_s"],
            "ratio_cpu": hashed["prove_cpu_s"] / fixed["prove_cpu_s"],
        }
    return out


def markdown(results: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"## k. Private weights: proving time, hashed vs fixed (median of {results['repeats']}, no tuning, test SRS)",
        "",
        "| model | weights | logrows | rows | fixed constants | vk bytes | prove wall s | prove CPU s | hashed / fixed wall | CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model, row in results["models"].items():
        for side in ("fixed", "hashed"):
            r = row[side]
            ratio = f"{row['ratio_wall']:.2f}x | {row['ratio_cpu']:.2f}x" if side == "hashed" else " |"
            lines.append(
                f"| {model} | {side} | {r['logrows']} | {r['rows']:,} | {r['fixed_constants']:,} | {r['vk_bytes']:,} "
                f"| {r['prove_wall_s']:.2f} | {r['prove_cpu_s']:.2f} | {ratio} |"
            )
    return lines
