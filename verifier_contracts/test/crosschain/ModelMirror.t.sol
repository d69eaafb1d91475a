// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "../utils/Base.sol";
import {IModelRegistry} from "../../src/interfaces/IModelRegistry.sol";
import {Halo2Verifier} from "../../src/generated/Halo2Verifier.sol";
import {Halo2VerifierReusable} from "../../src/generated/Halo2VerifierReusable.sol";
import {IModelMirror} from "../../src/crosschain/IModelMirror.sol";
import {ModelMirror} from "../../src/crosschain/ModelMirror.sol";
import {InferenceReceiver} from "../../src/crosschain/InferenceReceiver.sol";
import {VerifiedOutputBoard} from "../../src/crosschain/VerifiedOutputBoard.sol";
import {AlwaysTrueVerifierFake} from "../fakes/VerifierFakes.sol";

/// @notice Chain B's contracts against chain A's registry (both on one forge chain): the mirror verifies the committed
///         real EZKL proof exactly as the market does, the receiver delivers it once, the example consumer gets it.
contract ModelMirrorTest is Base {
    ModelMirror internal mirror;
    InferenceReceiver internal receiver;
    address internal updater = makeAddr("updater");
    address internal relayer = makeAddr("relayer");

    function setUp() public override {
        super.setUp();
        mirror = new ModelMirror(updater, block.chainid, address(registry), address(market));
        receiver = new InferenceReceiver(mirror);
        // Chain B's verifiers: fresh deployments of the same code A pinned.
        mirror.registerVerifier(address(new Halo2Verifier()));
        mirror.registerVerifier(address(new Halo2VerifierReusable()));
        _mirror(dedicatedModel, "");
        _mirror(reusableModel, vka);
    }

    function _commitmentOf(uint256 modelId) internal view returns (IModelMirror.ModelCommitment memory) {
        IModelRegistry.Model memory m = registry.getModel(modelId);
        return IModelMirror.ModelCommitment({
            onnxHash: m.onnxHash,
            settingsHash: m.settingsHash,
            artifactsHash: m.artifactsHash,
            vkDigest: m.vkDigest,
            verifierCodeHash: m.verifierCodeHash,
            kind: m.kind,
            inputCommitmentCount: m.inputCommitmentCount,
            outputCount: m.outputCount
        });
    }

    function _mirror(uint256 modelId, bytes memory vka_) internal {
        IModelMirror.ModelCommitment memory c = _commitmentOf(modelId); // before the prank: it calls the registry
        vm.prank(updater);
        mirror.mirrorModel(modelId, c, vka_);
    }

    function _board(uint256 modelId) internal returns (VerifiedOutputBoard board) {
        IModelMirror.Mirrored memory m = mirror.modelOf(modelId);
        board = new VerifiedOutputBoard(
            address(receiver), mirror, modelId, m.commitment.verifierCodeHash, m.commitment.vkDigest
        );
        board.request(keccak256(abi.encodePacked(_commitments())));
    }

    function test_verifyInference_acceptsTheRealProof_dedicatedAndReusable() public view {
        assertTrue(mirror.verifyInference(dedicatedModel, _commitments(), _outputs(), proof));
        assertTrue(mirror.verifyInference(reusableModel, _commitments(), _outputs(), proof));
    }

    function test_verifyInference_refusesATamperedOutputOrProof() public {
        uint256[] memory outputs = _outputs();
        outputs[0] += 1;
        vm.expectRevert(abi.encodeWithSelector(IModelMirror.Mirror__InvalidProof.selector, dedicatedModel));
        mirror.verifyInference(dedicatedModel, _commitments(), outputs, proof);
        bytes memory bad = bytes.concat(proof);
        bad[100] = bytes1(uint8(bad[100]) ^ 1);
        vm.expectRevert(abi.encodeWithSelector(IModelMirror.Mirror__InvalidProof.selector, reusableModel));
        mirror.verifyInference(reusableModel, _commitments(), _outputs(), bad);
        uint256[] memory commitments = _commitments();
        commitments[0] ^= 1;
        vm.expectRevert(abi.encodeWithSelector(IModelMirror.Mirror__InvalidProof.selector, dedicatedModel));
        mirror.verifyInference(dedicatedModel, commitments, _outputs(), proof);
    }

    function test_verifyInference_refusesWrongCountsOutOfFieldAndUnknownModels() public {
        vm.expectRevert(abi.encodeWithSelector(IModelMirror.Mirror__OutputCountMismatch.selector, 2, 1));
        mirror.verifyInference(dedicatedModel, _commitments(), new uint256[](1), proof);
        vm.expectRevert(abi.encodeWithSelector(IModelMirror.Mirror__CommitmentCountMismatch.selector, 1, 2));
        mirror.verifyInference(dedicatedModel, new uint256[](2), _outputs(), proof);
        uint256[] memory outputs = _outputs();
        outputs[1] = type(uint256).max;
        vm.expectRevert(abi.encodeWithSelector(IModelMirror.Mirror__InstanceOutOfField.selector, 2, type(uint256).max));
        mirror.verifyInference(dedicatedModel, _commitments(), outputs, proof);
        vm.expectRevert(abi.encodeWithSelector(IModelMirror.Mirror__UnknownModel.selector, 99));
        mirror.verifyInference(99, _commitments(), _outputs(), proof);
    }

    function test_onlyTheUpdaterMirrors_entriesAreWriteOnce_andPausingStopsProofs() public {
        IModelMirror.ModelCommitment memory c = _commitmentOf(dedicatedModel);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelMirror.Mirror__NotUpdater.selector, stranger));
        mirror.mirrorModel(7, c, "");
        IModelMirror.ModelCommitment memory other = _commitmentOf(dedicatedModel);
        other.outputCount = 3;
        vm.prank(updater);
        vm.expectRevert(abi.encodeWithSelector(IModelMirror.Mirror__AlreadyMirrored.selector, dedicatedModel));
        mirror.mirrorModel(dedicatedModel, other, "");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelMirror.Mirror__NotUpdater.selector, stranger));
        mirror.setPaused(dedicatedModel, true);
        vm.prank(updater);
        mirror.setPaused(dedicatedModel, true);
        vm.expectRevert(abi.encodeWithSelector(IModelMirror.Mirror__ModelPaused.selector, dedicatedModel));
        mirror.verifyInference(dedicatedModel, _commitments(), _outputs(), proof);
        vm.prank(updater);
        mirror.setPaused(dedicatedModel, false);
        assertTrue(mirror.verifyInference(dedicatedModel, _commitments(), _outputs(), proof));
    }

    function test_updaterHandoverTakesTwoSteps() public {
        vm.prank(updater);
        mirror.proposeUpdater(stranger);
        assertEq(mirror.updater(), updater);
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(IModelMirror.Mirror__NotPendingUpdater.selector, relayer));
        mirror.acceptUpdater();
        vm.prank(stranger);
        mirror.acceptUpdater();
        assertEq(mirror.updater(), stranger);
    }

    function test_aModelNeedsAVerifierWithThePinnedCode_andItsVkaMustMatch() public {
        ModelMirror fresh = new ModelMirror(updater, block.chainid, address(registry), address(market));
        // Another verifier's code is registered for its own hash, never for the pinned one.
        bytes32 fakeHash = fresh.registerVerifier(address(new AlwaysTrueVerifierFake()));
        IModelMirror.ModelCommitment memory c = _commitmentOf(dedicatedModel);
        assertTrue(fakeHash != c.verifierCodeHash);
        vm.prank(updater);
        vm.expectRevert(abi.encodeWithSelector(IModelMirror.Mirror__NoVerifier.selector, c.verifierCodeHash));
        fresh.mirrorModel(dedicatedModel, c, "");
        fresh.registerVerifier(address(new Halo2VerifierReusable()));
        bytes memory wrong = bytes.concat(vka);
        wrong[0] = bytes1(uint8(wrong[0]) ^ 1);
        IModelMirror.ModelCommitment memory rc = _commitmentOf(reusableModel);
        vm.prank(updater);
        vm.expectRevert(
            abi.encodeWithSelector(IModelMirror.Mirror__VkaDigestMismatch.selector, vkaDigest, keccak256(wrong))
        );
        fresh.mirrorModel(reusableModel, rc, wrong);
        vm.expectRevert(abi.encodeWithSelector(IModelMirror.Mirror__VerifierHasNoCode.selector, stranger));
        fresh.registerVerifier(stranger);
    }

    function test_aVerifierWhoseCodeChangedIsRefused() public {
        address verifier = mirror.verifierOf(_commitmentOf(dedicatedModel).verifierCodeHash);
        bytes memory other = address(new AlwaysTrueVerifierFake()).code;
        vm.etch(verifier, other);
        bytes32 pinned = _commitmentOf(dedicatedModel).verifierCodeHash;
        vm.expectRevert(
            abi.encodeWithSelector(
                IModelMirror.Mirror__VerifierCodeChanged.selector, verifier, pinned, keccak256(other)
            )
        );
        mirror.verifyInference(dedicatedModel, _commitments(), _outputs(), proof);
    }

    function test_deliver_firesTheCallbackOnce_andRefusesAReplay() public {
        VerifiedOutputBoard board = _board(dedicatedModel);
        bytes32 h = keccak256(abi.encodePacked(_commitments()));
        vm.prank(relayer);
        receiver.deliver(address(board), 42, dedicatedModel, _commitments(), _outputs(), proof);
        assertEq(board.outputsOf(h), _outputs());
        assertTrue(board.answered(h));
        bytes32 key = receiver.deliveryKey(address(board), dedicatedModel, _commitments(), _outputs());
        assertTrue(receiver.delivered(key));
        // The same statement again, even under another job id, by anyone: refused.
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(InferenceReceiver.Receiver__AlreadyDelivered.selector, key));
        receiver.deliver(address(board), 43, dedicatedModel, _commitments(), _outputs(), proof);
    }

    function test_deliver_refusesATamperedOutput_andRecordsNothing() public {
        VerifiedOutputBoard board = _board(dedicatedModel);
        uint256[] memory outputs = _outputs();
        outputs[1] += 1;
        vm.expectRevert(abi.encodeWithSelector(IModelMirror.Mirror__InvalidProof.selector, dedicatedModel));
        receiver.deliver(address(board), 1, dedicatedModel, _commitments(), outputs, proof);
        assertFalse(board.answered(keccak256(abi.encodePacked(_commitments()))));
        assertFalse(receiver.delivered(receiver.deliveryKey(address(board), dedicatedModel, _commitments(), outputs)));
    }

    function test_deliver_aRefusedCallbackRevertsTheDelivery_soItCanBeRelayedLater() public {
        IModelMirror.Mirrored memory m = mirror.modelOf(dedicatedModel);
        VerifiedOutputBoard board = new VerifiedOutputBoard(
            address(receiver), mirror, dedicatedModel, m.commitment.verifierCodeHash, m.commitment.vkDigest
        );
        bytes32 h = keccak256(abi.encodePacked(_commitments()));
        bytes memory reason = abi.encodeWithSelector(VerifiedOutputBoard.Board__NotRequested.selector, h);
        vm.expectRevert(
            abi.encodeWithSelector(InferenceReceiver.Receiver__CallbackFailed.selector, address(board), reason)
        );
        receiver.deliver(address(board), 1, dedicatedModel, _commitments(), _outputs(), proof);
        board.request(h);
        receiver.deliver(address(board), 1, dedicatedModel, _commitments(), _outputs(), proof);
        assertEq(board.outputsOf(h), _outputs());
    }

    function test_board_acceptsOnlyItsReceiver_itsModel_andAPinnedEntry() public {
        VerifiedOutputBoard board = _board(dedicatedModel);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(VerifiedOutputBoard.Board__NotReceiver.selector, stranger));
        board.onVerifiedInference(dedicatedModel, _commitments(), _outputs(), 1);
        // The same proof is valid for the reusable model id too, but this board is the dedicated one's.
        bytes memory reason =
            abi.encodeWithSelector(VerifiedOutputBoard.Board__WrongModel.selector, dedicatedModel, reusableModel);
        vm.expectRevert(
            abi.encodeWithSelector(InferenceReceiver.Receiver__CallbackFailed.selector, address(board), reason)
        );
        receiver.deliver(address(board), 1, reusableModel, _commitments(), _outputs(), proof);
        vm.expectRevert(abi.encodeWithSelector(InferenceReceiver.Receiver__ConsumerHasNoCode.selector, stranger));
        receiver.deliver(stranger, 1, dedicatedModel, _commitments(), _outputs(), proof);
        bytes32 pinned = mirror.modelOf(dedicatedModel).commitment.verifierCodeHash;
        vm.expectRevert(
            abi.encodeWithSelector(VerifiedOutputBoard.Board__UnexpectedModelEntry.selector, pinned, vkHash)
        );
        new VerifiedOutputBoard(address(receiver), mirror, dedicatedModel, bytes32(uint256(1)), vkHash);
    }
}
