#!/usr/bin/env python3
"""A contract as the consumer: a lender's LoanGate decides a loan on a verified inference.

What happens, on the chain the environment points at (``NGX_ZK_RPC_URL``, a devnet by default):

1. the lender deploys ``LoanGate`` (verifier_contracts/src/examples/LoanGate.sol) for a published
   model, with a score threshold and a callback gas limit, and funds it with NGX;
2. the borrower commits to its features off chain (a fresh secret salt) and calls
   ``requestLoan(commitments)``: the gate posts the job and pays for it, naming the borrower as the
   job's deliverer;
3. the borrower hands the salted input to whichever provider claims the job
   (``Client.deliver``, as ``ngx-zk job deliver`` does) and waits for the settlement;
4. the market settles the proof, pays the provider, and then calls the gate's
   ``onInferenceResult`` with the verified outputs: the gate approves the loan iff the score is below
   the threshold (event ``LoanDecided``).

A provider's worker must serve the model (``ngx-zk worker --model mlp ...``). Run from the
repository root after ``make setup``, with a devnet deployed and the model published::

    .venv/bin/python examples/loan_gate.py --model mlp --input models/mlp/input.json --threshold 0.5
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from ngx_zk import Client
from ngx_zk.chain.market import JobTerms
from ngx_zk.chain.types import CallbackResult
from ngx_zk.commitment import commit
from ngx_zk.errors import NgxZkError
from ngx_zk.inputs import load as load_input
from ngx_zk.units import fmt_ngx


def run(
    model: str,
    input_file: Path,
    *,
    threshold: float,
    output_index: int = 0,
    price: int = 10 * 10**18,
    fund: int = 100 * 10**18,
    callback_gas: int = 200_000,
    lender: str = "consumer",
    borrower: str = "consumer2",
    timeout_s: float = 300,
    say: object = print,
) -> dict[str, object]:
    """Deploy and fund a LoanGate, request a loan as the borrower, deliver its input, return the gate's decision."""
    log = say if callable(say) else print
    lend, borrow = Client(account=lender), Client(account=borrower)
    market, chain = lend.market, lend.market.chain
    circuit = lend.circuit(model)
    known = market.deployment.models.get(circuit.name)
    if known is None:
        raise NgxZkError(
            f"model {circuit.name!r} is not published on chain {chain.chain_id}",
            f"publish it first: ngx-zk model publish {circuit.name}",
        )
    scale = circuit.manifest.outputs[0].scale
    limit = round(threshold * 2**scale)  # the gate compares the output's fixed-point integer
    terms = JobTerms(known.model_id, price, price, claim_window=300, prove_window=600, callback_gas_limit=callback_gas)
    gate_address = chain.deploy(
        "LoanGate",
        lend.signer,
        market.market.address,
        market.token.address,
        lend.signer.address,
        terms.as_tuple(),
        limit,
        output_index,
    )
    market.transfer(lend.signer, gate_address, fund)
    log(
        f"lender {lend.signer.address} deployed LoanGate at {gate_address} and funded it with {fmt_ngx(fund)} "
        f"(approves scores below {threshold} = {limit} at scale 2^{scale})"
    )

    commitment, salted = commit(circuit.manifest, load_input(input_file, circuit.manifest), new_salt=True)
    gate = chain.contract("LoanGate", gate_address)
    receipt = chain.send(gate.functions.requestLoan(list(commitment.values)), borrow.signer, what="request a loan")
    job_id = int(chain.events_in(receipt, gate, "LoanRequested")[0]["jobId"])
    log(f"borrower {borrow.signer.address} requested a loan: the gate posted job {job_id} (the borrower delivers the input)")

    with tempfile.TemporaryDirectory(prefix="ngx-loan-") as tmp:  # the salted input is the borrower's secret
        path = Path(tmp) / "salted.json"
        path.write_text(json.dumps(salted.to_json()))
        path.chmod(0o600)
        result = borrow.deliver(job_id, path, circuit, timeout_s=timeout_s)
    settle = chain.receipt(result.tx["settle"])
    assert settle is not None
    decided = chain.events_in(settle, gate, "LoanDecided")
    callback = market.emitted(CallbackResult, settle)
    decision: dict[str, object] = {
        "job_id": job_id,
        "gate": gate_address,
        "borrower": borrow.signer.address,
        "provider": result.provider,
        "outputs": list(result.outputs),
        "callback_ok": bool(callback and callback[0].success),
        "score": int(decided[0]["score"]) if decided else None,
        "approved": bool(decided[0]["approved"]) if decided else None,
        "approved_on_chain": bool(chain.call(gate.functions.approved(borrow.signer.address))),
        "settle_tx": result.tx["settle"],
        "settle_gas": settle.gas_used,
    }
    verdict = "APPROVED" if decision["approved"] else "REJECTED"
    log(
        f"job {job_id} settled by {result.provider}; the market called the gate back "
        f"({'ok' if decision['callback_ok'] else 'FAILED'}): score {decision['score']} -> loan {verdict}"
    )
    return decision


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: examples/loan_gate.py --model mlp --input models/mlp/input.json --threshold 0.5",
    )
    parser.add_argument("--model", required=True, help="a published circuit (its first output is the risk score)")
    parser.add_argument("--input", required=True, type=Path, help="the borrower's features (input JSON)")
    parser.add_argument("--threshold", type=float, default=0.0, help="approve scores below this (default 0.0)")
    parser.add_argument("--output-index", type=int, default=0, help="which output is the score (default 0)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the settlement")
    parser.add_argument("--json", action="store_true", help="print the decision as one JSON object")
    args = parser.parse_args(argv)
    quiet = (lambda _: None) if args.json else (lambda text: print(text, file=sys.stderr))
    try:
        decision = run(
            args.model, args.input, threshold=args.threshold, output_index=args.output_index, timeout_s=args.timeout, say=quiet
        )
    except NgxZkError as exc:
        print(f"error: {exc.message}" + (f"\n  hint: {exc.hint}" if exc.hint else ""), file=sys.stderr)
        return 1
    print(
        json.dumps(decision)
        if args.json
        else f"loan {'approved' if decision['approved'] else 'rejected'} (score {decision['score']}, job {decision['job_id']})"
    )
    return 0 if decision["callback_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
