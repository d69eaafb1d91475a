"""Part g, coverage: models nobody here wrote, through bare EZKL and through ngx-zk side by side (issue 28).

For every folder of a models directory (``network.onnx`` and ``input.json``; default: the external-style
models of ``coverage_models.py``, written afresh) each side builds once and proves ``input.json``
``repeats`` times, each side in a child process stopped after ``timeout_s`` (bare EZKL can hang):

- bare EZKL, EZKL's default flow (``pipeline.RawEzkl``): gen_settings (hashed/fixed/public, the statement
  ngx-zk proves), calibrate_settings "resources" on input.json, compile, test SRS, setup; prove =
  gen_witness + prove;
- ngx-zk: ``build_circuit`` (tuned), ``commit``, one ``ngx_zk.prove`` call per repeat.

Counts what each side builds and proves, and the prove-call ratio (ngx-zk / bare, medians) per model and
its geometric mean. With ``settle`` every model ngx-zk proves is also published on a local devnet and
settled once through a worker process, then audited with ``verify --job``.

    .venv/bin/python benchmarks/coverage.py                       # the external-style models, 3 repeats
    .venv/bin/python benchmarks/coverage.py /tmp/ezkl --settle    # any folder of models (e.g. EZKL's examples)
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

Log = Callable[[str], None]
TIMEOUT_S = 600.0
REPEATS = 3


def _measure(side: str, model_dir: Path, workdir: Path, repeats: int, cache_dir: Path) -> dict[str, Any]:
    """Build once, prove ``repeats`` times, verify once; in the child process. ngx-zk's keys and SRS go to
    ``cache_dir``, shared by the models of a run (and by ``settle``, which proves with them)."""
    import ngx_zk as ngx
    from benchmarks import pipeline

    runner: pipeline.RawEzkl | pipeline.Tuned
    if side == "raw":
        runner = pipeline.RawEzkl(model_dir, workdir / "raw", workdir / "raw-srs")
    else:
        settings = ngx.load_settings({"NGX_ZK_HOME": str(workdir / "ngx-home"), "NGX_ZK_CACHE_DIR": str(cache_dir)})
        runner = pipeline.Tuned(model_dir, settings, workdir / "tuned")
    started = time.perf_counter()
    info = runner.build()
    built_s = time.perf_counter() - started
    for _ in range(repeats):
        runner.prove_once()
    runner.verify_once()
    return {
        "logrows": info["logrows"],
        "build_s": built_s,
        "prove_s": statistics.median(runner.prove_s),
        "prove_runs_s": runner.prove_s,
        "outputs": runner.outputs.tolist(),
    }


def _child(conn: Connection, side: str, model_dir: Path, workdir: Path, repeats: int, cache_dir: Path) -> None:
    try:
        conn.send(("ok", _measure(side, model_dir, workdir, repeats, cache_dir)))
    except BaseException as exc:  # the parent reports it; a child must not die silently
        conn.send(("failed", f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"))


def measure_side(side: str, model_dir: Path, workdir: Path, repeats: int, timeout_s: float, cache_dir: Path) -> dict[str, Any]:
    """``_measure`` in a spawned child: ``{"ok": True, ...}`` or ``{"ok": False, "error": why}``."""
    ctx = multiprocessing.get_context("spawn")  # no fork after EZKL's threads have started
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, side, model_dir, workdir, repeats, cache_dir), daemon=True)
    started = time.perf_counter()
    child.start()
    send.close()
    try:
        if receive.poll(timeout_s):
            status, value = receive.recv()
        else:
            status, value = "failed", f"no result within {timeout_s:.0f}s (stopped)"
    except EOFError:
        status, value = "failed", f"the child process died (exit code {child.exitcode})"
    finally:
        if child.is_alive():
            child.kill()
        child.join(10)
    if status == "ok":
        return {"ok": True, **value}
    return {"ok": False, "error": value, "spent_s": time.perf_counter() - started}


def prepare(models_dir: Path | None, workdir: Path) -> list[Path]:
    """Model folders with the files both sides read (calibration.json: input.json where absent)."""
    if models_dir is None:
        from benchmarks import coverage_models

        models_dir = coverage_models.write(workdir / "external")[0].parent
    folders = []
    for source in sorted(p for p in models_dir.iterdir() if (p / "network.onnx").is_file() and (p / "input.json").is_file()):
        folder = workdir / "models" / source.name
        shutil.copytree(source, folder, dirs_exist_ok=True)
        if not (folder / "calibration.json").is_file():
            shutil.copyfile(folder / "input.json", folder / "calibration.json")
        folders.append(folder)
    return folders


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def settle(folders: list[Path], workdir: Path, log: Log) -> dict[str, dict[str, Any]]:
    """Publish each model's ngx-zk circuit on a local devnet and settle one job on it through a worker."""
    import ngx_zk as ngx
    from benchmarks import market
    from ngx_zk.artifacts import Circuit
    from ngx_zk.publish import publish

    results: dict[str, dict[str, Any]] = {}
    with market.local_market(workdir / "settle", workdir / "ngx-cache", log) as net:
        circuits = {}
        for folder in folders:
            built = workdir / "sides" / folder.name / "ngx-home" / "circuits" / folder.name
            target = net.settings.circuits_dir / folder.name
            shutil.copytree(built, target, dirs_exist_ok=True)
            circuit = Circuit.load(target)
            try:
                published = publish(net.settings, net.market, net.signer("deployer"), circuit)
                circuits[folder.name] = circuit
                results[folder.name] = {"published": True, "kind": published.kind.name.lower(), "gas": published.verification_gas}
                log(f"coverage: published {folder.name} ({published.kind.name.lower()} verifier)")
            except Exception as exc:  # reported per model; the others go on
                results[folder.name] = {"published": False, "error": f"{type(exc).__name__}: {exc}"}
                log(f"coverage: {folder.name} not published: {exc}")
        if not circuits:
            return results
        with market.WorkerProcess(
            net, workdir / "settle" / "worker", "--max-jobs", str(len(circuits)), models=tuple(circuits)
        ) as worker:
            worker.wait_ready(600)
            for name, circuit in circuits.items():
                folder = workdir / "models" / name
                try:
                    job = market.one_job(
                        net, net.settings, circuit, ngx.load_input(folder / "input.json", circuit.manifest), False
                    )
                    audit = subprocess.run(
                        [sys.executable, "-m", "ngx_zk", "verify", "--job", str(job["job_id"]), "--model", name, "--json"],
                        env=net.env(workdir / "settle" / "auditor"),
                        capture_output=True,
                        text=True,
                        timeout=300,
                        check=False,
                    )
                    valid = audit.returncode == 0 and json.loads(audit.stdout).get("valid") is True
                    results[name].update(settled=True, job_id=job["job_id"], settled_s=job["settled_s"], audit_valid=valid)
                    log(f"coverage: {name} job {job['job_id']} settled in {job['settled_s']:.1f}s, verify --job valid: {valid}")
                except Exception as exc:
                    results[name].update(settled=False, error=f"{type(exc).__name__}: {exc}")
                    log(f"coverage: {name} did not settle: {exc}")
    return results


def run(
    workdir: Path,
    log: Log = lambda _: None,
    models_dir: Path | None = None,
    repeats: int = REPEATS,
    timeout_s: float = TIMEOUT_S,
    names: list[str] | None = None,
    with_settle: bool = False,
) -> dict[str, Any]:
    """Both sides for every model of ``models_dir`` (default: the external-style models); one result row each."""
    folders = [f for f in prepare(models_dir, workdir) if not names or f.name in names]
    rows = []
    for folder in folders:
        row: dict[str, Any] = {"model": folder.name}
        for side in ("raw", "tuned"):
            log(f"coverage: {folder.name}: {'bare EZKL' if side == 'raw' else 'ngx-zk'} build and {repeats} proofs")
            row[side] = measure_side(side, folder, workdir / "sides" / folder.name, repeats, timeout_s, workdir / "ngx-cache")
            said = (
                f"logrows {row[side]['logrows']}, build {row[side]['build_s']:.1f}s, prove {row[side]['prove_s']:.2f}s"
                if row[side]["ok"]
                else row[side]["error"]
            )
            log(f"coverage: {folder.name}: {side}: {said}")
        if row["raw"]["ok"] and row["tuned"]["ok"]:
            row["prove_ratio"] = row["tuned"]["prove_s"] / row["raw"]["prove_s"]
        rows.append(row)
    result: dict[str, Any] = {
        "models_dir": str(models_dir) if models_dir else "benchmarks/coverage_models.py",
        "repeats": repeats,
        "models": rows,
        "count": len(rows),
        "raw_proves": sum(r["raw"]["ok"] for r in rows),
        "tuned_proves": sum(r["tuned"]["ok"] for r in rows),
        "both_prove": sum("prove_ratio" in r for r in rows),
        "geomean_prove_ratio": geomean([r["prove_ratio"] for r in rows if "prove_ratio" in r]),
    }
    if with_settle:
        settled = settle([f for f, r in zip(folders, rows, strict=True) if r["tuned"]["ok"]], workdir, log)
        for row in rows:
            row["settle"] = settled.get(row["model"], {"settled": False, "error": "not built"})
        result["settled"] = sum(bool(r["settle"].get("settled") and r["settle"].get("audit_valid")) for r in rows)
    return result


def _cell(side: dict[str, Any], key: str, fmt: str) -> str:
    return format(side[key], fmt) if side["ok"] else "fails"


def markdown(result: dict[str, Any]) -> list[str]:
    settled = "settled" in result
    lines = [
        f"## g. Coverage: models from {result['models_dir']} (bare EZKL / ngx-zk; prove: median of {result['repeats']})",
        "",
        f"Bare EZKL proves {result['raw_proves']} of {result['count']}, ngx-zk {result['tuned_proves']} of {result['count']}"
        + (f", settled and audited valid on a devnet: {result['settled']} of {result['count']}" if settled else "")
        + f". Prove-call ratio (ngx-zk / bare EZKL) geomean over the {result['both_prove']} both prove: "
        f"**{result['geomean_prove_ratio']:.3f}**.",
        "",
        "| model | logrows | build s | prove s | prove ratio |" + (" settles |" if settled else ""),
        "|---|---|---|---|---|" + ("---|" if settled else ""),
    ]
    for r in result["models"]:
        raw, tuned = r["raw"], r["tuned"]
        ratio = f"**{r['prove_ratio']:.3f}**" if "prove_ratio" in r else "n/a"
        line = (
            f"| {r['model']} | {_cell(raw, 'logrows', 'd')} / {_cell(tuned, 'logrows', 'd')} "
            f"| {_cell(raw, 'build_s', '.1f')} / {_cell(tuned, 'build_s', '.1f')} "
            f"| {_cell(raw, 'prove_s', '.2f')} / {_cell(tuned, 'prove_s', '.2f')} | {ratio} |"
        )
        if settled:
            s = r["settle"]
            line += f" {'yes, job ' + str(s['job_id']) if s.get('settled') and s.get('audit_valid') else 'no'} |"
        lines.append(line)
    for r in result["models"]:
        for side, who in (("raw", "bare EZKL"), ("tuned", "ngx-zk")):
            if not r[side]["ok"]:
                lines.append(f"- {r['model']}, {who}: {r[side]['error']}")
        if settled and not (r["settle"].get("settled") and r["settle"].get("audit_valid")) and r["tuned"]["ok"]:
            lines.append(f"- {r['model']}, settlement: {r['settle'].get('error', 'verify --job not valid')}")
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="benchmarks/coverage.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("models_dir", nargs="?", type=Path, help="folder of model folders (default: the external-style models)")
    p.add_argument("--models", nargs="+", help="only these model folders")
    p.add_argument("--repeats", type=int, default=REPEATS)
    p.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per side and model (build and proofs)")
    p.add_argument("--settle", action="store_true", help="also publish and settle one job per model on a local devnet")
    p.add_argument("--json", type=Path, help="also write the results to this file")
    p.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # exit cleanly: the daemon children are stopped too
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="ngx-coverage-"))
    try:
        result = run(workdir, log, args.models_dir, args.repeats, args.timeout, args.models, args.settle)
    except Exception:
        traceback.print_exc()
        return 1
    finally:
        if args.keep:
            log(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print("\n".join(markdown(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
