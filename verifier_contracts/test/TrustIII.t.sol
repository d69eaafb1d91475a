// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {IReputation} from "../src/interfaces/IReputation.sol";
import {PolycommitBinding} from "../src/PolycommitBinding.sol";

/// Trust III (issue #23), the contract attacks, each played on the real contracts with the real EZKL proof:
/// the attacker's cost against what it makes an honest party lose. Each attack test failed on e8f580d's
/// behaviour; the controls (a stranger's delivery, a delivery one second early, an expiry during a pause, a
/// front-run copy at the honest price) passed there too. Item 7's front-run tests failed on 5c3a5f6 (the first
/// settlement took the whole credit); item 1 (junk inputs) is TrustIIIInputs.t.sol.
contract TrustIIITest is Base {
    address internal washProvider = makeAddr("washProvider");
    address internal washOwner = makeAddr("washOwner");
    address internal griefer = makeAddr("griefer");

    function setUp() public override {
        super.setUp();
        _fund(washProvider, 10_000 ether);
        _fund(griefer, 10_000 ether);
        _registerAndStake(washProvider, STAKE);
    }

    // ------------------------------------------------------------ helpers

    function _poolFree() internal view returns (uint256) {
        return token.balanceOf(address(rewards)) - rewards.totalOwed();
    }

    function _value(address who) internal view returns (uint256) {
        return token.balanceOf(who) + market.claimable(who) + rewards.owedTo(who) + staking.stakedOf(who)
            + staking.getProvider(who).unbonding;
    }

    function _postAs(address who, uint256 modelId) internal returns (uint256 jobId) {
        vm.prank(who);
        jobId = market.postJob(modelId, _commitments(), PRICE, CLAIM_WINDOW, PROVE_WINDOW, 0);
    }

    function _claimAs(address who, uint256 jobId) internal {
        vm.prank(who);
        market.claimJob(jobId);
    }

    function _submitAs(address who, uint256 jobId) internal {
        vm.prank(who);
        market.submitResult(jobId, proof, instances);
    }

    /// A fresh, funded consumer address: free to make, as many as the attacker likes.
    function _freshConsumer(uint256 i) internal returns (address who) {
        who = makeAddr(string(abi.encodePacked("sybil", bytes1(uint8(65 + i)))));
        _fund(who, 1_000 ether);
    }

    function _freshModel(address verifier, IModelRegistry.VerifierKind kind, bytes memory vka_)
        internal
        returns (uint256 modelId)
    {
        vm.prank(washOwner);
        modelId = registry.registerModel(_spec(verifier, kind), vka_);
    }

    // ------------------------------------------------------------ items 3 and 7: the replay flag

    /// Item 3: one public proof, replayed on fresh model ids of the allow-listed verifier by fresh consumers,
    /// bought NRS, rewards and free declines. The statement (verifier code, commitments) was settled once:
    /// every later settlement of it is a replay, whatever the model id.
    function test_ReplayOnFreshModelIdsEarnsNothing() public {
        _claimAs(provider, _post(dedicatedModel));
        _submit(1); // the honest job: its proof and instances are public from now on
        assertGt(reputation.factsOf(provider).weightMilli, 0, "the honest job is credited");

        uint256 poolBefore = _poolFree();
        uint256 nrsBefore = reputation.nrs(washProvider);
        for (uint256 i; i < 5; ++i) {
            uint256 modelId = _freshModel(address(dedicatedVerifier), IModelRegistry.VerifierKind.Dedicated, "");
            address sybil = _freshConsumer(i);
            uint256 jobId = _postAs(sybil, modelId);
            _claimAs(washProvider, jobId);
            _submitAs(washProvider, jobId);
            assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Settled), "it still settles");
            assertTrue(market.getJob(jobId).flags & market.FLAG_NO_REWARD() != 0, "a replay");
            vm.prank(sybil);
            market.rateJob(jobId, 5);
        }
        assertEq(_poolFree(), poolBefore, "no reward for a replayed proof");
        IReputation.Facts memory f = reputation.factsOf(washProvider);
        assertEq(f.completed, 0, "no completion");
        assertEq(f.weightMilli, 0, "no weight");
        assertEq(f.ratingCount, 0, "no rating");
        assertEq(reputation.nrs(washProvider), nrsBefore, "NRS unchanged");
        assertEq(reputation.freeDeclinesLeft(washProvider), 3, "no free declines bought");
    }

    /// The same through the shared reusable verifier: a fresh model with the same VKA is the same statement.
    function test_ReplayOnFreshReusableModelEarnsNothing() public {
        _claimAs(provider, _post(reusableModel));
        _submit(1);
        uint256 modelId = _freshModel(address(reusableVerifier), IModelRegistry.VerifierKind.Reusable, vka);
        uint256 jobId = _postAs(_freshConsumer(0), modelId);
        _claimAs(washProvider, jobId);
        uint256 poolBefore = _poolFree();
        _submitAs(washProvider, jobId);
        assertEq(_poolFree(), poolBefore, "no reward");
        assertEq(reputation.factsOf(washProvider).completed, 0, "no completion");
    }

    /// Item 7: posting an honest job's commitments first and cancelling made the honest job a "replay" (no
    /// reward, NRS or rating for its provider) for the cost of gas. Posting marks nothing now.
    function test_PostAndCancelDoesNotStripTheHonestReward() public {
        uint256 decoy = _postAs(griefer, dedicatedModel); // a copy of the honest commitments, first in line
        vm.prank(griefer);
        market.cancelJob(decoy);
        uint256 decoy2 =
            _postAs(griefer, _freshModel(address(dedicatedVerifier), IModelRegistry.VerifierKind.Dedicated, ""));
        vm.warp(block.timestamp + CLAIM_WINDOW);
        market.expireJob(decoy2); // one left to expire unclaimed, on a model of its own
        assertEq(_value(griefer), 10_000 ether, "the griefer got its money back");

        uint256 jobId = _post(dedicatedModel);
        assertEq(market.getJob(jobId).flags, 0, "not flagged at post");
        _claimAs(provider, jobId);
        uint256 poolBefore = _poolFree();
        _submit(jobId);
        assertGt(poolBefore - _poolFree(), 0, "the honest provider is rewarded");
        assertEq(reputation.factsOf(provider).completed, 1, "and credited");
        vm.prank(consumer);
        market.rateJob(jobId, 5);
        assertEq(reputation.factsOf(provider).ratingCount, 1, "and rated");
        assertEq(market.outputsHashOf(jobId), keccak256(abi.encodePacked(_outputs())));
    }

    /// Two jobs in flight with one statement: the first to settle is credited, the second is a replay; both are
    /// paid, and each keeps its outputs hash.
    function test_SecondSettlementOfOneStatementIsAReplay() public {
        uint256 a = _post(dedicatedModel);
        uint256 b = _postAs(griefer, dedicatedModel);
        assertEq(market.getJob(b).flags, 0, "nothing marked at post");
        _claimAs(provider, a);
        _claimAs(washProvider, b);
        _submit(a);
        uint256 poolBefore = _poolFree();
        _submitAs(washProvider, b);
        assertEq(_poolFree(), poolBefore, "no reward for the second");
        assertEq(market.getJob(b).flags & market.FLAG_NO_REWARD(), market.FLAG_NO_REWARD());
        assertEq(market.claimable(washProvider), 92.5 ether, "still paid");
        assertEq(market.outputsHashOf(a), keccak256(abi.encodePacked(_outputs())));
        assertEq(market.outputsHashOf(b), keccak256(abi.encodePacked(_outputs())));
    }

    /// Item 7, the front-run: an attacker copies the honest proof out of the mempool and front-runs its
    /// submitResult with a job of its own (posted with the public commitments at the minimum price, claimed by its
    /// own staked provider). Before, the first settlement took the whole credit: the honest provider lost its
    /// reward (2 NGX, 80 % of its 2.5 NGX fee) and the job's NRS credit for the attacker's 0.0025 NGX fee. Now a
    /// statement earns once, at the highest price paid for it: the honest job earns the fee of its price above the
    /// copy's, so the attacker strips at most the reward its own fee earns (<= 80 % of it: ratio >= 1.25).
    function test_Attack7_FrontRunSubmitStripsAtMostItsOwnFeesReward() public {
        uint256 honest = _postAndClaim(dedicatedModel);
        vm.prank(griefer);
        uint256 copy = market.postJob(dedicatedModel, _commitments(), 0.1 ether, CLAIM_WINDOW, PROVE_WINDOW, 0);
        _claimAs(washProvider, copy);
        uint256 poolBefore = _poolFree();
        _submitAs(washProvider, copy); // the copied proof, ordered first
        uint256 stripped = poolBefore - _poolFree();
        uint256 attackerFee = 0.1 ether * 250 / 10_000;
        assertEq(stripped, attackerFee * 8_000 / 10_000, "the copy earns only its own fee's reward");

        poolBefore = _poolFree();
        _submit(honest);
        uint256 honestReward = poolBefore - _poolFree();
        uint256 fullReward = PRICE * 250 / 10_000 * 8_000 / 10_000; // 2 NGX: what it earned unattacked
        assertEq(honestReward, (PRICE - 0.1 ether) * 250 / 10_000 * 8_000 / 10_000, "the fee above the copy's price");
        uint256 lost = fullReward - honestReward;
        assertLe(lost * 125 / 100, attackerFee, "the attacker's fee >= 1.25 x the honest provider's loss");
        assertEq(market.getJob(honest).flags & market.FLAG_NO_REWARD(), 0, "not a replay: rated and credited");
        assertEq(reputation.factsOf(provider).weightMilli, 1_000, "the full NRS weight of one job");
        vm.prank(consumer);
        market.rateJob(honest, 5);
        assertEq(reputation.factsOf(provider).ratingCount, 1, "and its rating counts");
        assertEq(market.claimable(provider), 92.5 ether, "its pay is intact");
    }

    /// Item 7 at the honest job's own price: a copy at the same price strips the whole reward, but pays the same
    /// fee (2.5 NGX) for it: the 2 NGX stripped are 80 % of what it cost.
    function test_Attack7_AFrontRunAtTheSamePriceCostsMoreThanItStrips() public {
        uint256 honest = _postAndClaim(dedicatedModel);
        uint256 copy = _postAs(griefer, dedicatedModel);
        _claimAs(washProvider, copy);
        uint256 griefer0 = _value(griefer) + _value(washProvider) + PRICE; // the copy's escrow is the griefer's
        _submitAs(washProvider, copy);
        uint256 paid = griefer0 - _value(griefer) - _value(washProvider); // fee and royalty, less its own reward
        uint256 poolBefore = _poolFree();
        _submit(honest);
        assertEq(_poolFree(), poolBefore, "not above the credit: the honest job is the replay");
        assertLe(2 ether, paid, "the attacker paid at least the 2 NGX reward it stripped");
    }

    /// A replay at a higher price earns exactly the fee of the difference, in reward and in NRS weight.
    function test_AHigherPricedSettlementEarnsOnlyTheDifference() public {
        uint256 low = _post(dedicatedModel); // 100 NGX
        _claimAs(provider, low);
        _submit(low);
        vm.prank(griefer);
        uint256 high = market.postJob(dedicatedModel, _commitments(), 110 ether, CLAIM_WINDOW, PROVE_WINDOW, 0);
        _claimAs(washProvider, high);
        uint256 poolBefore = _poolFree();
        _submitAs(washProvider, high);
        assertEq(poolBefore - _poolFree(), 10 ether * 250 / 10_000 * 8_000 / 10_000, "reward of the 10 NGX above");
        assertEq(reputation.factsOf(washProvider).weightMilli, 1_000, "fee of 10 NGX (0.25) is a full-weight job");
    }

    // ------------------------------------------------------------ item 4: late deliveries

    /// Who may deliver: only the consumer (or the deliverer it named at post); a stranger cannot.
    function test_RevertWhen_StrangerDeliversInput() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotConsumer.selector, jobId, stranger));
        vm.prank(stranger);
        market.deliverInput(jobId, hex"c0ffee");
    }

    /// Item 4: the consumer front-ran the provider's free InputMissing decline with `deliverInput(junk)`, and the
    /// re-decline cost 10 % of the collateral. A delivery at or after the input deadline does not count.
    function test_RevertWhen_DeliverInputAfterInputDeadline() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256 deadline = market.inputDeadline(jobId);
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InputDeadlinePassed.selector, jobId, deadline));
        vm.prank(consumer);
        market.deliverInput(jobId, hex"00");

        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.JobDeclined(jobId, provider, PRICE, 1, true, 0, 0);
        vm.prank(provider);
        market.declineJob(jobId, IJobMarket.DeclineReason.InputMissing);
        assertEq(staking.stakedOf(provider), STAKE, "the decline stayed free");
    }

    function test_DeliveryJustBeforeTheInputDeadlineCounts() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.warp(market.inputDeadline(jobId) - 1);
        vm.prank(consumer);
        market.deliverInput(jobId, hex"c0ffee");
        vm.warp(block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InputWasDelivered.selector, jobId));
        vm.prank(provider);
        market.declineJob(jobId, IJobMarket.DeclineReason.InputMissing);
    }

    // ------------------------------------------------------------ item 10a: a guardian pause

    /// A one-second pause made every claim in flight free to abandon. A pause now only gives the provider a
    /// whole prove window after it ends; a miss after that is slashed as usual.
    function test_OneSecondPauseDoesNotFreeAnAbandonedClaim() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256 proveDeadline = market.getJob(jobId).proveDeadline;
        vm.warp(block.timestamp + 60);
        vm.prank(guardian);
        market.pause();
        vm.warp(block.timestamp + 1);
        vm.prank(guardian);
        market.unpause();
        uint256 extended = block.timestamp + PROVE_WINDOW;
        assertEq(market.getJob(jobId).proveDeadline, extended, "a whole window after the pause");

        vm.warp(proveDeadline);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotExpired.selector, jobId, extended));
        market.expireJob(jobId);
        vm.warp(extended);
        market.expireJob(jobId);
        assertEq(reputation.factsOf(provider).missed, 1, "the abandoned claim is a miss");
        assertGt(STAKE, staking.stakedOf(provider), "and slashed");
    }

    /// The same for a model pause.
    function test_OneSecondModelPauseDoesNotFreeAnAbandonedClaim() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.startPrank(guardian);
        registry.pauseModel(dedicatedModel);
        vm.warp(block.timestamp + 1);
        registry.unpauseModel(dedicatedModel);
        vm.stopPrank();
        uint256 extended = block.timestamp + PROVE_WINDOW;
        assertEq(market.getJob(jobId).proveDeadline, extended);
        vm.warp(extended);
        market.expireJob(jobId);
        assertEq(reputation.factsOf(provider).missed, 1, "a miss");
    }

    /// The provider's side: a pause that ate most of its window leaves it a whole window to prove in.
    function test_PauseGivesTheProviderAWholeWindow() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.warp(block.timestamp + PROVE_WINDOW - 10);
        vm.prank(guardian);
        market.pause();
        vm.warp(block.timestamp + 1 hours);
        vm.prank(guardian);
        market.unpause();
        vm.warp(block.timestamp + PROVE_WINDOW - 1);
        _submit(jobId);
        assertEq(uint256(market.getJob(jobId).status), uint256(IJobMarket.JobStatus.Settled));
    }

    /// The consumer's side: the input deadline moves with the window, so a pause cannot turn an on-time delivery
    /// into a late one, and the provider's free InputMissing decline waits for the new input deadline.
    function test_PauseMovesTheInputDeadline() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256 inputDeadline = market.inputDeadline(jobId);
        vm.prank(guardian);
        market.pause();
        vm.warp(inputDeadline);
        vm.prank(guardian);
        market.unpause();
        uint256 moved = block.timestamp + PROVE_WINDOW - PROVE_WINDOW / 2;
        assertEq(market.inputDeadline(jobId), moved);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InputDeadlineNotReached.selector, jobId, moved));
        vm.prank(provider);
        market.declineJob(jobId, IJobMarket.DeclineReason.InputMissing);
        vm.prank(consumer);
        market.deliverInput(jobId, hex"c0ffee"); // still on time
    }

    /// A pause still going on at the deadline: nobody could submit, so an expiry then slashes nobody.
    function test_ExpiryDuringAPauseSlashesNobody() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.prank(guardian);
        market.pause();
        vm.warp(market.getJob(jobId).proveDeadline);
        market.expireJob(jobId);
        assertEq(staking.stakedOf(provider), STAKE, "no slash");
        assertEq(market.claimable(consumer), PRICE, "consumer refunded");
    }

    // item 1 (junk inputs): test/TrustIIIInputs.t.sol

    // ------------------------------------------------------------ item 10b: a KZG binding's commitment count

    function test_RevertWhen_BindingCommitmentCountIsNotTwicePoints() public {
        PolycommitBinding binding = new PolycommitBinding(address(dedicatedVerifier), 1);
        IModelRegistry.ModelSpec memory spec = _spec(address(binding), IModelRegistry.VerifierKind.Dedicated);
        // One word would post x only: a proof for the negated point (x, -y), another input, would settle.
        spec.inputCommitmentCount = 1;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry__CommitmentCountMismatch.selector, 1, 2));
        vm.prank(washOwner);
        registry.registerModel(spec, "");
        spec.inputCommitmentCount = 3;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelRegistry__CommitmentCountMismatch.selector, 3, 2));
        vm.prank(washOwner);
        registry.registerModel(spec, "");
        spec.inputCommitmentCount = 2;
        vm.prank(washOwner);
        registry.registerModel(spec, "");
    }
}
