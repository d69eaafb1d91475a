"""The model registry's client: register a model, read its entry, and check what judges its proofs."""

from __future__ import annotations

from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ..errors import ChainError
from .abi import abi, artifact
from .contracts import Contracts, decode_struct
from .signer import Signer
from .tx import Mined
from .types import (
    ModelEntry,
    ModelRegistered,
    ModelStatus,
    VerifierKind,
)


class Registry(Contracts):
    """``ModelRegistry`` and the verifier allow-list of ``ProtocolConfig``; the ``PolycommitBinding`` in front of a verifier."""

    def register_model(self, signer: Signer, spec: dict[str, Any], vka: bytes = b"") -> tuple[int, Mined]:
        fields = (
            spec["onnx_hash"],
            spec["settings_hash"],
            spec["vk_digest"],
            to_checksum_address(spec["verifier"]),
            int(spec["kind"]),
            spec["input_commitment_count"],
            spec["output_count"],
            spec["royalty_bps"],
            spec["insecure_test_srs"],
            spec["metadata_uri"],
            spec["artifacts_hash"],
        )
        receipt = self.chain.send(self.registry.functions.registerModel(fields, vka), signer, what="register model")
        return self.emitted(ModelRegistered, receipt)[0].model_id, receipt

    def model(self, model_id: int) -> ModelEntry:
        m = decode_struct(self.registry, "getModel", self.chain.call(self.registry.functions.getModel(model_id)))
        status = ModelStatus.from_index(int(m["status"]))
        if status is ModelStatus.NONE:
            raise ChainError(f"no model with id {model_id} in the registry", "publish the model first: ngx-zk model publish NAME")
        return ModelEntry(
            model_id,
            bytes(m["onnx_hash"]),
            bytes(m["settings_hash"]),
            bytes(m["vk_digest"]),
            str(m["verifier"]),
            VerifierKind(int(m["kind"])),
            int(m["input_commitment_count"]),
            int(m["output_count"]),
            int(m["royalty_bps"]),
            status,
            bool(m["insecure_test_srs"]),
            str(m["owner"]),
            str(m["metadata_uri"]),
            bytes(m.get("verifier_code_hash", b"")),
            bytes(m.get("artifacts_hash", b"")),
            int(m.get("last_unpaused_at", 0)),
        )

    def code(self, address: str) -> bytes:
        """The runtime code at ``address`` (empty for an account without code)."""
        return bytes(self.chain.w3.eth.get_code(to_checksum_address(address)))

    def code_hash(self, address: str) -> bytes:
        """keccak256 of the runtime code at ``address`` (what ``EXTCODEHASH`` returns for a contract)."""
        return keccak(self.code(address))

    def _binding_constructor(self, inner: str, points: int) -> Any:
        factory = self.chain.w3.eth.contract(abi=abi("PolycommitBinding"), bytecode=artifact("PolycommitBinding")["bytecode"])
        return factory.constructor(to_checksum_address(inner), points)

    def deploy_binding(self, signer: Signer, inner: str, points: int, *, what: str) -> str:
        """Deploy a ``PolycommitBinding`` over the verifier ``inner`` for proofs starting with ``points`` G1 points."""
        return self.chain.deploy_bytecode(self._binding_constructor(inner, points), signer, what=what)

    def binding_of(self, address: str) -> tuple[str, int] | None:
        """(inner verifier, points) of the ``PolycommitBinding`` at ``address``; None if it does not answer as one."""
        binding = self.chain.contract("PolycommitBinding", address)
        try:
            return str(self.chain.call(binding.functions.inner())), int(self.chain.call(binding.functions.points()))
        except (ChainError, ValueError, TypeError):  # no code, or another contract's answer
            return None

    def binding_code(self, inner: str, points: int) -> bytes:
        """The runtime code ``PolycommitBinding(inner, points)`` deploys, from its creation code run by ``eth_call``."""
        return bytes(self.chain.w3.eth.call({"data": self._binding_constructor(inner, points).data_in_transaction}))

    def _params_constructor(self, inner: str, commitments: int, params: tuple[int, ...]) -> Any:
        factory = self.chain.w3.eth.contract(abi=abi("ParamsBinding"), bytecode=artifact("ParamsBinding")["bytecode"])
        return factory.constructor(to_checksum_address(inner), commitments, list(params))

    def deploy_params_binding(self, signer: Signer, inner: str, commitments: int, params: tuple[int, ...], *, what: str) -> str:
        """Deploy a ``ParamsBinding`` over ``inner`` that puts the weight hashes ``params`` after ``commitments`` instances."""
        return self.chain.deploy_bytecode(self._params_constructor(inner, commitments, params), signer, what=what)

    def params_binding_of(self, address: str) -> tuple[str, int, tuple[int, ...]] | None:
        """(inner verifier, commitments, weight hashes) of the ``ParamsBinding`` at ``address``; None if it does not
        answer as one."""
        binding = self.chain.contract("ParamsBinding", address)
        try:
            return (
                str(self.chain.call(binding.functions.inner())),
                int(self.chain.call(binding.functions.commitments())),
                tuple(int(h) for h in self.chain.call(binding.functions.params())),
            )
        except (ChainError, ValueError, TypeError):  # no code, or another contract's answer
            return None

    def params_binding_code(self, inner: str, commitments: int, params: tuple[int, ...]) -> bytes:
        """The runtime code ``ParamsBinding(inner, commitments, params)`` deploys (its creation code run by ``eth_call``)."""
        data = self._params_constructor(inner, commitments, params).data_in_transaction
        return bytes(self.chain.w3.eth.call({"data": data}))

    def verifier_code_allowed(self, code_hash: bytes) -> bool:
        """Is this verifier code on governance's allow-list (the only verifiers that earn rewards and NRS)?"""
        return bool(self.chain.call(self.config.functions.isVerifierCodeAllowed(code_hash)))

    def allow_verifier_code(self, signer: Signer, code_hash: bytes, allowed: bool = True) -> Mined:
        """Add (or remove) verifier code on the allow-list: only the config's owner or its verifier curator may."""
        return self.chain.send(
            self.config.functions.setVerifierCodeAllowed(code_hash, allowed),
            signer,
            what="allow-list verifier code" if allowed else "remove verifier code from the allow-list",
        )

    def verifier_curator(self) -> str:
        return str(self.chain.call(self.config.functions.verifierCurator()))

    def model_count(self) -> int:
        return int(self.chain.call(self.registry.functions.modelCount()))
