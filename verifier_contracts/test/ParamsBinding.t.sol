// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SettlementBase} from "./utils/SettlementBase.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IJobSettlement} from "../src/interfaces/IJobSettlement.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {ParamsBinding} from "../src/ParamsBinding.sol";
import {Halo2VerifierHashedWeights} from "../src/generated/Halo2VerifierHashedWeights.sol";

/// ParamsBinding with real EZKL proofs of the tiny linear model whose weights are private witnesses pinned by a
/// Poseidon hash (`hashed` params; fixture from `script/gen_fixture.py --hashed-weights`). The fixture holds the
/// model's proof and a proof of the same input made with other weights on the same keys (the vk holds no
/// weights, so both verify with their own weight hash): the provider who serves weights it was not licensed.
/// Money: a provider with other weights settles nothing (eager: the submission reverts; optimistic: it cannot
/// answer a challenge, so its collateral is slashed), and the consumer's escrow stays refundable.
contract ParamsBindingTest is SettlementBase {
    Halo2VerifierHashedWeights internal hwVerifier;
    ParamsBinding internal binding;
    ParamsBinding internal reusableBinding;
    uint256 internal hwModel;

    bytes internal hwProof;
    uint256[] internal hwFull; // EZKL's instances: input hash, weight hash, outputs
    bytes internal otherProof;
    uint256[] internal otherFull;
    bytes internal hwVka;
    bytes32 internal hwVkaDigest;
    bytes32 internal hwSettingsHash;
    bytes32 internal hwVkHash;

    function setUp() public override {
        super.setUp();
        string memory json = vm.readFile("test/fixtures/tiny_linear_hashed_weights.json");
        hwProof = vm.parseJsonBytes(json, ".proof");
        otherProof = vm.parseJsonBytes(json, ".other_proof");
        string[] memory raw = vm.parseJsonStringArray(json, ".instances");
        for (uint256 i; i < raw.length; ++i) {
            hwFull.push(vm.parseUint(raw[i]));
        }
        raw = vm.parseJsonStringArray(json, ".other_instances");
        for (uint256 i; i < raw.length; ++i) {
            otherFull.push(vm.parseUint(raw[i]));
        }
        hwVka = vm.parseJsonBytes(json, ".vka");
        hwVkaDigest = vm.parseJsonBytes32(json, ".vka_digest");
        hwSettingsHash = vm.parseJsonBytes32(json, ".settings_sha256");
        hwVkHash = vm.parseJsonBytes32(json, ".vk_sha256");

        hwVerifier = new Halo2VerifierHashedWeights();
        binding = new ParamsBinding(address(hwVerifier), 1, _one256(hwFull[1]));
        reusableBinding = new ParamsBinding(address(reusableVerifier), 1, _one256(hwFull[1]));
        config.setVerifierCodeAllowed(address(binding).codehash, true);
        config.setVerifierCodeAllowed(address(reusableBinding).codehash, true);
        vm.prank(modelOwner);
        hwModel = registry.registerModel(_hwSpec(address(binding), IModelRegistry.VerifierKind.Dedicated), "");
    }

    // ------------------------------------------------------------ helpers

    function _one256(uint256 v) internal pure returns (uint256[] memory a) {
        a = new uint256[](1);
        a[0] = v;
    }

    function _hwSpec(address verifier, IModelRegistry.VerifierKind kind)
        internal
        view
        returns (IModelRegistry.ModelSpec memory spec)
    {
        spec = _spec(verifier, kind);
        spec.settingsHash = hwSettingsHash;
        spec.vkDigest = kind == IModelRegistry.VerifierKind.Reusable ? hwVkaDigest : hwVkHash;
        spec.metadataURI = "ipfs://tiny-linear-hashed-weights";
    }

    /// What JobMarket assembles: the input commitment and the outputs, no weight hash.
    function _market(uint256[] storage full) internal view returns (uint256[] memory m) {
        m = new uint256[](full.length - 1);
        m[0] = full[0];
        for (uint256 i = 2; i < full.length; ++i) {
            m[i - 1] = full[i];
        }
    }

    function _outputsOf(uint256[] storage full) internal view returns (uint256[] memory o) {
        o = new uint256[](full.length - 2);
        for (uint256 i = 2; i < full.length; ++i) {
            o[i - 2] = full[i];
        }
    }

    function _claimed(uint256 modelId, uint8 mode) internal returns (uint256 jobId) {
        jobId = _postTermsAs(consumers[0], _termsOf(modelId, mode), hwFull[0]);
        vm.prank(provider);
        market.claimJob(jobId);
    }

    function _expectInvalid(uint256 jobId, bytes memory p, uint256[] memory inst) internal {
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidProof.selector, jobId));
        vm.prank(provider);
        market.submitResult(jobId, p, inst);
    }

    function _vkaWords() internal view returns (bytes32[] memory words) {
        bytes memory v = hwVka;
        words = new bytes32[](v.length / 32);
        for (uint256 i; i < words.length; ++i) {
            bytes32 w;
            assembly ("memory-safe") {
                w := mload(add(add(v, 0x20), mul(i, 0x20)))
            }
            words[i] = w;
        }
    }

    // ------------------------------------------------------------ the fixture and the wrapper alone

    /// Both proofs are genuine EZKL proofs on the same keys, each with its own weight hash: what keeps the other
    /// weights out is the pinned hash, not a broken proof.
    function test_FixtureBothProofsVerifyWithTheirOwnWeightHash() public {
        assertTrue(hwVerifier.verifyProof(hwProof, hwFull), "the model's weights");
        assertTrue(hwVerifier.verifyProof(otherProof, otherFull), "other weights, same keys");
        assertEq(hwFull[0], otherFull[0], "same input");
        assertTrue(hwFull[1] != otherFull[1], "other weights, other hash");
    }

    function test_BindingAcceptsTheModelsWeights() public view {
        assertTrue(binding.verifyProof(hwProof, _market(hwFull)));
        assertEq(binding.params(), _one256(hwFull[1]));
        assertEq(binding.commitments(), 1);
        assertEq(binding.inner(), address(hwVerifier));
    }

    /// A proof made with other weights is refused: with its own outputs, and with the honest ones. (The binding
    /// accepting the real proof shows the inner verifier saw exactly EZKL's instances: commitment, hash, outputs.)
    function test_BindingRefusesOtherWeights() public {
        assertTrue(!binding.verifyProof(otherProof, _market(otherFull)), "own outputs");
        assertTrue(!binding.verifyProof(otherProof, _market(hwFull)), "honest outputs");
        ParamsBinding otherPin = new ParamsBinding(address(hwVerifier), 1, _one256(otherFull[1]));
        assertTrue(!otherPin.verifyProof(hwProof, _market(hwFull)), "another model's pin refuses this one's proof");
    }

    function testFuzz_AnyOtherPinnedHashRefusesTheProof(uint256 h) public {
        h = bound(h, 0, 21888242871839275222246405745257275088548364400416034343698204186575808495616);
        vm.assume(h != hwFull[1]);
        ParamsBinding pin = new ParamsBinding(address(hwVerifier), 1, _one256(h));
        assertFalse(pin.verifyProof(hwProof, _market(hwFull)));
    }

    function test_RevertWhen_ConstructorArgumentsAreWrong() public {
        vm.expectRevert(abi.encodeWithSelector(ParamsBinding.ParamsBinding__InvalidParamCount.selector, 0, 4));
        new ParamsBinding(address(hwVerifier), 1, new uint256[](0));
        vm.expectRevert(abi.encodeWithSelector(ParamsBinding.ParamsBinding__InvalidParamCount.selector, 5, 4));
        new ParamsBinding(address(hwVerifier), 1, new uint256[](5));
        vm.expectRevert(abi.encodeWithSelector(ParamsBinding.ParamsBinding__ParamOutOfField.selector, 0));
        new ParamsBinding(address(hwVerifier), 1, _one256(type(uint256).max));
        vm.expectRevert(abi.encodeWithSelector(ParamsBinding.ParamsBinding__InnerHasNoCode.selector, stranger));
        new ParamsBinding(stranger, 1, _one256(1));
        uint256[] memory four = new uint256[](4);
        (four[0], four[3]) = (7, 9);
        assertEq(new ParamsBinding(address(hwVerifier), 1, four).params(), four); // kept in order
    }

    function test_RevertWhen_FewerInstancesThanCommitments() public {
        ParamsBinding two = new ParamsBinding(address(hwVerifier), 2, _one256(hwFull[1]));
        vm.expectRevert(abi.encodeWithSelector(ParamsBinding.ParamsBinding__TooFewInstances.selector, 1, 2));
        two.verifyProof(hwProof, _one256(hwFull[0]));
    }

    // ------------------------------------------------------------ through JobMarket

    function test_EagerJobSettlesWithTheModelsWeightsOnly() public {
        uint256 jobId = _claimed(hwModel, 0);
        _expectInvalid(jobId, otherProof, _market(otherFull));
        _expectInvalid(jobId, otherProof, _market(hwFull));
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Claimed, "still claimed");
        vm.prank(provider);
        market.submitResult(jobId, hwProof, _market(hwFull));
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Settled, "settled");
        assertEq(market.outputsHashOf(jobId), keccak256(abi.encodePacked(_outputsOf(hwFull))), "outputs");
        assertEq(market.claimable(provider), PRICE * 9_250 / 10_000, "provider pay");
    }

    /// Optimistic: a provider that committed outputs of other weights cannot answer a challenge with its proof.
    function test_OptimisticAnswerWithOtherWeightsIsRefused() public {
        uint256 jobId = _claimed(hwModel, 1);
        vm.warp(block.timestamp + 60);
        IJobSettlement.Result[] memory rs = _one(
            IJobSettlement.Result({jobId: jobId, outputs: _outputsOf(otherFull), proofHash: keccak256(otherProof)})
        );
        uint256 batchId = _submitAs(provider, rs);
        _challengeAs(challenger, batchId, rs, 0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidProof.selector, jobId));
        vm.prank(provider);
        settlement.answerChallenge(jobId, otherProof, _market(otherFull));
        assertTrue(market.getJob(jobId).status != IJobMarket.JobStatus.Settled, "not settled");
    }

    function test_OptimisticAnswerWithTheModelsWeightsSettles() public {
        uint256 jobId = _claimed(hwModel, 1);
        vm.warp(block.timestamp + 60);
        IJobSettlement.Result[] memory rs =
            _one(IJobSettlement.Result({jobId: jobId, outputs: _outputsOf(hwFull), proofHash: keccak256(hwProof)}));
        uint256 batchId = _submitAs(provider, rs);
        _challengeAs(challenger, batchId, rs, 0);
        vm.prank(provider);
        settlement.answerChallenge(jobId, hwProof, _market(hwFull));
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Settled, "settled");
    }

    function test_ReusableBindingSettlesTheModelsWeightsOnly() public {
        vm.prank(modelOwner);
        uint256 modelId =
            registry.registerModel(_hwSpec(address(reusableBinding), IModelRegistry.VerifierKind.Reusable), hwVka);
        uint256 jobId = _claimed(modelId, 0);
        _expectInvalid(jobId, otherProof, _market(otherFull));
        vm.prank(provider);
        market.submitResult(jobId, hwProof, _market(hwFull));
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Settled, "settled");
        (bool ok,) = address(reusableBinding)
            .staticcall(
                abi.encodeWithSignature(
                    "verifyProof(bytes,uint256[],bytes32[])", otherProof, _market(otherFull), _vkaWords()
                )
            );
        assertTrue(!ok, "the reusable form reverts on other weights");
    }
}
