"""The updater's side: copy one model's commitment from chain A's registry to chain B's mirror, and keep its pause in step.

The verifier on B is the very code A pinned: its runtime bytes are read from A and deployed on B as they are (a
10-byte constructor returns them), so its code hash is the pinned one by construction; the mirror re-checks that
hash on every verification. Entries are write-once on B: an entry that differs from A's is reported, never rewritten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ..chain.crosschain import ChainB, copy_code, inner_verifier
from ..chain.market import Marketplace
from ..chain.signer import Signer
from ..chain.types import ModelStatus, VerifierKind
from ..errors import ChainError


@dataclass(frozen=True)
class Mirrored:
    model_id: int
    action: str
    """``mirrored``, ``up to date``, ``paused`` or ``unpaused``."""
    verifier: str
    verifier_copied: bool


def mirror_model(
    market: Marketplace, b: ChainB, signer: Signer, model_id: int, *, progress: Callable[[str], None] = lambda _: None
) -> Mirrored:
    """Mirror model ``model_id`` of chain A on chain B (deploying its verifier's code there if none is registered), or
    bring its pause in step with A. ``signer`` must be the mirror's updater."""
    progress(f"reading model {model_id} on chain {market.chain.chain_id}")
    entry = market.model(model_id)
    code_hash = bytes(entry.verifier_code_hash)
    inner = inner_verifier(market.chain, entry.verifier)
    if inner is not None:
        raise ChainError(
            f"model {model_id}'s verifier {entry.verifier} is a binding over verifier {inner}: its code names that address "
            "on chain A, and the same code on chain B would call whatever is at that address there",
            "mirror models whose verifier stands alone (a dedicated EZKL verifier or the reusable one); "
            "KZG-committed inputs and hashed weights do not travel yet",
        )
    copied = False
    verifier = b.verifier_of(code_hash)
    if verifier is None:
        runtime = bytes(market.chain.w3.eth.get_code(to_checksum_address(entry.verifier)))
        if keccak(runtime) != code_hash:
            raise ChainError(
                f"model {model_id}'s verifier {entry.verifier} no longer has the code its entry pinned on chain A",
                "A's market refuses its proofs too; do not mirror it",
            )
        progress("copying the verifier's code to chain B")
        verifier = copy_code(b, signer, runtime, what=f"copy model {model_id}'s verifier")
        b.chain.send(b.mirror.functions.registerVerifier(verifier), signer, what="register the verifier on chain B")
        copied = True
    if not b.is_mirrored(model_id):
        vka = b""
        if entry.kind is VerifierKind.REUSABLE:
            vka = b"".join(bytes(w) for w in market.chain.call(market.registry.functions.vkaOf(model_id)))
        commitment = (
            entry.onnx_hash,
            entry.settings_hash,
            entry.artifacts_hash,
            entry.vk_digest,
            code_hash,
            int(entry.kind),
            entry.input_commitment_count,
            entry.output_count,
        )
        progress(f"mirroring model {model_id}")
        b.chain.send(b.mirror.functions.mirrorModel(model_id, commitment, vka), signer, what=f"mirror model {model_id}")
        action = "mirrored"
    else:
        have = b.entry(model_id)
        if (bytes(have["verifier_code_hash"]), bytes(have["vk_digest"]), have["inputs"], have["outputs"]) != (
            code_hash,
            bytes(entry.vk_digest),
            entry.input_commitment_count,
            entry.output_count,
        ):
            raise ChainError(
                f"model {model_id} on chain B is not the model {model_id} of chain A's market (entries are write-once)",
                "this mirror copies another market or was written wrongly: deploy a new mirror (ngx-zk crosschain deploy)",
            )
        action = "up to date"
    paused_on_a = entry.status is ModelStatus.PAUSED
    if (action != "mirrored" or paused_on_a) and b.entry(model_id)["paused"] != paused_on_a:
        progress(("pausing" if paused_on_a else "unpausing") + f" model {model_id} on chain B")
        b.chain.send(b.mirror.functions.setPaused(model_id, paused_on_a), signer, what=f"set model {model_id}'s pause")
        action = "paused" if paused_on_a else "unpaused"
    return Mirrored(model_id, action, verifier, copied)
