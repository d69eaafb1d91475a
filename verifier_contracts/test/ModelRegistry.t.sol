// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";

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
        vm.prank(guardian);
        registry.unpauseModel(dedicatedModel);
        vm.prank(modelOwner);
        registry.deprecateModel(dedicatedModel);
        assertTrue(registry.getModel(dedicatedModel).status == IModelRegistry.ModelStatus.Deprecated, "deprecated");
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry__UnknownModel.selector, 42));
        registry.getModel(42);
    }
}
