"""`make bench`: measure ngx-zk against bare EZKL and against its own proving time, in one run.

    .venv/bin/python benchmarks/run.py            # full run: ~6-7 min on 2 idle cores (up to ~2x when shared)
    .venv/bin/python benchmarks/run.py --quick    # smoke run, ~1-2 min: 2 models, 1 repeat, fewer jobs
    .venv/bin/python benchmarks/run.py --only coverage --coverage-dir DIR   # part g on any folder of models

Writes benchmarks/results/latest.{json,md,png} and prints the markdown tables. Everything it
creates (anvil, worker processes, keys, SRS files) lives in one temporary folder, removed at the end
even on failure or Ctrl-C (``--keep`` keeps it for a look).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import batch, coverage, market, pipeline, report  # noqa: E402
from ngx_zk import _ezkl  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
QUICK = {
    "models": ["mlp", "logistic_sigmoid"],
    "repeats": 1,
    "warm_jobs": 2,
    "throughput_jobs": 3,
    "gas_jobs": 1,
    "coverage_models": ["tree", "boosted"],
    "coverage_repeats": 1,
}
FULL = {
    "models": list(pipeline.EXAMPLES),
    "repeats": 5,
    "warm_jobs": 5,
    "throughput_jobs": 6,
    "gas_jobs": 2,
    "coverage_models": [],  # all of them
    "coverage_repeats": 3,
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="benchmarks/run.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK}")
    p.add_argument("--repeats", type=int, help="prove/verify repeats per side in part a (full: 5)")
    p.add_argument("--models", nargs="+", choices=pipeline.EXAMPLES, help="example models for part a")
    p.add_argument("--warm-jobs", type=int, help="warm end-to-end jobs after the cold one (full: 5)")
    p.add_argument("--throughput-jobs", type=int, help="jobs per throughput run (full: 6)")
    p.add_argument("--gas-jobs", type=int, help="jobs per verifier kind for gas (full: 2; the last is reported)")
    p.add_argument(
        "--only",
        choices=("pipeline", "market", "batch", "coverage", "providers", "settlement", "anomaly", "weights", "cadence"),
        help="run one part only (batch: part e, batch-job cost; coverage: part g, models nobody here wrote vs bare EZKL; "
        "providers: part h, claim races at 1, 10, 100 and 1,000 simulated providers, claim spread off and on (at 1,000 on "
        "only: off, every provider claims every job; python -m benchmarks.providers --providers 1000 --spread off runs it), "
        "the 1,000 point ~15 min on 2 cores (--quick: 10 and 100, a few minutes); "
        "settlement: part i, gas per job of eager single, eager batched, optimistic and gasless batched (fillOrders) settlement at N = 1, 4, 16; "
        "anomaly: part j, the anomaly detector's precision and recall on generated traffic with scripted attackers, ~10 s; "
        "weights: part k, proving time of hashed vs fixed weights, medians; "
        "cadence: part l, one plain job's latency (post, claimed, settled, audited) on instant mining, 2 s and 12 s blocks, "
        "~4 min, --quick one job each)",
    )
    p.add_argument("--coverage-dir", type=Path, help="part g: a folder of model folders (default: coverage_models.py's)")
    p.add_argument("--coverage-models", nargs="+", help="part g: only these model folders (full: all)")
    p.add_argument("--coverage-repeats", type=int, help="part g: proofs per side and model (full: 3)")
    p.add_argument("--coverage-settle", action="store_true", help="part g: also settle one job per model on a local devnet")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder (default benchmarks/results)")
    p.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    args = p.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if min(args.repeats, args.throughput_jobs, args.gas_jobs, args.coverage_repeats) < 1 or args.warm_jobs < 0:
        p.error("repeats and job counts must be at least 1 (warm jobs at least 0)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: stop anvil and the worker
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="ngx-bench-"))
    results: dict[str, Any] = {
        "meta": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "cpus": os.cpu_count(),
            "machine": platform.platform(),
            "python": platform.python_version(),
            "ezkl": _ezkl.VERSION,
            "quick": args.quick,
            "repeats": args.repeats,
            "models": args.models,
            "warm_jobs": args.warm_jobs,
            "throughput_jobs": args.throughput_jobs,
            "gas_jobs": args.gas_jobs,
        }
    }
    failures: list[str] = []
    try:
        if args.only in (None, "pipeline"):
            try:
                results["pipeline"] = pipeline.run(args.models, workdir, args.repeats, log)
            except Exception as exc:
                traceback.print_exc()
                failures.append(f"part a: {type(exc).__name__}: {exc}")
        if args.only in (None, "market"):
            try:
                results["market"] = market.run(
                    workdir,
                    workdir / "ngx-cache",
                    warm_jobs=args.warm_jobs,
                    throughput_jobs=args.throughput_jobs,
                    gas_jobs=args.gas_jobs,
                    log=log,
                )
            except Exception as exc:
                traceback.print_exc()
                failures.append(f"parts b-d: {type(exc).__name__}: {exc}")
        if args.only in (None, "batch"):
            try:
                with market.local_market(workdir / "batch", workdir / "ngx-cache", log) as net:
                    results["batch"] = batch.run(net, workdir, log, batch.QUICK_SIZES if args.quick else batch.SIZES)
            except Exception as exc:
                traceback.print_exc()
                failures.append(f"part e: {type(exc).__name__}: {exc}")
        if args.only in (None, "coverage"):
            try:
                results["coverage"] = coverage.run(
                    workdir / "coverage",
                    log,
                    args.coverage_dir,
                    args.coverage_repeats,
                    names=args.coverage_models,
                    with_settle=args.coverage_settle,
                )
            except Exception as exc:
                traceback.print_exc()
                failures.append(f"part g: {type(exc).__name__}: {exc}")
        if args.only in (None, "anomaly"):
            try:
                from benchmarks import anomaly_traffic  # part j: anomaly detection on generated traffic (no chain)

                results["anomaly"] = anomaly_traffic.run(workdir / "anomaly")
            except Exception as exc:
                traceback.print_exc()
                failures.append(f"part j: {type(exc).__name__}: {exc}")
        if args.only in (None, "weights"):
            try:
                from benchmarks import weights  # part k: proving time of private (hashed) weights against fixed

                results["weights"] = weights.run(workdir / "weights", workdir / "ngx-cache", args.repeats, quick=args.quick)
            except Exception as exc:
                traceback.print_exc()
                failures.append(f"part k: {type(exc).__name__}: {exc}")
        if args.only in (None, "cadence"):
            try:
                from benchmarks import cadence  # part l: one job's latency per block cadence (instant, 2 s, 12 s)

                plan = cadence.QUICK if args.quick else cadence.FULL
                results["cadence"] = cadence.run(workdir / "cadence", workdir / "ngx-cache", log, plan)
            except Exception as exc:
                traceback.print_exc()
                failures.append(f"part l: {type(exc).__name__}: {exc}")
        if args.only in (None, "providers"):
            try:
                from benchmarks import providers  # part h: claim races against the number of providers

                with market.local_market(workdir / "providers", workdir / "ngx-cache", log) as net:
                    sizes = providers.QUICK if args.quick else providers.FULL
                    results["providers"] = providers.curve(net, workdir / "provider-runs", log=log, **sizes)
            except Exception as exc:
                traceback.print_exc()
                failures.append(f"part h: {type(exc).__name__}: {exc}")
        if args.only in (None, "settlement"):
            try:
                from benchmarks import settlement_gas  # part i: settlement gas per job, four modes side by side

                with market.local_market(workdir / "settlement", workdir / "ngx-cache", log) as net:
                    results["settlement"] = settlement_gas.run(net, workdir / "settlement-runs", log)
            except Exception as exc:
                traceback.print_exc()
                failures.append(f"part i: {type(exc).__name__}: {exc}")
        if args.only is None:
            try:
                from benchmarks import load  # part f: the market under load; the fleet against the local pool

                with market.local_market(workdir / "load", workdir / "ngx-cache", log) as net:
                    results["load"] = load.run(net, workdir / "load-runs", log=log, **(load.QUICK if args.quick else load.FULL))
            except Exception as exc:
                traceback.print_exc()
                failures.append(f"part f: {type(exc).__name__}: {exc}")
    finally:
        if args.keep:
            log(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["meta"]["wall_s"] = time.perf_counter() - started
    results["failures"] = failures
    text, chart_problem = report.write(results, args.out)
    print(text)
    if chart_problem:
        log(chart_problem)
    log(f"results in {args.out}/latest.{{json,md,png}}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
