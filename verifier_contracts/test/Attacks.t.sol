// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {IReputation} from "../src/interfaces/IReputation.sol";
import {RewardsPool} from "../src/RewardsPool.sol";
import {AlwaysTrueVerifierFake, SwitchableVerifierFake} from "./fakes/VerifierFakes.sol";

/// The attacks of the trust issue (#11), each played out: the attacker gains nothing and the honest party
/// loses nothing. The coalition is a consumer, a provider and a model owner under one control.
contract AttacksTest is Base {
    uint256 internal constant MIN_PRICE = 0.1 ether;

    address internal washConsumer = makeAddr("washConsumer");
    address internal washProvider = makeAddr("washProvider");
    address internal washOwner = makeAddr("washOwner");

    function setUp() public override {
        super.setUp();
        _fund(washConsumer, 10_000 ether);
        _fund(washProvider, 10_000 ether);
        _registerAndStake(washProvider, STAKE);
    }

    // ------------------------------------------------------------ helpers

    /// NGX an account controls: wallet, market credits, rewards owed, stake (locked or not) and unbonding stake.
    function _value(address who) internal view returns (uint256) {
        return token.balanceOf(who) + market.claimable(who) + rewards.owedTo(who) + staking.stakedOf(who)
            + staking.getProvider(who).unbonding;
    }

    /// NGX the rewards pool can still grant (its balance minus what it owes): what rewards take from.
    function _poolFree() internal view returns (uint256) {
        return token.balanceOf(address(rewards)) - rewards.totalOwed();
    }

    function _coalitionValue() internal view returns (uint256) {
        return _value(washConsumer) + _value(washProvider) + _value(washOwner);
    }

    function _one(uint256 c) internal pure returns (uint256[] memory a) {
        a = new uint256[](1);
        a[0] = c;
    }

    function _postAs(address who, uint256 modelId, uint256[] memory commitments, uint256 price)
        internal
        returns (uint256 jobId)
    {
        vm.prank(who);
        jobId = market.postJob(modelId, commitments, price, CLAIM_WINDOW, PROVE_WINDOW, 0);
    }

    function _claimAs(address who, uint256 jobId) internal {
        vm.prank(who);
        market.claimJob(jobId);
    }

    function _registerAs(address owner, address verifier) internal returns (uint256 modelId) {
        vm.prank(owner);
        modelId = registry.registerModel(_spec(verifier, IModelRegistry.VerifierKind.Dedicated), "");
    }

    /// Self-deals `n` jobs of `price`, each a fresh statement under allow-listed verifier code: the most a
    /// coalition can get rewarded for. The fixture holds one real proof, and since issue #23 its replays earn
    /// nothing on any model id (TrustIII.t.sol), so the coalition here gets a verifier that accepts anything,
    /// allow-listed: a coalition that can prove every statement it likes, an upper bound on the real one.
    function _washTrade(uint256 n, uint256 price) internal returns (uint256 feesPaid, uint256 rewardsReceived) {
        AlwaysTrueVerifierFake anything = new AlwaysTrueVerifierFake();
        config.setVerifierCodeAllowed(address(anything).codehash, true);
        uint256 modelId = _registerAs(washOwner, address(anything));
        for (uint256 i; i < n; ++i) {
            uint256 jobId = _postAs(washConsumer, modelId, _one(i + 1), price);
            _claimAs(washProvider, jobId);
            uint256 poolBefore = _poolFree();
            instances[0] = i + 1;
            vm.prank(washProvider);
            market.submitResult(jobId, hex"00", instances);
            rewardsReceived += poolBefore - _poolFree();
            feesPaid += price * config.protocolFeeBps() / 10_000;
        }
    }

    // ------------------------------------------------------------ 1. always-true verifier

    function test_Attack1_AlwaysTrueVerifierEarnsNoRewardNorNrs() public {
        AlwaysTrueVerifierFake fake = new AlwaysTrueVerifierFake();
        uint256 modelId = _registerAs(washOwner, address(fake)); // registration stays permissionless
        assertEq(registry.getModel(modelId).verifierCodeHash, address(fake).codehash);
        assertFalse(config.isVerifierCodeAllowed(address(fake).codehash));

        uint256 before = _coalitionValue();
        uint256 poolBefore = _poolFree();
        uint256 nrsBefore = reputation.nrs(washProvider);
        uint256 fees;
        uint256[] memory junk = new uint256[](3);
        for (uint256 i; i < 10; ++i) {
            junk[0] = i + 1; // a fresh commitment each time: no replay, only the verifier is fake
            uint256 jobId = _postAs(washConsumer, modelId, _one(i + 1), PRICE);
            _claimAs(washProvider, jobId);
            vm.prank(washProvider);
            market.submitResult(jobId, hex"deadbeef", junk);
            assertTrue(market.getJob(jobId).flags & market.FLAG_NO_REWARD() != 0, "settled unrewarded");
            vm.prank(washConsumer);
            market.rateJob(jobId, 5);
            fees += PRICE * config.protocolFeeBps() / 10_000;
        }
        assertEq(_poolFree(), poolBefore, "no emission for a fake verifier");
        IReputation.Facts memory f = reputation.factsOf(washProvider);
        assertEq(f.completed, 0, "no completions");
        assertEq(f.weightMilli, 0, "no weight");
        assertEq(f.ratingCount, 0, "self-ratings of unrewarded jobs ignored");
        assertEq(reputation.nrs(washProvider), nrsBefore, "NRS unchanged");
        assertEq(before - _coalitionValue(), fees, "the coalition lost exactly the fees");
    }

    /// Addendum: a model owner's switchable "verifier" cannot get an honest provider slashed.
    function test_Attack1_SwitchedOffVerifierCannotSlashHonestProvider() public {
        SwitchableVerifierFake fake = new SwitchableVerifierFake();
        uint256 modelId = _registerAs(washOwner, address(fake));
        uint256 jobId = _postAs(washConsumer, modelId, _commitments(), PRICE);
        _claimAs(provider, jobId);
        fake.setOn(false);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidProof.selector, jobId));
        _submit(jobId);

        uint256 coalitionBefore = _coalitionValue();
        vm.warp(market.getJob(jobId).proveDeadline);
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.JobExpired(jobId, provider, PRICE, 0, 0);
        market.expireJob(jobId);
        assertEq(staking.stakedOf(provider), STAKE, "honest stake intact");
        assertEq(staking.getProvider(provider).locked, 0, "collateral unlocked");
        assertEq(reputation.factsOf(provider).missed, 0, "no miss");
        assertEq(_coalitionValue() - coalitionBefore, PRICE, "the coalition only gets its price back");
    }

    /// The code at a registered verifier address changes (metamorphic contract): nothing settles, nobody is
    /// slashed, and the new code earns nothing.
    function test_Attack1_VerifierCodeChangedCannotSettle() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        bytes32 pinned = address(dedicatedVerifier).codehash;
        vm.etch(address(dedicatedVerifier), address(new AlwaysTrueVerifierFake()).code);
        bytes32 actual = address(dedicatedVerifier).codehash;
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarket__VerifierCodeChanged.selector, address(dedicatedVerifier), pinned, actual
            )
        );
        _submit(jobId);
        vm.warp(market.getJob(jobId).proveDeadline);
        market.expireJob(jobId);
        assertEq(staking.stakedOf(provider), STAKE, "no slash when the judge changed");
        assertEq(reputation.factsOf(provider).missed, 0, "no miss");
        assertEq(market.claimable(consumer), PRICE, "consumer refunded");

        // A model registered now pins the new (fake) code hash, which is not allow-listed: no reward.
        uint256 modelId = _registerAs(washOwner, address(dedicatedVerifier));
        uint256 job2 = _postAs(washConsumer, modelId, _commitments(), PRICE);
        _claimAs(washProvider, job2);
        uint256 poolBefore = _poolFree();
        vm.prank(washProvider);
        market.submitResult(job2, hex"00", instances);
        assertEq(_poolFree(), poolBefore, "no reward");
        assertEq(reputation.factsOf(washProvider).completed, 0, "no NRS");
    }

    // ------------------------------------------------------------ 3. wash trading

    function test_Attack3_WashTradingAtMinimumPriceLosesMoneyAndBarelyMovesNrs() public {
        uint256 before = _coalitionValue();
        uint256 nrsBefore = reputation.nrs(washProvider);
        (uint256 fees, uint256 rewarded) = _washTrade(50, MIN_PRICE);
        assertGt(rewarded, 0, "rewards were paid (valid proofs, fresh commitments)");
        assertGt(fees, rewarded, "rewards < fees");
        assertEq(before - _coalitionValue(), fees - rewarded, "the coalition lost fees - rewards");
        IReputation.Facts memory f = reputation.factsOf(washProvider);
        assertEq(f.completed, 50, "50 completions counted");
        assertEq(f.weightMilli, 27, "but worth 0.027 of one genuine completion");
        assertLe(reputation.nrs(washProvider), nrsBefore + 1, "NRS barely moves");
        assertEq(reputation.freeDeclinesLeft(washProvider), 3, "no extra free declines bought");
    }

    function test_Attack3_WashTradingAtHighPriceStillLosesMoney() public {
        uint256 before = _coalitionValue();
        (uint256 fees, uint256 rewarded) = _washTrade(50, PRICE);
        assertEq(rewarded, 50 * 2 ether, "reward capped at 80 % of each 2.5 NGX fee");
        assertGt(fees, rewarded, "rewards < fees");
        assertEq(before - _coalitionValue(), fees - rewarded, "the coalition lost fees - rewards");
        // One counterparty: weights 1000/(1+k) add up to ~4.5 genuine completions, not 50.
        assertLe(reputation.factsOf(washProvider).weightMilli, 4_500, "repeat counterparty discounted");
    }

    function test_RevertWhen_Attack3_OneWeiJob() public {
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__PriceBelowMinimum.selector, 1, MIN_PRICE));
        _postAs(washConsumer, dedicatedModel, _commitments(), 1);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__PriceBelowMinimum.selector, MIN_PRICE - 1, MIN_PRICE)
        );
        _postAs(washConsumer, dedicatedModel, _commitments(), MIN_PRICE - 1);
        _postAs(washConsumer, dedicatedModel, _commitments(), MIN_PRICE);
    }

    function test_Attack3_ReplayedCommitmentEarnsNoRewardNorNrs() public {
        uint256 first = _postAs(washConsumer, dedicatedModel, _commitments(), PRICE);
        _claimAs(washProvider, first);
        vm.prank(washProvider);
        market.submitResult(first, proof, instances);
        IReputation.Facts memory f1 = reputation.factsOf(washProvider);
        uint256 nrs1 = reputation.nrs(washProvider);

        uint256 before = _coalitionValue();
        uint256 poolBefore = _poolFree();
        uint256 replay = _postAs(washConsumer, dedicatedModel, _commitments(), PRICE);
        assertEq(market.getJob(replay).flags, 0, "nothing marked at post");
        _claimAs(washProvider, replay);
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.JobSettled(replay, washProvider, _outputs(), 92.5 ether, 5 ether, 2.5 ether, 0);
        vm.prank(washProvider);
        market.submitResult(replay, proof, instances);
        vm.prank(washConsumer);
        market.rateJob(replay, 5);

        assertEq(_poolFree(), poolBefore, "no reward for a replay");
        IReputation.Facts memory f2 = reputation.factsOf(washProvider);
        assertEq(f2.completed, f1.completed, "no completion");
        assertEq(f2.weightMilli, f1.weightMilli, "no weight");
        assertEq(f2.ratingCount, 0, "no rating");
        assertEq(reputation.nrs(washProvider), nrs1, "NRS unchanged");
        assertEq(reputation.consumerFactsOf(washConsumer).settled, 2, "the consumer's settled jobs still count");
        // dedicatedModel's owner is outside the coalition here, so the royalty is lost too.
        assertEq(before - _coalitionValue(), 2.5 ether + 5 ether, "the replay cost the fee and the royalty");
    }

    function test_Attack3_ProviderRewardCappedPerEpoch() public {
        RewardsPool pool = new RewardsPool(REWARD, EPOCH, 15 ether);
        vm.prank(treasury);
        token.transfer(address(pool), 1_000 ether);
        pool.initialize(address(token), address(this));
        assertEq(pool.reward(washProvider, 100 ether), REWARD, "scheduled reward");
        assertEq(pool.reward(washProvider, 100 ether), 5 ether, "the rest of the cap");
        assertEq(pool.reward(washProvider, 100 ether), 0, "cap reached");
        assertEq(pool.rewardedThisEpoch(washProvider), 15 ether);
        assertEq(pool.reward(provider, 100 ether), REWARD, "other providers unaffected");
        assertEq(pool.reward(provider, 1 ether), 0.8 ether, "80 % of the fee");
        vm.warp(block.timestamp + EPOCH);
        assertEq(pool.rewardedThisEpoch(washProvider), 0, "new epoch");
        assertEq(pool.reward(washProvider, 100 ether), REWARD / 2, "paid again next epoch");
    }

    // ------------------------------------------------------------ 4. consumer withholds the input

    function test_Attack4_WithholdingConsumerGainsNothingFromDecline() public {
        uint256 jobId = _postAs(washConsumer, dedicatedModel, _commitments(), PRICE);
        _claimAs(provider, jobId);
        uint256 deadline = market.inputDeadline(jobId);
        assertEq(deadline, market.getJob(jobId).proveDeadline - PROVE_WINDOW / 2);
        vm.warp(deadline - 1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InputDeadlineNotReached.selector, jobId, deadline));
        vm.prank(provider);
        market.declineJob(jobId, IJobMarket.DeclineReason.InputMissing);

        vm.warp(deadline);
        uint256 before = _coalitionValue();
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.JobDeclined(jobId, provider, PRICE, 1, true, 0, 0);
        vm.prank(provider);
        market.declineJob(jobId, IJobMarket.DeclineReason.InputMissing);
        assertEq(_coalitionValue() - before, PRICE, "the consumer only gets its price back");
        assertEq(staking.stakedOf(provider), STAKE, "the honest provider lost nothing");
        assertEq(staking.getProvider(provider).locked, 0, "collateral unlocked");
        assertEq(reputation.factsOf(provider).costlyDeclines, 0, "no mark on the provider");
        assertEq(reputation.consumerFactsOf(washConsumer).inputsWithheld, 1, "the consumer's record shows it");
        assertEq(reputation.consumerScore(washConsumer), 66, "score (0 + 200) / 3");
        assertEq(reputation.consumerScore(consumer), 100, "a consumer who harmed no one");
    }

    function test_Attack4_WithholdingConsumerGainsNothingFromSlash() public {
        uint256 jobId = _postAs(washConsumer, dedicatedModel, _commitments(), PRICE);
        _claimAs(provider, jobId);
        uint256 collateral = market.getJob(jobId).collateral;
        uint256 before = _coalitionValue();
        uint256 treasuryBefore = token.balanceOf(treasury);
        uint256 supplyBefore = token.totalSupply();
        vm.warp(market.getJob(jobId).proveDeadline);
        market.expireJob(jobId); // the provider neither proved nor declined: slashed, the job reopens
        vm.warp(market.getJob(jobId).claimDeadline);
        market.expireJob(jobId); // no second prover came: refund, and the bounty is burned too
        uint256 slashed = collateral * config.slashBps() / 10_000;
        assertEq(_coalitionValue() - before, PRICE, "no slash share reaches the consumer");
        assertEq(token.balanceOf(treasury), treasuryBefore, "a missed job's slash is bounty or burn");
        assertEq(supplyBefore - token.totalSupply(), slashed, "burned: the whole slash, unpaid bounty included");
    }

    function test_RevertWhen_InputMissingAfterOnChainDelivery() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.prank(consumer);
        market.deliverInput(jobId, hex"c0ffee");
        assertEq(market.getJob(jobId).flags, market.FLAG_INPUT_ON_CHAIN());
        vm.warp(market.inputDeadline(jobId));
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InputWasDelivered.selector, jobId));
        vm.prank(provider);
        market.declineJob(jobId, IJobMarket.DeclineReason.InputMissing);
        vm.prank(provider);
        market.declineJob(jobId, IJobMarket.DeclineReason.InputInvalid); // still possible, and counted
        assertEq(reputation.consumerFactsOf(consumer).inputsInvalid, 1);
    }

    function test_InputDeadlineZeroBeforeClaim() public {
        uint256 jobId = _post(dedicatedModel);
        assertEq(market.inputDeadline(jobId), 0);
    }

    // ------------------------------------------------------------ 5. pauses must not slash the innocent

    function _assertExpiredWithoutSlash(uint256 jobId) internal {
        vm.warp(market.getJob(jobId).proveDeadline);
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.JobExpired(jobId, provider, PRICE, 0, 0);
        market.expireJob(jobId);
        assertEq(staking.stakedOf(provider), STAKE, "no slash");
        assertEq(staking.getProvider(provider).locked, 0, "collateral unlocked");
        assertEq(reputation.factsOf(provider).missed, 0, "no miss");
        assertEq(market.claimable(consumer), PRICE, "consumer refunded");
    }

    function test_Attack5_MarketPausedDuringWindowNoSlash() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.prank(guardian);
        market.pause();
        _assertExpiredWithoutSlash(jobId);
    }

    /// An unpause after the claim gives the provider a whole prove window from then on (issue #23 moved the
    /// deadline instead of excusing the miss: TrustIII.t.sol plays the one-second pause).
    function _assertWholeWindowAfterUnpause(uint256 jobId, uint256 claimedDeadline) internal {
        uint256 moved = block.timestamp + PROVE_WINDOW;
        assertEq(market.getJob(jobId).proveDeadline, moved, "a whole window after the unpause");
        vm.warp(claimedDeadline);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotExpired.selector, jobId, moved));
        market.expireJob(jobId);
        vm.warp(moved - 1);
        _submit(jobId);
        assertEq(staking.stakedOf(provider), STAKE, "no slash");
        assertEq(reputation.factsOf(provider).missed, 0, "no miss");
    }

    function test_Attack5_MarketUnpausedAfterClaimNoSlash() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256 claimedDeadline = market.getJob(jobId).proveDeadline;
        vm.prank(guardian);
        market.pause();
        vm.warp(block.timestamp + PROVE_WINDOW - 1);
        vm.prank(guardian);
        market.unpause();
        assertEq(market.lastUnpausedAt(), block.timestamp);
        _assertWholeWindowAfterUnpause(jobId, claimedDeadline);
    }

    function test_Attack5_ModelPausedDuringWindowNoSlash() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.prank(guardian);
        registry.pauseModel(dedicatedModel);
        _assertExpiredWithoutSlash(jobId);
    }

    function test_Attack5_ModelUnpausedAfterClaimNoSlash() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256 claimedDeadline = market.getJob(jobId).proveDeadline;
        vm.prank(guardian);
        registry.pauseModel(dedicatedModel);
        vm.warp(block.timestamp + 10 minutes);
        vm.prank(guardian);
        registry.unpauseModel(dedicatedModel);
        assertEq(registry.getModel(dedicatedModel).lastUnpausedAt, block.timestamp);
        _assertWholeWindowAfterUnpause(jobId, claimedDeadline);
    }

    /// Control: a pause that ended before the claim leaves the whole window usable, so a miss is slashed.
    function test_PauseBeforeClaimStillSlashesAMiss() public {
        vm.startPrank(guardian);
        market.pause();
        market.unpause();
        registry.pauseModel(dedicatedModel);
        registry.unpauseModel(dedicatedModel);
        vm.stopPrank();
        vm.warp(block.timestamp + 1);
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.warp(market.getJob(jobId).proveDeadline);
        market.expireJob(jobId);
        assertEq(reputation.factsOf(provider).missed, 1, "miss recorded");
        assertLe(staking.stakedOf(provider), STAKE - 1, "slashed");
    }

    function test_RevertWhen_Attack5_ClaimOnNonActiveModel() public {
        uint256 jobId = _post(dedicatedModel);
        vm.prank(guardian);
        registry.pauseModel(dedicatedModel);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__ModelNotActive.selector, dedicatedModel));
        vm.prank(provider);
        market.claimJob(jobId);
        vm.prank(guardian);
        registry.unpauseModel(dedicatedModel);
        vm.prank(modelOwner);
        registry.deprecateModel(dedicatedModel);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__ModelNotActive.selector, dedicatedModel));
        vm.prank(provider);
        market.claimJob(jobId);
    }

    // ------------------------------------------------------------ 11. free declines to harvest inputs

    function test_Attack11_FreeDeclinesAreLimited() public {
        // The harvester claims jobs, reads each input, and declines "InputInvalid" without proving.
        assertEq(reputation.freeDeclinesLeft(washProvider), 3, "base allowance");
        for (uint256 i; i < 3; ++i) {
            uint256 jobId = _postAs(consumer, dedicatedModel, _one(i + 1), PRICE);
            _claimAs(washProvider, jobId);
            vm.prank(washProvider);
            market.declineJob(jobId, IJobMarket.DeclineReason.InputInvalid);
        }
        assertEq(reputation.freeDeclinesLeft(washProvider), 0, "allowance used up");
        assertEq(staking.stakedOf(washProvider), STAKE, "free so far");
        (, uint256 reliabilityBefore,,) = reputation.components(washProvider);

        uint256 jobId4 = _postAs(consumer, dedicatedModel, _one(4), PRICE);
        _claimAs(washProvider, jobId4);
        uint256 collateral = market.getJob(jobId4).collateral;
        uint256 slashed = collateral * config.declineSlashBps() / 10_000;
        uint256 consumerBefore = _value(consumer);
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.JobDeclined(jobId4, washProvider, PRICE - slashed, 2, false, slashed, slashed);
        vm.prank(washProvider);
        market.declineJob(jobId4, IJobMarket.DeclineReason.InputInvalid);
        assertEq(slashed, 15 ether, "10 % of the 150 NGX collateral");
        assertEq(staking.stakedOf(washProvider), STAKE - slashed, "the fourth decline costs collateral");
        assertEq(reputation.factsOf(washProvider).costlyDeclines, 1, "and reputation");
        (, uint256 reliabilityAfter,,) = reputation.components(washProvider);
        assertGt(reliabilityBefore, reliabilityAfter, "reliability drops");
        // The input rule (issue #23, item 1): the liar's slash is matched by a burned cut of the refund, so the
        // harvester loses at least what it makes the honest consumer lose (TrustIIIInputs.t.sol).
        assertEq(_value(consumer) - consumerBefore, PRICE - slashed, "the refund is cut by the slash, burned");
    }

    function test_Attack11_DeclineReasonOtherAlwaysCosts() public {
        uint256 jobId = _postAs(consumer, dedicatedModel, _commitments(), PRICE);
        _claimAs(washProvider, jobId);
        vm.prank(washProvider);
        market.declineJob(jobId, IJobMarket.DeclineReason.Other);
        assertEq(staking.stakedOf(washProvider), STAKE - 15 ether, "Other is never free");
        assertEq(reputation.freeDeclinesLeft(washProvider), 3, "allowance untouched");
        assertEq(reputation.consumerFactsOf(consumer).inputsInvalid, 0, "nothing held against the consumer");
    }

    function test_FreeDeclineAllowanceGrowsWithWeightedCompletions() public {
        vm.startPrank(address(market));
        for (uint256 i; i < 10; ++i) {
            reputation.recordCompletion(provider, address(uint160(0x1000 + i)), 0, 1800, 1 ether);
        }
        vm.stopPrank();
        assertEq(reputation.freeDeclinesLeft(provider), 4, "3 + 10 * 10 %");
        config.setFreeDeclines(0, 0);
        assertEq(reputation.freeDeclinesLeft(provider), 0, "governance can make every decline cost");
    }
}
