// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {IProviderStaking} from "../src/interfaces/IProviderStaking.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {FalseVerifierFake} from "./fakes/VerifierFakes.sol";

contract JobMarketTest is Base {
    uint256 internal constant FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    // ------------------------------------------------------------ happy path (real EZKL proof)

    /// Storage keeps one outputs hash per settled job: the first settlement of a statement (verifier code, VKA,
    /// commitments) takes its replay-marker slot, a replay has its own; nothing before settlement.
    function test_OutputsHashPerSettledJobIncludingReplays() public {
        bytes32 expected = keccak256(abi.encodePacked(_outputs()));
        uint256 first = _postAndClaim(dedicatedModel);
        uint256 replay = _postAndClaim(dedicatedModel);
        uint256 pending = _post(dedicatedModel);
        assertEq(market.outputsHashOf(first), bytes32(0), "not settled yet");
        _submit(first);
        assertEq(market.outputsHashOf(first), expected, "first job");
        assertEq(market.outputsHashOf(replay), bytes32(0), "a claimed replay has no outputs yet");
        assertEq(market.outputsHashOf(pending), bytes32(0), "an open replay has no outputs yet");
        _submit(replay);
        assertEq(market.outputsHashOf(replay), expected, "replay");
        assertEq(market.getJob(replay).flags, market.FLAG_NO_REWARD(), "flagged at its settlement");
        assertEq(market.outputsHashOf(first), expected, "the replay did not touch the first job's hash");
    }

    function test_SettlesWithRealDedicatedProofAndPaysOnce() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256 collateral = market.getJob(jobId).collateral;
        assertEq(collateral, PRICE * 15_000 / 10_000, "new provider locks the low-tier 150 %");
        assertEq(staking.getProvider(provider).locked, collateral, "locked");
        uint256 ngxBefore = token.balanceOf(provider);

        vm.warp(block.timestamp + 10 minutes);
        vm.expectEmit(true, true, false, true, address(market));
        // The reward is capped at 80 % of the protocol fee (2.5 NGX): 2 NGX, below the scheduled 10 NGX.
        emit IJobMarket.JobSettled(jobId, provider, _outputs(), 92.5 ether, 5 ether, 2.5 ether, 2 ether);
        _submit(jobId);

        IJobMarket.Job memory job = market.getJob(jobId);
        assertTrue(job.status == IJobMarket.JobStatus.Settled, "settled");
        // The outputs are in JobSettled; storage keeps their hash.
        assertEq(market.outputsHashOf(jobId), keccak256(abi.encodePacked(_outputs())));
        assertEq(market.claimable(provider), 92.5 ether, "provider pay");
        assertEq(market.claimable(modelOwner), 5 ether, "royalty");
        assertEq(market.claimable(treasury), 2.5 ether, "fee");
        assertEq(staking.getProvider(provider).locked, 0, "collateral released");
        assertEq(rewards.owedTo(provider), 2 ether, "emission reward = 80 % of the fee, owed by the pool");
        assertEq(token.balanceOf(provider), ngxBefore, "rewards are pulled, not pushed");
        assertEq(reputation.factsOf(provider).completed, 1, "completion recorded");

        // paid once: the same proof again is refused
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, jobId, IJobMarket.JobStatus.Settled)
        );
        _submit(jobId);

        vm.prank(provider);
        assertEq(market.withdraw(), 92.5 ether, "withdrawn");
        assertEq(market.claimable(provider), 0, "nothing left");
        assertEq(token.balanceOf(provider) - ngxBefore, 92.5 ether + 2 ether, "pay and reward in one withdraw");
        assertEq(rewards.owedTo(provider), 0, "reward claimed");
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NothingToWithdraw.selector, provider));
        vm.prank(provider);
        market.withdraw();
    }

    function test_RevertWhen_ProofTampered() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        bytes memory bad = proof;
        bad[100] = bytes1(uint8(bad[100]) ^ 0x01);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidProof.selector, jobId));
        vm.prank(provider);
        market.submitResult(jobId, bad, instances);
    }

    function test_RevertWhen_OutputTampered() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256[] memory inst = instances;
        inst[1] = inst[1] + 1 < FIELD ? inst[1] + 1 : 0;
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidProof.selector, jobId));
        vm.prank(provider);
        market.submitResult(jobId, proof, inst);
    }

    function test_RevertWhen_ProofIsForAnotherJobsCommitment() public {
        uint256[] memory other = new uint256[](1);
        other[0] = 12345;
        vm.prank(consumer);
        uint256 jobId = market.postJob(dedicatedModel, other, PRICE, CLAIM_WINDOW, PROVE_WINDOW, 0);
        vm.prank(provider);
        market.claimJob(jobId);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__CommitmentMismatch.selector, jobId));
        _submit(jobId);
    }

    function test_RevertWhen_SubmittedByAnotherAccount() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotAssignedProvider.selector, jobId, stranger));
        vm.prank(stranger);
        market.submitResult(jobId, proof, instances);
    }

    function test_RevertWhen_InstanceCountWrong() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256[] memory inst = new uint256[](2);
        (inst[0], inst[1]) = (instances[0], instances[1]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InstanceCountMismatch.selector, 3, 2));
        vm.prank(provider);
        market.submitResult(jobId, proof, inst);
    }

    function test_RevertWhen_InstanceNotInField() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256[] memory inst = instances;
        inst[2] = FIELD;
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InstanceOutOfField.selector, 2, FIELD));
        vm.prank(provider);
        market.submitResult(jobId, proof, inst);
    }

    function test_RevertWhen_CommitmentNotInField() public {
        uint256[] memory c = new uint256[](1);
        c[0] = FIELD + 5;
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InstanceOutOfField.selector, 0, FIELD + 5));
        vm.prank(consumer);
        market.postJob(dedicatedModel, c, PRICE, CLAIM_WINDOW, PROVE_WINDOW, 0);
    }

    function test_RevertWhen_VerifierAnswersFalse() public {
        FalseVerifierFake fake = new FalseVerifierFake();
        vm.prank(modelOwner);
        uint256 modelId = registry.registerModel(_spec(address(fake), IModelRegistry.VerifierKind.Dedicated), "");
        uint256 jobId = _postAndClaim(modelId);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidProof.selector, jobId));
        _submit(jobId);
    }

    // ------------------------------------------------------------ deadlines

    function test_ClaimDeadlineBoundaries() public {
        uint256 jobId = _post(dedicatedModel);
        uint256 deadline = market.getJob(jobId).claimDeadline;
        vm.warp(deadline - 1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotExpired.selector, jobId, deadline));
        market.expireJob(jobId);
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__ClaimWindowClosed.selector, jobId, deadline));
        vm.prank(provider);
        market.claimJob(jobId);
        vm.warp(deadline - 1);
        vm.prank(provider);
        market.claimJob(jobId);
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Claimed, "claimed at deadline - 1");
    }

    function test_ExpireOpenJobAtClaimDeadlineRefunds() public {
        uint256 jobId = _post(dedicatedModel);
        vm.warp(market.getJob(jobId).claimDeadline);
        vm.prank(stranger);
        market.expireJob(jobId);
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Expired, "expired");
        assertEq(market.claimable(consumer), PRICE, "refund credited");
    }

    function test_SubmitOneSecondBeforeProveDeadline() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256 deadline = market.getJob(jobId).proveDeadline;
        vm.warp(deadline - 1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotExpired.selector, jobId, deadline));
        market.expireJob(jobId);
        _submit(jobId);
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Settled, "settled at deadline - 1");
    }

    function test_RevertWhen_SubmitAtOrAfterProveDeadline() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256 deadline = market.getJob(jobId).proveDeadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__ProveWindowClosed.selector, jobId, deadline));
        _submit(jobId);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__ProveWindowClosed.selector, jobId, deadline));
        _submit(jobId);
    }

    function test_ExpireMissedJobRefundsAndSlashes() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        IJobMarket.Job memory job = market.getJob(jobId);
        uint256 collateral = job.collateral; // 150 NGX
        uint256 supplyBefore = token.totalSupply();
        uint256 consumerBefore = token.balanceOf(consumer);
        uint256 treasuryBefore = token.balanceOf(treasury);
        vm.warp(job.proveDeadline + 1);
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.JobReopened(jobId, provider, collateral / 2, collateral / 4, block.timestamp + PROVE_WINDOW);
        vm.prank(stranger);
        market.expireJob(jobId);
        assertEq(supplyBefore - token.totalSupply(), collateral / 4, "half the slash burned at once");
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Open, "reopened for a second prover");

        vm.warp(market.getJob(jobId).claimDeadline);
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.JobExpired(jobId, address(0), PRICE, 0, collateral / 4);
        vm.prank(stranger);
        market.expireJob(jobId);
        assertEq(market.claimable(consumer), PRICE, "price refunded");
        assertEq(token.balanceOf(consumer), consumerBefore, "the consumer gets no slash share");
        assertEq(token.balanceOf(treasury), treasuryBefore, "nothing to the treasury");
        assertEq(supplyBefore - token.totalSupply(), collateral / 2, "the unpaid bounty burned too");
        assertEq(market.totalLiabilities(), PRICE, "only the refund is owed");
        IProviderStaking.Provider memory p = staking.getProvider(provider);
        assertEq(p.locked, 0, "collateral unlocked");
        assertEq(p.staked, STAKE - collateral / 2, "stake reduced by the slash");
        assertEq(reputation.factsOf(provider).missed, 1, "miss recorded");
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, jobId, IJobMarket.JobStatus.Expired)
        );
        market.expireJob(jobId);
    }

    // ------------------------------------------------------------ cancel / decline / rate

    function test_CancelBeforeClaimRefunds() public {
        uint256 jobId = _post(dedicatedModel);
        vm.prank(consumer);
        market.cancelJob(jobId);
        assertEq(market.claimable(consumer), PRICE, "refund");
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Cancelled, "cancelled");
        uint256 before = token.balanceOf(consumer);
        vm.prank(consumer);
        market.withdraw();
        assertEq(token.balanceOf(consumer) - before, PRICE, "refund withdrawn");
    }

    function test_RevertWhen_CancelAfterClaimOrByStranger() public {
        uint256 jobId = _post(dedicatedModel);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotConsumer.selector, jobId, stranger));
        vm.prank(stranger);
        market.cancelJob(jobId);
        vm.prank(provider);
        market.claimJob(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, jobId, IJobMarket.JobStatus.Claimed)
        );
        vm.prank(consumer);
        market.cancelJob(jobId);
    }

    function test_DeclineRefundsWithoutSlash() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.prank(provider);
        market.declineJob(jobId, IJobMarket.DeclineReason.InputInvalid); // within the free allowance
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Cancelled, "cancelled");
        assertEq(market.claimable(consumer), PRICE, "refund");
        assertEq(staking.getProvider(provider).locked, 0, "unlocked");
        assertEq(staking.getProvider(provider).staked, STAKE, "no slash");
    }

    function test_RateOnceAfterSettlement() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, jobId, IJobMarket.JobStatus.Claimed)
        );
        vm.prank(consumer);
        market.rateJob(jobId, 5);
        _submit(jobId);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidRating.selector, 6));
        vm.prank(consumer);
        market.rateJob(jobId, 6);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotConsumer.selector, jobId, provider));
        vm.prank(provider);
        market.rateJob(jobId, 5);
        vm.prank(consumer);
        market.rateJob(jobId, 5);
        assertEq(reputation.factsOf(provider).ratingSum, 5, "rating recorded");
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__AlreadyRated.selector, jobId));
        vm.prank(consumer);
        market.rateJob(jobId, 4);
    }

    // ------------------------------------------------------------ eligibility and posting checks

    function test_RevertWhen_ClaimerIneligible() public {
        uint256 jobId = _post(dedicatedModel);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__ProviderNotRegistered.selector, provider2));
        vm.prank(provider2);
        market.claimJob(jobId);
        _registerAndStake(provider2, 500 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__StakeBelowMinimum.selector, provider2, 500 ether, 1_000 ether)
        );
        vm.prank(provider2);
        market.claimJob(jobId);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__ConsumerCannotClaim.selector, jobId));
        vm.prank(consumer);
        market.claimJob(jobId);
    }

    function test_RevertWhen_ReputationBelowJobMinimum() public {
        vm.prank(consumer);
        uint256 jobId = market.postJob(dedicatedModel, _commitments(), PRICE, CLAIM_WINDOW, PROVE_WINDOW, 41);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__ReputationTooLow.selector, provider, 40, 41));
        vm.prank(provider);
        market.claimJob(jobId);
    }

    function test_RevertWhen_PostParametersInvalid() public {
        uint256[] memory c = _commitments();
        vm.startPrank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidPrice.selector, 0));
        market.postJob(dedicatedModel, c, 0, CLAIM_WINDOW, PROVE_WINDOW, 0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__ClaimWindowOutOfBounds.selector, 59, 60, 7 days));
        market.postJob(dedicatedModel, c, PRICE, 59, PROVE_WINDOW, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__ProveWindowOutOfBounds.selector, 1 days + 1, 60, 1 days)
        );
        market.postJob(dedicatedModel, c, PRICE, CLAIM_WINDOW, 1 days + 1, 0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidMinReputation.selector, 101));
        market.postJob(dedicatedModel, c, PRICE, CLAIM_WINDOW, PROVE_WINDOW, 101);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__CommitmentCountMismatch.selector, 1, 2));
        market.postJob(dedicatedModel, new uint256[](2), PRICE, CLAIM_WINDOW, PROVE_WINDOW, 0);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry__UnknownModel.selector, 99));
        market.postJob(99, c, PRICE, CLAIM_WINDOW, PROVE_WINDOW, 0);
        vm.stopPrank();
    }

    function test_RevertWhen_ModelDeprecatedOrPaused() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.prank(guardian);
        registry.pauseModel(dedicatedModel);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__ModelNotActive.selector, dedicatedModel));
        _post(dedicatedModel);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__ModelPaused.selector, dedicatedModel));
        _submit(jobId);
        vm.prank(guardian);
        registry.unpauseModel(dedicatedModel);
        vm.prank(modelOwner);
        registry.deprecateModel(dedicatedModel);
        _submit(jobId); // jobs already claimed still settle on a deprecated model
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__ModelNotActive.selector, dedicatedModel));
        _post(dedicatedModel);
    }

    function test_PostJobWithPermit() public {
        uint256 pk = 0xA11CE;
        address signer = vm.addr(pk);
        vm.prank(treasury);
        token.transfer(signer, PRICE);
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                signer,
                address(market),
                PRICE,
                token.nonces(signer),
                block.timestamp + 1 hours
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        vm.prank(signer);
        uint256 jobId = market.postJobWithPermit(
            dedicatedModel, _commitments(), PRICE, CLAIM_WINDOW, PROVE_WINDOW, 0, block.timestamp + 1 hours, v, r, s
        );
        assertEq(market.getJob(jobId).price, PRICE, "posted");
        assertEq(token.balanceOf(address(market)), PRICE, "escrowed");
    }

    // ------------------------------------------------------------ guardian pause

    function test_PauseBlocksNewWorkButNotExits() public {
        uint256 openJob = _post(dedicatedModel);
        uint256 claimedJob = _postAndClaim(dedicatedModel);
        uint256 expiringJob = _postAndClaim(dedicatedModel);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotGuardian.selector, stranger));
        vm.prank(stranger);
        market.pause();
        vm.prank(guardian);
        market.pause();

        vm.expectRevert(Pausable.EnforcedPause.selector);
        _post(dedicatedModel);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vm.prank(provider);
        market.claimJob(openJob);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        _submit(claimedJob);

        vm.prank(consumer);
        market.cancelJob(openJob);
        vm.prank(provider);
        market.declineJob(claimedJob, IJobMarket.DeclineReason.InputInvalid);
        vm.warp(block.timestamp + PROVE_WINDOW);
        market.expireJob(expiringJob);
        // The pause kept the provider from submitting: no slash and no miss for the expired job.
        assertEq(staking.stakedOf(provider), STAKE, "no slash while paused");
        assertEq(staking.getProvider(provider).locked, 0, "all collateral unlocked");
        assertEq(reputation.factsOf(provider).missed, 0, "no miss while paused");
        vm.prank(consumer);
        assertEq(market.withdraw(), 3 * PRICE, "refunds withdrawn while paused");

        vm.prank(guardian);
        market.unpause();
        _post(dedicatedModel);
    }

    // ------------------------------------------------------------ fuzz

    function testFuzz_SettlementSplitConserves(uint96 price, uint16 feeBps, uint16 royaltyBps) public {
        price = uint96(bound(price, 0.1 ether, 1_000 ether));
        feeBps = uint16(bound(feeBps, 0, 1_000));
        royaltyBps = uint16(bound(royaltyBps, 0, 2_000));
        config.setProtocolFeeBps(feeBps);
        IModelRegistry.ModelSpec memory spec = _spec(address(dedicatedVerifier), IModelRegistry.VerifierKind.Dedicated);
        spec.royaltyBps = royaltyBps;
        vm.prank(modelOwner);
        uint256 modelId = registry.registerModel(spec, "");
        vm.prank(consumer);
        uint256 jobId = market.postJob(modelId, _commitments(), price, CLAIM_WINDOW, PROVE_WINDOW, 0);
        vm.prank(provider);
        market.claimJob(jobId);
        _submit(jobId);

        uint256 pay = market.claimable(provider);
        uint256 royalty = market.claimable(modelOwner);
        uint256 fee = market.claimable(treasury);
        assertEq(pay + royalty + fee, price, "split conserves the price");
        assertEq(fee, uint256(price) * feeBps / 10_000, "fee");
        assertEq(royalty, uint256(price) * royaltyBps / 10_000, "royalty");
        assertEq(market.totalLiabilities(), price, "liabilities == credited");
        assertEq(token.balanceOf(address(market)), market.totalLiabilities(), "market solvent");
    }

    function testFuzz_CollateralTierFollowsReputation(uint96 price) public {
        price = uint96(bound(price, 0.1 ether, 1_000 ether));
        vm.prank(consumer);
        uint256 jobId = market.postJob(dedicatedModel, _commitments(), price, CLAIM_WINDOW, PROVE_WINDOW, 0);
        vm.prank(provider);
        market.claimJob(jobId);
        assertEq(market.getJob(jobId).collateral, uint256(price) * 15_000 / 10_000, "NRS 40 -> low tier");
    }
}
