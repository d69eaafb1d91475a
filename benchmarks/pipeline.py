"""Part a: bare EZKL, used the way EZKL's own docs use it, against ngx-zk's tuned build.

Per example model both sides build once (settings, calibration, compile, SRS, setup), then prove
and verify the model's ``input.json`` ``repeats`` times, alternating which side goes first, so
machine noise hits both alike. Setup runs once per side (it is deterministic and one-off).

The raw side calls ``ezkl`` directly on purpose: it measures bare EZKL. Its "prove" is what the
docs' proving step is, ``gen_witness`` + ``prove``; ngx-zk's is one ``ngx_zk.prove`` call (which
also checks the circuit's artifacts, the SRS and the key against the manifest). The time of
``ezkl.prove`` alone is kept for both sides as ``prove_core_s``.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ezkl
import numpy as np
import onnxruntime as ort

import ngx_zk as ngx
from ngx_zk import keys
from ngx_zk._ezkl import _native_output_captured
from ngx_zk.artifacts import Visibility
from ngx_zk.commitment import kzg_key

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "models"
EXAMPLES = ("mlp", "logistic_sigmoid", "mnist_cnn")

Log = Callable[[str], None]


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def float_reference(model_dir: Path) -> np.ndarray:
    """The float model's output on ``input.json`` (onnxruntime, CPU), flattened."""
    session = ort.InferenceSession(str(model_dir / "network.onnx"), providers=["CPUExecutionProvider"])
    data = json.loads((model_dir / "input.json").read_text())["input_data"]
    feed = {}
    for meta, values in zip(session.get_inputs(), data, strict=True):
        shape = [d if isinstance(d, int) else 1 for d in meta.shape]
        feed[meta.name] = np.asarray(values, dtype=np.float32).reshape(shape)
    return np.concatenate([np.asarray(o).reshape(-1) for o in session.run(None, feed)]).astype(np.float64)


def torch_reference(model_dir: Path) -> np.ndarray:
    data = json.loads((model_dir / "expected_output.json").read_text())["output_data"]
    return np.concatenate([np.asarray(d, dtype=np.float64).reshape(-1) for d in data])


def max_error(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(got.reshape(-1) - ref.reshape(-1))))


def _ezkl(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """One bare EZKL call with its tables and logs kept off the terminal; raises if it fails."""
    with _native_output_captured() as out:
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            result = exc
    if result is False or isinstance(result, Exception):
        said = (out[0] if out else "").strip().splitlines()[-3:]
        raise RuntimeError(f"ezkl.{fn.__name__} failed: {result!s} {' | '.join(said)}")
    return result


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


class RawEzkl:
    """One model through bare EZKL: gen_settings (hashed/fixed/public), calibrate "resources" on the
    model's calibration data, compile, test SRS, setup, then gen_witness + prove, verify."""

    side = "raw"

    def __init__(self, model_dir: Path, workdir: Path, srs_dir: Path) -> None:
        self.model_dir, self.dir, self.srs_dir = model_dir, workdir, srs_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.onnx = model_dir / "network.onnx"
        self.settings, self.compiled = self.dir / "settings.json", self.dir / "network.compiled"
        self.vk, self.pk = self.dir / "vk.key", self.dir / "pk.key"
        self.witness, self.proof = self.dir / "witness.json", self.dir / "proof.json"
        self.prove_s: list[float] = []
        self.prove_core_s: list[float] = []
        self.verify_s: list[float] = []
        self.outputs = np.zeros(0)
        self.info: dict[str, Any] = {}

    def build(self) -> dict[str, Any]:
        args = ezkl.PyRunArgs()
        for key, value in {"input_visibility": "hashed", "param_visibility": "fixed", "output_visibility": "public"}.items():
            setattr(args, key, value)
        _ezkl(ezkl.gen_settings, str(self.onnx), str(self.settings), py_run_args=args)
        calibrate_s, _ = _timed(
            lambda: _ezkl(
                ezkl.calibrate_settings, str(self.model_dir / "calibration.json"), str(self.onnx), str(self.settings), "resources"
            )
        )
        compile_s, _ = _timed(lambda: _ezkl(ezkl.compile_circuit, str(self.onnx), str(self.compiled), str(self.settings)))
        settings = json.loads(self.settings.read_text())
        run_args = settings["run_args"]
        logrows = int(run_args["logrows"])
        self.srs = self.srs_dir / f"kzg{logrows}.srs"
        srs_s = 0.0
        if not self.srs.is_file():  # one test SRS per size, shared by the models of that size
            self.srs_dir.mkdir(parents=True, exist_ok=True)
            srs_s, _ = _timed(lambda: _ezkl(ezkl.gen_srs, str(self.srs), logrows))
        setup_s, _ = _timed(lambda: _ezkl(ezkl.setup, str(self.compiled), str(self.vk), str(self.pk), srs_path=str(self.srs)))
        self.scales = [int(s) for s in settings["model_output_scales"]]
        self.info = {
            "logrows": logrows,
            "num_rows": int(settings.get("num_rows", 0)),
            "decomp": f"{run_args['decomp_base']}x{run_args['decomp_legs']}",
            "scales": f"in {run_args['input_scale']} / param {run_args['param_scale']}",
            "calibrate_s": calibrate_s,
            "compile_s": compile_s,
            "srs_s": srs_s,
            "setup_s": setup_s,
            "pk_bytes": self.pk.stat().st_size,
        }
        return self.info

    def prove_once(self) -> None:
        started = time.perf_counter()
        witness = _ezkl(
            ezkl.gen_witness,
            str(self.model_dir / "input.json"),
            str(self.compiled),
            str(self.witness),
            vk_path=str(self.vk),
            srs_path=str(self.srs),
        )
        core, _ = _timed(
            lambda: _ezkl(
                ezkl.prove, str(self.witness), str(self.compiled), str(self.pk), str(self.proof), srs_path=str(self.srs)
            )
        )
        self.prove_s.append(time.perf_counter() - started)
        self.prove_core_s.append(core)
        felts = witness["outputs"] if isinstance(witness, dict) else json.loads(self.witness.read_text())["outputs"]
        self.outputs = np.array(
            [float(ezkl.felt_to_float(f, s)) for group, s in zip(felts, self.scales, strict=True) for f in group]
        )

    def verify_once(self) -> None:
        seconds, _ = _timed(lambda: _ezkl(ezkl.verify, str(self.proof), str(self.settings), str(self.vk), srs_path=str(self.srs)))
        self.verify_s.append(seconds)


class Tuned:
    """The same model through ngx-zk: ``build_circuit`` (tuner on), ``commit``, ``prove``, ``verify``.

    ``polycommit`` builds it with a KZG-committed input (``polycommit/fixed/public``) instead of the
    hashed one: the same binding to the consumer's input, without Poseidon in the circuit."""

    def __init__(self, model_dir: Path, settings: ngx.Settings, workdir: Path, *, polycommit: bool = False) -> None:
        self.model_dir, self.settings, self.dir = model_dir, settings, workdir
        self.polycommit = polycommit
        self.side = "polycommit" if polycommit else "tuned"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proof = self.dir / "proof.json"
        self.prove_s: list[float] = []
        self.prove_core_s: list[float] = []
        self.verify_s: list[float] = []
        self.outputs = np.zeros(0)
        self.info: dict[str, Any] = {}

    def build(self) -> dict[str, Any]:
        stamps: list[tuple[str, float]] = []
        started = time.perf_counter()
        self.circuit = ngx.build_circuit(
            self.model_dir,
            self.settings,
            name=f"{self.model_dir.name}_kzg" if self.polycommit else None,
            visibility=Visibility.parse("polycommit/fixed/public") if self.polycommit else Visibility(),
            progress=lambda msg: stamps.append((msg, time.perf_counter())),
        )
        build_s = time.perf_counter() - started

        def at(prefix: str) -> float:
            return next(t for msg, t in stamps if msg.startswith(prefix))

        m = self.circuit.manifest
        pk = keys.key_dir(self.settings, m.name, m.compiled_sha256, m.srs.sha256) / keys.PK
        data = ngx.load_input(self.model_dir / "input.json", m)
        self.salted = ngx.commit(m, data, kzg=kzg_key(self.circuit, self.settings))[1]
        tuning = m.tuning or {}
        self.info = {
            "logrows": m.logrows,
            "num_rows": int(self.circuit.settings_json().get("num_rows", 0)),
            "decomp": f"{tuning.get('decomp_base')}x{tuning.get('decomp_legs')}",
            "tune_s": at("preparing the SRS") - at("calibrating"),
            "srs_s": at("generating keys") - at("preparing the SRS"),
            "setup_s": at("done") - at("generating keys"),
            "build_s": build_s,
            "pk_bytes": pk.stat().st_size,
            "tolerance": tuning.get("tolerance"),
            "calibration_error": tuning.get("max_abs_error"),
            "layout": tuning.get("label"),
            "calibration_error_vs_default": tuning.get("error_vs_default"),
            "tuner_timing": {
                k: (tuning.get("timing") or {}).get(k)
                for k in ("default_prove_s", "chosen_prove_s", "speedup_vs_default", "decision", "spent_s")
            },
        }
        return self.info

    def prove_once(self) -> None:
        seconds, proof = _timed(lambda: ngx.prove(self.circuit, self.salted, self.proof, self.settings))
        self.prove_s.append(seconds)
        self.prove_core_s.append(proof.prove_seconds)
        self.outputs = np.array(proof.outputs)

    def verify_once(self) -> None:
        seconds, _ = _timed(lambda: ngx.verify(self.proof, self.circuit, self.settings))
        self.verify_s.append(seconds)


def bench_model(name: str, workdir: Path, repeats: int, log: Log = lambda _: None) -> dict[str, Any]:
    """Raw EZKL and the tuned build of ``models/<name>`` side by side; returns one result row."""
    model_dir = MODELS / name
    settings = ngx.load_settings({"NGX_ZK_HOME": str(workdir / "ngx-home"), "NGX_ZK_CACHE_DIR": str(workdir / "ngx-cache")})
    raw = RawEzkl(model_dir, workdir / "raw" / name, workdir / "raw-srs")
    tuned = Tuned(model_dir, settings, workdir / "tuned" / name)
    kzg = Tuned(model_dir, settings, workdir / "polycommit" / name, polycommit=True)
    log(f"{name}: raw EZKL build (calibrate, compile, SRS, setup)")
    raw.build()
    log(f"{name}: raw logrows {raw.info['logrows']}, setup {raw.info['setup_s']:.1f}s; ngx-zk tuned builds (hashed, polycommit)")
    tuned.build()
    kzg.build()
    log(f"{name}: tuned logrows {tuned.info['logrows']} (polycommit {kzg.info['logrows']}); proving x{repeats}")
    sides: tuple[RawEzkl | Tuned, ...] = (raw, tuned, kzg)
    for r in range(repeats):
        order = sides[r % 3 :] + sides[: r % 3]  # each side goes first in turn
        for side in order:
            side.prove_once()
        for side in order:
            side.verify_once()
        log(
            f"{name}: repeat {r + 1}/{repeats}: raw {raw.prove_s[-1]:.2f}s, tuned {tuned.prove_s[-1]:.2f}s, "
            f"polycommit {kzg.prove_s[-1]:.2f}s"
        )

    ort_ref, torch_ref = float_reference(model_dir), torch_reference(model_dir)
    row: dict[str, Any] = {"model": name, "repeats": repeats}
    for side in sides:
        row[side.side] = {
            **side.info,
            "prove_s": median(side.prove_s),
            "prove_runs_s": side.prove_s,
            "prove_core_s": median(side.prove_core_s),
            "verify_s": median(side.verify_s),
            "verify_runs_s": side.verify_s,
            "max_abs_error": max_error(side.outputs, ort_ref),
            "max_abs_error_vs_torch": max_error(side.outputs, torch_ref),
        }
    row["prove_ratio"] = row["tuned"]["prove_s"] / row["raw"]["prove_s"]
    row["error_ratio"] = row["tuned"]["max_abs_error"] / row["raw"]["max_abs_error"] if row["raw"]["max_abs_error"] else None
    row["prove_core_ratio"] = row["tuned"]["prove_core_s"] / row["raw"]["prove_core_s"]
    row["polycommit_prove_ratio"] = row["polycommit"]["prove_s"] / row["raw"]["prove_s"]
    return row


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def run(models: list[str], workdir: Path, repeats: int, log: Log = lambda _: None) -> dict[str, Any]:
    rows = [bench_model(name, workdir, repeats, log) for name in models]
    return {
        "models": rows,
        "geomean_prove_ratio": geomean([r["prove_ratio"] for r in rows]),
        "geomean_prove_core_ratio": geomean([r["prove_core_ratio"] for r in rows]),
        "geomean_polycommit_prove_ratio": geomean([r["polycommit_prove_ratio"] for r in rows]),
        "worst_prove_ratio": max((r["prove_ratio"] for r in rows), default=float("nan")),
    }
