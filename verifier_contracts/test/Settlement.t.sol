// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {JobWords} from "./utils/JobWords.sol";
import {SettlementBase} from "./utils/SettlementBase.sol";
import {VmLogs} from "./utils/OrderBatchBase.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IJobSettlement} from "../src/interfaces/IJobSettlement.sol";
import {IReputation} from "../src/interfaces/IReputation.sol";
import {IProviderStaking} from "../src/interfaces/IProviderStaking.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {JobMarketState} from "../src/JobMarketState.sol";
import {RecordingConsumer, ReentrantConsumerFake} from "./MarketII.t.sol";

/// The storage-writing cheatcode the shared `Vm` interface lacks (forge's signature).
interface VmStore {
    function store(address target, bytes32 slot, bytes32 value) external;
}

/// Issue #24: optimistic settlement (submit, challenge, answer, uphold, finalize) and eager batches, compared with
/// eager settlement of the same jobs at the same times.
contract SettlementTest is SettlementBase {
    uint256 internal constant BAD = 5; // the job of the 16 with a wrong output

    // ------------------------------------------------------------ 16 jobs, one wrong

    /// 16 jobs of 4 consumers on 2 models (jobs i: consumer i % 4, model by i % 2), claimed at the same time.
    function _sixteen(uint8 mode) internal returns (uint256[] memory ids) {
        ids = new uint256[](16);
        for (uint256 i; i < 16; ++i) {
            ids[i] = _claimedAs(consumers[i % 4], i % 2 == 0 ? dedicatedModel : reusableModel, mode);
        }
    }

    function test_SixteenJobsOneWrongIsChallengedUpheldTheOthersPayAsEager() public {
        uint256 snap = vm.snapshotState();
        // --- eager: the 15 good jobs settled with their proofs at t0 + 60
        uint256[] memory ids = _sixteen(0);
        vm.warp(block.timestamp + 60);
        for (uint256 i; i < 16; ++i) {
            if (i != BAD) _submit(ids[i]);
        }
        Money memory eager = _money();
        bool[16] memory eagerNoReward;
        for (uint256 i; i < 16; ++i) {
            eagerNoReward[i] = market.getJob(ids[i]).flags & market.FLAG_NO_REWARD() != 0;
        }
        vm.revertToState(snap);

        // --- optimistic: the same jobs in one submission at t0 + 60, job BAD with a wrong output
        ids = _sixteen(1);
        vm.warp(block.timestamp + 60);
        IJobSettlement.Result[] memory rs = new IJobSettlement.Result[](16);
        for (uint256 i; i < 16; ++i) {
            rs[i] = _resultOf(ids[i], i == BAD ? _wrongOutputs() : _outputs());
        }
        uint256 batchId = _submitAs(provider, rs);
        assertEq(settlement.batchCount(), 1);
        for (uint256 i; i < 16; ++i) {
            assertTrue(market.getJob(ids[i]).status == IJobMarket.JobStatus.Submitted, "submitted");
        }
        uint256 collateral = market.getJob(ids[BAD]).collateral;
        uint256 lockedBefore = staking.getProvider(provider).locked;
        uint256 supplyBefore = token.totalSupply();

        _challengeAs(challenger, batchId, rs, BAD);
        assertTrue(market.getJob(ids[BAD]).status == IJobMarket.JobStatus.Challenged, "challenged");
        _assertSolvent();
        vm.warp(settlement.answerDeadlineOf(ids[BAD]));
        settlement.upholdChallenge(ids[BAD]);

        uint256 slashed = collateral / 2; // slashBps 5,000
        uint256 burned = slashed / 2; // slashBurnBps 5,000
        uint256 reward = slashed - burned; // challengerRewardBps 5,000, capped at what the burn leaves
        assertTrue(market.getJob(ids[BAD]).status == IJobMarket.JobStatus.Expired, "upheld");
        assertEq(market.claimable(challenger), BOND + reward, "challenger: bond back plus reward");
        assertEq(staking.getProvider(provider).locked, lockedBefore - collateral, "its collateral released");
        assertEq(supplyBefore - token.totalSupply(), burned, "burn share burned");
        assertEq(reputation.factsOf(provider).missed, 1, "a miss");
        _assertSolvent();

        assertEq(_finalize(batchId, rs), 15, "the other 15 settle");
        Money memory opt = _money();
        // The wrong job's consumer got exactly its price back, nothing else differs from eager settlement.
        assertEq(opt.consumers[BAD % 4], eager.consumers[BAD % 4] + PRICE, "refund of the wrong job");
        opt.consumers[BAD % 4] = eager.consumers[BAD % 4];
        assertEq(opt.staked, eager.staked - slashed, "slashed");
        opt.staked = eager.staked;
        // Eager left job BAD claimed (its collateral still locked); the uphold ended it and released it.
        assertEq(eager.locked - opt.locked, collateral, "the wrong job's collateral no longer locked");
        opt.locked = eager.locked;
        _assertSameMoney(opt, eager);
        _assertSettledAsEagerExceptBad(ids, eagerNoReward);
        assertEq(settlement.batchOf(batchId).root, bytes32(0), "finished batch deleted");
        assertEq(settlement.finalizeBatch.selector, IJobSettlement.finalizeBatch.selector);
        _assertSolvent();
    }

    /// Every job but BAD settled with the good outputs and the reward flag eager settlement gave it.
    function _assertSettledAsEagerExceptBad(uint256[] memory ids, bool[16] memory eagerNoReward) internal view {
        for (uint256 i; i < 16; ++i) {
            if (i == BAD) continue;
            IJobMarket.Job memory job = market.getJob(ids[i]);
            assertTrue(job.status == IJobMarket.JobStatus.Settled, "settled");
            assertEq(job.flags & market.FLAG_NO_REWARD() != 0, eagerNoReward[i]);
            assertEq(market.outputsHashOf(ids[i]), keccak256(abi.encodePacked(_outputs())), "outputs");
        }
    }

    /// Distinct statements (each job its own commitment): all 16 rewarded, the batched reward and reputation calls
    /// give what 16 single calls give (checked against the pool's and reputation's own one-job functions).
    function test_SixteenDistinctJobsAllRewardedAsSingleCallsWould() public {
        uint256[] memory ids = new uint256[](16);
        IJobSettlement.Result[] memory rs = new IJobSettlement.Result[](16);
        for (uint256 i; i < 16; ++i) {
            ids[i] = _postTermsAs(consumers[i % 4], _termsOf(i % 2 == 0 ? dedicatedModel : reusableModel, 1), 1000 + i);
            vm.prank(provider);
            market.claimJob(ids[i]);
        }
        vm.warp(block.timestamp + 100);
        for (uint256 i; i < 16; ++i) {
            rs[i] = _resultOf(ids[i], _outputs());
        }
        uint256 batchId = _submitAs(provider, rs);
        vm.warp(block.timestamp + WINDOW);
        uint256 snap = vm.snapshotState();
        assertEq(settlement.finalizeBatch(batchId, rs, JobWords.read(address(market), rs)), 16);
        Money memory batched = _money();
        vm.revertToState(snap);
        // The same effects, one job at a time, through the contracts' single-job entry points.
        uint256 fee = PRICE * 250 / 10_000;
        for (uint256 i; i < 16; ++i) {
            vm.prank(address(market));
            rewards.reward(provider, fee);
            vm.prank(address(market));
            reputation.recordCompletion(provider, consumers[i % 4], 100, PROVE_WINDOW, fee);
        }
        assertEq(rewards.owedTo(provider), batched.owed, "rewards as 16 single grants");
        assertEq(reputation.factsOf(provider).weightMilli, batched.weight, "weights as 16 single records");
        assertEq(reputation.factsOf(provider).windowUsedBpsSum, batched.windowUsed, "window use");
        assertEq(reputation.factsOf(provider).completed, 16);
        for (uint256 i; i < 4; ++i) {
            assertEq(reputation.consumerFactsOf(consumers[i]).settledWeightMilli, batched.settledWeight[i]);
            assertEq(reputation.pairCompletions(provider, consumers[i]), batched.pairs[i]);
        }
    }

    // ------------------------------------------------------------ griefing and windows

    function test_ChallengeOfAValidResultIsAnsweredBondToProviderSettlesAsEager() public {
        uint256 snap = vm.snapshotState();
        uint256 id = _claimedAs(consumers[0], dedicatedModel, 0);
        vm.warp(block.timestamp + 60);
        _submit(id);
        Money memory eager = _money();
        vm.revertToState(snap);

        id = _claimedAs(consumers[0], dedicatedModel, 1);
        vm.warp(block.timestamp + 60);
        IJobSettlement.Result[] memory rs = _one(_resultOf(id, _outputs()));
        uint256 batchId = _submitAs(provider, rs);
        uint256 before = payToken.balanceOf(challenger);
        _challengeAs(challenger, batchId, rs, 0);
        assertEq(before - payToken.balanceOf(challenger), BOND, "bond escrowed");

        vm.prank(challenger);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, id, IJobMarket.JobStatus.Challenged)
        );
        settlement.challenge(batchId, rs, JobWords.read(address(market), rs), 0);

        vm.warp(block.timestamp + 30 minutes);
        vm.prank(provider);
        settlement.answerChallenge(id, proof, instances);
        Money memory opt = _money();
        assertEq(opt.provider, eager.provider + BOND, "the provider is paid as eager plus the bond");
        opt.provider = eager.provider;
        _assertSameMoney(opt, eager);
        assertEq(market.claimable(challenger), 0, "the griefer lost its bond");
        assertTrue(market.getJob(id).status == IJobMarket.JobStatus.Settled);
        assertEq(settlement.challengeOf(id).challenger, address(0));
        // the batch's only job is finished: finalization settles nothing and deletes it
        vm.warp(settlement.batchOf(batchId).challengeDeadline);
        assertEq(settlement.finalizeBatch(batchId, rs, JobWords.read(address(market), rs)), 0);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__UnknownBatch.selector, batchId));
        vm.prank(challenger);
        settlement.challenge(batchId, rs, JobWords.read(address(market), rs), 0);
        _assertSolvent();
    }

    function test_RevertWhen_ChallengeAfterWindowOrByProviderOrOfFinalizedJob() public {
        uint256 a = _claimedAs(consumers[0], dedicatedModel, 1);
        uint256 b = _claimedAs(consumers[1], dedicatedModel, 1);
        IJobSettlement.Result[] memory rs = new IJobSettlement.Result[](2);
        (rs[0], rs[1]) = (_resultOf(a, _outputs()), _resultOf(b, _outputs()));
        uint256 batchId = _submitAs(provider, rs);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__ProviderCannotChallenge.selector, a));
        settlement.challenge(batchId, rs, JobWords.read(address(market), rs), 0);
        _challengeAs(challenger, batchId, rs, 1);
        uint256 deadline = settlement.batchOf(batchId).challengeDeadline;
        vm.warp(deadline);
        vm.expectRevert(
            abi.encodeWithSelector(IJobSettlement.JobMarket__ChallengeWindowClosed.selector, batchId, deadline)
        );
        vm.prank(challenger);
        settlement.challenge(batchId, rs, JobWords.read(address(market), rs), 0);
        uint256[] memory words = JobWords.read(address(market), rs);
        assertEq(settlement.finalizeBatch(batchId, rs, words), 1, "the unchallenged job");
        assertEq(settlement.batchOf(batchId).root, bytes32(0), "finished: the challenge took its job out of the batch");
        assertEq(uint8(market.getJob(a).status), uint8(IJobMarket.JobStatus.Settled), "finalized");
        assertEq(uint8(market.getJob(b).status), uint8(IJobMarket.JobStatus.Challenged), "still challenged");
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__UnknownBatch.selector, batchId));
        vm.prank(stranger);
        settlement.challenge(batchId, rs, words, 0);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__UnknownBatch.selector, batchId));
        settlement.finalizeBatch(batchId, rs, words);
        // The challenge outlives its batch (its record carries what its answer or its upholding needs).
        assertTrue(settlement.challengeOf(b).challenger == challenger, "the challenge stays open");
        settlement.upholdChallenge(b);
        assertEq(uint8(market.getJob(b).status), uint8(IJobMarket.JobStatus.Expired), "upheld");
    }

    /// A finalization leaves a job's own status slot as it was (Submitted) and sets the job's bit in a slot shared by
    /// 255 jobs: every reader and every path sees Settled, across a word boundary (jobs 253-257: word 1's in-use bit,
    /// set when job 255 was created, marks no job; job 258 beside them stays Claimed), and no path pays a finalized
    /// job twice or expires it.
    function test_AFinalizedJobIsSettledForEveryReaderAndPathAcrossAWordBoundary() public {
        // The job count (the market's slot 0, low 64 bits) jumps to 252: the next jobs straddle words 0 and 1.
        uint256 counters = uint256(vm.load(address(market), bytes32(0)));
        vm.store(address(market), bytes32(0), bytes32((counters >> 64) << 64 | 252));
        IJobSettlement.Result[] memory rs = new IJobSettlement.Result[](5);
        for (uint256 i; i < 5; ++i) {
            rs[i] = _resultOf(_claimedAs(consumers[i % 4], dedicatedModel, 1), _outputs());
        }
        uint256 neighbour = _claimedAs(consumers[0], dedicatedModel, 1);
        assertEq(rs[0].jobId, 253, "first job");
        assertEq(neighbour, 258, "the neighbour");
        uint256 batchId = _submitAs(provider, rs);
        assertEq(_finalize(batchId, rs), 5, "all five settled");
        Money memory once = _money();
        bytes32 outputsHash = keccak256(abi.encodePacked(_outputs()));
        for (uint256 i; i < 5; ++i) {
            uint256 id = rs[i].jobId;
            assertEq(uint8(market.getJob(id).status), uint8(IJobMarket.JobStatus.Settled), "getJob reads Settled");
            uint256 own = uint256(vm.load(address(market), bytes32(uint256(keccak256(abi.encode(id, uint256(1)))))));
            assertEq((own >> 240) & 0xff, uint256(IJobMarket.JobStatus.Submitted), "its own slot is not written");
            assertEq(market.outputsHashOf(id), outputsHash, "outputsHashOf");
            bytes memory settled =
                abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, id, IJobMarket.JobStatus.Settled);
            vm.prank(provider);
            vm.expectRevert(settled);
            market.submitResult(id, proof, instances);
            vm.expectRevert(settled);
            market.expireJob(id);
        }
        assertEq(uint8(market.getJob(neighbour).status), uint8(IJobMarket.JobStatus.Claimed), "the neighbour");
        vm.prank(consumers[0]);
        market.rateJob(rs[0].jobId, 5);
        assertEq(market.getJob(rs[0].jobId).rating, 5, "a finalized job is rated");
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__UnknownBatch.selector, batchId));
        settlement.finalizeBatch(batchId, rs, JobWords.read(address(market), rs));
        _assertSameMoney(_money(), once);
        _assertSolvent();
    }

    function test_RevertWhen_AnswerDoesNotMatchTheCommitment() public {
        uint256 a = _claimedAs(consumers[0], dedicatedModel, 1);
        uint256 b = _claimedAs(consumers[1], reusableModel, 1);
        IJobSettlement.Result[] memory rs = new IJobSettlement.Result[](2);
        (rs[0], rs[1]) = (_resultOf(a, _outputs()), _resultOf(b, _wrongOutputs()));
        uint256 batchId = _submitAs(provider, rs);
        _challengeAs(challenger, batchId, rs, 0);
        _challengeAs(stranger, batchId, rs, 1);

        bytes memory other = bytes.concat(proof, hex"00"); // another proof than the committed one
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__AnswerMismatch.selector, a));
        settlement.answerChallenge(a, other, instances);

        // b committed wrong outputs: the true proof does not match them, and a proof of them does not verify
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__AnswerMismatch.selector, b));
        settlement.answerChallenge(b, proof, instances);
        uint256[] memory lying = new uint256[](3);
        (lying[0], lying[1], lying[2]) = (instances[0], 1, 2);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidProof.selector, b));
        settlement.answerChallenge(b, proof, lying);

        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotAssignedProvider.selector, a, stranger));
        settlement.answerChallenge(a, proof, instances);

        uint256 deadline = settlement.answerDeadlineOf(a);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__AnswerWindowOpen.selector, a, deadline));
        settlement.upholdChallenge(a);
        vm.warp(deadline);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__AnswerWindowClosed.selector, a, deadline));
        settlement.answerChallenge(a, proof, instances);
        settlement.upholdChallenge(a);
        settlement.upholdChallenge(b);
        assertEq(market.claimable(consumers[0]), PRICE);
        assertEq(market.claimable(consumers[1]), PRICE);
        _assertSolvent();
    }

    function test_RevertWhen_FinalizeEarlyOrTampered() public {
        uint256 a = _claimedAs(consumers[0], dedicatedModel, 1);
        IJobSettlement.Result[] memory rs = _one(_resultOf(a, _outputs()));
        uint256 batchId = _submitAs(provider, rs);
        uint256 deadline = block.timestamp + WINDOW;
        vm.warp(deadline - 1);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(IJobSettlement.JobMarket__ChallengeWindowOpen.selector, batchId, deadline)
        );
        settlement.finalizeBatch(batchId, rs, JobWords.read(address(market), rs));
        vm.warp(deadline);
        IJobSettlement.Result[] memory tampered = _one(_resultOf(a, _wrongOutputs()));
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__BatchMismatch.selector, batchId));
        settlement.finalizeBatch(batchId, tampered, JobWords.read(address(market), tampered));
        tampered[0] = _resultOf(a, _outputs());
        tampered[0].proofHash = bytes32(uint256(1));
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__BatchMismatch.selector, batchId));
        settlement.finalizeBatch(batchId, tampered, JobWords.read(address(market), tampered));
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__UnknownBatch.selector, 7));
        settlement.finalizeBatch(7, rs, JobWords.read(address(market), rs));
        assertEq(settlement.finalizeBatch(batchId, rs, JobWords.read(address(market), rs)), 1);
    }

    /// The job words a finalization or a challenge takes (slots 1 and 2 of each job) are authenticated by the root:
    /// a forged price, collateral, model, prove deadline, flag or callback gas, or a missing or extra word, is refused
    /// (so a finalizer cannot pay a job at another price, unlock other collateral, skip a bounty or a callback, or
    /// move its NRS time), and the words as submitted settle the batch with the stored job's amounts.
    function testFuzz_RevertWhen_JobWordsForged(uint256 which, uint256 delta) public {
        uint256 a = _claimedAs(consumers[0], dedicatedModel, 1);
        uint256 b = _claimedAs(consumers[1], dedicatedModel, 1);
        IJobSettlement.Result[] memory rs = new IJobSettlement.Result[](2);
        (rs[0], rs[1]) = (_resultOf(a, _outputs()), _resultOf(b, _outputs()));
        uint256 batchId = _submitAs(provider, rs);
        uint256[] memory words = JobWords.read(address(market), rs);
        uint256[] memory forged = JobWords.read(address(market), rs);
        uint256 bit = bound(delta, 0, 255);
        forged[which % 4] ^= 1 << bit; // any one bit of any field of either job
        _fund(challenger, BOND);
        vm.prank(challenger);
        payToken.approve(address(market), type(uint256).max);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__BatchMismatch.selector, batchId));
        settlement.challenge(batchId, rs, forged, 0);
        vm.warp(settlement.batchOf(batchId).challengeDeadline);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__BatchMismatch.selector, batchId));
        settlement.finalizeBatch(batchId, rs, forged);
        uint256[] memory short = new uint256[](3);
        (short[0], short[1], short[2]) = (words[0], words[1], words[2]);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__BatchMismatch.selector, batchId));
        settlement.finalizeBatch(batchId, rs, short);
        uint256 before = market.claimable(provider);
        assertEq(settlement.finalizeBatch(batchId, rs, words), 2);
        uint256 price = market.getJob(a).price + market.getJob(b).price;
        assertEq(market.claimable(provider) - before, price - price * 250 / 10_000 - price * 500 / 10_000, "paid");
    }

    /// IJobSettlement's packing of the job words from `getJob`'s fields (what an off-chain client computes) is the
    /// job's storage, as submitted.
    function test_JobWordsArePackedFromGetJob() public {
        uint256 a = _claimedAs(consumers[0], dedicatedModel, 1);
        IJobSettlement.Result[] memory rs = _one(_resultOf(a, _outputs()));
        IJobMarket.Job memory j = market.getJob(a);
        uint256[] memory words = JobWords.read(address(market), rs);
        assertEq(
            words[0],
            uint256(uint160(j.consumer)) | uint256(j.claimDeadline) << 160 | uint256(j.proveWindow) << 200,
            "state word"
        );
        assertEq(
            words[1],
            uint256(uint160(j.provider)) | uint256(j.proveDeadline) << 160 | uint256(j.flags) << 200
                | uint256(j.callbackGasLimit) << 208,
            "claim word"
        );
        assertEq(words[2], uint256(j.price) | uint256(j.collateral) << 96 | uint256(j.modelId) << 192, "terms word");
    }

    function test_RevertWhen_SubmissionIsNotTheProvidersOrModeOrDeadlineIsWrong() public {
        uint256 opt = _claimedAs(consumers[0], dedicatedModel, 1);
        uint256 eager = _claimedAs(consumers[1], dedicatedModel, 0);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotAssignedProvider.selector, opt, stranger));
        settlement.submitResults(_one(_resultOf(opt, _outputs())));
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__WrongSettlementMode.selector, eager));
        settlement.submitResults(_one(_resultOf(eager, _outputs())));
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__WrongSettlementMode.selector, opt));
        market.submitResult(opt, proof, instances);
        uint256[] memory ids = new uint256[](1);
        bytes[] memory proofs = new bytes[](1);
        uint256[][] memory inst = new uint256[][](1);
        (ids[0], proofs[0], inst[0]) = (opt, proof, instances);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__WrongSettlementMode.selector, opt));
        settlement.settleResults(ids, proofs, inst);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__OutputCountMismatch.selector, opt, 2, 3));
        settlement.submitResults(_one(_resultOf(opt, instances)));
        uint256[] memory big = _outputs();
        big[1] = market.SNARK_SCALAR_FIELD();
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InstanceOutOfField.selector, 1, big[1]));
        settlement.submitResults(_one(_resultOf(opt, big)));
        IJobSettlement.Result[] memory twice = new IJobSettlement.Result[](2);
        (twice[0], twice[1]) = (_resultOf(opt, _outputs()), _resultOf(opt, _outputs()));
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, opt, IJobMarket.JobStatus.Submitted)
        );
        settlement.submitResults(twice);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__InvalidBatchSize.selector, 0));
        settlement.submitResults(new IJobSettlement.Result[](0));
        uint256 deadline = market.getJob(opt).proveDeadline;
        vm.warp(deadline);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__ProveWindowClosed.selector, opt, deadline));
        settlement.submitResults(_one(_resultOf(opt, _outputs())));
    }

    function test_RevertWhen_ModuleCalledDirectly() public {
        uint256 opt = _claimedAs(consumers[0], dedicatedModel, 1);
        IJobSettlement direct = IJobSettlement(address(module));
        vm.startPrank(provider);
        vm.expectRevert(IJobSettlement.JobMarket__NotDelegated.selector);
        direct.submitResults(_one(_resultOf(opt, _outputs())));
        vm.expectRevert(IJobSettlement.JobMarket__NotDelegated.selector);
        JobMarket(address(module)).submitResult(opt, proof, instances);
        vm.expectRevert(IJobSettlement.JobMarket__NotDelegated.selector);
        direct.finalizeBatch(1, new IJobSettlement.Result[](0), new uint256[](0));
        vm.expectRevert(IJobSettlement.JobMarket__NotDelegated.selector);
        direct.upholdChallenge(opt);
        vm.expectRevert(IJobSettlement.JobMarket__NotDelegated.selector);
        direct.batchCount();
        vm.stopPrank();
        // the market has no receive and its fallback takes no ETH
        vm.deal(stranger, 1 ether);
        vm.prank(stranger);
        (bool ok,) = address(market).call{value: 1}("");
        assertFalse(ok);
    }

    // ------------------------------------------------------------ pauses

    function test_PauseDuringTheAnswerWindowMovesTheDeadlineAndUpholdWaits() public {
        uint256 a = _claimedAs(consumers[0], dedicatedModel, 1);
        IJobSettlement.Result[] memory rs = _one(_resultOf(a, _outputs()));
        uint256 batchId = _submitAs(provider, rs);
        _challengeAs(challenger, batchId, rs, 0);
        uint256 original = settlement.answerDeadlineOf(a);
        vm.warp(block.timestamp + 10 minutes);
        vm.prank(guardian);
        market.pause();
        vm.warp(original); // the provider could not answer: paused
        vm.prank(provider);
        vm.expectRevert(JobMarketState.EnforcedPause.selector);
        settlement.answerChallenge(a, proof, instances);
        vm.expectRevert(JobMarketState.EnforcedPause.selector);
        settlement.upholdChallenge(a); // no slash for time it could not use
        vm.warp(original + 1 hours);
        vm.prank(guardian);
        market.unpause();
        uint256 moved = settlement.answerDeadlineOf(a);
        assertEq(moved, block.timestamp + WINDOW, "a whole answer window from the unpause");
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__AnswerWindowOpen.selector, a, moved));
        settlement.upholdChallenge(a);
        vm.prank(provider);
        settlement.answerChallenge(a, proof, instances);
        assertTrue(market.getJob(a).status == IJobMarket.JobStatus.Settled);
        assertEq(market.claimable(provider), 92.5 ether + BOND);
    }

    function test_ModelPauseHoldsFinalizationAndUphold() public {
        uint256 a = _claimedAs(consumers[0], dedicatedModel, 1);
        uint256 b = _claimedAs(consumers[1], reusableModel, 1);
        IJobSettlement.Result[] memory rs = new IJobSettlement.Result[](2);
        (rs[0], rs[1]) = (_resultOf(a, _outputs()), _resultOf(b, _outputs()));
        uint256 batchId = _submitAs(provider, rs);
        vm.prank(guardian);
        registry.pauseModel(dedicatedModel);
        vm.warp(block.timestamp + WINDOW);
        assertEq(
            settlement.finalizeBatch(batchId, rs, JobWords.read(address(market), rs)),
            1,
            "only the unpaused model's job"
        );
        assertTrue(market.getJob(a).status == IJobMarket.JobStatus.Submitted, "waits");
        vm.prank(guardian);
        registry.unpauseModel(dedicatedModel);
        assertEq(settlement.finalizeBatch(batchId, rs, JobWords.read(address(market), rs)), 1);
        assertEq(settlement.batchOf(batchId).root, bytes32(0));
    }

    // ------------------------------------------------------------ reentrancy, unbonding

    function test_ReentrantCallbackDuringFinalizeHitsTheGuard() public {
        ReentrantConsumerFake c = new ReentrantConsumerFake(market);
        _fund(address(c), 1_000 ether);
        c.approve(address(payToken), type(uint256).max);
        IJobMarket.JobTerms memory t = _termsOf(dedicatedModel, 1);
        t.callbackGasLimit = 300_000;
        uint256[] memory cm = new uint256[](1);
        cm[0] = instances[0];
        uint256 id = c.post(t, cm);
        vm.prank(provider);
        market.claimJob(id);
        IJobSettlement.Result[] memory rs = _one(_resultOf(id, _outputs()));
        uint256 batchId = _submitAs(provider, rs);
        vm.warp(block.timestamp + WINDOW);
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.CallbackResult(id, address(c), false);
        settlement.finalizeBatch(batchId, rs, JobWords.read(address(market), rs));
        assertFalse(c.reentered());
        assertTrue(market.getJob(id).status == IJobMarket.JobStatus.Settled, "settled anyway");
        _assertSolvent();
    }

    function test_CollateralOfSubmittedAndChallengedJobsCannotBeUnstaked() public {
        uint256 a = _claimedAs(consumers[0], dedicatedModel, 1);
        uint256 locked = staking.getProvider(provider).locked;
        assertGt(locked, 0, "locked");
        IJobSettlement.Result[] memory rs = _one(_resultOf(a, _outputs()));
        uint256 batchId = _submitAs(provider, rs);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                IProviderStaking.ProviderStaking__InsufficientFreeStake.selector,
                provider,
                TOTAL_STAKE,
                TOTAL_STAKE - locked
            )
        );
        staking.requestUnstake(TOTAL_STAKE);
        _challengeAs(challenger, batchId, rs, 0);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                IProviderStaking.ProviderStaking__InsufficientFreeStake.selector,
                provider,
                TOTAL_STAKE,
                TOTAL_STAKE - locked
            )
        );
        staking.requestUnstake(TOTAL_STAKE);
        vm.prank(provider);
        settlement.answerChallenge(a, proof, instances);
        vm.prank(provider);
        staking.requestUnstake(TOTAL_STAKE);
    }

    // ------------------------------------------------------------ every feature, optimistic

    function test_OptimisticCallbackJobGetsOutputsAtFinalization() public {
        RecordingConsumer c = new RecordingConsumer(market);
        _fund(address(c), 1_000 ether);
        c.approve(address(payToken), type(uint256).max);
        IJobMarket.JobTerms memory t = _termsOf(reusableModel, 1);
        t.callbackGasLimit = 300_000;
        uint256[] memory cm = new uint256[](1);
        cm[0] = instances[0];
        uint256 id = c.post(t, cm);
        vm.prank(provider);
        market.claimJob(id);
        IJobSettlement.Result[] memory rs = _one(_resultOf(id, _outputs()));
        uint256 batchId = _submitAs(provider, rs);
        assertEq(c.calls(), 0, "nothing before finalization");
        _finalize(batchId, rs);
        assertEq(c.calls(), 1);
        assertEq(c.outputs(), _outputs());
    }

    /// A run keeps each job's outputs as a reference into the call's calldata until its JobSettled and callback:
    /// every job of a finalized batch gets its own outputs, pay, royalty, fee and reward in its event, and the
    /// callback job in the middle gets its own outputs.
    function test_FinalizedJobsEachGetTheirOwnOutputsInEventAndCallback() public {
        RecordingConsumer c = new RecordingConsumer(market);
        _fund(address(c), 1_000 ether);
        c.approve(address(payToken), type(uint256).max);
        IJobMarket.JobTerms memory t = _termsOf(dedicatedModel, 1);
        t.callbackGasLimit = 300_000;
        uint256[] memory cm = new uint256[](1);
        cm[0] = 7_001;
        uint256[] memory ids = new uint256[](3);
        ids[0] = _postTermsAs(consumers[0], _termsOf(dedicatedModel, 1), 7_000);
        ids[1] = c.post(t, cm);
        ids[2] = _postTermsAs(consumers[1], _termsOf(reusableModel, 1), 7_002);
        IJobSettlement.Result[] memory rs = new IJobSettlement.Result[](3);
        uint256[][] memory outs = new uint256[][](3);
        for (uint256 i; i < 3; ++i) {
            vm.prank(provider);
            market.claimJob(ids[i]);
            outs[i] = new uint256[](2);
            (outs[i][0], outs[i][1]) = (10 + 2 * i, 11 + 2 * i);
            rs[i] = _resultOf(ids[i], outs[i]);
        }
        // The outputs are logged once, at submission; a finalization's JobSettled carries the amounts only.
        uint256 expectedBatch = settlement.batchCount() + 1;
        for (uint256 i; i < 3; ++i) {
            vm.expectEmit(true, true, true, true, address(market));
            emit IJobSettlement.JobSubmitted(ids[i], expectedBatch, provider, outs[i], keccak256(proof));
        }
        uint256 batchId = _submitAs(provider, rs);
        vm.warp(block.timestamp + WINDOW);
        uint256 reward = rewards.rewardFor(provider, 2.5 ether); // every job is a first-time statement
        uint256[] memory none = new uint256[](0);
        for (uint256 i; i < 3; ++i) {
            vm.expectEmit(true, true, false, true, address(market));
            emit IJobMarket.JobSettled(ids[i], provider, none, 92.5 ether, 5 ether, 2.5 ether, reward);
        }
        _finalize(batchId, rs);
        assertEq(c.calls(), 1);
        assertEq(c.outputs(), outs[1]); // the callback job's own outputs
        for (uint256 i; i < 3; ++i) {
            assertEq(market.outputsHashOf(ids[i]), keccak256(abi.encodePacked(outs[i])));
        }
    }

    /// settleResults' events carry each job's outputs (the proof's output instances) and shares; the replays of the
    /// fixture's one statement get no reward.
    function test_SettleResultsEventsCarryOutputsAndShares() public {
        uint256[] memory ids = new uint256[](2);
        ids[0] = _claimedAs(consumers[0], dedicatedModel, 0);
        ids[1] = _claimedAs(consumers[1], dedicatedModel, 0);
        vm.warp(block.timestamp + 60);
        bytes[] memory proofs = new bytes[](2);
        uint256[][] memory inst = new uint256[][](2);
        (proofs[0], proofs[1], inst[0], inst[1]) = (proof, proof, instances, instances);
        uint256 reward = rewards.rewardFor(provider, 2.5 ether);
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.JobSettled(ids[0], provider, _outputs(), 92.5 ether, 5 ether, 2.5 ether, reward);
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.JobSettled(ids[1], provider, _outputs(), 92.5 ether, 5 ether, 2.5 ether, 0);
        vm.prank(provider);
        settlement.settleResults(ids, proofs, inst);
    }

    function test_OptimisticAuctionSettlesAtTheLockedPrice() public {
        IJobMarket.JobTerms memory t = _termsOf(dedicatedModel, 1);
        (t.minPrice, t.maxPrice, t.rampLength) = (uint96(10 ether), uint96(PRICE), 1000);
        uint256 id = _postTermsAs(consumers[0], t, instances[0]);
        vm.warp(block.timestamp + 500);
        vm.prank(provider);
        market.claimJob(id);
        uint256 price = market.getJob(id).price;
        assertEq(price, 55 ether);
        IJobSettlement.Result[] memory rs = _one(_resultOf(id, _outputs()));
        _finalize(_submitAs(provider, rs), rs);
        uint256 fee = price * 250 / 10_000;
        uint256 royalty = price * ROYALTY_BPS / 10_000;
        assertEq(market.claimable(provider), price - fee - royalty);
        assertEq(market.claimable(consumers[0]), PRICE - price, "the escrow above the locked price");
    }

    function test_OptimisticOrderFill() public {
        uint256 key = 0xA11CE;
        address signer = vm.addr(key);
        _fund(signer, 1_000 ether);
        IJobMarket.Order memory o = IJobMarket.Order({
            consumer: signer,
            terms: _termsOf(dedicatedModel, 1),
            provider: address(0),
            nonce: 1,
            signedAt: uint40(block.timestamp),
            deadline: uint40(block.timestamp + 1 hours)
        });
        uint256[] memory cm = new uint256[](1);
        cm[0] = instances[0];
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, market.orderDigest(o, cm));
        vm.prank(provider);
        uint256 id = market.fillOrder(o, cm, abi.encodePacked(r, s, v), IJobMarket.Permit(0, 0, 0, 0, 0));
        assertEq(market.getJob(id).flags & market.FLAG_OPTIMISTIC(), market.FLAG_OPTIMISTIC());
        IJobSettlement.Result[] memory rs = _one(_resultOf(id, _outputs()));
        _finalize(_submitAs(provider, rs), rs);
        assertTrue(market.getJob(id).status == IJobMarket.JobStatus.Settled);
        assertEq(market.claimable(provider), 92.5 ether);
    }

    function test_ReopenedOptimisticJobPaysTheBountyAtFinalization() public {
        _registerAndStake(provider2, STAKE);
        uint256 id = _claimedAs(consumers[0], dedicatedModel, 1);
        uint256 collateral = market.getJob(id).collateral;
        vm.warp(market.getJob(id).proveDeadline);
        market.expireJob(id);
        uint256 bounty = market.getJobExtras(id).bounty;
        assertEq(bounty, collateral / 4);
        vm.prank(provider2);
        market.claimJob(id);
        IJobSettlement.Result[] memory rs = _one(_resultOf(id, _outputs()));
        uint256 batchId = _submitAs(provider2, rs);
        assertEq(market.claimable(provider2), 0, "nothing before finalization");
        _finalize(batchId, rs);
        assertEq(market.claimable(provider2), 92.5 ether + bounty, "price share plus the bounty");
        assertEq(market.getJobExtras(id).bounty, 0);
        _assertSolvent();
    }

    function test_OptimisticReplayGetsNoReward() public {
        uint256 a = _claimedAs(consumers[0], dedicatedModel, 1);
        uint256 b = _claimedAs(consumers[1], dedicatedModel, 1);
        IJobSettlement.Result[] memory rs = new IJobSettlement.Result[](2);
        (rs[0], rs[1]) = (_resultOf(a, _outputs()), _resultOf(b, _outputs()));
        _finalize(_submitAs(provider, rs), rs);
        assertEq(market.getJob(a).flags & market.FLAG_NO_REWARD(), 0, "first: rewarded");
        assertEq(market.getJob(b).flags & market.FLAG_NO_REWARD(), market.FLAG_NO_REWARD(), "replay: no reward");
        assertEq(reputation.factsOf(provider).completed, 1);
        assertEq(rewards.owedTo(provider), 2 ether, "one reward: 80 % of the first job's 2.5 NGX fee");
    }

    function test_OptimisticDelivererJob() public {
        address deliverer = makeAddr("deliverer");
        IJobMarket.JobTerms memory t = _termsOf(dedicatedModel, 1);
        t.deliverer = deliverer;
        uint256 id = _postTermsAs(consumers[0], t, instances[0]);
        vm.prank(provider);
        market.claimJob(id);
        vm.prank(deliverer);
        market.deliverInput(id, hex"c0ffee");
        IJobSettlement.Result[] memory rs = _one(_resultOf(id, _outputs()));
        _finalize(_submitAs(provider, rs), rs);
        assertTrue(market.getJob(id).status == IJobMarket.JobStatus.Settled);
        assertEq(market.getJob(id).flags & market.FLAG_INPUT_ON_CHAIN(), market.FLAG_INPUT_ON_CHAIN());
    }

    function test_RevertWhen_SettlementModeInvalid() public {
        IJobMarket.JobTerms memory t = _termsOf(dedicatedModel, 2);
        uint256[] memory cm = new uint256[](1);
        cm[0] = instances[0];
        vm.prank(consumers[0]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidSettlement.selector, 2));
        market.postJobWithTerms(t, cm);
    }

    // ------------------------------------------------------------ eager batches

    function test_SettleResultsOfFourPaysAsFourSubmitResults() public {
        uint256 snap = vm.snapshotState();
        uint256[] memory ids = new uint256[](4);
        for (uint256 i; i < 4; ++i) {
            ids[i] = _claimedAs(consumers[i], i % 2 == 0 ? dedicatedModel : reusableModel, 0);
        }
        vm.warp(block.timestamp + 60);
        for (uint256 i; i < 4; ++i) {
            _submit(ids[i]);
        }
        Money memory single = _money();
        vm.revertToState(snap);
        for (uint256 i; i < 4; ++i) {
            ids[i] = _claimedAs(consumers[i], i % 2 == 0 ? dedicatedModel : reusableModel, 0);
        }
        vm.warp(block.timestamp + 60);
        bytes[] memory proofs = new bytes[](4);
        uint256[][] memory inst = new uint256[][](4);
        for (uint256 i; i < 4; ++i) {
            (proofs[i], inst[i]) = (proof, instances);
        }
        vm.prank(provider);
        settlement.settleResults(ids, proofs, inst);
        _assertSameMoney(_money(), single);
        // one bad proof reverts the whole call
        uint256[] memory more = new uint256[](2);
        more[0] = _claimedAs(consumers[0], dedicatedModel, 0);
        more[1] = _claimedAs(consumers[1], dedicatedModel, 0);
        bytes[] memory p2 = new bytes[](2);
        uint256[][] memory i2 = new uint256[][](2);
        (p2[0], p2[1], i2[0], i2[1]) = (proof, bytes.concat(proof, hex"01"), instances, instances);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidProof.selector, more[1]));
        settlement.settleResults(more, p2, i2);
        assertTrue(market.getJob(more[0]).status == IJobMarket.JobStatus.Claimed, "nothing settled");
    }

    /// The module refuses an unlisted or tampered verifier exactly as submitResult does.
    function test_RevertWhen_BatchedEagerVerifierCodeChanged() public {
        uint256 id = _claimedAs(consumers[0], dedicatedModel, 0);
        IModelRegistry.Verification memory v = registry.verificationOf(dedicatedModel);
        vm.etch(address(dedicatedVerifier), hex"00"); // fault injection: the pinned code is gone
        uint256[] memory ids = new uint256[](1);
        bytes[] memory proofs = new bytes[](1);
        uint256[][] memory inst = new uint256[][](1);
        (ids[0], proofs[0], inst[0]) = (id, proof, instances);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarket__VerifierCodeChanged.selector, v.verifier, v.verifierCodeHash, keccak256(hex"00")
            )
        );
        settlement.settleResults(ids, proofs, inst);
    }

    /// Exactness of the batched Reputation call: the same facts as one call per job, on the same state, with repeated
    /// consumers (aggregated per distinct consumer), unrewarded entries between rewarded ones, and fees at and above
    /// full weight; the same ConsumerRecorded events in the same order (unrewarded entries), and one
    /// CompletionsRecorded whose sums are those of the one-by-one CompletionRecorded events.
    function testFuzz_RecordCompletionsEqualsOneCallPerJob(uint256 seed) public {
        uint256 n = 1 + seed % 16;
        uint256[] memory done = new uint256[](2 * n);
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            uint256 elapsed = uint32(r >> 8) % 4000;
            done[2 * i] = uint256(uint160(consumers[r % 4])) | elapsed << 160 | uint256(1800) << 192
                | ((r >> 100) % 3 != 0 ? 1 << 255 : 0);
            done[2 * i + 1] = (r >> 40) % 0.4 ether;
        }
        // Earlier completions of one pair, so the batch's k starts above zero for it.
        vm.prank(address(market));
        reputation.recordCompletion(provider, consumers[seed % 4], 10, 1800, 1 ether);
        uint256 snap = vm.snapshotState();
        VmLogs logs = VmLogs(address(vm));
        logs.recordLogs();
        vm.prank(address(market));
        reputation.recordCompletions(provider, done);
        Money memory batched = _money();
        VmLogs.Log[] memory batchedLogs = logs.getRecordedLogs();
        vm.revertToState(snap);
        logs.recordLogs();
        for (uint256 i; i < n; ++i) {
            address who = address(uint160(done[2 * i]));
            vm.prank(address(market));
            if (done[2 * i] >> 255 != 0) {
                reputation.recordCompletion(provider, who, uint32(done[2 * i] >> 160), 1800, done[2 * i + 1]);
            } else {
                reputation.recordConsumerSettled(who);
            }
        }
        VmLogs.Log[] memory oneByOne = logs.getRecordedLogs();
        _assertSameMoney(_money(), batched);
        uint256[3] memory sums; // completed, weightMilli, windowUsed
        uint256 k; // the next batched log to match
        for (uint256 i; i < oneByOne.length; ++i) {
            if (oneByOne[i].topics[0] == IReputation.CompletionRecorded.selector) {
                (uint256 elapsed, uint256 window, uint256 weight) =
                    abi.decode(oneByOne[i].data, (uint256, uint256, uint256));
                uint256 usedBps = elapsed >= window ? 10_000 : elapsed * 10_000 / window;
                (sums[0], sums[1], sums[2]) = (sums[0] + 1, sums[1] + weight, sums[2] + usedBps * weight);
                continue;
            }
            assertEq(keccak256(abi.encode(batchedLogs[k].topics)), keccak256(abi.encode(oneByOne[i].topics)), "topics");
            assertEq(keccak256(batchedLogs[k].data), keccak256(oneByOne[i].data), "event data");
            ++k;
        }
        if (sums[0] == 0) {
            assertEq(batchedLogs.length, k, "no CompletionsRecorded without a rewarded entry");
            return;
        }
        assertEq(batchedLogs.length, k + 1, "one CompletionsRecorded, last");
        assertEq(batchedLogs[k].topics[0], IReputation.CompletionsRecorded.selector, "CompletionsRecorded");
        assertEq(batchedLogs[k].topics[1], bytes32(uint256(uint160(provider))), "its provider");
        assertEq(
            keccak256(batchedLogs[k].data),
            keccak256(abi.encode(sums[0], sums[1], sums[2])),
            "the sums of the per-job events"
        );
    }

    /// Exactness of the batched Reputation call on any stored facts: every field of the provider's record and of each
    /// consumer's facts (not only those a settlement moves) and every pair counter end as one call per job leaves
    /// them, from fields at or near their caps (a consumer's settledWeightMilli saturates; its settled count, the
    /// provider's sums and a pair counter revert on overflow, both ways, with the same data), with windows of 0 and
    /// elapsed times past them, and fees at and above full weight.
    function testFuzz_RecordCompletionsKeepsEveryFact(uint256 seed) public {
        VmStore st = VmStore(address(vm));
        bytes32 record = keccak256(abi.encode(provider, uint256(1))); // _facts[provider], two slots
        st.store(address(reputation), record, bytes32(_nearCaps(seed, 0, 6)));
        st.store(address(reputation), bytes32(uint256(record) + 1), bytes32(_nearCaps(seed, 6, 2)));
        bytes32 pairs = keccak256(abi.encode(provider, uint256(3))); // _pairCompletions[provider]
        for (uint256 i; i < 4; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, "pair", i)));
            uint256 k = r % 4 == 0 ? type(uint256).max - r % 20 : r % 4 == 1 ? r % 5 : 0;
            st.store(address(reputation), keccak256(abi.encode(consumers[i], pairs)), bytes32(k));
            uint256 facts = _nearCaps(seed, 8 + 7 * i, 7); // all seven uint32 fields
            st.store(address(reputation), keccak256(abi.encode(consumers[i], uint256(2))), bytes32(facts));
            assertEq(reputation.consumerFactsOf(consumers[i]).settledWeightMilli, uint32(facts >> 160), "its slot");
        }
        uint256 stored = uint256(VmLogs(address(vm)).load(address(reputation), record));
        assertEq(reputation.factsOf(provider).completed, uint32(stored >> 128), "the record's slot");
        uint256[] memory done = new uint256[](2 * (1 + seed % 16));
        for (uint256 i; i < done.length; i += 2) {
            uint256 r = uint256(keccak256(abi.encode(seed, "entry", i)));
            uint256 window = r >> 8 & 3 == 0 ? 0 : 1 + (r >> 10) % 4000;
            done[i] = uint256(uint160(consumers[r % 4])) | ((r >> 30) % 5000) << 160 | window << 192
                | ((r >> 100) % 4 != 0 ? 1 << 255 : 0);
            done[i + 1] = (r >> 120) % 8 == 0 ? type(uint256).max - (r >> 130) % 3 : (r >> 120) % 0.4 ether;
        }
        uint256 snap = vm.snapshotState();
        vm.prank(address(market));
        (bool batchedOk, bytes memory batchedErr) =
            address(reputation).call(abi.encodeCall(IReputation.recordCompletions, (provider, done)));
        bytes32 batched = _allFacts();
        vm.revertToState(snap);
        for (uint256 i; i < done.length; i += 2) {
            address who = address(uint160(done[i]));
            bytes memory call = done[i] >> 255 != 0
                ? abi.encodeCall(
                    IReputation.recordCompletion,
                    (provider, who, uint32(done[i] >> 160), uint32(done[i] >> 192), done[i + 1])
                )
                : abi.encodeCall(IReputation.recordConsumerSettled, (who));
            vm.prank(address(market));
            (bool ok, bytes memory err) = address(reputation).call(call);
            if (!ok) {
                assertFalse(batchedOk); // a revert one by one, and batched
                assertEq(keccak256(batchedErr), keccak256(err), "the same revert");
                return;
            }
        }
        assertTrue(batchedOk, "no revert one by one, none batched");
        assertEq(batched, _allFacts(), "every fact as one call per job");
    }

    /// `count` packed fields of the fuzzed facts word (64-bit then 32-bit as `Reputation.Record`'s first slot when
    /// `first` is 0, else all 32-bit), each small, or at or near its cap: `first` numbers the fields across calls.
    function _nearCaps(uint256 seed, uint256 first, uint256 count) internal pure returns (uint256 word) {
        uint256 shift;
        for (uint256 i; i < count; ++i) {
            uint256 bits = first == 0 && i < 2 ? 64 : 32;
            uint256 r = uint256(keccak256(abi.encode(seed, "field", first + i)));
            uint256 scale = [uint256(20), 20_000, 200_000_000][(r >> 4) % 3];
            uint256 gap = (r >> 8) % scale;
            uint256 max = (1 << bits) - 1;
            uint256 v = r % 3 == 0 ? max - (gap < max ? gap : max) : gap % (max + 1);
            word |= v << shift;
            shift += bits;
        }
    }

    /// A hash of everything Reputation holds about `provider` and the four consumers.
    function _allFacts() internal view returns (bytes32) {
        bytes memory all = abi.encode(reputation.factsOf(provider));
        for (uint256 i; i < 4; ++i) {
            all = abi.encode(
                all, reputation.consumerFactsOf(consumers[i]), reputation.pairCompletions(provider, consumers[i])
            );
        }
        return keccak256(all);
    }

    /// The batched Reputation call refuses a malformed entry list (an odd number of words).
    function test_RevertWhen_RecordCompletionsOddWords() public {
        uint256[] memory done = new uint256[](3);
        vm.prank(address(market));
        vm.expectRevert(abi.encodeWithSelector(IReputation.Reputation__InvalidCompletions.selector, 3));
        reputation.recordCompletions(provider, done);
    }
}
