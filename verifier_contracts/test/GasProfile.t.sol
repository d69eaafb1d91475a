// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";

import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";

/// Steady-state gas profile: the second post/claim/submit of each kind touches warm-ish, non-zero storage
/// the way a live market does. Run with `forge test --match-contract GasProfile -vvvv` to read the trace.
/// The fixture has one proof (one commitment), and a second job with the same commitments on the same model
/// is a replay (no reward, cheaper); so the second cycle runs on a twin model with the same verifier, which
/// is a fresh, rewarded job like a live market's.
contract GasProfileTest is Base {
    /// The last call is the verifier alone with submitResult's proof and instances: under `--isolate` each
    /// top-level call is its own transaction, and submitResult's bookkeeping is its gas minus that call's.
    function test_GasSteadyStateDedicated() public {
        _cycle(dedicatedModel);
        _cycle(_twin(address(dedicatedVerifier), IModelRegistry.VerifierKind.Dedicated, ""));
        assertTrue(dedicatedVerifier.verifyProof(proof, instances));
    }

    function test_GasSteadyStateReusable() public {
        _cycle(reusableModel);
        _cycle(_twin(address(reusableVerifier), IModelRegistry.VerifierKind.Reusable, vka));
        // Its return data is not standard ABI (see IHalo2VerifierReusable): a low-level call.
        (bool ok,) = address(reusableVerifier).call(
            abi.encodeCall(reusableVerifier.verifyProof, (proof, instances, registry.vkaOf(reusableModel)))
        );
        assertTrue(ok);
    }

    /// Regression guard on submitResult's bookkeeping (its gas minus the verifier's with the same proof and
    /// instances), measured inside this test: state the test touched earlier is warm here, so this reads about
    /// 42k where a real transaction spends about 134k (`forge test --isolate --match-contract GasProfile -vvvv`,
    /// see README). A storage slot per output or a token transfer per job would break it.
    function test_GasSubmitBookkeepingBudget() public {
        _cycle(dedicatedModel);
        uint256 jobId = _postAndClaim(_twin(address(dedicatedVerifier), IModelRegistry.VerifierKind.Dedicated, ""));
        uint256 left = gasleft();
        dedicatedVerifier.verifyProof(proof, instances);
        uint256 verifierGas = left - gasleft();
        vm.prank(provider);
        left = gasleft();
        market.submitResult(jobId, proof, instances);
        uint256 submitGas = left - gasleft();
        assertLe(submitGas - verifierGas, 50_000, "submitResult bookkeeping (in-test, warm)");
    }

    /// deliverInput with a 300-byte ciphertext (about an X25519/ChaCha20 envelope of a small tensor).
    function test_GasDeliverInput300Bytes() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        bytes memory payload = new bytes(300);
        for (uint256 i; i < payload.length; ++i) {
            payload[i] = bytes1(uint8(i % 255 + 1));
        }
        vm.prank(consumer);
        market.deliverInput(jobId, payload);
        vm.prank(consumer);
        market.deliverInput(jobId, payload);
    }

    function _twin(address verifier, IModelRegistry.VerifierKind kind, bytes memory vka_) private returns (uint256) {
        vm.prank(modelOwner);
        return registry.registerModel(_spec(verifier, kind), vka_);
    }

    function _cycle(uint256 modelId) private {
        uint256 jobId = _postAndClaim(modelId);
        _submit(jobId);
    }
}
