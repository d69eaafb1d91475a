// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {JobWords} from "./utils/JobWords.sol";
import {SettlementBase} from "./utils/SettlementBase.sol";
import {console} from "./utils/Test.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IJobSettlement} from "../src/interfaces/IJobSettlement.sol";
import {JobMarketState} from "../src/JobMarketState.sol";

/// Money rules of optimistic settlement (issue #24): per path, what one actor can make another lose and what it
/// costs the actor. Defaults: price 100 NGX, collateral 150 NGX (150 %, lowest NRS tier), slash 50 % of it (75),
/// half of the slash burned (37.5), challenger reward 50 % of the slash capped at what the burn leaves (37.5),
/// challenge bond 10 NGX, challenge and answer windows 1 h. "Ratio" is the actor's cost over the victim's loss.
///
/// | path (test)                                       | actor -> victim          | victim's loss               | actor's cost                    | ratio        |
/// |---------------------------------------------------|--------------------------|-----------------------------|---------------------------------|--------------|
/// | challenge of a valid result (ChallengerGriefing)  | challenger -> provider   | answerChallenge gas (G, <= 1M on the fixture, logged) | the 10 NGX bond, paid to the provider | 10 NGX / (G * gas price) >= 1 while gas costs <= 1e-5 NGX (governance sizes the bond) |
/// | wrong or withheld proof (ProviderWithholding)       | provider -> consumer     | 0 NGX (refunded in full; waits <= challenge + answer window) | slash 75 NGX, no pay            | unbounded    |
/// | same, own sybil challenges first (SelfChallenge)  | provider+sybil -> consumer, watcher | 0 NGX; the watcher's challenge reverts (its gas only) | slash - reward = 37.5 NGX | unbounded    |
/// | front-run finalize (FrontRunFinalize)             | anyone -> provider       | 0: same credits whoever calls | its gas                        | n/a (no gain) |
/// | front-run uphold (FrontRunUphold)                 | anyone -> challenger     | 0: reward to the recorded challenger | its gas                  | n/a (no gain) |
/// | front-run a challenge (SelfChallenge)         | challenger A -> B        | B's reverted tx gas; no bond taken | A's bond at risk (returned plus reward when right) | n/a |
/// | challenge a finished job (ChallengeOfAFinishedJob)      | challenger -> anyone     | 0 (reverts, no bond taken)  | its gas                         | n/a          |
/// | pause over the answer window (PauseGames)         | guardian timing -> provider | 0: uphold reverts while paused, the deadline moves a whole window past the unpause | n/a (trusted role) | n/a |
/// | pause over the challenge window (PauseGames)      | guardian timing -> consumer | 0: challenges still accepted while paused; finalization waits for the unpause | n/a | n/a |
///
/// Closed at posting: a model on verifier code that is NOT allow-listed (e.g. an owner's proxy it can switch off).
/// Optimistic outputs are public at `submitResults`; had the owner switched the verifier off, the provider could not
/// answer a challenge and the "not at fault" uphold (no slash, bond returned, consumer refunded) would give a
/// consumer + owner coalition the outputs for gas only. So an optimistic job is refused unless the model's verifier
/// code is allow-listed and unchanged (test_RevertWhen_OptimisticJobOnUntrustedVerifier); eager mode reveals
/// outputs only with the payment.
contract SettlementGriefingTest is SettlementBase {
    uint256 internal constant COLLATERAL = 150 ether;
    uint256 internal constant SLASHED = COLLATERAL / 2;
    uint256 internal constant BURNED = SLASHED / 2;
    uint256 internal constant CHALLENGER_REWARD = SLASHED - BURNED;

    address internal sybil = makeAddr("sybil");

    function setUp() public override {
        super.setUp();
        _fund(sybil, 1_000 ether);
    }

    /// One optimistic job of consumer 0 on the dedicated model, submitted by the provider with `outputs`.
    function _submitted(uint256[] memory outputs)
        internal
        returns (uint256 id, uint256 batchId, IJobSettlement.Result[] memory rs)
    {
        id = _claimedAs(consumers[0], dedicatedModel, 1);
        assertEq(market.getJob(id).collateral, COLLATERAL, "collateral at the lowest tier");
        vm.warp(block.timestamp + 60);
        rs = _one(_resultOf(id, outputs));
        batchId = _submitAs(provider, rs);
    }

    function _value(address who) internal view returns (uint256) {
        return payToken.balanceOf(who) + market.claimable(who);
    }

    // ------------------------------------------------------------ challenger -> honest provider

    function test_ChallengerGriefingAValidResultPaysTheProviderTheBond() public {
        (uint256 id, uint256 batchId, IJobSettlement.Result[] memory rs) = _submitted(_outputs());
        uint256 griefer = _value(challenger);
        uint256 stake = staking.stakedOf(provider);
        _challengeAs(challenger, batchId, rs, 0);
        vm.prank(provider);
        uint256 left = gasleft();
        settlement.answerChallenge(id, proof, instances);
        uint256 answerGas = left - gasleft();
        console.log("answerChallenge gas (in-test, warm)", answerGas);

        assertEq(griefer - _value(challenger), BOND, "the griefer lost exactly its bond");
        assertEq(market.claimable(provider), PRICE * 9_250 / 10_000 + BOND, "pay as eager plus the bond");
        assertEq(staking.stakedOf(provider), stake, "no slash");
        assertEq(staking.getProvider(provider).locked, 0, "collateral released at the answer");
        assertTrue(market.getJob(id).status == IJobMarket.JobStatus.Settled);
        // The table's ratio: the bond covers the answer while one gas costs at most 10 NGX / 1M gas.
        assertLe(answerGas, 1_000_000, "answerChallenge gas");
        _assertSolvent();
    }

    /// Several challengers on one batch: each pays its own bond; each answer earns one.
    function test_ChallengerGriefingEveryJobOfABatchPaysABondPerJob() public {
        uint256[] memory ids = new uint256[](4);
        IJobSettlement.Result[] memory rs = new IJobSettlement.Result[](4);
        for (uint256 i; i < 4; ++i) {
            ids[i] = _postTermsAs(consumers[i], _termsOf(dedicatedModel, 1), instances[0]);
            vm.prank(provider);
            market.claimJob(ids[i]);
        }
        for (uint256 i; i < 4; ++i) {
            rs[i] = _resultOf(ids[i], _outputs());
        }
        uint256 batchId = _submitAs(provider, rs);
        uint256 griefer = _value(challenger);
        for (uint256 i; i < 4; ++i) {
            _challengeAs(challenger, batchId, rs, i);
        }
        uint256 credit = market.claimable(provider);
        for (uint256 i; i < 4; ++i) {
            vm.prank(provider);
            settlement.answerChallenge(ids[i], proof, instances);
        }
        assertEq(griefer - _value(challenger), 4 * BOND, "four bonds lost");
        assertEq(market.claimable(provider) - credit, 4 * (PRICE * 9_250 / 10_000 + BOND), "four pays and bonds");
        _assertSolvent();
    }

    // ------------------------------------------------------------ provider -> consumer

    function test_ProviderWithholdingTheProofIsSlashedAndTheConsumerRefunded() public {
        (uint256 id, uint256 batchId, IJobSettlement.Result[] memory rs) = _submitted(_wrongOutputs());
        uint256 stake = staking.stakedOf(provider);
        uint256 buyer = _value(consumers[0]);
        uint256 watcher = _value(challenger);
        _challengeAs(challenger, batchId, rs, 0);
        vm.warp(settlement.answerDeadlineOf(id));
        settlement.upholdChallenge(id);

        assertEq(_value(consumers[0]) - buyer, PRICE, "the consumer got its price back");
        assertEq(stake - staking.stakedOf(provider), SLASHED, "the provider lost the slash");
        assertEq(market.claimable(provider), 0, "and was paid nothing");
        assertGt(SLASHED, 0, "withholding costs more than it gains (0)");
        assertEq(_value(challenger) - watcher, CHALLENGER_REWARD, "the watcher: bond back plus reward");
        assertEq(
            settlement.finalizeBatch(batchId, rs, JobWords.read(address(market), rs)), 0, "nothing left to finalize"
        );
        _assertSolvent();
    }

    /// The provider's own sybil challenges first (so that no honest watcher earns the reward) and the provider does
    /// not answer: the coalition still loses the burned share and the treasury's share.
    function test_SelfChallengeByTheProvidersSybilStillCostsTheCoalition() public {
        (uint256 id, uint256 batchId, IJobSettlement.Result[] memory rs) = _submitted(_wrongOutputs());
        uint256 coalition = _value(sybil) + _value(provider) + staking.stakedOf(provider);
        uint256 buyer = _value(consumers[0]);
        _challengeAs(sybil, batchId, rs, 0);
        uint256 watcher = payToken.balanceOf(challenger);
        vm.prank(challenger);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, id, IJobMarket.JobStatus.Challenged)
        );
        settlement.challenge(batchId, rs, JobWords.read(address(market), rs), 0);
        assertEq(payToken.balanceOf(challenger), watcher, "the pre-empted watcher's bond was not taken");
        vm.warp(settlement.answerDeadlineOf(id));
        settlement.upholdChallenge(id);
        uint256 after_ = _value(sybil) + _value(provider) + staking.stakedOf(provider);
        assertEq(coalition - after_, SLASHED - CHALLENGER_REWARD, "coalition loses the slash minus its own reward");
        assertGt(coalition - after_, 0, "a loss");
        assertEq(_value(consumers[0]) - buyer, PRICE, "the consumer refunded all the same");
        _assertSolvent();
    }

    // ------------------------------------------------------------ front-running

    function test_FrontRunFinalizeGivesTheCallerNothing() public {
        (, uint256 batchId, IJobSettlement.Result[] memory rs) = _submitted(_outputs());
        vm.warp(settlement.batchOf(batchId).challengeDeadline);
        uint256 snap = vm.snapshotState();
        vm.prank(provider);
        settlement.finalizeBatch(batchId, rs, JobWords.read(address(market), rs));
        Money memory byProvider = _money();
        vm.revertToState(snap);
        uint256 stranger0 = _value(stranger);
        vm.prank(stranger);
        settlement.finalizeBatch(batchId, rs, JobWords.read(address(market), rs));
        _assertSameMoney(_money(), byProvider);
        assertEq(_value(stranger), stranger0, "the front-runner gained nothing");
        vm.prank(provider); // the provider's own, later call: the batch is finished, nothing is paid twice
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__UnknownBatch.selector, batchId));
        settlement.finalizeBatch(batchId, rs, JobWords.read(address(market), rs));
    }

    function test_FrontRunUpholdPaysTheRecordedChallengerNotTheCaller() public {
        (uint256 id, uint256 batchId, IJobSettlement.Result[] memory rs) = _submitted(_wrongOutputs());
        _challengeAs(challenger, batchId, rs, 0);
        vm.warp(settlement.answerDeadlineOf(id));
        uint256 stranger0 = _value(stranger);
        vm.prank(stranger);
        settlement.upholdChallenge(id);
        assertEq(_value(stranger), stranger0, "the caller gained nothing");
        assertEq(market.claimable(challenger), BOND + CHALLENGER_REWARD, "the challenger was paid");
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, id, IJobMarket.JobStatus.Expired)
        );
        settlement.upholdChallenge(id);
    }

    /// The answer and the uphold never overlap: at deadline - 1 only the answer, at the deadline only the uphold.
    function test_AnswerAndUpholdDoNotRaceAtTheDeadline() public {
        (uint256 id, uint256 batchId, IJobSettlement.Result[] memory rs) = _submitted(_outputs());
        _challengeAs(challenger, batchId, rs, 0);
        uint256 deadline = settlement.answerDeadlineOf(id);
        vm.warp(deadline - 1);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__AnswerWindowOpen.selector, id, deadline));
        settlement.upholdChallenge(id);
        vm.prank(provider);
        settlement.answerChallenge(id, proof, instances);
        vm.warp(deadline);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, id, IJobMarket.JobStatus.Settled)
        );
        settlement.upholdChallenge(id);
    }

    // ------------------------------------------------------------ finished jobs

    function test_ChallengeOfAFinishedJobRevertsAndTakesNoBond() public {
        // finalized
        (uint256 a, uint256 batchA, IJobSettlement.Result[] memory ra) = _submitted(_outputs());
        vm.warp(settlement.batchOf(batchA).challengeDeadline);
        settlement.finalizeBatch(batchA, ra, JobWords.read(address(market), ra));
        uint256 balance = payToken.balanceOf(challenger);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__UnknownBatch.selector, batchA));
        settlement.challenge(batchA, ra, JobWords.read(address(market), ra), 0);
        assertTrue(market.getJob(a).status == IJobMarket.JobStatus.Settled);

        // upheld, in a batch whose challenge window is still open: the batch is known, the job is Expired
        config.setChallengeWindows(uint32(2 * WINDOW), uint32(WINDOW));
        uint256 b = _claimedAs(consumers[1], dedicatedModel, 1);
        uint256 c = _claimedAs(consumers[2], dedicatedModel, 1);
        IJobSettlement.Result[] memory rb = new IJobSettlement.Result[](2);
        (rb[0], rb[1]) = (_resultOf(b, _wrongOutputs()), _resultOf(c, _outputs()));
        uint256 batchB = _submitAs(provider, rb);
        _challengeAs(stranger, batchB, rb, 0);
        vm.warp(settlement.answerDeadlineOf(b)); // batch B's challenge window (2 h) is still open
        settlement.upholdChallenge(b);
        balance = payToken.balanceOf(challenger);
        vm.prank(challenger);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, b, IJobMarket.JobStatus.Expired)
        );
        settlement.challenge(batchB, rb, JobWords.read(address(market), rb), 0);

        // answered
        _challengeAs(stranger, batchB, rb, 1);
        vm.prank(provider);
        settlement.answerChallenge(c, proof, instances);
        vm.prank(challenger);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, c, IJobMarket.JobStatus.Settled)
        );
        settlement.challenge(batchB, rb, JobWords.read(address(market), rb), 1);
        assertEq(payToken.balanceOf(challenger), balance, "no bond taken by any refused challenge");
        _assertSolvent();
    }

    // ------------------------------------------------------------ pause games

    /// A challenge lands while the market is paused over the whole challenge window: challenges are accepted,
    /// finalization and the uphold wait, and the provider gets a whole answer window after the unpause.
    function test_PauseGamesNeitherSideWinsByAPause() public {
        (uint256 a, uint256 batchId, IJobSettlement.Result[] memory rs) = _submitted(_outputs());
        uint256 b = _claimedAs(consumers[1], dedicatedModel, 1);
        IJobSettlement.Result[] memory rb = _one(_resultOf(b, _outputs()));
        uint256 batchB = _submitAs(provider, rb);
        vm.prank(guardian);
        market.pause();
        _challengeAs(challenger, batchId, rs, 0); // a challenge protects the consumer: not paused
        vm.warp(block.timestamp + 3 * WINDOW); // past both windows while paused
        vm.expectRevert(JobMarketState.EnforcedPause.selector);
        settlement.upholdChallenge(a);
        vm.expectRevert(JobMarketState.EnforcedPause.selector);
        settlement.finalizeBatch(batchB, rb, JobWords.read(address(market), rb));
        vm.prank(guardian);
        market.unpause();
        uint256 moved = settlement.answerDeadlineOf(a);
        assertEq(moved, block.timestamp + WINDOW, "a whole answer window after the unpause");
        vm.expectRevert(abi.encodeWithSelector(IJobSettlement.JobMarket__AnswerWindowOpen.selector, a, moved));
        settlement.upholdChallenge(a);
        vm.prank(provider);
        settlement.answerChallenge(a, proof, instances);
        assertEq(
            settlement.finalizeBatch(batchB, rb, JobWords.read(address(market), rb)),
            1,
            "the unchallenged batch finalizes after the unpause"
        );
        assertEq(market.claimable(provider), 2 * (PRICE * 9_250 / 10_000) + BOND, "both paid, plus the bond");
        _assertSolvent();
    }

    // ------------------------------------------------------------ closed: switchable, not allow-listed verifier

    function test_RevertWhen_OptimisticJobOnUntrustedVerifier() public {
        bytes32 code = address(dedicatedVerifier).codehash;
        config.setVerifierCodeAllowed(code, false);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__OptimisticNeedsTrustedVerifier.selector, dedicatedModel, code)
        );
        this.claimedAs(consumers[0], dedicatedModel, 1);
        // Eager jobs on the same model are still accepted (the proof is verified before any output is public).
        uint256 eager = _claimedAs(consumers[0], dedicatedModel, 0);
        assertTrue(market.getJob(eager).status == IJobMarket.JobStatus.Claimed, "eager job claimed");
    }

    /// External, so the revert of the posting inside it can be expected.
    function claimedAs(address consumer, uint256 modelId, uint8 mode) external returns (uint256) {
        return _claimedAs(consumer, modelId, mode);
    }
}
