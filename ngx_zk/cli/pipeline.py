"""Pipeline commands: model build/show/list/export, commit, prove, verify (offline and --job).

None of them touches the chain unless asked (``verify --job``): web3 is imported only there. EZKL and
onnxruntime are imported when a command runs, not when its help is shown.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import console
from ..artifacts import Circuit, Visibility
from ._common import (
    Client,
    FiniteFloat,
    chain_command,
    check_output_file,
    emit,
    json_option,
    settings_from,
    warn_insecure,
)
from ._guards import circuit_name, guard_published_circuit

if TYPE_CHECKING:
    from ..artifacts import Proof
    from ..auditor import Verdict
    from ..export import InputShape

VERIFY_VALID, VERIFY_INVALID, VERIFY_PENDING, VERIFY_NO_PROOF = 0, 1, 3, 4
"""Exit statuses of ``verify`` (2 is click's usage error)."""


@click.command("build")
@click.argument("model_path", metavar="MODEL")
@click.option("--name", help="Circuit name (default: the model folder's name).")
@click.option(
    "--visibility",
    default=str(Visibility()),
    show_default=True,
    help="input/params/output visibility: input hashed|polycommit|public|private, params fixed|hashed (see --weights), "
    "output public|hashed|private.",
)
@click.option(
    "--weights",
    type=click.Choice(["fixed", "hashed", "private"]),
    help="fixed: weights are constants in the circuit (anyone with the bundle has them); hashed: private witnesses "
    "pinned by a Poseidon hash the chain checks (the public bundle holds no weights; license them to providers with "
    "`ngx-zk model license`); private: refused (nothing would pin the weights). Overrides --visibility's params part.",
)
@click.option(
    "--srs",
    "srs_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A public KZG ceremony SRS file (kzg<k>.srs). Without it a local, INSECURE test SRS is used.",
)
@click.option(
    "--tune/--no-tune",
    default=True,
    show_default=True,
    help="Search the circuit layout (range checks, columns, rescaling, scale) for the smallest accurate circuit.",
)
@click.option("--salt/--no-salt", default=True, show_default=True, help="Add 128 bits of secret salt to each input commitment.")
@click.option(
    "--max-logrows", type=click.IntRange(1, 26), help="Refuse circuits above 2^N rows (default: NGX_ZK_MAX_LOGROWS or 20)."
)
@click.option(
    "--tolerance",
    type=FiniteFloat(0, None, min_open=True),
    default=0.01,
    show_default=True,
    help="Max output error allowed, relative to the output range.",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Inferences per proof: a batch circuit proves N inputs at once, each with its own commitment (default name MODEL_bN).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Rebuild even though the circuit of that name is published (its old folder is kept as circuits/.NAME.replaced-TIME).",
)
@json_option
@click.pass_context
def model_build(
    ctx: click.Context,
    model_path: str,
    name: str | None,
    visibility: str,
    weights: str | None,
    srs_file: Path | None,
    tune: bool,
    salt: bool,
    max_logrows: int | None,
    tolerance: float,
    batch: int,
    force: bool,
    as_json: bool,
) -> None:
    """Compile MODEL (a model folder or an .onnx file) into an EZKL circuit.

    Writes circuits/NAME/ (settings, compiled circuit, verification key, manifest); the proving key
    goes to the cache. Calibration uses MODEL/calibration.json when present.

    With --batch N the circuit runs the model N times side by side: one job then carries N inputs
    (``prove-job --inputs FILE.jsonl``) and settles with one proof, each input keeping its own salt and
    commitment. Publish each batch size you want to serve; consumers pick one by the number of inputs.

    A circuit that is published (recorded in a deployments file with the same artifacts) is not
    rebuilt without --force: a rebuild makes new keys that no longer match its registry entry, and
    jobs on it would fail. Build under another --name instead, or pass --force (the old folder is kept).

    \b
    Example:
      ngx-zk model build models/mlp
      ngx-zk model build models/mlp --batch 16          # -> circuits/mlp_b16
      ngx-zk model build my.onnx --name scorer --visibility hashed/fixed/hashed --srs kzg17.srs
      ngx-zk model build models/mlp --name mlp_private --weights hashed   # weights stay the owner's
    """
    from ..circuit import build_circuit, staging_folders
    from ..limits import ResourceLimitError, run_limited

    try:
        vis = Visibility.parse(visibility)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--visibility") from None
    if weights is not None:
        vis = dataclasses.replace(vis, params=weights)
    if srs_file is not None:
        from ..srs import identify_public

        identify_public(srs_file)  # a file that is no ceremony SRS is refused now, not after calibration
    settings = settings_from(ctx)
    replaced = guard_published_circuit(settings, circuit_name(model_path, name, batch), force)
    before = staging_folders(settings)
    with console.progress(f"building {name or model_path}", quiet=as_json) as step:
        # a user-supplied model may need unbounded memory or time: build it in a limited child process
        try:
            built = run_limited(
                build_circuit,
                model_path,
                settings,
                name=name,
                visibility=vis,
                srs_file=srs_file,
                tune=tune,
                salt=salt,
                max_logrows=max_logrows,
                tolerance=tolerance,
                batch=batch,
                progress=step,
                memory_mb=settings.build_memory_mb,
                timeout_s=settings.build_timeout_s,
            )
        except (ResourceLimitError, KeyboardInterrupt):
            for folder in staging_folders(settings) - before:  # the killed child could not clean up
                shutil.rmtree(folder, ignore_errors=True)
            raise
    circuit = Circuit.load(built.path)
    m = circuit.manifest
    warn_insecure(circuit, as_json)
    if replaced is not None:
        console.warn(f"the published circuit {m.name!r} was replaced; its old folder is kept in {replaced}")
    emit(
        as_json,
        {"circuit": str(circuit.path), **m.to_json(), "replaced": str(replaced) if replaced else None},
        f"built {m.name}: logrows {m.logrows}, {m.instance_count} public instances, "
        + (f"{m.batch} inferences per proof, " if m.batch > 1 else "")
        + f"visibility {m.visibility}, srs {m.srs.kind} -> {circuit.path}",
    )


@click.command("show")
@click.argument("name")
@json_option
@click.pass_context
def model_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show a built circuit's manifest and check its files against it.

    \b
    Example:
      ngx-zk model show mlp --json
    """
    from ..circuit import load_circuit

    circuit = load_circuit(name, settings_from(ctx))
    if circuit.has_weights:
        circuit.check()
    else:
        circuit.check_public()  # a hashed-weights model pulled without a licence: verify-only
    m = circuit.manifest
    lines = [
        f"{m.name}  ({circuit.path})",
        f"  logrows {m.logrows}   visibility {m.visibility}   EZKL {m.ezkl_version}",
        f"  inputs  {', '.join(f'{i.name}{list(i.shape)} scale {i.scale}' for i in m.inputs)}",
        f"  outputs {', '.join(f'{o.name}{list(o.shape)} scale {o.scale}' for o in m.outputs)}",
        f"  srs     {m.srs.kind} (2^{m.srs.logrows}){'  INSECURE: dev chains only' if m.insecure else ''}",
        f"  onnx    sha256 {m.onnx_sha256}",
        f"  vk      sha256 {m.vk_sha256}",
        "  files match the manifest",
    ]
    if m.hashed_weights:
        lines.insert(-1, f"  weights private, pinned by Poseidon hash 0x{m.param_hashes[0]:064x}")
        if not circuit.has_weights:
            lines.insert(-1, "  no licence installed: verifies proofs, cannot prove (ngx-zk model install-license FILE)")
    emit(as_json, m.to_json(), "\n".join(lines))


@click.command("list")
@json_option
@click.pass_context
def model_list(ctx: click.Context, as_json: bool) -> None:
    """List the built circuits.

    \b
    Example:
      ngx-zk model list
    """
    settings = settings_from(ctx)
    root = settings.circuits_dir
    circuits = [Circuit.load(p) for p in sorted(root.iterdir()) if (p / "manifest.json").is_file()] if root.is_dir() else []
    rows = [{"name": c.name, "logrows": c.manifest.logrows, "srs": c.manifest.srs.kind, "path": str(c.path)} for c in circuits]
    text = "\n".join(f"{r['name']:<24} logrows {r['logrows']:<3} srs {r['srs']}" for r in rows) or f"no circuits in {root}"
    emit(as_json, {"circuits": rows}, text)


def _input_shape(_ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[InputShape]:
    from ..export import InputShape

    try:
        return [InputShape.parse(v) for v in values]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None


@click.command("export")
@click.argument("source", metavar="FILE.py:NAME")
@click.option(
    "--input-shape",
    "shapes",
    multiple=True,
    required=True,
    callback=_input_shape,
    help="One per model input, batch first: 1,8 (floats), 1,16:int (token ids, range read from the "
    "model's embedding) or 1,16:int:100 (ids in [0, 100)).",
)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="The model folder to write (default: models/<FILE's name>)."
)
@click.option(
    "--samples", type=click.IntRange(1, 100_000), help="Random calibration samples to draw (default 16; floats from [-1, 1])."
)
@click.option(
    "--calibration",
    type=click.Path(dir_okay=False, path_type=Path),
    help='Calibration samples instead: {"input_data": [[...], ...]}, samples concatenated per input.',
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the random sample and calibration data.")
@click.option("--force", is_flag=True, help="Replace the model files already in --out.")
@json_option
def model_export(
    source: str,
    shapes: list[InputShape],
    out: Path | None,
    samples: int | None,
    calibration: Path | None,
    seed: int,
    force: bool,
    as_json: bool,
) -> None:
    """Export a PyTorch model to a model folder that `model build` takes.

    FILE.py:NAME names a torch.nn.Module class, a factory function taking no arguments, or a module
    instance. Writes network.onnx (opset 17), input.json, calibration.json and expected_output.json,
    after checking the ONNX against PyTorch with onnxruntime. Needs PyTorch (pip install torch==2.13.0).

    WARNING: this imports FILE.py, which runs its code with your permissions: export only code you trust.

    \b
    Example:
      ngx-zk model export models/mlp/model.py:Model --input-shape 1,8 --out models/my_mlp
      ngx-zk model export models/token_classifier/model.py:Model --input-shape 1,8:int --out models/tokens
      ngx-zk model build models/my_mlp
    """
    from ..export import DEFAULT_SAMPLES, export_from_file

    if calibration is not None and samples is not None:
        raise click.UsageError("pass either --samples or --calibration, not both")
    folder = out or Path("models") / Path(source.rpartition(":")[0]).stem
    with console.progress(f"exporting {source}", quiet=as_json) as step:
        step("loading the model and exporting to ONNX")
        exported = export_from_file(
            source, shapes, folder, calibration=calibration, samples=samples or DEFAULT_SAMPLES, seed=seed, overwrite=force
        )
    ins = ", ".join(f"{i.name}{list(i.shape)} {i.dtype}" for i in exported.inputs)
    emit(
        as_json,
        exported.to_json(),
        f"exported {source} -> {exported.path} (inputs {ins}; {exported.calibration_samples} calibration samples; "
        f"onnxruntime matches PyTorch within {exported.max_abs_diff:.2g})\nnext: ngx-zk model build {exported.path}",
    )


@click.command("commit")
@click.argument("input_file", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--model", "model_ref", required=True, help="Circuit name or folder.")
@click.option("--out", type=click.Path(path_type=Path), help="Write the salted input here (keep it secret; prove with it).")
@click.option("--new-salt", is_flag=True, help="Draw a fresh salt even if INPUT already has one.")
@json_option
@click.pass_context
def commit_cmd(ctx: click.Context, input_file: Path, model_ref: str, out: Path | None, new_salt: bool, as_json: bool) -> None:
    """Compute the Poseidon commitment a proof on INPUT will carry.

    The commitment is salted: a fresh secret salt is drawn unless INPUT has one, and the salted
    input is written with --out so the same commitment can be proved later.

    \b
    Example:
      ngx-zk commit models/mlp/input.json --model mlp --out salted.json
    """
    from ..circuit import load_circuit
    from ..commitment import commit, kzg_key
    from ..inputs import load as load_input

    if out is not None:
        check_output_file(out)
    circuit = load_circuit(model_ref, settings_from(ctx))
    data = load_input(input_file, circuit.manifest)
    commitment, salted = commit(circuit.manifest, data, new_salt=new_salt, kzg=kzg_key(circuit, settings_from(ctx)))
    if salted.salt is not None and salted is not data and out is None:
        raise click.UsageError(
            "a fresh salt was drawn: pass --out FILE to keep the salted input (without it the commitment cannot be proved)"
        )
    if out is not None:
        _write_private(out, salted.to_json())
    emit(
        as_json,
        {"model": circuit.name, "commitments": commitment.hex, "salted_input": str(out) if out else None},
        "\n".join(commitment.hex) + (f"\nsalted input written to {out} (keep it secret)" if out else ""),
    )


@click.command("prove")
@click.option("--model", "model_ref", required=True, help="Circuit name or folder.")
@click.option(
    "--input",
    "input_file",
    required=True,
    type=click.Path(path_type=Path),
    help="Input JSON (salted by ngx-zk commit, or plain: a fresh salt is drawn).",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("proof.json"), show_default=True, help="Where to write the proof."
)
@json_option
@click.pass_context
def prove_cmd(ctx: click.Context, model_ref: str, input_file: Path, out: Path, as_json: bool) -> None:
    """Prove the model's output on an input, locally (no chain).

    \b
    Example:
      ngx-zk prove --model mlp --input salted.json --out proof.json
    """
    from ..circuit import load_circuit
    from ..commitment import commit, kzg_key
    from ..inputs import load as load_input
    from ..prover import prove

    check_output_file(out)  # before the proof, not after it
    settings = settings_from(ctx)
    circuit = load_circuit(model_ref, settings)
    warn_insecure(circuit, as_json)
    data = load_input(input_file, circuit.manifest)
    if circuit.manifest.commitment_count and data.salt is None and any(s.salt_elements for s in circuit.manifest.inputs):
        _, data = commit(circuit.manifest, data, kzg=kzg_key(circuit, settings))
        if not as_json:
            console.warn(
                "the input has no salt: a fresh one was drawn; use `ngx-zk commit --out` first to prove a commitment you posted"
            )
    with console.progress(f"proving {circuit.name}", quiet=as_json) as step:
        proof = prove(circuit, data, out, settings, progress=step)
    emit(
        as_json,
        _proof_json(proof),
        f"output {list(proof.outputs) if proof.outputs else '(not public)'}\n"
        f"commitment {[f'0x{c:064x}' for c in proof.commitments]}\n"
        f"proof written to {out} ({proof.prove_seconds:.2f}s proving)",
    )


@click.command("verify")
@click.argument("proof_file", metavar="[PROOF]", required=False, type=click.Path(path_type=Path))
@click.option(
    "--model",
    "model_ref",
    help="Circuit name or folder the proof claims to be for (with --job: default, the circuit recorded for the job's model).",
)
@click.option("--job", "job_id", type=click.IntRange(1, None), help="Audit job ID from chain data instead of a proof file.")
@click.option(
    "--disclosure",
    "disclosure_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Check one disclosed inference (from `ngx-zk job disclose`) against its job on chain.",
)
@click.option(
    "--explorer",
    metavar="URL",
    help="With --job/--disclosure: an explorer whose proof mirror is asked when the provider of an optimistic job "
    "no longer serves its proof (it is not on chain).",
)
@json_option
@chain_command(signer=False)
def verify_cmd(
    access: Client,
    proof_file: Path | None,
    model_ref: str | None,
    job_id: int | None,
    disclosure_file: Path | None,
    explorer: str | None,
    as_json: bool,
) -> None:
    """Verify a proof offline, or audit a past job from chain data.

    With --job, the proof is read from the job's settlement transaction and checked against the
    job's input commitment, the recorded outputs, the registry entry and the local artifacts. The
    circuit is the one recorded for the job's registry model on this chain (by `model publish` or
    `model pull`) unless --model names one; a --model recorded as another model is refused.
    With --disclosure, the job is audited the same way and the disclosed input, salt and output
    must be those of one inference in its proof (the other inferences stay hidden).

    \b
    Exit status:
      0  valid
      1  not valid (a check failed), or an error
      2  usage error
      3  --job: the job is not settled yet (open or claimed): audit it again later
      4  --job: the job ended without a proof (expired or cancelled): nothing to audit

    \b
    Example:
      ngx-zk verify proof.json --model mlp
      ngx-zk verify --job 1
      ngx-zk verify --disclosure job4-input2.json --model mlp_b4
      ngx-zk verify --job 7 --explorer https://explorer.example
    """
    from ..circuit import load_circuit
    from ..prover import verify

    if sum(x is not None for x in (proof_file, job_id, disclosure_file)) != 1:
        raise click.UsageError("pass one of: a PROOF file, --job ID (audit a job on chain), --disclosure FILE")
    if job_id is not None:
        model_ref = _circuit_for_job(access, job_id, model_ref)
    elif model_ref is None:
        raise click.UsageError("name the circuit with --model NAME (only --job finds it from the chain)")
    settings = access.settings
    circuit = load_circuit(model_ref, settings)
    warn_insecure(circuit, as_json)
    if disclosure_file is not None:
        _check_disclosure(access, circuit, disclosure_file, as_json, explorer)
        return
    if job_id is not None:
        _audit(access, circuit, job_id, as_json, explorer)
        return
    assert proof_file is not None
    proof = verify(proof_file, circuit, settings)
    emit(
        as_json,
        {"valid": True, **_proof_json(proof)},
        f"valid: proof {proof_file} verifies for circuit {circuit.name!r}\noutput {list(proof.outputs)}",
    )


def _circuit_for_job(access: Client, job_id: int, model_ref: str | None) -> str:
    """The circuit to audit job ``job_id`` with: ``model_ref`` if it is not recorded as another registry
    model on this chain, else the one recorded as the job's model (a new user had to guess --model)."""
    from ..catalog import recorded_id
    from ..circuit import load_circuit
    from ..errors import ChainError

    market = access.market
    if job_id > market.job_count():
        raise ChainError(f"no job {job_id} on chain {market.chain.chain_id}", "list the jobs with: ngx-zk jobs")
    wanted = market.job(job_id).model_id
    names = sorted(n for n in market.deployment.models if recorded_id(market, n) == wanted)
    fix = f"--model {names[0]}, or leave --model out" if names else f"install it: ngx-zk model pull {wanted}"
    if model_ref is None:
        if not names:
            raise ChainError(
                f"job {job_id} is for registry model {wanted}, and no local circuit is recorded as that model on chain "
                f"{market.chain.chain_id}",
                f"{fix}, then: ngx-zk verify --job {job_id}",
            )
        return names[0]
    name = load_circuit(model_ref, access.settings).name
    have = recorded_id(market, name)
    if have is not None and have != wanted:
        raise ChainError(f"job {job_id} is for registry model {wanted}; circuit {name!r} is model {have} on this chain", fix)
    return model_ref


def _audit(access: Client, circuit: Circuit, job_id: int, as_json: bool, explorer: str | None) -> None:
    from ..chain.types import JobStatus

    market = access.market
    status = market.job(job_id).status
    if status in (JobStatus.OPEN, JobStatus.CLAIMED):
        emit(
            as_json,
            {"job_id": job_id, "valid": None, "status": status.value, "pending": True},
            f"job {job_id}: PENDING ({status.value}, not settled yet): nothing to audit until a proof settles it; "
            f"follow it with: ngx-zk job show {job_id}",
        )
        raise click.exceptions.Exit(VERIFY_PENDING)
    if status is not JobStatus.SETTLED:
        emit(
            as_json,
            {"job_id": job_id, "valid": None, "status": status.value, "pending": False},
            f"job {job_id}: NO PROOF (it ended {status.value} without a settlement): nothing to audit",
        )
        raise click.exceptions.Exit(VERIFY_NO_PROOF)
    verdict = access.verify_job(job_id, circuit, explorer)
    data = {
        "job_id": job_id,
        "valid": verdict.valid,
        "status": status.value,
        "outputs": list(verdict.outputs),
        "checks": [c.__dict__ for c in verdict.checks],
    }
    lines = _check_lines(verdict)
    head = f"job {job_id}: {'VALID' if verdict.valid else 'INVALID'}"
    m = circuit.manifest
    if verdict.outputs and m.batch > 1:
        per = m.per_inference(list(verdict.outputs))
        data["outputs"] = per
        shown = [f"  output {k + 1:<3} {out}" for k, out in enumerate(per)]
    else:
        shown = [f"  output {list(verdict.outputs) if verdict.outputs else 'private (only its Poseidon hash is public)'}"]
    emit(as_json, data, "\n".join([head, *lines] + (shown if verdict.valid else [])))
    if not verdict.valid:
        raise click.exceptions.Exit(VERIFY_INVALID)


def _check_lines(verdict: Verdict) -> list[str]:
    return [f"  {'✓' if c.ok else '✗'} {c.name}{f' ({c.detail})' if c.detail else ''}" for c in verdict.checks]


def _check_disclosure(access: Client, circuit: Circuit, path: Path, as_json: bool, explorer: str | None) -> None:
    from .. import disclosure
    from ..files import read_bounded

    raw = read_bounded(
        path, disclosure.MAX_BYTES, what="disclosure file", hint="make one with: ngx-zk job disclose JOB --inference K --out FILE"
    )
    d = disclosure.load(raw, circuit)
    verdict = disclosure.check(access.settings, access.market, circuit, d, explorer)
    data = {
        "job_id": d.job_id,
        "inference": d.index + 1,
        "valid": verdict.valid,
        "input_data": [list(v) for v in d.input.values],
        "outputs": list(verdict.outputs),
        "checks": [c.__dict__ for c in verdict.checks],
    }
    lines = _check_lines(verdict)
    head = f"job {d.job_id}, inference {d.index + 1}: {'VALID' if verdict.valid else 'INVALID'}"
    tail = [f"  input  {[list(v) for v in d.input.values]}", f"  output {list(verdict.outputs)}"] if verdict.valid else []
    emit(as_json, data, "\n".join([head, *lines, *tail]))
    if not verdict.valid:
        raise click.exceptions.Exit(VERIFY_INVALID)


def _proof_json(proof: Proof) -> dict[str, Any]:
    return {
        "proof": str(proof.path),
        "model": proof.circuit_name,
        "outputs": list(proof.outputs),
        "commitments": [f"0x{c:064x}" for c in proof.commitments],
        "instances": [f"0x{v:064x}" for v in proof.instances],
        "prove_seconds": round(proof.prove_seconds, 3),
    }


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Write a secret file (a salted input) atomically, readable by its owner only."""
    from ..files import write_private

    write_private(path, json.dumps(data).encode())
