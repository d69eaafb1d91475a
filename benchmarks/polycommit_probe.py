"""Probe for issue #13 item 3: EZKL's ``polycommit`` input visibility against today's Poseidon ``hashed``.

    .venv/bin/python benchmarks/polycommit_probe.py [--model mnist_cnn] [--repeats 3]

Builds the example with ngx-zk (hashed inputs, tuned), then compiles the same graph at the same
layout (scale, columns, range checks, logrows) with ``polycommit`` inputs and proves both on the
same salted input. Reports the CPU seconds of witness + proof (median), the rows the input
commitment takes, and whether the input's KZG commitment computed by the consumer alone
(``ezkl.kzg_commit`` from the values and salt) appears verbatim in the proof bytes, and where: the
fact a market contract would check to bind a proof to a posted commitment. Nothing here is used by
the product; it is the measurement behind the issue note.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import ezkl  # noqa: E402

import ngx_zk as ngx  # noqa: E402
from ngx_zk import commitment, srs  # noqa: E402


def prove_cpu(folder: Path, data: Path, srs_path: Path, repeats: int) -> tuple[float, dict[str, object]]:
    times = []
    for _ in range(repeats):
        started = time.process_time()
        ezkl.gen_witness(
            str(data), str(folder / "net.compiled"), str(folder / "witness.json"), str(folder / "vk.key"), str(srs_path)
        )
        ezkl.prove(
            str(folder / "witness.json"),
            str(folder / "net.compiled"),
            str(folder / "pk.key"),
            str(folder / "proof.json"),
            str(srs_path),
        )
        times.append(time.process_time() - started)
    assert ezkl.verify(str(folder / "proof.json"), str(folder / "settings.json"), str(folder / "vk.key"), str(srs_path))
    return statistics.median(times), json.loads((folder / "proof.json").read_text())


def compile_and_setup(circuit_onnx: Path, folder: Path, settings: dict[str, object], srs_path: Path) -> None:
    (folder / "settings.json").write_text(json.dumps(settings))
    assert ezkl.compile_circuit(str(circuit_onnx), str(folder / "net.compiled"), str(folder / "settings.json"))
    assert ezkl.setup(str(folder / "net.compiled"), str(folder / "vk.key"), str(folder / "pk.key"), str(srs_path))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="mnist_cnn")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ngx-polycommit-"))
    settings = ngx.load_settings({"NGX_ZK_HOME": str(work / "home"), "NGX_ZK_CACHE_DIR": str(work / "cache")})
    circuit = ngx.build_circuit(REPO / "models" / args.model, settings)
    hashed = json.loads(circuit.settings.read_text())
    run_args = hashed["run_args"]
    srs_path = srs.test_srs(settings, int(run_args["logrows"]))[0]
    data = ngx.load_input(REPO / "models" / args.model / "input.json", circuit.manifest)
    _, salted = commitment.commit(circuit.manifest, data, new_salt=True)
    rows = salted.circuit_rows(circuit.manifest)
    data_file = work / "input.json"
    data_file.write_text(json.dumps({"input_data": rows}))

    py = ezkl.PyRunArgs()
    py.input_visibility, py.output_visibility, py.param_visibility = "polycommit", "public", "fixed"
    for key in ("input_scale", "param_scale", "scale_rebase_multiplier", "decomp_base", "decomp_legs", "num_inner_cols"):
        setattr(py, key, run_args[key])
    kzg_dir = work / "polycommit"
    kzg_dir.mkdir()
    assert ezkl.gen_settings(str(circuit.circuit_onnx), str(kzg_dir / "settings.json"), py_run_args=py)
    kzg_settings = json.loads((kzg_dir / "settings.json").read_text())
    kzg_settings["run_args"]["logrows"] = run_args["logrows"]
    compile_and_setup(circuit.circuit_onnx, kzg_dir, kzg_settings, srs_path)
    hashed_dir = work / "hashed"
    hashed_dir.mkdir()
    compile_and_setup(circuit.circuit_onnx, hashed_dir, hashed, srs_path)

    hashed_s, _ = prove_cpu(hashed_dir, data_file, srs_path, args.repeats)
    kzg_s, proof = prove_cpu(kzg_dir, data_file, srs_path, args.repeats)
    felts = [int(f).to_bytes(32, "little").hex() for f in commitment.felts(rows[0], circuit.manifest.inputs[0])]
    points = ezkl.kzg_commit(felts, str(kzg_dir / "vk.key"), str(kzg_dir / "settings.json"), str(srs_path))
    proof_bytes = bytes.fromhex(str(proof["hex_proof"]).removeprefix("0x"))
    found = []
    for point in points:
        x = bytes.fromhex(str(point.x).removeprefix("0x"))
        # EZKL prints coordinates little-endian; the EVM proof encodes them big-endian
        offset = max(proof_bytes.find(x), proof_bytes.find(x[::-1]))
        found.append(offset)
    print(
        json.dumps(
            {
                "model": args.model,
                "logrows": run_args["logrows"],
                "num_inner_cols": run_args["num_inner_cols"],
                "hashed": {
                    "prove_cpu_s": round(hashed_s, 2),
                    "module_sizes": hashed["module_sizes"],
                    "num_rows": hashed["num_rows"],
                },
                "polycommit": {
                    "prove_cpu_s": round(kzg_s, 2),
                    "module_sizes": kzg_settings["module_sizes"],
                    "num_rows": kzg_settings["num_rows"],
                },
                "ratio_polycommit_over_hashed": round(kzg_s / hashed_s, 3),
                "consumer_commitment_in_proof_at_byte": found,
                "proof_bytes": len(proof_bytes),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
