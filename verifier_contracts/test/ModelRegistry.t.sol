// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {WrongDigestReusableVerifierFake} from "./fakes/VerifierFakes.sol";

contract ModelRegistryTest is Base {
    function test_RegisterStoresEntry() public view {
        IModelRegistry.Model memory m = registry.getModel(dedicatedModel);
        assertEq(m.onnxHash, onnxHash);
        assertEq(m.settingsHash, settingsHash);
        assertEq(m.vkDigest, vkHash);
        assertEq(m.verifier, address(dedicatedVerifier));
        assertEq(m.owner, modelOwner);
        assertEq(m.royaltyBps, ROYALTY_BPS);
        assertEq(m.inputCommitmentCount, 1);
        assertEq(m.outputCount, 2);
        assertTrue(m.insecureTestSrs, "test SRS flag");
        assertTrue(m.status == IModelRegistry.ModelStatus.Active, "active");
        assertEq(registry.modelCount(), 2);
        assertEq(registry.vkaOf(dedicatedModel).length, 0);
        assertEq(m.verifierCodeHash, address(dedicatedVerifier).codehash);
        assertEq(m.artifactsHash, ARTIFACTS_HASH);
        assertEq(m.lastUnpausedAt, 0);
        IModelRegistry.Verification memory v = registry.verificationOf(dedicatedModel);
        assertEq(v.verifierCodeHash, address(dedicatedVerifier).codehash);
        assertTrue(registry.modelStatus(dedicatedModel) == IModelRegistry.ModelStatus.Active, "status");
        assertTrue(registry.modelStatus(42) == IModelRegistry.ModelStatus.None, "unknown");
    }

    function test_RevertWhen_ArtifactsHashZero() public {
        IModelRegistry.ModelSpec memory spec = _spec(address(dedicatedVerifier), IModelRegistry.VerifierKind.Dedicated);
        spec.artifactsHash = 0;
        vm.expectRevert(IModelRegistry.ModelRegistry__ZeroHash.selector);
        registry.registerModel(spec, "");
    }

    /// Attack 13: a VKA over the data-contract limit is refused, never stored truncated.
    function test_RevertWhen_VkaOverLimit() public {
        assertEq(registry.MAX_VKA_BYTES(), 24_575);
        IModelRegistry.ModelSpec memory spec = _spec(address(reusableVerifier), IModelRegistry.VerifierKind.Reusable);
        bytes memory big = new bytes(24_576);
        spec.vkDigest = keccak256(big);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry__VkaTooLarge.selector, 24_576, 24_575));
        registry.registerModel(spec, big);
        bytes memory huge = new bytes(65_568); // used to wrap to 32 bytes in a uint16
        spec.vkDigest = keccak256(huge);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry__VkaTooLarge.selector, 65_568, 24_575));
        registry.registerModel(spec, huge);
    }

    function test_LargestVkaStoredWhole() public {
        WrongDigestReusableVerifierFake fake = new WrongDigestReusableVerifierFake();
        bytes memory vkaMax = new bytes(24_544); // the largest whole number of words under the limit
        for (uint256 i; i < vkaMax.length; i += 97) {
            vkaMax[i] = bytes1(uint8(i % 251 + 1));
        }
        IModelRegistry.ModelSpec memory spec = _spec(address(fake), IModelRegistry.VerifierKind.Reusable);
        spec.vkDigest = keccak256(vkaMax);
        uint256 id = registry.registerModel(spec, vkaMax);
        assertEq(keccak256(abi.encodePacked(registry.vkaOf(id))), keccak256(vkaMax));
    }

    function test_RevertWhen_SpecInvalid() public {
        IModelRegistry.ModelSpec memory spec = _spec(address(dedicatedVerifier), IModelRegistry.VerifierKind.Dedicated);
        spec.verifier = stranger;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry__VerifierHasNoCode.selector, stranger));
        registry.registerModel(spec, "");
        spec.verifier = address(dedicatedVerifier);
        spec.royaltyBps = 2_001;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry__RoyaltyTooHigh.selector, 2_001, 2_000));
        registry.registerModel(spec, "");
        spec.royaltyBps = 0;
        spec.inputCommitmentCount = 0;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry__InvalidInstanceCounts.selector, 0, 2));
        registry.registerModel(spec, "");
        spec.inputCommitmentCount = 1;
        spec.onnxHash = 0;
        vm.expectRevert(IModelRegistry.ModelRegistry__ZeroHash.selector);
        registry.registerModel(spec, "");
    }

    function test_OwnerDeprecatesGuardianPauses() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry__NotModelOwner.selector, dedicatedModel, stranger));
        vm.prank(stranger);
        registry.deprecateModel(dedicatedModel);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry__NotGuardian.selector, modelOwner));
        vm.prank(modelOwner);
        registry.pauseModel(dedicatedModel);
        vm.prank(guardian);
        registry.pauseModel(dedicatedModel);
        assertTrue(registry.getModel(dedicatedModel).status == IModelRegistry.ModelStatus.Paused, "paused");
        vm.expectRevert(
            abi.encodeWithSelector(
                IModelRegistry.ModelRegistry__InvalidStatus.selector, dedicatedModel, IModelRegistry.ModelStatus.Paused
            )
        );
        vm.prank(guardian);
        registry.pauseModel(dedicatedModel);
        vm.warp(block.timestamp + 1 hours);
        vm.prank(guardian);
        registry.unpauseModel(dedicatedModel);
        assertEq(registry.getModel(dedicatedModel).lastUnpausedAt, block.timestamp, "unpause time recorded");
        vm.prank(modelOwner);
        registry.deprecateModel(dedicatedModel);
        assertTrue(registry.getModel(dedicatedModel).status == IModelRegistry.ModelStatus.Deprecated, "deprecated");
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry__UnknownModel.selector, 42));
        registry.getModel(42);
    }
}
