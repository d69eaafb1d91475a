// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {IHalo2VerifierReusable} from "../src/interfaces/IHalo2Verifier.sol";
import {PolycommitBinding} from "../src/PolycommitBinding.sol";
import {Halo2VerifierPolycommit} from "../src/generated/Halo2VerifierPolycommit.sol";
import {FalseVerifierFake, SwitchableVerifierFake, WrongDigestReusableVerifierFake} from "./fakes/VerifierFakes.sol";

/// @notice FAULT INJECTION ONLY: a "reusable verifier" that returns (false, digest) instead of reverting.
contract FalseReusableVerifierFake {
    function verifyProof(bytes calldata, uint256[] calldata, bytes32[] calldata) external pure returns (bool, bytes32) {
        return (false, bytes32(uint256(0xd1)));
    }
}

/// PolycommitBinding with a real EZKL proof of the tiny linear model whose input is KZG-committed
/// (`polycommit`; fixture from `script/gen_fixture.py --polycommit`): the job's two input commitments are the
/// (x, y) words of the point the consumer computed with `ezkl.kzg_commit`, and the proof starts with that point.
/// Gas figures: `forge test --match-contract PolycommitBindingTest -vv` prints them (log_named_uint).
contract PolycommitBindingTest is Base {
    event log_named_uint(string key, uint256 val);

    // The EZKL 23 reusable verifier returns [1, vka_digest, len, rescaled...]; JobMarket reads the first two.
    Halo2VerifierPolycommit internal pcVerifier;
    PolycommitBinding internal binding;
    PolycommitBinding internal reusableBinding;
    uint256 internal pcModel;

    bytes internal pcProof;
    uint256[] internal pcOutputs;
    uint256 internal pcX;
    uint256 internal pcY;
    uint256 internal otherX;
    uint256 internal otherY;
    bytes internal pcVka;
    bytes32 internal pcVkaDigest;
    bytes32 internal pcSettingsHash;
    bytes32 internal pcVkHash;

    function setUp() public override {
        super.setUp();
        string memory json = vm.readFile("test/fixtures/tiny_linear_polycommit.json");
        pcProof = vm.parseJsonBytes(json, ".proof");
        string[] memory raw = vm.parseJsonStringArray(json, ".instances");
        for (uint256 i; i < raw.length; ++i) {
            pcOutputs.push(vm.parseUint(raw[i]));
        }
        raw = vm.parseJsonStringArray(json, ".commitment");
        (pcX, pcY) = (vm.parseUint(raw[0]), vm.parseUint(raw[1]));
        raw = vm.parseJsonStringArray(json, ".other_commitment");
        (otherX, otherY) = (vm.parseUint(raw[0]), vm.parseUint(raw[1]));
        pcVka = vm.parseJsonBytes(json, ".vka");
        pcVkaDigest = vm.parseJsonBytes32(json, ".vka_digest");
        pcSettingsHash = vm.parseJsonBytes32(json, ".settings_sha256");
        pcVkHash = vm.parseJsonBytes32(json, ".vk_sha256");

        pcVerifier = new Halo2VerifierPolycommit();
        binding = new PolycommitBinding(address(pcVerifier), 1);
        reusableBinding = new PolycommitBinding(address(reusableVerifier), 1);
        config.setVerifierCodeAllowed(address(binding).codehash, true);
        config.setVerifierCodeAllowed(address(reusableBinding).codehash, true);
        vm.prank(modelOwner);
        pcModel = registry.registerModel(_pcSpec(address(binding), IModelRegistry.VerifierKind.Dedicated), "");
    }

    // ------------------------------------------------------------ helpers

    function _pcSpec(address verifier, IModelRegistry.VerifierKind kind)
        internal
        view
        returns (IModelRegistry.ModelSpec memory spec)
    {
        spec = _spec(verifier, kind);
        spec.settingsHash = pcSettingsHash;
        spec.vkDigest = kind == IModelRegistry.VerifierKind.Reusable ? pcVkaDigest : pcVkHash;
        spec.inputCommitmentCount = 2;
        spec.outputCount = uint16(pcOutputs.length);
        spec.metadataURI = "ipfs://tiny-linear-polycommit";
    }

    function _pair(uint256 x, uint256 y) internal pure returns (uint256[] memory c) {
        c = new uint256[](2);
        (c[0], c[1]) = (x, y);
    }

    /// (x, y) ++ outputs
    function _withPoint(uint256 x, uint256 y) internal view returns (uint256[] memory all) {
        all = new uint256[](2 + pcOutputs.length);
        (all[0], all[1]) = (x, y);
        for (uint256 i; i < pcOutputs.length; ++i) {
            all[2 + i] = pcOutputs[i];
        }
    }

    function _postPoint(uint256 modelId, uint256 x, uint256 y) internal returns (uint256 jobId) {
        vm.prank(consumer);
        jobId = market.postJob(modelId, _pair(x, y), PRICE, CLAIM_WINDOW, PROVE_WINDOW, 0);
        vm.prank(provider);
        market.claimJob(jobId);
    }

    /// The proof with its first point replaced by (x, y).
    function _proofWithPoint(uint256 x, uint256 y) internal view returns (bytes memory p) {
        p = pcProof;
        assembly ("memory-safe") {
            mstore(add(p, 0x20), x)
            mstore(add(p, 0x40), y)
        }
    }

    function _vkaWords() internal view returns (bytes32[] memory words) {
        bytes memory v = pcVka;
        words = new bytes32[](v.length / 32);
        for (uint256 i; i < words.length; ++i) {
            bytes32 w;
            assembly ("memory-safe") {
                w := mload(add(add(v, 0x20), mul(i, 0x20)))
            }
            words[i] = w;
        }
    }

    function _registerReusable() internal returns (uint256 modelId) {
        vm.prank(modelOwner);
        modelId = registry.registerModel(_pcSpec(address(reusableBinding), IModelRegistry.VerifierKind.Reusable), pcVka);
    }

    function _expectInvalid(uint256 jobId, bytes memory p, uint256[] memory inst) internal {
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidProof.selector, jobId));
        vm.prank(provider);
        market.submitResult(jobId, p, inst);
    }

    // ------------------------------------------------------------ the fixture and the wrapper alone

    /// The fixture's point (the consumer's kzg_commit) is the proof's first 64 bytes, and EZKL's verifier
    /// takes the outputs alone as instances.
    function test_FixturePointIsTheProofsFirstPoint() public {
        bytes memory p = pcProof;
        uint256 x;
        uint256 y;
        assembly ("memory-safe") {
            x := mload(add(p, 0x20))
            y := mload(add(p, 0x40))
        }
        assertEq(x, pcX, "x");
        assertEq(y, pcY, "y");
        assertTrue(otherX != pcX || otherY != pcY, "another input has another point");
        assertTrue(pcVerifier.verifyProof(pcProof, pcOutputs), "inner verifier alone");
    }

    /// Gas (`forge test --match-test test_RealProofVerifiesThroughWrapper -vvvv`, call frames in the trace):
    /// the EZKL verifier alone 474,225; through the wrapper 481,462 with the inner verifier's account cold
    /// (+7,237, of which 2,600 is that account) and 478,962 warm (+4,737). The log_named_uint lines (-vv) are
    /// the same calls measured with gasleft() in the test.
    function test_RealProofVerifiesThroughWrapper() public {
        bytes memory p = pcProof;
        uint256[] memory outs = pcOutputs;
        uint256[] memory all = _withPoint(pcX, pcY);
        assertTrue(binding.verifyProof(p, all), "warm-up");
        uint256 left = gasleft();
        bool innerOk = pcVerifier.verifyProof(p, outs);
        uint256 innerGas = left - gasleft();
        left = gasleft();
        bool wrapperOk = binding.verifyProof(p, all);
        uint256 wrapperGas = left - gasleft();
        assertTrue(innerOk, "inner");
        assertTrue(wrapperOk, "wrapper");
        emit log_named_uint("inner verifyProof gas", innerGas);
        emit log_named_uint("PolycommitBinding.verifyProof gas", wrapperGas);
        // (under --isolate each call is its own transaction and these in-test differences mean nothing)
        emit log_named_uint("wrapper overhead gas", wrapperGas > innerGas ? wrapperGas - innerGas : 0);
        assertLe(wrapperGas, innerGas + 10_000, "wrapper overhead");
    }

    function test_Immutables() public view {
        assertEq(binding.inner(), address(pcVerifier));
        assertEq(binding.points(), 1);
        assertEq(binding.MAX_POINTS(), 16);
    }

    function test_RevertWhen_PointsZeroOrAboveMax() public {
        vm.expectRevert(abi.encodeWithSelector(PolycommitBinding.PolycommitBinding__InvalidPoints.selector, 0, 16));
        new PolycommitBinding(address(pcVerifier), 0);
        vm.expectRevert(abi.encodeWithSelector(PolycommitBinding.PolycommitBinding__InvalidPoints.selector, 17, 16));
        new PolycommitBinding(address(pcVerifier), 17);
        assertEq(new PolycommitBinding(address(pcVerifier), 16).points(), 16);
    }

    function test_RevertWhen_InnerHasNoCode() public {
        vm.expectRevert(abi.encodeWithSelector(PolycommitBinding.PolycommitBinding__InnerHasNoCode.selector, stranger));
        new PolycommitBinding(stranger, 1);
        vm.expectRevert(
            abi.encodeWithSelector(PolycommitBinding.PolycommitBinding__InnerHasNoCode.selector, address(0))
        );
        new PolycommitBinding(address(0), 1);
    }

    function test_RevertWhen_ProofShorterThanPoints() public {
        bytes memory short = new bytes(63);
        for (uint256 i; i < 63; ++i) {
            short[i] = pcProof[i];
        }
        vm.expectRevert(abi.encodeWithSelector(PolycommitBinding.PolycommitBinding__ProofTooShort.selector, 63, 64));
        binding.verifyProof(short, _withPoint(pcX, pcY));
        vm.expectRevert(abi.encodeWithSelector(PolycommitBinding.PolycommitBinding__ProofTooShort.selector, 0, 64));
        binding.verifyProof("", _withPoint(pcX, pcY));
        // Two points need 128 bytes.
        PolycommitBinding two = new PolycommitBinding(address(pcVerifier), 2);
        vm.expectRevert(abi.encodeWithSelector(PolycommitBinding.PolycommitBinding__ProofTooShort.selector, 64, 128));
        two.verifyProof(_slice(pcProof, 64), _withPoint(pcX, pcY));
    }

    function test_RevertWhen_FewerInstancesThanCommitmentWords() public {
        uint256[] memory one = new uint256[](1);
        one[0] = pcX;
        vm.expectRevert(abi.encodeWithSelector(PolycommitBinding.PolycommitBinding__TooFewInstances.selector, 1, 2));
        binding.verifyProof(pcProof, one);
        vm.expectRevert(abi.encodeWithSelector(PolycommitBinding.PolycommitBinding__TooFewInstances.selector, 0, 2));
        binding.verifyProof(pcProof, new uint256[](0));
        vm.expectRevert(abi.encodeWithSelector(PolycommitBinding.PolycommitBinding__TooFewInstances.selector, 1, 2));
        reusableBinding.verifyProof(pcProof, one, _vkaWords());
    }

    function test_RevertWhen_PointDiffers() public {
        vm.expectRevert(abi.encodeWithSelector(PolycommitBinding.PolycommitBinding__CommitmentMismatch.selector, 0));
        binding.verifyProof(pcProof, _withPoint(pcX + 1, pcY));
        vm.expectRevert(abi.encodeWithSelector(PolycommitBinding.PolycommitBinding__CommitmentMismatch.selector, 1));
        binding.verifyProof(pcProof, _withPoint(pcX, pcY ^ 1));
        vm.expectRevert(abi.encodeWithSelector(PolycommitBinding.PolycommitBinding__CommitmentMismatch.selector, 0));
        binding.verifyProof(pcProof, _withPoint(pcY, pcX));
        vm.expectRevert(abi.encodeWithSelector(PolycommitBinding.PolycommitBinding__CommitmentMismatch.selector, 0));
        binding.verifyProof(pcProof, _withPoint(otherX, otherY));
    }

    /// Any other (x, y) is refused before the inner verifier is asked.
    function testFuzz_RevertWhen_AnyOtherPoint(uint256 x, uint256 y) public {
        vm.assume(x != pcX || y != pcY);
        vm.expectRevert();
        binding.verifyProof(pcProof, _withPoint(x, y));
    }

    /// The instances match the proof's first bytes, but those bytes are not the proof's point: the inner
    /// verifier rejects (the transcript and the opening check use them), and the wrapper answers false.
    function test_FalseWhen_ProofPointReplaced() public view {
        // another input's commitment: a valid curve point
        assertFalse(binding.verifyProof(_proofWithPoint(otherX, otherY), _withPoint(otherX, otherY)));
        // not a curve point
        assertFalse(binding.verifyProof(_proofWithPoint(pcX + 1, pcY), _withPoint(pcX + 1, pcY)));
        // swapped coordinates
        assertFalse(binding.verifyProof(_proofWithPoint(pcY, pcX), _withPoint(pcY, pcX)));
    }

    function test_FalseWhen_ProofBodyOrOutputsTampered() public view {
        bytes memory bad = pcProof;
        bad[200] = bytes1(uint8(bad[200]) ^ 0x01);
        assertTrue(!binding.verifyProof(bad, _withPoint(pcX, pcY)), "body");
        uint256[] memory all = _withPoint(pcX, pcY);
        all[3] = all[3] + 1; // a small output (3258 here), still in the field
        assertTrue(!binding.verifyProof(pcProof, all), "output");
        uint256[] memory extra = new uint256[](all.length + 1);
        for (uint256 i; i < all.length; ++i) {
            extra[i] = all[i];
        }
        assertTrue(!binding.verifyProof(pcProof, extra), "extra instance");
    }

    /// A false answer or a revert from the inner verifier both read as false.
    function test_FalseWhen_InnerAnswersFalseOrReverts() public {
        PolycommitBinding falseInner = new PolycommitBinding(address(new FalseVerifierFake()), 1);
        assertFalse(falseInner.verifyProof(pcProof, _withPoint(pcX, pcY)));
        SwitchableVerifierFake switchable = new SwitchableVerifierFake();
        PolycommitBinding switched = new PolycommitBinding(address(switchable), 1);
        assertTrue(switched.verifyProof(pcProof, _withPoint(pcX, pcY)), "on");
        switchable.setOn(false);
        assertTrue(!switched.verifyProof(pcProof, _withPoint(pcX, pcY)), "off");
    }

    // ------------------------------------------------------------ end to end through JobMarket (Dedicated)

    /// Gas, transaction view (`forge test --isolate --match-test test_EndToEnd -vvvv`): submitResult of this
    /// first job 808,904, of which the wrapper's frame 481,462 (inner verifier 474,225); the reusable twin
    /// (test_EndToEndReusableSettles) 934,415, wrapper frame 582,594 (inner 572,532).
    function test_EndToEndDedicatedSettlesAndPays() public {
        uint256 jobId = _postPoint(pcModel, pcX, pcY);
        assertEq(market.getJob(jobId).commitmentsHash, keccak256(abi.encodePacked(pcX, pcY)), "posted point");
        vm.warp(block.timestamp + 10 minutes);
        bytes memory p = pcProof;
        uint256[] memory all = _withPoint(pcX, pcY);
        vm.prank(provider);
        uint256 left = gasleft();
        market.submitResult(jobId, p, all);
        emit log_named_uint("JobMarket.submitResult gas via PolycommitBinding", left - gasleft());

        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Settled, "settled");
        assertEq(market.outputsHashOf(jobId), keccak256(abi.encodePacked(pcOutputs)), "outputs");
        assertEq(market.claimable(provider), 92.5 ether, "provider pay");
        assertEq(market.claimable(modelOwner), 5 ether, "royalty");
        assertEq(market.claimable(treasury), 2.5 ether, "fee");
        assertEq(staking.getProvider(provider).locked, 0, "collateral released");
        vm.prank(provider);
        assertEq(market.withdraw(), 92.5 ether, "withdrawn");
    }

    /// A job for another input (its own kzg_commit point): the real proof cannot settle it, neither with the
    /// job's point in the instances (binding fails) nor with its own (commitment check fails).
    function test_RevertWhen_JobPostedForAnotherInput() public {
        uint256 jobId = _postPoint(pcModel, otherX, otherY);
        _expectInvalid(jobId, pcProof, _withPoint(otherX, otherY));
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__CommitmentMismatch.selector, jobId));
        vm.prank(provider);
        market.submitResult(jobId, pcProof, _withPoint(pcX, pcY));
        // nor by writing the job's point into the proof
        _expectInvalid(jobId, _proofWithPoint(otherX, otherY), _withPoint(otherX, otherY));
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Claimed, "still claimed");
    }

    function test_RevertWhen_JobPostedWithShiftedPoint() public {
        uint256 jobId = _postPoint(pcModel, pcX + 1, pcY);
        _expectInvalid(jobId, pcProof, _withPoint(pcX + 1, pcY));
        _expectInvalid(jobId, _proofWithPoint(pcX + 1, pcY), _withPoint(pcX + 1, pcY));
    }

    function test_RevertWhen_JobPostedWithSwappedCoordinates() public {
        uint256 jobId = _postPoint(pcModel, pcY, pcX);
        _expectInvalid(jobId, pcProof, _withPoint(pcY, pcX));
        _expectInvalid(jobId, _proofWithPoint(pcY, pcX), _withPoint(pcY, pcX));
    }

    function test_RevertWhen_ShortProofOrTamperedBodyThroughMarket() public {
        uint256 jobId = _postPoint(pcModel, pcX, pcY);
        _expectInvalid(jobId, _slice(pcProof, 63), _withPoint(pcX, pcY));
        bytes memory bad = pcProof;
        bad[1000] = bytes1(uint8(bad[1000]) ^ 0x01);
        _expectInvalid(jobId, bad, _withPoint(pcX, pcY));
        // then the honest proof still settles
        vm.prank(provider);
        market.submitResult(jobId, pcProof, _withPoint(pcX, pcY));
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Settled, "settled");
    }

    // ------------------------------------------------------------ Reusable (the real shared verifier)

    function test_RegisterVkaForwardsToInner() public {
        bytes32[] memory words = _vkaWords();
        assertEq(reusableBinding.registerVka(words), pcVkaDigest, "digest");
        assertEq(reusableVerifier.registerVka(words), pcVkaDigest, "same in the inner verifier");
        vm.expectRevert();
        binding.registerVka(words); // a dedicated inner has no registerVka
    }

    /// The wrapper returns the reusable verifier's non-standard answer byte for byte.
    function test_ReusableReturnsInnerDataVerbatim() public {
        bytes32[] memory words = _vkaWords();
        reusableBinding.registerVka(words);
        (bool okInner, bytes memory direct) = address(reusableVerifier)
            .staticcall(abi.encodeCall(IHalo2VerifierReusable.verifyProof, (pcProof, pcOutputs, words)));
        assertTrue(okInner, "inner alone");
        bytes memory data =
            abi.encodeWithSignature("verifyProof(bytes,uint256[],bytes32[])", pcProof, _withPoint(pcX, pcY), words);
        uint256 left = gasleft();
        (bool ok, bytes memory wrapped) = address(reusableBinding).staticcall(data);
        emit log_named_uint("PolycommitBinding reusable verifyProof gas", left - gasleft());
        assertTrue(ok, "through the wrapper");
        assertEq(keccak256(wrapped), keccak256(direct), "verbatim");
        assertEq(wrapped.length, direct.length);
        (uint256 one, bytes32 digest) = abi.decode(wrapped, (uint256, bytes32));
        assertEq(one, 1);
        assertEq(digest, pcVkaDigest);
    }

    function test_EndToEndReusableSettles() public {
        uint256 modelId = _registerReusable();
        uint256 jobId = _postPoint(modelId, pcX, pcY);
        vm.prank(provider);
        market.submitResult(jobId, pcProof, _withPoint(pcX, pcY));
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Settled, "settled");
        assertEq(market.claimable(provider), 92.5 ether, "provider pay");
    }

    function test_RevertWhen_ReusableJobPostedWithAnotherPoint() public {
        uint256 modelId = _registerReusable();
        uint256 jobId = _postPoint(modelId, otherX, otherY);
        _expectInvalid(jobId, pcProof, _withPoint(otherX, otherY));
        _expectInvalid(jobId, _proofWithPoint(otherX, otherY), _withPoint(otherX, otherY));
        jobId = _postPoint(modelId, pcY, pcX);
        _expectInvalid(jobId, pcProof, _withPoint(pcY, pcX));
    }

    function test_RevertWhen_ReusableMismatchOrInnerRejects() public {
        bytes32[] memory words = _vkaWords();
        reusableBinding.registerVka(words);
        vm.expectRevert(abi.encodeWithSelector(PolycommitBinding.PolycommitBinding__CommitmentMismatch.selector, 0));
        reusableBinding.verifyProof(pcProof, _withPoint(otherX, otherY), words);
        // bound, but not the proof's point: the inner verifier's revert is bubbled
        (, bytes memory innerErr) = address(reusableVerifier)
            .staticcall(
                abi.encodeCall(IHalo2VerifierReusable.verifyProof, (_proofWithPoint(otherX, otherY), pcOutputs, words))
            );
        vm.expectRevert(innerErr);
        reusableBinding.verifyProof(_proofWithPoint(otherX, otherY), _withPoint(otherX, otherY), words);
    }

    // ------------------------------------------------------------ Reusable forwarding with fakes

    function test_ReusableForwardsFakeAnswerAndMarketChecksDigest() public {
        WrongDigestReusableVerifierFake fake = new WrongDigestReusableVerifierFake();
        fake.setReportedDigest(bytes32(uint256(0xabc)));
        PolycommitBinding wrapped = new PolycommitBinding(address(fake), 1);
        (bool success, bytes32 digest) = wrapped.verifyProof(pcProof, _withPoint(pcX, pcY), _vkaWords());
        assertTrue(success);
        assertEq(digest, bytes32(uint256(0xabc)));
        // registered with the true digest; the fake reports another: the market refuses it
        vm.prank(modelOwner);
        uint256 modelId = registry.registerModel(_pcSpec(address(wrapped), IModelRegistry.VerifierKind.Reusable), pcVka);
        uint256 jobId = _postPoint(modelId, pcX, pcY);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarket__VkaDigestMismatch.selector, pcVkaDigest, bytes32(uint256(0xabc))
            )
        );
        vm.prank(provider);
        market.submitResult(jobId, pcProof, _withPoint(pcX, pcY));
    }

    function test_RevertWhen_ReusableInnerAnswersFalse() public {
        PolycommitBinding wrapped = new PolycommitBinding(address(new FalseReusableVerifierFake()), 1);
        vm.expectRevert(PolycommitBinding.PolycommitBinding__InnerRejected.selector);
        wrapped.verifyProof(pcProof, _withPoint(pcX, pcY), _vkaWords());
    }

    function _slice(bytes memory data, uint256 length) internal pure returns (bytes memory out) {
        out = new bytes(length);
        for (uint256 i; i < length; ++i) {
            out[i] = data[i];
        }
    }
}
