"""``ngx-zk crosschain deploy|mirror|board|adapter`` and ``ngx-zk relay``: verified inference delivered on a second chain.

Chain A is the market (``--from``, default: the configured chain), chain B the other chain (``--to``). Keys sign on
B only (``--account`` on a dev chain, else ``--keystore`` / NGX_ZK_KEYSTORE / NGX_ZK_PRIVATE_KEY); A is only read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import console
from ._common import JOB_ID, Client, address_arg, chain_command, emit, json_option, settings_from

if TYPE_CHECKING:
    from ..chain.crosschain import ChainB
    from ..chain.market import Marketplace

F = TypeVar("F", bound=Callable[..., Any])


def two_chains(fn: F) -> F:
    """--from (chain A, read), --to (chain B, where the command signs), --account / --keystore for B."""
    fn = click.option(
        "--keystore",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Keystore that signs on chain B (password from NGX_ZK_KEYSTORE_PASSWORD[_FILE]). "
        "Default: NGX_ZK_KEYSTORE or NGX_ZK_PRIVATE_KEY.",
    )(fn)
    fn = click.option("--account", metavar="ROLE", help="A dev-chain account by role that signs on chain B. Dev chain only.")(fn)
    fn = click.option("--to", "to_url", required=True, metavar="URL", help="JSON-RPC URL of chain B.")(fn)
    return click.option(
        "--from",
        "from_url",
        metavar="URL",
        help="JSON-RPC URL of chain A, the market's. Default: NGX_ZK_RPC_URL, else the running devnet.",
    )(fn)


def _chains(from_url: str | None, to_url: str, account: str | None, keystore: Path | None) -> tuple[Marketplace, Client]:
    settings = settings_from(click.get_current_context())
    market = Client(settings, from_url).market
    return market, Client(settings, to_url, account=account, keystore=keystore)


def _chain_b(b: Client) -> ChainB:
    from ..chain import crosschain as contracts

    return contracts.ChainB(b.chain, contracts.load(b.settings, b.chain))


@click.command("deploy")
@click.option(
    "--force", is_flag=True, help="Deploy again though chain B has live cross-chain contracts (the record is replaced)."
)
@two_chains
@json_option
def deploy_cmd(from_url: str | None, to_url: str, account: str | None, keystore: Path | None, force: bool, as_json: bool) -> None:
    """Deploy a ModelMirror of chain A's market and its InferenceReceiver on chain B.

    The signer becomes the mirror's updater, the one account that may mirror models and pause them there: on a
    public chain hand the role to a timelock (the mirror's proposeUpdater, then the timelock's acceptUpdater).

    \b
    Example:
      ngx-zk crosschain deploy --from http://127.0.0.1:8545 --to http://127.0.0.1:9545 --account deployer
    """
    from ..chain import crosschain as contracts
    from ..errors import DeploymentError

    market, b = _chains(from_url, to_url, account, keystore)
    if not force:
        try:
            live = contracts.load(b.settings, b.chain)
        except DeploymentError:
            live = None
        if live is not None:
            raise DeploymentError(
                f"chain B already has cross-chain contracts (receiver {live.receiver})", "use them, or pass --force"
            )
    with console.progress(f"deploying on chain {b.chain.chain_id}", quiet=as_json) as step:
        step("deploying ModelMirror and InferenceReceiver")
        deployed = contracts.deploy(
            b.chain,
            b.signer,
            source_chain_id=market.chain.chain_id,
            source_market=market.market.address,
            source_registry=market.registry.address,
        )
        path = contracts.save(b.settings, b.chain, deployed)
    emit(
        as_json,
        {**deployed.__dict__, "record": str(path)},
        f"mirror {deployed.mirror} and receiver {deployed.receiver} on chain {deployed.chain_id} "
        f"(copying market {deployed.source_market} of chain {deployed.source_chain_id}; updater {deployed.updater}) -> {path}",
    )


@click.command("mirror")
@click.option("--model", "model_id", type=click.IntRange(1), required=True, help="The model's registry id on chain A.")
@two_chains
@json_option
def mirror_cmd(
    model_id: int, from_url: str | None, to_url: str, account: str | None, keystore: Path | None, as_json: bool
) -> None:
    """Mirror a model of chain A on chain B, or bring its pause in step (the updater).

    The mirror's updater signs.

    Copies the verifier's code from A to B unchanged (its code hash is the one A pinned) unless B has it already.

    \b
    Example:
      ngx-zk crosschain mirror --model 1 --to http://127.0.0.1:9545 --account deployer
    """
    from ..crosschain.mirror import mirror_model

    market, b = _chains(from_url, to_url, account, keystore)
    chain_b = _chain_b(b)
    with console.progress(f"mirroring model {model_id}", quiet=as_json) as step:
        done = mirror_model(market, chain_b, b.signer, model_id, progress=step)
    emit(
        as_json,
        {"model_id": done.model_id, "action": done.action, "verifier": done.verifier, "verifier_copied": done.verifier_copied},
        f"model {model_id}: {done.action} on chain {b.chain.chain_id} (verifier {done.verifier}"
        + (", code copied from chain A)" if done.verifier_copied else ")"),
    )


@click.command("board")
@click.option("--model", "model_id", type=click.IntRange(1), required=True, help="The model's registry id on chain A.")
@click.option("--board", "board", callback=address_arg, help="An existing board on chain B (default: deploy a new one).")
@click.option("--job", "jobs", type=JOB_ID, multiple=True, help="Ask for this chain-A job's output (repeatable).")
@two_chains
@json_option
def board_cmd(
    model_id: int,
    board: str | None,
    jobs: tuple[int, ...],
    from_url: str | None,
    to_url: str,
    account: str | None,
    keystore: Path | None,
    as_json: bool,
) -> None:
    """Deploy the example consumer contract on chain B and ask it for chain-A jobs' outputs.

    The contract is a VerifiedOutputBoard owned by the signer; --board reuses one.

    The board pins the model's verifier code hash and vk digest as chain A's registry has them (its deployment
    fails if the mirror says otherwise) and accepts an output only for input commitments its owner asked for.

    \b
    Example:
      ngx-zk crosschain board --model 1 --job 7 --to http://127.0.0.1:9545 --account consumer
    """
    market, b = _chains(from_url, to_url, account, keystore)
    chain_b = _chain_b(b)
    entry = market.model(model_id)
    with console.progress("setting up the board", quiet=as_json) as step:
        if board is None:
            step("deploying VerifiedOutputBoard")
            board = b.chain.deploy(
                "VerifiedOutputBoard",
                b.signer,
                chain_b.receiver.address,
                chain_b.mirror.address,
                model_id,
                bytes(entry.verifier_code_hash),
                bytes(entry.vk_digest),
            )
        contract = b.chain.contract("VerifiedOutputBoard", board)
        for job_id in jobs:
            step(f"asking for job {job_id}'s output")
            b.chain.send(contract.functions.request(market.job(job_id).commitments_hash), b.signer, what="request")
    hashes = ["0x" + market.job(j).commitments_hash.hex() for j in jobs]
    emit(
        as_json,
        {"board": board, "model_id": model_id, "requested": dict(zip(map(str, jobs), hashes, strict=True))},
        f"board {board} on chain {b.chain.chain_id} for model {model_id}"
        + (f"; asked for job(s) {', '.join(map(str, jobs))}" if jobs else ""),
    )


@click.command("relay")
@click.option("--job", "job_id", type=JOB_ID, required=True, help="The settled job on chain A.")
@click.option(
    "--consumer",
    required=True,
    callback=address_arg,
    help="The contract on chain B that gets the output (implements onVerifiedInference).",
)
@click.option(
    "--explorer",
    metavar="URL",
    help="An explorer whose proof mirror is asked when an optimistic job's provider no longer serves its proof.",
)
@two_chains
@json_option
def relay_cmd(
    job_id: int,
    consumer: str,
    explorer: str | None,
    from_url: str | None,
    to_url: str,
    account: str | None,
    keystore: Path | None,
    as_json: bool,
) -> None:
    """Carry a job settled on chain A to a consumer contract on chain B, which verifies its proof.

    B's InferenceReceiver checks the proof with the mirror and calls --consumer back with the output.

    The proof comes from the settling transaction (eager) or from the provider's endpoint, checked against the
    committed proofHash (optimistic; else from --explorer's mirror). Payment stays on A; relaying costs gas on B. Each output is delivered once
    per consumer; the proof binds the outputs, so a relayer cannot change them.

    \b
    Example:
      ngx-zk relay --from http://127.0.0.1:8545 --to http://127.0.0.1:9545 --job 7 \\
          --consumer 0x5FbDB2315678afecb367f032d93F642f64180aa3 --account consumer
    """
    from ..crosschain.relay import relay

    market, b = _chains(from_url, to_url, account, keystore)
    chain_b = _chain_b(b)
    with console.progress(f"relaying job {job_id}", quiet=as_json) as step:
        done = relay(market, chain_b, b.signer, job_id, consumer, explorer=explorer, progress=step)
    emit(
        as_json,
        {
            "job_id": done.job_id,
            "model_id": done.model_id,
            "consumer": done.consumer,
            "input_commitments": [str(x) for x in done.inputs],
            "outputs": [str(x) for x in done.outputs],
            "proof_source": done.proof_source,
            "delivery_key": done.key,
            "tx": done.tx,
            "block": done.block,
            "gas_used": done.gas_used,
        },
        f"job {job_id} delivered to {done.consumer} on chain {b.chain.chain_id} in tx {done.tx} "
        f"(outputs {', '.join(map(str, done.outputs))}; proof from {done.proof_source})",
    )


@click.command("adapter")
@click.option("--job", "job_id", type=JOB_ID, help="Show this job's validation as the adapter reports it.")
@json_option
@chain_command(signer=True)
def adapter_cmd(access: Client, job_id: int | None, as_json: bool) -> None:
    """Deploy the ERC-8004-style NgxAgentAdapter over this chain's market (read-only views of validations and NRS).

    Agents' validation and reputation registries read it: getValidationStatus(bytes32(jobId)) and
    getSummary(uint256(uint160(provider)), clients, 0, 0). With --job, also print that job's validation.

    \b
    Example:
      ngx-zk crosschain adapter --account deployer --job 1
    """
    market = access.market
    with console.progress("deploying NgxAgentAdapter", quiet=as_json):
        address = market.chain.deploy("NgxAgentAdapter", access.signer, market.market.address, market.reputation.address)
    data: dict[str, Any] = {"adapter": address, "chain_id": market.chain.chain_id}
    if job_id is not None:
        adapter = market.chain.contract("NgxAgentAdapter", address)
        validator, agent, response, response_hash, tag, has = market.chain.call(
            adapter.functions.getValidationStatus(job_id.to_bytes(32, "big"))
        )
        data["validation"] = {
            "job_id": job_id,
            "validator": validator,
            "agent_id": str(agent),
            "response": response,
            "response_hash": "0x" + bytes(response_hash).hex(),
            "tag": bytes(tag).rstrip(b"\0").decode(),
            "has_response": has,
        }
    text = f"NgxAgentAdapter {address} over market {market.market.address} on chain {market.chain.chain_id}"
    if "validation" in data:
        v = data["validation"]
        text += f"\njob {job_id}: " + (
            f"response {v['response']} ({v['tag']}), outputs hash {v['response_hash']}" if has else "no response yet"
        )
    emit(as_json, data, text)
