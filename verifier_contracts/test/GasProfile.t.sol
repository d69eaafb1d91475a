// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";

/// Steady-state gas profile: the second post/claim/submit touches warm-ish, non-zero storage the way a live
/// market does. Run with `forge test --match-contract GasProfile -vvvv` to read the trace. The fixture has one
/// proof (one commitment), and a second settlement of the same statement (verifier code, VKA, commitments) is
/// a replay (no reward, cheaper), on any model; so the first cycle runs on the other verifier kind and the
/// measured one is a fresh, rewarded job like a live market's.
contract GasProfileTest is Base {
    /// The last call is the verifier alone with submitResult's proof and instances: under `--isolate` each
    /// top-level call is its own transaction, and submitResult's bookkeeping is its gas minus that call's.
    function test_GasSteadyStateDedicated() public {
        _cycle(reusableModel);
        _cycle(dedicatedModel);
        assertTrue(dedicatedVerifier.verifyProof(proof, instances));
    }

    function test_GasSteadyStateReusable() public {
        _cycle(dedicatedModel);
        _cycle(reusableModel);
        // Its return data is not standard ABI (see IHalo2VerifierReusable): a low-level call.
        (bool ok,) = address(reusableVerifier).call(
            abi.encodeCall(reusableVerifier.verifyProof, (proof, instances, registry.vkaOf(reusableModel)))
        );
        assertTrue(ok);
    }

    /// Regression guard on submitResult's bookkeeping (its gas minus the verifier's with the same proof and
    /// instances), measured inside this test: state the test touched earlier is warm here, so this reads about
    /// 66k where a real transaction spends about 151k (`forge test --isolate --match-contract GasProfile -vvvv`,
    /// see README). Since issue #23 the replay marker is written by the first settlement of a statement (a fresh
    /// slot, ~17k more than the old rewrite) instead of by the post (~22k less there). A storage slot per output
    /// or a token transfer per job would break it.
    function test_GasSubmitBookkeepingBudget() public {
        _cycle(reusableModel);
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256 left = gasleft();
        dedicatedVerifier.verifyProof(proof, instances);
        uint256 verifierGas = left - gasleft();
        vm.prank(provider);
        left = gasleft();
        market.submitResult(jobId, proof, instances);
        uint256 submitGas = left - gasleft();
        assertLe(submitGas - verifierGas, 70_000, "submitResult bookkeeping (in-test, warm)");
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

    function _cycle(uint256 modelId) private {
        uint256 jobId = _postAndClaim(modelId);
        _submit(jobId);
    }
}
