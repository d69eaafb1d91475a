"""Write the results: ``latest.json`` (everything), ``latest.md`` (the tables), ``latest.png`` (a chart)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MB = 1024 * 1024


def _f(value: Any, digits: int = 2) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def _pair(row: dict[str, Any], key: str, scale: float = 1.0, digits: int = 2) -> str:
    return f"{_f(row['raw'][key] * scale, digits)} / {_f(row['tuned'][key] * scale, digits)}"


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [f"# ngx-zk benchmarks ({meta['date']}, {meta['cpus']} CPUs, ezkl {meta['ezkl']}, total {meta['wall_s']:.0f}s)", ""]
    a = results.get("pipeline")
    if a:
        reps = a["models"][0]["repeats"] if a["models"] else 0
        lines += [
            f"## a. Raw EZKL vs ngx-zk tuned build (raw / tuned; prove and verify: median of {reps})",
            "",
            "| model | logrows | setup s | prove s | prove ratio | pk MB | verify ms | max abs error |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in a["models"]:
            lines.append(
                f"| {r['model']} | {r['raw']['logrows']} / {r['tuned']['logrows']} | {_pair(r, 'setup_s')} | {_pair(r, 'prove_s')} "
                f"| **{r['prove_ratio']:.3f}** | {_pair(r, 'pk_bytes', 1 / MB, 0)} | {_pair(r, 'verify_s', 1000, 0)} "
                f"| {_pair(r, 'max_abs_error', 1, 5)} |"
            )
        lines += [
            "",
            "| model | tuned layout | tuner's own timing (default / chosen, s) | tuner's decision | error tuned / raw |",
            "|---|---|---|---|---|",
        ]
        for r in a["models"]:
            t = r["tuned"].get("tuner_timing") or {}
            lines.append(
                f"| {r['model']} | {r['tuned'].get('layout')} | {_f(t.get('default_prove_s'))} / {_f(t.get('chosen_prove_s'))} "
                f"| {t.get('decision') or 'n/a'} | {_f(r.get('error_ratio'), 1)}x |"
            )
        lines += [
            "",
            f"Geometric mean of the prove-time ratios (tuned / raw): **{a['geomean_prove_ratio']:.3f}** "
            f"(worst {a['worst_prove_ratio']:.3f}; `ezkl.prove` alone: {a['geomean_prove_core_ratio']:.3f}). "
            "Raw prove = gen_witness + prove; tuned prove = one `ngx_zk.prove` call. "
            "Error: max |circuit output - onnxruntime float output| on the model's input.json.",
            "",
            "With a KZG-committed input (`--visibility polycommit/fixed/public`: no Poseidon in the circuit):",
            "",
            "| model | logrows | prove s | prove ratio vs raw | max abs error |",
            "|---|---|---|---|---|",
            *(
                f"| {r['model']} | {r['polycommit']['logrows']} | {_f(r['polycommit']['prove_s'])} "
                f"| **{r['polycommit_prove_ratio']:.3f}** | {_f(r['polycommit']['max_abs_error'], 5)} |"
                for r in a["models"]
                if "polycommit" in r
            ),
            "",
            f"Geometric mean (polycommit / raw): **{_f(a.get('geomean_polycommit_prove_ratio'), 3)}**.",
            "",
        ]
    m = results.get("market")
    if m:
        b = m["latency"]
        lines += [
            "## b. End-to-end job latency (post -> settled as seen by the consumer) against bare proving",
            "",
            "| model (logrows) | job | bare prove s | job s (median) | job / bare | job - bare s |",
            "|---|---|---|---|---|---|",
        ]
        for r in b["models"]:
            for label, key in (
                ("cold (first job, offered)", "cold"),
                ("warm, offered (`prove-job --provider`)", "warm"),
                ("warm, open (input after the claim)", "warm_open"),
            ):
                ratio = _f(r[f"{key}_ratio"])
                lines.append(
                    f"| {r['model']} ({r['logrows']}) | {label} | {_f(r['bare_prove_s'])} | {_f(r[f'{key}_s'])} "
                    f"| {f'**{ratio}**' if key == 'warm' else ratio} | {_f(r[f'{key}_s'] - r['bare_prove_s'])} |"
                )
        lines += [
            "",
            f"Worker ready {_f(b['worker_startup_s'], 1)} s after start; worker `--poll {b['worker_poll_s']}`, consumer "
            f"`--poll {b['consumer_poll_s']}` (the defaults; both also wake on each new block through anvil's WebSocket, the "
            "worker on offers, inputs and finished proofs). Median per stage (s) of the smallest model's warm jobs, offered: "
            + ", ".join(f"{k} {v:.3f}" for k, v in b["models"][0]["warm_breakdown_s"].items())
            + "; open: "
            + ", ".join(f"{k} {v:.3f}" for k, v in b["models"][0]["warm_open_breakdown_s"].items())
            + f". The consumer's own re-verification adds {_f(b['models'][0]['warm_verified_s'] - b['models'][0]['warm_s'], 3)} s. "
            f"Proving key rewritten (setup) while the worker served: {'YES' if b['pk_rewritten_during_jobs'] else 'no'}.",
            "",
            "## c. Gas per job (mlp; steady state: the last of the jobs run per verifier)",
            "",
            "| verifier | approve | postJob | claimJob | deliverInput | submitResult | of which verifier (estimateGas) | (call trace) "
            "| submitResult bookkeeping |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for kind, g in m["gas"].items():
            traced = f"{g['verifier_traced']:,}" if g["verifier_traced"] is not None else "n/a"
            lines.append(
                f"| {kind} | {g['approve']:,} | {g['post']:,} | {g['claim']:,} | {g['deliver_input']:,} "
                f"| {g['submit_result']:,} | {g['verifier_estimate']:,} | {traced} | **{g['bookkeeping']:,}** |"
            )
        lines += [
            "",
            "Verifier share: eth_estimateGas of `verifyProof` on the verifier itself minus the 21,000 + calldata "
            "intrinsic cost; the trace column is the gas of the market's staticcall to the verifier inside submitResult; "
            "bookkeeping = submitResult minus its intrinsic cost minus the same verifier call made alone (issue 13's measure). "
            "Wall time of each transaction through `Chain.send` on anvil (dedicated, s): "
            + ", ".join(f"{k} {v:.3f}" for k, v in m["gas"]["dedicated"]["tx_seconds"].items())
            + ".",
            "",
        ]
        cb = m.get("callback_gas")
        if cb:
            used = f"{cb['callback_used']:,}" if cb["callback_used"] is not None else "n/a"
            lines += [
                "A contract consumer's job (issue 16; the example LoanGate, dedicated verifier, callback gas limit "
                f"{cb['callback_limit']:,}): the gate's `requestLoan` (which posts the job) {cb['request_loan']:,} gas "
                f"against a plain postJob {cb['plain_post']:,}; claimJob {cb['claim']:,}; deliverInput by the borrower "
                f"{cb['deliver_input']:,}; submitResult with the callback {cb['submit_result']:,} against "
                f"{cb['plain_submit_result']:,} (**+{cb['submit_extra']:,}**, of which the gate's callback used {used}).",
                "",
            ]
        lines += ["## d. Worker throughput (mlp)", "", "| concurrency | jobs | seconds | jobs / min |", "|---|---|---|---|"]
        for t in m["throughput"]:
            lines.append(
                f"| {t['concurrency']} | {t['settled']}/{t['jobs']} | {_f(t['seconds'], 1)} | **{_f(t['jobs_per_min'], 1)}** |"
            )
        lines.append("")
    e = results.get("batch")
    if e:
        lines += [
            "## e. Batch jobs: cost per verified inference (steady state: the second job of each circuit)",
            "",
            "| circuit | N | logrows | post + claim + deliver + submit gas | per inference | vs a job of one "
            "| calldata B per inference | proof B | prove CPU s per inference | vs a job of one |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in e["rows"]:
            lines.append(
                f"| {r['model']} | {r['batch']} | {r['logrows']} | {r['total_gas']:,} | **{r['gas_per_inference']:,.0f}** "
                f"| {_f(r.get('gas_vs_single'), 3)} | {r['calldata_per_inference']:,.0f} | {r['proof_bytes']:,} "
                f"| {_f(r['prove_cpu_s_per_inference'], 3)} | {_f(r.get('prove_vs_single'), 3)} |"
            )
        lines += [
            "",
            "Gas of submitResult (`" + "`, `".join(f"N={r['batch']}: {r['submit_result']:,}" for r in e["rows"]) + "`); "
            "inputs delivered on chain (deliverInput), so the figure is what a consumer without a provider endpoint pays.",
            "",
        ]
    if results.get("load"):
        from benchmarks.load import markdown as load_markdown

        lines += load_markdown(results["load"])
    if results.get("providers"):
        from benchmarks.providers import markdown as providers_markdown

        lines += providers_markdown(results["providers"])
    if results.get("settlement"):
        from benchmarks.settlement_gas import markdown as settlement_markdown

        lines += settlement_markdown(results["settlement"])
    if results.get("coverage"):
        from benchmarks.coverage import markdown as coverage_markdown

        lines += coverage_markdown(results["coverage"])
    if results.get("anomaly"):
        from benchmarks.anomaly_traffic import markdown as anomaly_markdown

        lines += anomaly_markdown(results["anomaly"])
    if results.get("weights"):
        from benchmarks.weights import markdown as weights_markdown

        lines += weights_markdown(results["weights"])
    if results.get("cadence"):
        from benchmarks.cadence import markdown as cadence_markdown

        lines += cadence_markdown(results["cadence"])
    for failure in results.get("failures", []):
        lines.append(f"FAILED: {failure}")
    return "\n".join(lines).rstrip() + "\n"


def chart(results: dict[str, Any], path: Path) -> str | None:
    """A 2x2 bar chart; returns why not when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[dev]'): no PNG chart"
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    a, m = results.get("pipeline"), results.get("market")
    if a:
        ax = axes[0][0]
        names = [r["model"] for r in a["models"]]
        xs = range(len(names))
        ax.bar([x - 0.2 for x in xs], [r["raw"]["prove_s"] for r in a["models"]], 0.4, label="raw EZKL")
        ax.bar([x + 0.2 for x in xs], [r["tuned"]["prove_s"] for r in a["models"]], 0.4, label="ngx-zk tuned")
        ax.set_xticks(list(xs), names)
        ax.set_ylabel("prove time (s)")
        ax.set_title(f"a. prove time (geomean ratio {a['geomean_prove_ratio']:.2f})")
        ax.legend()
    if m:
        rows = m["latency"]["models"]
        ax = axes[0][1]
        for i, (key, color) in enumerate((("bare_prove", "gray"), ("warm", "tab:green"), ("warm_open", "tab:olive"))):
            ax.bar(
                [x + (i - 1) * 0.27 for x in range(len(rows))],
                [r[f"{key}_s"] for r in rows],
                0.27,
                color=color,
                label={"bare_prove": "bare prove", "warm": "warm job, offered", "warm_open": "warm job, open"}[key],
            )
        ax.set_xticks(range(len(rows)), [r["model"] for r in rows])
        ax.set_ylabel("seconds")
        ax.legend()
        ax.set_title("b. end-to-end latency (warm / bare: " + ", ".join(f"{r['warm_ratio']:.2f}" for r in rows) + ")")
        ax = axes[1][0]
        steps = ["post", "claim", "deliver_input", "submit_result", "verifier_estimate"]
        kinds = list(m["gas"])
        for i, kind in enumerate(kinds):
            ax.bar([x + (i - 0.5) * 0.4 for x in range(len(steps))], [m["gas"][kind][s] / 1000 for s in steps], 0.4, label=kind)
        ax.set_xticks(range(len(steps)), ["post", "claim", "deliver", "submit", "of which\nverifier"])
        ax.set_ylabel("gas (thousands)")
        ax.set_title("c. gas per job")
        ax.legend()
        ax = axes[1][1]
        ax.bar([f"concurrency {t['concurrency']}" for t in m["throughput"]], [t["jobs_per_min"] for t in m["throughput"]])
        ax.set_ylabel("jobs / minute")
        ax.set_title("d. worker throughput")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


def write(results: dict[str, Any], folder: Path) -> tuple[str, str | None]:
    """Write latest.json, latest.md and latest.png into ``folder``; returns the markdown and any chart problem."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    text = markdown(results)
    (folder / "latest.md").write_text(text)
    return text, chart(results, folder / "latest.png")
