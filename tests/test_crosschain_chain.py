"""Verified inference on a second chain (issue 26, item 3): two anvils side by side, chain A the market, chain B a
mirror of its model and a receiver. A job settled on A is relayed with ``ngx-zk relay`` and the example consumer on
B gets its output through the callback; a tampered output or proof, a replay, an unmirrored model, a job not settled
and swapped chains are refused with one line each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils.address import to_checksum_address

import ngx_zk as ngx
from ngx_zk.chain import crosschain as contracts
from ngx_zk.chain import devnet
from ngx_zk.chain.crosschain import inner_verifier
from ngx_zk.chain.settlement import Settlement
from ngx_zk.chain.tx import Chain
from ngx_zk.chain.types import commitments_hash
from ngx_zk.crosschain.relay import read_settled
from ngx_zk.errors import ContractRevert

from .chain_fixtures import Net, ngx_zk, run_job
from .optimistic_fixtures import WINDOW, FakeProvider, batch_of, post, provider, short

__all__ = ["provider", "short"]  # fixtures


pytestmark = [pytest.mark.chain, pytest.mark.slow]


@pytest.fixture(scope="module")
def chain_b(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[str]:
    """A second devnet (its own home, a port anvil picks): chain B."""
    settings = ngx.load_settings({"NGX_ZK_HOME": str(tmp_path_factory.mktemp("chain-b")), "NGX_ZK_CACHE_DIR": str(cache_dir)})
    status = devnet.up(settings, port=0, fresh=True)
    try:
        yield status.url
    finally:
        devnet.down(settings)


def cli_json(net: Net, state: Path, *args: str) -> dict[str, object]:
    done = ngx_zk(net, state, *args, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(json.loads(done.stdout))


def cli_error(net: Net, state: Path, *args: str) -> str:
    done = ngx_zk(net, state, *args)
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return " ".join(lines)


def test_a_job_settled_on_a_is_delivered_on_b_once_and_only_as_proven(chain_snapshot: Net, chain_b: str, tmp_path: Path) -> None:
    net, state = chain_snapshot, tmp_path / "cli"
    b = Chain([chain_b])
    snap = b.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        deployed = cli_json(net, state, "crosschain", "deploy", "--to", chain_b, "--account", "deployer")
        assert deployed["source_market"] == to_checksum_address(net.market.market.address)
        mirrored = cli_json(
            net, state, "crosschain", "mirror", "--model", str(net.model_id), "--to", chain_b, "--account", "deployer"
        )
        assert mirrored["action"] == "mirrored" and mirrored["verifier_copied"] is True
        entry = net.market.model(net.model_id)
        assert b.w3.keccak(b.w3.eth.get_code(to_checksum_address(str(mirrored["verifier"])))) == entry.verifier_code_hash
        again = cli_json(
            net, state, "crosschain", "mirror", "--model", str(net.model_id), "--to", chain_b, "--account", "deployer"
        )
        assert again["action"] == "up to date" and again["verifier_copied"] is False

        # Before any job: a job that does not exist is refused, and so is an unsettled one (none here yet).
        assert "no job with id 99" in cli_error(
            net, state, "relay", "--job", "99", "--consumer", str(deployed["receiver"]), "--to", chain_b, "--account", "consumer"
        )

        job_id = int(str(run_job(net, tmp_path)["job_id"]))
        board = cli_json(
            net,
            state,
            "crosschain",
            "board",
            "--model",
            str(net.model_id),
            "--job",
            str(job_id),
            "--to",
            chain_b,
            "--account",
            "consumer",
        )["board"]
        relayed = cli_json(
            net, state, "relay", "--job", str(job_id), "--consumer", str(board), "--to", chain_b, "--account", "consumer"
        )
        outputs_a = net.market.outputs(job_id)
        relayed_outputs = relayed["outputs"]
        assert isinstance(relayed_outputs, list) and [int(x) for x in relayed_outputs] == outputs_a
        assert str(relayed["proof_source"]).startswith("tx ")  # an eager job: the settling calldata
        print(f"relay gas on chain B: {relayed['gas_used']}")  # the README's figure (pytest -s)

        # The callback fired on B: the board holds A's outputs for the job's input commitments.
        contract = b.contract("VerifiedOutputBoard", str(board))
        job_hash = net.market.job(job_id).commitments_hash
        assert b.call(contract.functions.answered(job_hash))
        assert [int(x) for x in b.call(contract.functions.outputsOf(job_hash))] == outputs_a

        # On chain A, the ERC-8004-style adapter reports the job as a validation by the market.
        adapter = cli_json(net, state, "crosschain", "adapter", "--account", "deployer", "--job", str(job_id))
        validation = adapter["validation"]
        assert isinstance(validation, dict)
        job_a = net.market.job(job_id)
        assert validation["has_response"] is True and validation["response"] == 100 and validation["tag"] == "ngx.zkml.eager"
        assert validation["validator"] == to_checksum_address(net.market.market.address)
        assert job_a.provider is not None and int(validation["agent_id"]) == int(job_a.provider, 16)
        assert validation["response_hash"] == "0x" + net.market.outputs_hash(job_id).hex()

        # A replay, by the CLI or straight to the receiver, is refused; nothing changes.
        assert "already delivered" in cli_error(
            net, state, "relay", "--job", str(job_id), "--consumer", str(board), "--to", chain_b, "--account", "consumer2"
        )
        carried = read_settled(net.market, job_id)
        receiver = b.contract("InferenceReceiver", str(deployed["receiver"]))
        relayer = devnet.dev_signer(net.settings, "consumer2")
        with pytest.raises(ContractRevert, match="Receiver__AlreadyDelivered"):
            b.send(
                receiver.functions.deliver(board, 7, net.model_id, carried.inputs, carried.outputs, carried.proof),
                relayer,
                what="replay",
            )

        # A relayer cannot change an output or the proof: the mirror's verifier refuses them.
        other = contracts.ChainB(b, contracts.load(net.settings, b))
        tampered = [carried.outputs[0] + 1, *carried.outputs[1:]]
        with pytest.raises(ContractRevert, match="Mirror__InvalidProof"):
            b.send(
                receiver.functions.deliver(board, job_id, net.model_id, carried.inputs, tampered, carried.proof),
                relayer,
                what="tampered output",
            )
        # ERC-7992's verifyInference, which anyone may call, says the same: the real proof holds, a flipped byte does not.
        verify = other.mirror.functions.verifyInference
        assert b.call(verify(net.model_id, carried.inputs, carried.outputs, carried.proof)) is True
        proof = bytearray(carried.proof)
        proof[64] ^= 1
        with pytest.raises(ContractRevert, match="Mirror__InvalidProof"):
            b.call(verify(net.model_id, carried.inputs, carried.outputs, bytes(proof)))
        assert not other.delivered(other.delivery_key(str(board), net.model_id, carried.inputs, tampered))
        assert commitments_hash(carried.inputs) == job_hash

        # A second deploy is refused without --force (it would orphan the mirrored models).
        assert "already has cross-chain contracts" in cli_error(
            net, state, "crosschain", "deploy", "--to", chain_b, "--account", "deployer"
        )
        # Swapped chains: chain B has no market to read the job from.
        assert "no contracts at" in cli_error(
            net,
            state,
            "relay",
            "--job",
            str(job_id),
            "--consumer",
            str(board),
            "--from",
            chain_b,
            "--to",
            net.url,
            "--account",
            "consumer",
        )
        # A fresh mirror that has not mirrored the model: refused before any transaction.
        cli_json(net, state, "crosschain", "deploy", "--to", chain_b, "--account", "deployer", "--force")
        fresh_board = str(board)
        assert f"model {net.model_id} is not mirrored on chain B" in cli_error(
            net, state, "relay", "--job", str(job_id), "--consumer", fresh_board, "--to", chain_b, "--account", "consumer"
        )
        # A mirror of another market: the wrong chain pair, named.
        deployer = devnet.dev_signer(net.settings, "deployer")
        elsewhere = contracts.deploy(
            b, deployer, source_chain_id=net.market.chain.chain_id, source_market=entry.owner, source_registry=entry.owner
        )
        contracts.save(net.settings, b, elsewhere)
        assert "wrong chain: the receiver on chain B mirrors market" in cli_error(
            net, state, "relay", "--job", str(job_id), "--consumer", fresh_board, "--to", chain_b, "--account", "consumer"
        )
    finally:
        b.w3.provider.make_request("evm_revert", [snap])  # type: ignore[arg-type]


def test_an_optimistic_job_is_relayed_from_its_providers_served_proof_checked_against_the_commitment(
    short: Net, provider: FakeProvider, chain_b: str, tmp_path: Path
) -> None:
    """Finalized unchallenged, the job's proof is not on chain: relay takes the one its provider serves, only if its
    keccak is the committed proofHash, and B verifies it."""
    net, state, m = short, tmp_path / "cli", short.market
    b = Chain([chain_b])
    snap = b.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        cli_json(net, state, "crosschain", "deploy", "--to", chain_b, "--account", "deployer", "--force")
        cli_json(net, state, "crosschain", "mirror", "--model", str(net.model_id), "--to", chain_b, "--account", "deployer")
        record = post(net, tmp_path / "consumer")
        provider.take(record)
        job = str(record.job_id)
        board = cli_json(
            net,
            state,
            "crosschain",
            "board",
            "--model",
            str(net.model_id),
            "--job",
            job,
            "--to",
            chain_b,
            "--account",
            "consumer",
        )["board"]
        assert "not Settled" in cli_error(
            net, state, "relay", "--job", job, "--consumer", str(board), "--to", chain_b, "--account", "consumer"
        )
        net.travel(WINDOW + 1)
        settlement, batch_id = Settlement(m), batch_of(net, record.job_id)
        settlement.finalize(net.signer("consumer"), batch_id, settlement.batch_results(batch_id))

        good = provider.proofs[record.job_id]["proof"]
        provider.proofs[record.job_id]["proof"] = good[:-2] + ("00" if good[-2:] != "00" else "01")  # one byte off
        refused = cli_error(net, state, "relay", "--job", job, "--consumer", str(board), "--to", chain_b, "--account", "consumer")
        assert "proof is unavailable" in refused and "keccak is not the committed proofHash" in refused, refused

        provider.proofs[record.job_id]["proof"] = good
        relayed = cli_json(net, state, "relay", "--job", job, "--consumer", str(board), "--to", chain_b, "--account", "consumer")
        assert str(relayed["proof_source"]).startswith("committed proof 0x") and "provider" in str(relayed["proof_source"])
        contract = b.contract("VerifiedOutputBoard", str(board))
        job_hash = m.job(record.job_id).commitments_hash
        assert [int(x) for x in b.call(contract.functions.outputsOf(job_hash))] == m.outputs(record.job_id)
    finally:
        b.w3.provider.make_request("evm_revert", [snap])  # type: ignore[arg-type]


def test_a_binding_verifier_is_recognised_so_mirror_refuses_to_copy_it(chain_snapshot: Net) -> None:
    """A binding's code names its inner verifier's address on chain A: copied to B it would call whatever is there."""
    net, m = chain_snapshot, chain_snapshot.market
    entry = m.model(net.model_id)
    binding = m.deploy_binding(net.signer("deployer"), entry.verifier, 1, what="deploy a binding")
    assert inner_verifier(m.chain, binding) == to_checksum_address(entry.verifier)
    assert inner_verifier(m.chain, entry.verifier) is None  # the mlp's dedicated verifier stands alone
