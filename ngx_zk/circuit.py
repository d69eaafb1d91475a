"""Stage 2: build a circuit from a model.

settings -> calibration (and tuning) -> compile -> SRS -> setup, writing ``circuits/<name>/``:
the settings, the compiled circuit, the verification key, the graph EZKL compiled, and a manifest
that pins them all by sha256. The build happens in a staging folder that replaces the circuit folder
only when complete, so a failed build never leaves a half-written circuit behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from . import _ezkl, defaults, inputs, keys, srs, tuner
from .artifacts import (
    CIRCUIT_ONNX,
    COMPILED,
    MANIFEST,
    MAX_PARAM_HASHES,
    SAMPLE,
    SETTINGS,
    VK,
    Circuit,
    Manifest,
    TensorSpec,
    Visibility,
    sha256_file,
)
from .config import Settings
from .errors import CircuitError, CircuitNotBuiltError, InputError, InvalidModelError, NgxZkError
from .inference import OnnxRunner
from .onnx_model import (
    CALIBRATION_FILE,
    SAMPLE_INPUT_FILE,
    ModelSource,
    TensorInfo,
    batched,
    load_checked,
    resolve,
    with_salt_slots,
)

Progress = Callable[[str], None]

VISIBILITIES = {
    "input": ("hashed", "polycommit", "public", "private"),
    "params": ("fixed", "hashed"),
    "output": ("public", "hashed", "private"),
}
MAX_ACCURACY_SAMPLES = 8


def build_circuit(
    model: str | Path,
    settings: Settings,
    *,
    name: str | None = None,
    visibility: Visibility = Visibility(),
    srs_file: Path | None = None,
    tune: bool = True,
    salt: bool = True,
    max_logrows: int | None = None,
    tolerance: float = defaults.ACCURACY_TOLERANCE,
    batch: int = 1,
    progress: Progress = lambda _: None,
) -> Circuit:
    """Build (or rebuild) the circuit for ``model`` and return it. See the module docstring.

    ``batch`` > 1 builds a batch circuit: one proof of ``batch`` inferences, each with its own
    input commitment (see :func:`ngx_zk.onnx_model.batched`); its default name is ``<model>_b<batch>``."""
    _check_weights(visibility, batch)
    _check_visibility(visibility)
    cap = settings.max_logrows if max_logrows is None else max_logrows
    progress("checking the model")
    source = resolve(model)
    name = _check_name(name or (f"{source.name}_b{batch}" if batch > 1 else source.name))
    salt_elements = _salt_elements(visibility, salt)
    if visibility.input == "polycommit" and (batch > 1 or len(source.inputs) != 1):
        raise NgxZkError(
            f"a polycommit input needs a model with one input tensor and --batch 1 ({source.name} has "
            f"{len(source.inputs)} input(s), batch {batch})",
            "use --visibility hashed/fixed/public for this model",
        )

    settings.circuits_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.building-", dir=settings.circuits_dir))
    try:
        OnnxRunner(source.onnx_path)  # a graph onnxruntime cannot load fails here, naming the node
        samples = _calibration_samples(source)
        graph, source = batched(load_checked(source.onnx_path), source, batch)
        if batch > 1:
            samples = _batch_samples(samples, batch)
            onnx.save(graph, str(staging / "batched.onnx"))
        runner = OnnxRunner(staging / "batched.onnx" if batch > 1 else source.onnx_path)
        if runner.reference != "onnxruntime":
            progress(f"reference outputs: {runner.reference}")
        circuit_onnx = staging / CIRCUIT_ONNX
        graph = with_salt_slots(graph, source.inputs, salt_elements)
        onnx.save(graph, str(circuit_onnx))
        calibration = staging / "calibration.json"
        _write_calibration(calibration, samples, salt_elements, [i.is_int for i in source.inputs])

        expected = [runner.run(s, [i.shape for i in source.inputs]) for s in samples[:MAX_ACCURACY_SAMPLES]]
        source = _outputs_as_computed(source, expected[0])
        base_args = {
            "input_visibility": visibility.input,
            "param_visibility": visibility.params,
            "output_visibility": visibility.output,
        }
        measure = _accuracy_measure(staging, samples[:MAX_ACCURACY_SAMPLES], expected, salt_elements)
        span = max(1.0, max(float(np.ptp(np.concatenate([o.reshape(-1) for o in e]))) for e in expected))
        chosen = tuner.tune(
            staging,
            circuit_onnx,
            calibration,
            base_args,
            max_logrows=cap,
            tolerance=tolerance * span,
            measure=measure,
            candidates=tuner.CANDIDATES if tune else (tuner.EZKL_DEFAULT,),
            knobs=tune,
            timer=_prove_timer(staging, settings, srs_file, samples[0], salt_elements) if tune else None,
            memory_mb=settings.build_memory_mb,
            progress=progress,
        )
        made = _timing_keys(chosen.compiled)  # the chosen layout's keys, if the timing stage set it up
        for scratch_key in staging.glob(f"*{_TIMING_KEY}"):
            if scratch_key != made[0]:
                scratch_key.unlink()  # proving keys of the other timed finalists (hundreds of MB each)
        tuner.copy_choice(chosen, staging / SETTINGS, staging / COMPILED)
        circuit_settings = json.loads((staging / SETTINGS).read_text())
        logrows = int(circuit_settings["run_args"]["logrows"])

        progress(f"preparing the SRS (2^{logrows})")
        srs_path, srs_info = srs.public_srs(settings, srs_file, logrows) if srs_file else srs.test_srs(settings, logrows)
        progress("generating keys (setup)" if not made[0].is_file() else "generating keys (setup: kept from the timing stage)")
        keys.setup(settings, name, staging / COMPILED, srs_path, srs_info.sha256, staging / VK, made=made)
        points = _kzg_points(staging, srs_path, samples[0][0], salt_elements) if visibility.input == "polycommit" else 0
        params = _param_hashes(staging, samples[0], salt_elements) if visibility.params == "hashed" else ()

        manifest = Manifest(
            name=name,
            ezkl_version=_ezkl.VERSION,
            logrows=logrows,
            visibility=visibility,
            inputs=_input_specs(source, circuit_settings, salt_elements),
            outputs=_output_specs(source, circuit_settings),
            onnx_sha256=source.sha256,
            circuit_onnx_sha256=sha256_file(circuit_onnx),
            settings_sha256=sha256_file(staging / SETTINGS),
            compiled_sha256=sha256_file(staging / COMPILED),
            vk_sha256=sha256_file(staging / VK),
            srs=srs_info,
            tuning={**chosen.to_json(), "tuned": tune, "calibration_samples": len(samples), "reference": runner.reference},
            batch=batch,
            commitment_points=points,
            param_hashes=params,
        )
        (staging / SAMPLE).write_text(json.dumps({"input_data": samples[0]}) + "\n")
        for scratch in staging.iterdir():
            if scratch.name not in (SETTINGS, COMPILED, VK, CIRCUIT_ONNX, SAMPLE):
                scratch.unlink()
        (staging / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
        final = settings.circuits_dir / name
        _replace_dir(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    progress("done")
    return Circuit.load(final)


def staging_folders(settings: Settings) -> set[Path]:
    """Build folders in progress (``.NAME.building-*``); a build killed from outside leaves its own behind."""
    return set(settings.circuits_dir.glob(".*.building-*")) if settings.circuits_dir.is_dir() else set()


def load_circuit(ref: str | Path, settings: Settings) -> Circuit:
    """A built circuit by name (in the circuits folder), by circuit folder, or by model folder."""
    path = Path(ref)
    if (path / MANIFEST).is_file():
        return Circuit.load(path)
    name = path.resolve().name if path.is_dir() else str(ref)
    if path.suffix == ".onnx":
        name = path.stem if path.stem != "network" else path.resolve().parent.name
    candidate = settings.circuits_dir / name
    if name and "/" not in name and (candidate / MANIFEST).is_file():
        return Circuit.load(candidate)
    raise CircuitNotBuiltError(name or str(ref), settings.circuits_dir)


def batch_circuit(ref: str | Path, count: int, settings: Settings, *, published: Collection[str] | None = None) -> Circuit:
    """The circuit that proves ``count`` inputs of the model ``ref`` names in one job.

    ``ref`` itself when its batch size is ``count``; otherwise a built circuit of the same model (same
    ONNX and visibility) with that batch size, among ``published`` names when given. Raises
    :class:`InputError` naming the batch sizes that exist."""
    try:
        circuit = load_circuit(ref, settings)
    except CircuitNotBuiltError:
        if count == 1:
            raise
        circuit = load_circuit(f"{Path(ref).name}_b{count}", settings)  # only the batch circuit was built here
    if circuit.manifest.batch == count:
        return circuit
    family = {
        c.manifest.batch: c
        for c in _circuits(settings)
        if _same_model(c.manifest, circuit.manifest) and (published is None or c.name in published)
    }
    if count in family:
        return family[count]
    where = "published on this chain" if published is not None else "built here"
    sizes = ", ".join(f"{n} ({family[n].name})" for n in sorted(family)) or "none"
    raise InputError(
        f"{count} inputs given, but no circuit of model {circuit.name!r} proving {count} per job is {where}; "
        f"batch sizes {where}: {sizes}",
        f"split the inputs into jobs of those sizes, or build and publish a circuit for {count}: ngx-zk model build MODEL --batch {count}",
    )


def batch_job(
    ref: str | Path, objects: Sequence[Any], settings: Settings, *, published: Collection[str], source: str = "inputs"
) -> tuple[Circuit, inputs.InputData]:
    """The published circuit proving ``len(objects)`` inputs of ``ref``'s model (:func:`batch_circuit`), and the
    inputs checked against it side by side (:func:`ngx_zk.inputs.parse_batch`)."""
    circuit = batch_circuit(ref, len(objects), settings, published=published)
    return circuit, inputs.parse_batch(objects, circuit.manifest, source=source)


def _circuits(settings: Settings) -> list[Circuit]:
    found = []
    if settings.circuits_dir.is_dir():
        for folder in sorted(settings.circuits_dir.iterdir()):
            if not folder.name.startswith(".") and (folder / MANIFEST).is_file():
                with contextlib.suppress(NgxZkError):
                    found.append(Circuit.load(folder))
    return found


def _same_model(a: Manifest, b: Manifest) -> bool:
    return a.onnx_sha256 == b.onnx_sha256 and a.visibility == b.visibility


def _salt_elements(visibility: Visibility, salt: bool) -> int:
    """Salt slots per input: 128 bits for a hashed input, 1,536 for a KZG-committed one, none otherwise."""
    bits = {"hashed": defaults.SALT_BITS_TARGET, "polycommit": defaults.KZG_SALT_BITS_TARGET}.get(visibility.input, 0)
    return -(-bits // defaults.SALT_ELEMENT_BITS) if salt else 0


def _kzg_points(staging: Path, srs_path: Path, sample: list[float], salt_elements: int) -> int:
    """How many G1 points EZKL commits a polycommit input to (one per advice column it fills)."""
    spec = json.loads((staging / SETTINGS).read_text())["run_args"]
    scale = int(spec.get("input_scale", 0))
    values = [_ezkl.float_to_felt(v, scale) for v in [*sample, *([0.0] * salt_elements)]]
    return len(_ezkl.kzg_commit(values, staging / VK, staging / SETTINGS, srs_path))


def _check_visibility(v: Visibility) -> None:
    for part, allowed in VISIBILITIES.items():
        if getattr(v, part) not in allowed:
            raise NgxZkError(f"{part} visibility {getattr(v, part)!r} is not supported", f"choose one of: {', '.join(allowed)}")


def _check_weights(v: Visibility, batch: int) -> None:
    """``--weights hashed`` works with one inference per proof and a hashed or public input; ``private`` is refused:
    nothing in the proof would pin the weights, so a provider could prove with any weights it likes."""
    if v.params == "private":
        raise NgxZkError(
            "weights visibility 'private' is refused: nothing in a proof would pin the weights, so a provider could "
            "settle jobs with any weights it likes",
            "use --weights hashed (the proof carries a Poseidon hash of the weights, which the chain pins)",
        )
    if v.params == "hashed" and (v.input == "polycommit" or batch > 1):
        raise NgxZkError(
            f"--weights hashed is not supported with {'a polycommit input' if v.input == 'polycommit' else f'--batch {batch}'}",
            "build it with --visibility hashed/fixed/public (input hashed) and --batch 1, or keep --weights fixed",
        )


def _param_hashes(staging: Path, sample: list[list[float]], salt_elements: int) -> tuple[int, ...]:
    """A hashed-weights circuit's weight hash(es): the witness's ``processed_params`` for one sample (they depend
    on the weights only). Checked against :data:`~ngx_zk.artifacts.MAX_PARAM_HASHES` (what the binding holds)."""
    data_file, witness = staging / "params-input.json", staging / "params-witness.json"
    inputs.write_witness_input(data_file, [values + [0.0] * salt_elements for values in sample])
    found = _ezkl.gen_witness(CircuitError, data_file, staging / COMPILED, witness, None, None).get("processed_params") or {}
    hashes = tuple(_ezkl.felt_to_int(str(h)) for h in (found.get("poseidon_hash") or []))
    if not 1 <= len(hashes) <= MAX_PARAM_HASHES:
        raise CircuitError(
            f"EZKL gave {len(hashes)} weight hash instance(s); a hashed-weights model takes 1 to {MAX_PARAM_HASHES}",
            "keep --weights fixed for this model",
        )
    return hashes


def _check_name(name: str) -> str:
    if not name or name.startswith(".") or any(not (c.isalnum() or c in "-_") for c in name):
        raise NgxZkError(f"invalid circuit name {name!r}", "use letters, digits, '-' and '_'")
    return name


def _calibration_samples(source: ModelSource) -> list[list[list[float]]]:
    """Calibration samples, each a list of flat per-input value lists."""
    path = source.calibration or source.sample_input
    sizes = [i.size for i in source.inputs]
    if path is None:
        rng = random.Random(0)
        return [[_random_values(rng, i, source.onnx_path) for i in source.inputs] for _ in range(8)]
    try:
        data = json.loads(path.read_text())["input_data"]
        arrays = [np.asarray(d, dtype=np.float64).reshape(-1) for d in data]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidModelError(path, f'calibration data is not {{"input_data": [[...]]}} ({exc})') from None
    if len(arrays) != len(sizes) or any(a.size == 0 or a.size % n for a, n in zip(arrays, sizes, strict=False)):
        raise InvalidModelError(path, "calibration data does not match the model's input sizes")
    if not all(np.isfinite(a).all() for a in arrays):
        raise InvalidModelError(path, "calibration data holds NaN or Infinity")
    for a, info in zip(arrays, source.inputs, strict=False):
        if info.is_int:
            _check_int_calibration(path, a, info)
    count = min(a.size // n for a, n in zip(arrays, sizes, strict=True))
    return [
        [_as_type(a[k * n : (k + 1) * n], info) for a, n, info in zip(arrays, sizes, source.inputs, strict=True)]
        for k in range(count)
    ]


def _batch_samples(samples: list[list[list[float]]], batch: int) -> list[list[list[float]]]:
    """Calibration samples of a batch circuit: sample ``j`` puts base samples ``j, j+1, ...`` (cycling) side by side,
    so every inference slot sees the whole calibration range."""
    return [[values for k in range(batch) for values in samples[(j + k) % len(samples)]] for j in range(len(samples))]


def _random_values(rng: random.Random, info: TensorInfo, path: Path) -> list[float]:
    """Stand-in calibration values: floats in [-1, 1]; integers across the indexed table's range."""
    if not info.is_int:
        return [rng.uniform(-1, 1) for _ in range(info.size)]
    if info.value_range is None:
        raise InvalidModelError(
            path,
            f"integer input {info.name!r} has no calibration data and its valid values cannot be read from the graph",
            f"add {CALIBRATION_FILE} (or {SAMPLE_INPUT_FILE}) with typical integer inputs to the model folder",
        )
    low, high = info.value_range
    return [rng.randrange(low, high) for _ in range(info.size)]


def _check_int_calibration(path: Path, values: np.ndarray, info: TensorInfo) -> None:
    if not np.all(values == np.round(values)):
        raise InvalidModelError(path, f"calibration data for integer input {info.name!r} holds non-integers")
    if info.value_range is not None and values.size:
        low, high = info.value_range
        if values.min() < low or values.max() >= high:
            raise InvalidModelError(path, f"calibration data for {info.name!r} holds ids outside {low}..{high - 1}")


def _as_type(values: np.ndarray, info: TensorInfo) -> list[float]:
    return [int(v) for v in values] if info.is_int else values.tolist()


def _write_calibration(path: Path, samples: list[list[list[float]]], salt_elements: int, is_int: list[bool]) -> None:
    """EZKL calibration data: per input, all samples concatenated, each followed by its salt slots."""
    top = (1 << defaults.SALT_ELEMENT_BITS) - 1
    per_input: list[list[float]] = [[] for _ in samples[0]]
    for k, sample in enumerate(samples):
        for i, values in enumerate(sample):
            # salt slots filled (16-bit values as if at scale 13; integer inputs take them as is, scale 0): they
            # exercise the slots; what keeps real salts valid at any chosen scale is the tuner's rule that every
            # range check spans >= 2^18
            ints = [top if (k + j) % 2 else 0 for j in range(salt_elements)]
            salt: list[float] = list(ints) if is_int[i] else [v / (1 << 13) for v in ints]
            per_input[i].extend(values + salt)
    path.write_text(json.dumps({"input_data": per_input}))


def _accuracy_measure(
    workdir: Path,
    samples: list[list[list[float]]],
    expected: list[list[np.ndarray]],
    salt_elements: int,
) -> tuner.Measure:
    def measure(settings_path: Path, compiled: Path) -> float:
        data = json.loads(settings_path.read_text())
        out_scales = [int(s) for s in data["model_output_scales"]]
        worst = 0.0
        for sample, reference in zip(samples, expected, strict=True):
            rows = [values + [0.0] * salt_elements for values in sample]
            data_file = workdir / "sample.json"
            inputs.write_witness_input(data_file, rows)
            witness = _ezkl.gen_witness(CircuitError, data_file, compiled, workdir / "sample-witness.json", vk=None, srs=None)
            for felts, scale, ref in zip(witness["outputs"], out_scales, reference, strict=True):
                got = np.array([_ezkl.felt_to_float(f, scale) for f in felts])
                if got.size != ref.size:
                    raise CircuitError(
                        f"EZKL computes {got.size} values for an output where the float reference computes {ref.size}",
                        "export the model with fixed shapes; the two runtimes read its graph differently",
                    )
                worst = max(worst, float(np.max(np.abs(got - ref.reshape(-1)))))
        return worst

    return measure


_TIMING_KEY = ".timing-pk"
_TIMING_VK = ".timing-vk"


def _timing_keys(compiled: Path) -> tuple[Path, Path]:
    """The proving and verification keys the timer's setup wrote for ``compiled`` (on the SRS the build uses)."""
    return compiled.with_suffix(_TIMING_KEY), compiled.with_suffix(_TIMING_VK)


def _prove_timer(
    workdir: Path, settings: Settings, srs_file: Path | None, sample: list[list[float]], salt_elements: int
) -> tuner.Timer:
    """The tuner's clock: set a finalist up once (on the SRS the build will use), then measure the
    CPU time of witness + proof of one calibration sample, as ``ngx_zk.prove`` does. CPU time, not
    wall time: other work on a shared machine stretches wall time unevenly between finalists."""
    data_file = workdir / "timing-input.json"
    inputs.write_witness_input(data_file, [values + [0.0] * salt_elements for values in sample])

    def prove_seconds(settings_path: Path, compiled: Path) -> float:
        logrows = int(json.loads(settings_path.read_text())["run_args"]["logrows"])
        srs_path = (srs.public_srs(settings, srs_file, logrows) if srs_file else srs.test_srs(settings, logrows))[0]
        pk, vk = _timing_keys(compiled)
        if not pk.is_file():
            _ezkl.setup(CircuitError, compiled, vk, pk, srs_path)
        started = time.process_time()  # CPU seconds of all threads: what a proof costs, whatever else runs
        _ezkl.gen_witness(CircuitError, data_file, compiled, workdir / "timing-witness.json", vk=vk, srs=srs_path)
        _ezkl.prove(workdir / "timing-witness.json", compiled, pk, workdir / "timing-proof.json", srs_path)
        return time.process_time() - started

    return prove_seconds


def _input_specs(source: ModelSource, circuit_settings: dict[str, Any], salt_elements: int) -> tuple[TensorSpec, ...]:
    scales = circuit_settings.get("model_input_scales") or [circuit_settings["run_args"]["input_scale"]] * len(source.inputs)
    bits = defaults.SALT_ELEMENT_BITS if salt_elements else 0
    return tuple(
        TensorSpec(i.name, i.shape, int(s), salt_elements=salt_elements, salt_bits=bits, dtype=i.dtype, value_range=i.value_range)
        for i, s in zip(source.inputs, scales, strict=True)
    )


def _outputs_as_computed(source: ModelSource, computed: Sequence[np.ndarray]) -> ModelSource:
    """The outputs with the shapes the reference run computed: the graph, not its declaration, decides
    (:func:`ngx_zk.onnx_model.resolve` already reads the graph; this holds where its inference erred)."""
    if len(computed) != len(source.outputs):
        raise InvalidModelError(
            source.onnx_path, f"the graph declares {len(source.outputs)} outputs but computes {len(computed)}"
        )
    outputs = tuple(replace(o, shape=tuple(int(d) for d in c.shape)) for o, c in zip(source.outputs, computed, strict=True))
    return replace(source, outputs=outputs)


def _output_specs(source: ModelSource, circuit_settings: dict[str, Any]) -> tuple[TensorSpec, ...]:
    scales = circuit_settings["model_output_scales"]
    return tuple(TensorSpec(o.name, o.shape, int(s)) for o, s in zip(source.outputs, scales, strict=True))


def _replace_dir(new: Path, final: Path) -> None:
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        os.replace(new, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, final)
