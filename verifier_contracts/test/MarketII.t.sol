// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {INgxConsumer} from "../src/interfaces/INgxConsumer.sol";
import {JobMarket} from "../src/JobMarket.sol";

/// A contract consumer that records what the market hands it.
contract RecordingConsumer is INgxConsumer {
    JobMarket internal immutable _market;
    uint256 public calls;
    uint256 public lastJob;
    uint256[] internal _outputs;

    constructor(JobMarket market_) {
        _market = market_;
    }

    function post(IJobMarket.JobTerms calldata terms, uint256[] calldata commitments) external returns (uint256) {
        return _market.postJobWithTerms(terms, commitments);
    }

    function approve(address token, uint256 amount) external {
        (bool ok,) = token.call(abi.encodeWithSignature("approve(address,uint256)", address(_market), amount));
        require(ok);
    }

    function onInferenceResult(uint256 jobId, uint256[] calldata outputs) external virtual {
        require(msg.sender == address(_market), "not the market");
        ++calls;
        lastJob = jobId;
        _outputs = outputs;
    }

    function outputs() external view returns (uint256[] memory) {
        return _outputs;
    }
}

/// Fault injection: a callback that reverts.
contract RevertingConsumerFake is RecordingConsumer {
    constructor(JobMarket market_) RecordingConsumer(market_) {}

    function onInferenceResult(uint256, uint256[] calldata) external pure override {
        revert("no");
    }
}

/// Fault injection: a callback that burns every unit of gas it is given.
contract GasBurningConsumerFake is RecordingConsumer {
    constructor(JobMarket market_) RecordingConsumer(market_) {}

    function onInferenceResult(uint256, uint256[] calldata) external pure override {
        while (true) {}
    }
}

/// Fault injection: a callback that tries to take money out of the market while it is settling.
contract ReentrantConsumerFake is RecordingConsumer {
    bool public reentered;

    constructor(JobMarket market_) RecordingConsumer(market_) {}

    function onInferenceResult(uint256 jobId, uint256[] calldata) external override {
        _market.withdraw(); // nonReentrant: reverts, and with it the whole callback
        _market.cancelJob(jobId);
        reentered = true;
    }
}

/// Fault injection: a callback that returns 1 MB of data (a returndata bomb against the caller).
contract ReturnBombConsumerFake is RecordingConsumer {
    constructor(JobMarket market_) RecordingConsumer(market_) {}

    function onInferenceResult(uint256, uint256[] calldata) external pure override {
        assembly {
            revert(0, 1000000)
        }
    }
}

/// A callback that needs about `work` gas (it writes storage slots) and succeeds with it.
contract HungryConsumer is RecordingConsumer {
    mapping(uint256 => uint256) internal _sink;

    constructor(JobMarket market_) RecordingConsumer(market_) {}

    function onInferenceResult(uint256 jobId, uint256[] calldata) external override {
        for (uint256 i; i < 10; ++i) {
            _sink[jobId * 100 + i] = i + 1; // ~22k each
        }
        ++calls;
    }
}

/// Market II (issue #16): contract consumers with callbacks, reverse Dutch auctions, a second prover.
contract MarketIITest is Base {
    uint32 internal constant CALLBACK_GAS = 300_000;
    address internal deliverer = makeAddr("deliverer");

    function _terms(uint256 modelId) internal pure returns (IJobMarket.JobTerms memory) {
        return IJobMarket.JobTerms({
            modelId: modelId,
            minPrice: uint96(PRICE),
            maxPrice: uint96(PRICE),
            rampDelay: 0,
            rampLength: 0,
            claimWindow: CLAIM_WINDOW,
            proveWindow: PROVE_WINDOW,
            minReputation: 0,
            deliverer: address(0),
            callbackGasLimit: 0,
            settlement: 0
        });
    }

    function _auction(uint96 low, uint96 high, uint32 delay, uint32 ramp)
        internal
        view
        returns (IJobMarket.JobTerms memory t)
    {
        t = _terms(dedicatedModel);
        (t.minPrice, t.maxPrice, t.rampDelay, t.rampLength) = (low, high, delay, ramp);
    }

    function _postTerms(IJobMarket.JobTerms memory t) internal returns (uint256 jobId) {
        vm.prank(consumer);
        jobId = market.postJobWithTerms(t, _commitments());
    }

    function _consumerContract(RecordingConsumer c, uint32 gasLimit) internal returns (uint256 jobId) {
        _fundContract(address(c));
        IJobMarket.JobTerms memory t = _terms(dedicatedModel);
        (t.callbackGasLimit, t.deliverer) = (gasLimit, deliverer);
        jobId = c.post(t, _commitments());
        vm.prank(provider);
        market.claimJob(jobId);
    }

    function _fundContract(address c) internal {
        vm.prank(treasury);
        token.transfer(c, 1_000 ether);
        RecordingConsumer(c).approve(address(token), type(uint256).max);
    }

    function _assertSolvent() internal view {
        assertEq(token.balanceOf(address(market)), market.totalLiabilities(), "market holds exactly what it owes");
    }

    // ------------------------------------------------------------ contract consumers and callbacks

    function test_ContractConsumerGetsVerifiedOutputsAfterPay() public {
        RecordingConsumer c = new RecordingConsumer(market);
        uint256 jobId = _consumerContract(c, CALLBACK_GAS);
        assertEq(market.getJob(jobId).consumer, address(c)); // the contract is the consumer
        assertEq(market.getJob(jobId).callbackGasLimit, CALLBACK_GAS);
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.CallbackResult(jobId, address(c), true);
        _submit(jobId);
        assertEq(c.calls(), 1, "called once");
        assertEq(c.lastJob(), jobId);
        assertEq(c.outputs(), _outputs()); // the proof's verified outputs
        assertEq(market.claimable(provider), 92.5 ether, "provider paid as for any job");
        _assertSolvent();
    }

    function test_NoCallbackWithoutGasLimit() public {
        RecordingConsumer c = new RecordingConsumer(market);
        uint256 jobId = _consumerContract(c, 0);
        _submit(jobId);
        assertEq(c.calls(), 0, "not called");
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Settled);
    }

    function _assertCallbackFailedButSettled(RecordingConsumer c) internal {
        uint256 jobId = _consumerContract(c, CALLBACK_GAS);
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.CallbackResult(jobId, address(c), false);
        _submit(jobId);
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Settled, "settled all the same");
        assertEq(market.claimable(provider), 92.5 ether, "provider paid");
        assertEq(market.outputsHashOf(jobId), keccak256(abi.encodePacked(_outputs())), "outputs recorded");
        _assertSolvent();
    }

    function test_RevertingCallbackCannotBlockSettlement() public {
        _assertCallbackFailedButSettled(new RevertingConsumerFake(market));
    }

    function test_ReturnBombCallbackCannotBlockSettlement() public {
        _assertCallbackFailedButSettled(new ReturnBombConsumerFake(market));
    }

    function test_GasBurningCallbackIsBoundedByItsLimit() public {
        RecordingConsumer plain = new RecordingConsumer(market);
        uint256 plainJob = _consumerContract(plain, 0);
        vm.prank(provider);
        uint256 g0 = gasleft();
        market.submitResult(plainJob, proof, instances);
        uint256 withoutCallback = g0 - gasleft();

        GasBurningConsumerFake burner = new GasBurningConsumerFake(market);
        uint256 jobId = _consumerContract(burner, CALLBACK_GAS);
        vm.prank(provider);
        g0 = gasleft();
        market.submitResult(jobId, proof, instances);
        uint256 withBurner = g0 - gasleft();
        assertLe(withBurner, withoutCallback + CALLBACK_GAS + 20_000, "the provider pays at most the limit");
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Settled);
    }

    function test_ReentrantCallbackCannotReenter() public {
        ReentrantConsumerFake c = new ReentrantConsumerFake(market);
        _assertCallbackFailedButSettled(c);
        assertFalse(c.reentered()); // every state-changing market function is closed during settlement
    }

    /// Whatever gas a provider sends, the settlement either reverts or the callback got its whole limit:
    /// a provider cannot settle while starving the consumer's callback.
    function testFuzz_ProviderCannotStarveCallback(uint256 gasSent) public {
        HungryConsumer c = new HungryConsumer(market);
        uint256 jobId = _consumerContract(c, CALLBACK_GAS);
        gasSent = bound(gasSent, 300_000, 2_000_000);
        vm.prank(provider);
        (bool ok,) =
            address(market).call{gas: gasSent}(abi.encodeCall(IJobMarket.submitResult, (jobId, proof, instances)));
        if (ok) {
            assertEq(c.calls(), 1, "settled only with the callback done");
        } else {
            assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Claimed, "nothing happened");
        }
    }

    function test_RevertWhen_CallbackGasAboveMax() public {
        IJobMarket.JobTerms memory t = _terms(dedicatedModel);
        t.callbackGasLimit = market.MAX_CALLBACK_GAS() + 1;
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarket__CallbackGasTooHigh.selector, t.callbackGasLimit, market.MAX_CALLBACK_GAS()
            )
        );
        _postTerms(t);
    }

    // ------------------------------------------------------------ deliverers

    function test_DelivererHandsOverTheInputStrangerCannot() public {
        IJobMarket.JobTerms memory t = _terms(dedicatedModel);
        t.deliverer = deliverer;
        uint256 jobId = _postTerms(t);
        assertEq(market.getJobExtras(jobId).deliverer, deliverer);
        vm.prank(provider);
        market.claimJob(jobId);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotConsumer.selector, jobId, stranger));
        market.deliverInput(jobId, hex"c0ffee");
        vm.expectEmit(true, true, true, true, address(market));
        emit IJobMarket.InputDelivered(jobId, deliverer, provider, hex"c0ffee");
        vm.prank(deliverer);
        market.deliverInput(jobId, hex"c0ffee");
        assertEq(market.getJob(jobId).flags & market.FLAG_INPUT_ON_CHAIN(), market.FLAG_INPUT_ON_CHAIN());
        vm.prank(consumer);
        market.deliverInput(jobId, hex"c0ffee"); // the consumer still may
    }

    function test_RevertWhen_DelivererIsTheConsumer() public {
        IJobMarket.JobTerms memory t = _terms(dedicatedModel);
        t.deliverer = consumer;
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidDeliverer.selector, consumer));
        _postTerms(t);
    }

    // ------------------------------------------------------------ reverse Dutch auctions

    function test_AuctionPriceAtEachSecondOfTheRamp() public {
        uint32 delay = 60;
        uint32 ramp = 600;
        uint256 jobId = _postTerms(_auction(10 ether, 70 ether, delay, ramp));
        uint256 start = block.timestamp + delay;
        assertEq(market.getJobExtras(jobId).rampStart, start);
        assertEq(market.getJob(jobId).price, 70 ether, "the maximum is escrowed");
        uint256 last;
        for (uint256 t = block.timestamp; t <= start + ramp + 5; ++t) {
            uint256 p = market.priceAt(jobId, t);
            uint256 expected =
                t <= start ? 10 ether : t >= start + ramp ? 70 ether : 10 ether + 60 ether * (t - start) / ramp;
            assertEq(p, expected, "linear ramp");
            assertLe(last, p, "never falls");
            last = p;
        }
        assertEq(market.priceAt(jobId, start), 10 ether, "the ramp's first second is the minimum");
        assertEq(market.priceAt(jobId, start + ramp), 70 ether, "its end is the maximum");
    }

    function testFuzz_AuctionClaimLocksThePriceAndConservesTokens(uint32 wait) public {
        uint32 ramp = 1200;
        wait = uint32(bound(wait, 0, CLAIM_WINDOW - 1));
        uint256 jobId = _postTerms(_auction(10 ether, 100 ether, 0, ramp));
        uint256 posted = block.timestamp;
        vm.warp(posted + wait);
        uint256 expected = market.priceAt(jobId, block.timestamp);
        vm.expectEmit(true, false, false, true, address(market));
        emit IJobMarket.JobPriceLocked(jobId, expected, 100 ether - expected);
        vm.prank(provider);
        market.claimJob(jobId);
        IJobMarket.Job memory job = market.getJob(jobId);
        assertEq(job.price, expected, "price locked at the claim");
        assertEq(job.flags & market.FLAG_AUCTION(), 0, "no longer an auction");
        assertEq(market.priceAt(jobId, block.timestamp + 1 days), expected, "the locked price stays");
        assertEq(market.claimable(consumer), 100 ether - expected, "the escrow above the price back to the consumer");
        assertEq(job.collateral, config.collateralFor(expected, 0), "collateral on the locked price");
        _submit(jobId);
        uint256 fee = expected * 250 / 10_000;
        uint256 royalty = expected * ROYALTY_BPS / 10_000;
        assertEq(market.claimable(provider), expected - fee - royalty, "pay from the locked price");
        _assertSolvent();
    }

    function test_RevertWhen_AuctionTermsInvalid() public {
        IJobMarket.JobTerms memory t = _auction(50 ether, 10 ether, 0, 100);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidAuction.selector, 50 ether, 10 ether, 100));
        _postTerms(t);
        t = _auction(10 ether, 50 ether, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidAuction.selector, 10 ether, 50 ether, 0));
        _postTerms(t);
        t = _auction(10 ether, 50 ether, 1, CLAIM_WINDOW);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidAuction.selector, 10 ether, 50 ether, CLAIM_WINDOW)
        );
        _postTerms(t); // the ramp must end within the claim window
        t = _auction(0, 50 ether, 0, 100);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidPrice.selector, 0));
        _postTerms(t);
    }

    function test_FixedPriceTermsEqualPostJob() public {
        uint256 jobId = _postTerms(_terms(dedicatedModel));
        IJobMarket.Job memory job = market.getJob(jobId);
        assertEq(job.price, PRICE);
        assertEq(job.flags, 0, "no auction, no deliverer");
        assertEq(market.priceAt(jobId, block.timestamp + 1 hours), PRICE);
    }

    // ------------------------------------------------------------ a second prover

    function _missed() internal returns (uint256 jobId, uint256 collateral) {
        jobId = _postAndClaim(dedicatedModel);
        collateral = market.getJob(jobId).collateral;
        vm.warp(market.getJob(jobId).proveDeadline);
        market.expireJob(jobId);
    }

    function test_SecondProverFinishesAndEarnsTheBounty() public {
        _registerAndStake(provider2, STAKE);
        uint256 supplyBefore = token.totalSupply();
        (uint256 jobId, uint256 collateral) = _missed();
        uint256 slashed = collateral / 2;
        uint256 bounty = slashed / 2;
        IJobMarket.Job memory job = market.getJob(jobId);
        assertTrue(job.status == IJobMarket.JobStatus.Open, "reopened");
        assertEq(job.provider, address(0)); // unassigned
        assertEq(job.flags & market.FLAG_REOPENED(), market.FLAG_REOPENED());
        assertEq(market.getJobExtras(jobId).missedBy, provider);
        assertEq(market.getJobExtras(jobId).bounty, bounty);
        assertEq(supplyBefore - token.totalSupply(), slashed - bounty, "the rest of the slash burned");
        _assertSolvent();

        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__MissedBefore.selector, jobId, provider));
        market.claimJob(jobId);

        vm.prank(provider2);
        market.claimJob(jobId);
        vm.prank(provider2);
        market.submitResult(jobId, proof, instances);
        assertEq(market.claimable(provider2), 92.5 ether + bounty, "price share plus the bounty");
        assertEq(market.claimable(consumer), 0, "the consumer got its result, not a slash share");
        assertEq(market.getJobExtras(jobId).bounty, 0, "paid once");
        assertEq(staking.getProvider(provider).staked, STAKE - slashed, "the first provider lost the slash");
        assertEq(reputation.factsOf(provider).missed, 1);
        assertEq(reputation.factsOf(provider2).completed, 1);
        _assertSolvent();
    }

    function test_ReopenedJobNobodyFinishesBurnsTheBounty() public {
        uint256 supplyBefore = token.totalSupply();
        (uint256 jobId, uint256 collateral) = _missed();
        vm.warp(market.getJob(jobId).claimDeadline);
        market.expireJob(jobId);
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Expired);
        assertEq(market.claimable(consumer), PRICE, "exactly the price back");
        assertEq(supplyBefore - token.totalSupply(), collateral / 2, "the whole slash burned");
        assertEq(reputation.consumerFactsOf(consumer).expiredUnclaimed, 0, "not the consumer's fault");
        _assertSolvent();
    }

    function test_SecondProverMissesTooNoThirdRound() public {
        _registerAndStake(provider2, STAKE);
        uint256 treasuryBefore = token.balanceOf(treasury);
        (uint256 jobId,) = _missed();
        vm.prank(provider2);
        market.claimJob(jobId);
        uint256 collateral2 = market.getJob(jobId).collateral;
        vm.warp(market.getJob(jobId).proveDeadline);
        market.expireJob(jobId);
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Expired, "reopened at most once");
        assertEq(market.claimable(consumer), PRICE, "refund");
        uint256 slashed2 = collateral2 / 2;
        assertEq(token.balanceOf(treasury) - treasuryBefore, slashed2 - slashed2 / 2, "a second miss: burn + treasury");
        assertEq(market.getJobExtras(jobId).bounty, 0, "bounty burned");
        _assertSolvent();
    }

    function test_CancelOrDeclineOfReopenedJobBurnsTheBounty() public {
        _registerAndStake(provider2, STAKE);
        (uint256 cancelled,) = _missed();
        uint256 supply = token.totalSupply();
        uint256 bounty = market.getJobExtras(cancelled).bounty;
        vm.prank(consumer);
        market.cancelJob(cancelled);
        assertEq(supply - token.totalSupply(), bounty, "burned on cancel");
        assertEq(reputation.consumerFactsOf(consumer).cancelled, 0, "not counted against the consumer");

        (uint256 declined,) = _missed();
        vm.prank(provider2);
        market.claimJob(declined);
        supply = token.totalSupply();
        bounty = market.getJobExtras(declined).bounty;
        vm.prank(provider2);
        market.declineJob(declined, IJobMarket.DeclineReason.InputInvalid);
        assertEq(supply - token.totalSupply(), bounty, "burned on decline (a free decline burns no collateral)");
        _assertSolvent();
    }

    function test_NoReopenWhenTheProviderWasNotAtFault() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.prank(guardian);
        market.pause();
        vm.warp(market.getJob(jobId).proveDeadline);
        market.expireJob(jobId);
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Expired, "refund at once, no slash, no bounty");
        assertEq(market.getJobExtras(jobId).missedBy, address(0));
    }

    function test_ReopenedJobNeedsTheInputAgain() public {
        _registerAndStake(provider2, STAKE);
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.prank(consumer);
        market.deliverInput(jobId, hex"01");
        vm.warp(market.getJob(jobId).proveDeadline);
        market.expireJob(jobId);
        assertEq(
            market.getJob(jobId).flags & market.FLAG_INPUT_ON_CHAIN(), 0, "the old delivery was for the old provider"
        );
        vm.prank(provider2);
        market.claimJob(jobId);
        vm.warp(market.inputDeadline(jobId));
        vm.prank(provider2);
        market.declineJob(jobId, IJobMarket.DeclineReason.InputMissing); // allowed: nothing was delivered to it
    }
}
