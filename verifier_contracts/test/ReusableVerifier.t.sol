// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {WrongDigestReusableVerifierFake, LyingRegistrationVerifierFake} from "./fakes/VerifierFakes.sol";

contract ReusableVerifierTest is Base {
    function test_SettlesWithRealReusableVerifierAndPinnedVka() public {
        assertEq(registry.getModel(reusableModel).vkDigest, vkaDigest);
        assertEq(keccak256(abi.encodePacked(registry.vkaOf(reusableModel))), vkaDigest);
        uint256 jobId = _postAndClaim(reusableModel);
        _submit(jobId);
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Settled, "settled");
        // The outputs are in JobSettled; storage keeps their hash.
        assertEq(market.outputsHashOf(jobId), keccak256(abi.encodePacked(_outputs())));
    }

    function test_RevertWhen_ReusableProofTampered() public {
        uint256 jobId = _postAndClaim(reusableModel);
        bytes memory bad = proof;
        bad[200] = bytes1(uint8(bad[200]) ^ 0x01);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidProof.selector, jobId));
        vm.prank(provider);
        market.submitResult(jobId, bad, instances);
    }

    function test_RevertWhen_VerifierReportsAnotherVkaDigest() public {
        WrongDigestReusableVerifierFake fake = new WrongDigestReusableVerifierFake();
        bytes32 other = keccak256("someone else's vka");
        fake.setReportedDigest(other);
        vm.prank(modelOwner);
        uint256 modelId = registry.registerModel(_spec(address(fake), IModelRegistry.VerifierKind.Reusable), vka);
        uint256 jobId = _postAndClaim(modelId);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__VkaDigestMismatch.selector, vkaDigest, other));
        _submit(jobId);
    }

    function test_RevertWhen_RegisteringWrongVkaDigest() public {
        IModelRegistry.ModelSpec memory spec = _spec(address(reusableVerifier), IModelRegistry.VerifierKind.Reusable);
        spec.vkDigest = keccak256("wrong");
        vm.expectRevert(
            abi.encodeWithSelector(IModelRegistry.ModelRegistry__VkaDigestMismatch.selector, spec.vkDigest, vkaDigest)
        );
        registry.registerModel(spec, vka);
    }

    function test_RevertWhen_VerifierDisagreesOnRegisteredDigest() public {
        LyingRegistrationVerifierFake fake = new LyingRegistrationVerifierFake();
        vm.expectRevert(
            abi.encodeWithSelector(
                IModelRegistry.ModelRegistry__VkaDigestMismatch.selector, vkaDigest, bytes32(uint256(1))
            )
        );
        registry.registerModel(_spec(address(fake), IModelRegistry.VerifierKind.Reusable), vka);
    }

    function test_RevertWhen_VkaMissingOrMisplaced() public {
        vm.expectRevert(
            abi.encodeWithSelector(IModelRegistry.ModelRegistry__BadVka.selector, IModelRegistry.VerifierKind.Reusable, 0)
        );
        registry.registerModel(_spec(address(reusableVerifier), IModelRegistry.VerifierKind.Reusable), "");
        vm.expectRevert(
            abi.encodeWithSelector(
                IModelRegistry.ModelRegistry__BadVka.selector, IModelRegistry.VerifierKind.Dedicated, vka.length
            )
        );
        registry.registerModel(_spec(address(dedicatedVerifier), IModelRegistry.VerifierKind.Dedicated), vka);
    }

    /// A VKA registered in the shared verifier by someone else does not make another model's proof valid:
    /// the market passes the model's own pinned VKA, so the real verifier rejects a proof for another circuit.
    function test_PermissionlessRegistrationDoesNotChangePinnedVka() public {
        bytes32[] memory junk = new bytes32[](3);
        junk[0] = bytes32(uint256(7));
        vm.prank(stranger);
        reusableVerifier.registerVka(junk);
        assertEq(registry.verificationOf(reusableModel).vkDigest, vkaDigest);
        uint256 jobId = _postAndClaim(reusableModel);
        _submit(jobId);
    }
}
