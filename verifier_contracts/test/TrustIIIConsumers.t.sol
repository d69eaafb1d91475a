// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {IReputation} from "../src/interfaces/IReputation.sol";
import {LoanGate} from "../src/examples/LoanGate.sol";
import {AlwaysTrueVerifierFake} from "./fakes/VerifierFakes.sol";

/// Trust III (issue #23), items 5 and 6: consumer scores. Each attack is played on the real contracts; each
/// test named Attack failed on the scoring of 9e662d9 (a plain count of settled jobs against a plain count of
/// InputMissing and InputInvalid declines, both on the job's consumer), and passes with the weighed score.
contract TrustIIIConsumersTest is Base {
    uint256 internal constant MIN_PRICE = 0.1 ether;
    uint32 internal constant CALLBACK_GAS = 200_000;

    address internal griefer = makeAddr("griefer"); // a provider
    address internal launderer = makeAddr("launderer"); // a consumer
    address internal lender = makeAddr("lender");
    AlwaysTrueVerifierFake internal anything;
    uint256 internal fixtureCommitment;
    uint256 internal nextSalt = 1_000_000;

    function setUp() public override {
        super.setUp();
        _fund(griefer, 10_000 ether);
        _registerAndStake(griefer, STAKE);
        _fund(launderer, 10_000 ether);
        anything = new AlwaysTrueVerifierFake();
        fixtureCommitment = instances[0];
    }

    // ------------------------------------------------------------ helpers

    function _postAs(address who, uint256 modelId, uint256 commitment, uint256 price) internal returns (uint256 id) {
        uint256[] memory c = new uint256[](1);
        c[0] = commitment;
        vm.prank(who);
        id = market.postJob(modelId, c, price, CLAIM_WINDOW, PROVE_WINDOW, 0);
    }

    function _claimAs(address who, uint256 jobId) internal {
        vm.prank(who);
        market.claimJob(jobId);
    }

    function _declineAs(address who, uint256 jobId, IJobMarket.DeclineReason reason) internal {
        vm.prank(who);
        market.declineJob(jobId, reason);
    }

    function _fakeModel(bool allowListed) internal returns (uint256 modelId) {
        if (allowListed) config.setVerifierCodeAllowed(address(anything).codehash, true);
        vm.prank(launderer);
        modelId = registry.registerModel(_spec(address(anything), IModelRegistry.VerifierKind.Dedicated), "");
    }

    /// `who` settles `n` jobs of `price` for `consumer_` on `modelId`, each a fresh commitment (no replay).
    function _settle(address who, address consumer_, uint256 modelId, uint256 n, uint256 price, uint256 salt) internal {
        for (uint256 i; i < n; ++i) {
            uint256 jobId = _postAs(consumer_, modelId, salt + i + 1, price);
            _claimAs(who, jobId);
            instances[0] = salt + i + 1;
            vm.prank(who);
            market.submitResult(jobId, hex"00", instances);
        }
        instances[0] = fixtureCommitment; // the real proof's statement, for _commitments() and _submit
    }

    function _liquid(address who) internal view returns (uint256) {
        return token.balanceOf(who) + market.claimable(who);
    }

    /// A consumer that withheld one input (a decline the chain checked): score 66.
    function _withheldOnce(address who) internal {
        uint256 jobId = _postAs(who, dedicatedModel, instances[0], PRICE);
        _claimAs(provider, jobId);
        vm.warp(market.inputDeadline(jobId));
        _declineAs(provider, jobId, IJobMarket.DeclineReason.InputMissing);
        assertEq(reputation.consumerScore(who), 66, "(0 + 2000) * 100 / (0 + 1000 + 2000)");
    }

    /// `who` earns `completions` full-weight completions, each for a different consumer at a full-weight fee.
    function _earnHistory(address who, uint256 completions) internal {
        uint256 modelId = _fakeModel(true);
        for (uint256 i; i < completions; ++i) {
            address c = makeAddr(string(abi.encodePacked("client", bytes1(uint8(65 + i)))));
            _fund(c, 100 ether);
            _settle(who, c, modelId, 1, 10 ether, nextSalt++); // fee 0.25 NGX: full weight
        }
    }

    // ------------------------------------------------------------ item 6: laundering

    /// Item 6: self-dealt jobs on one's own verifier (not allow-listed, so unrewarded) bought a clean score for
    /// cents: each counted as a settled job. They count in the facts, not in the score.
    function test_Attack6_UnrewardedSelfDealtJobsDoNotLaunderTheScore() public {
        _withheldOnce(launderer);
        uint256 modelId = _fakeModel(false); // the launderer's own model and verifier
        uint256 before = _liquid(launderer) + _liquid(griefer); // griefer: the launderer's own provider
        _settle(griefer, launderer, modelId, 20, MIN_PRICE, 0);
        assertLe(before - _liquid(launderer) - _liquid(griefer), 0.1 ether, "cents: 20 minimum-price jobs");
        assertEq(reputation.consumerFactsOf(launderer).settled, 20, "the facts still show the jobs");
        assertEq(reputation.consumerFactsOf(launderer).settledWeightMilli, 0, "unrewarded: no weight");
        assertEq(reputation.consumerScore(launderer), 66, "the score is where the decline left it");
    }

    /// Item 6: rewarded self-dealing with one provider at the minimum price: fee-weighted and discounted per
    /// repeat counterparty, twenty jobs are worth a few hundredths of one genuine job.
    function test_Attack6_CheapRewardedSelfDealingBarelyMovesTheScore() public {
        _withheldOnce(launderer);
        uint256 modelId = _fakeModel(true);
        _settle(provider2Staked(), launderer, modelId, 20, MIN_PRICE, 0);
        assertEq(reputation.consumerFactsOf(launderer).settled, 20);
        assertLe(reputation.consumerFactsOf(launderer).settledWeightMilli, 40, "10 milli, then 10/(1+k)");
        assertEq(reputation.consumerScore(launderer), 66, "still 66");
    }

    /// Control: paid, rewarded jobs with distinct providers do raise the score.
    function test_PaidJobsWithDistinctProvidersRaiseTheScore() public {
        _withheldOnce(launderer);
        uint256 modelId = _fakeModel(true);
        _settle(provider2Staked(), launderer, modelId, 1, 10 ether, 0);
        _settle(provider, launderer, modelId, 1, 10 ether, 100);
        assertEq(reputation.consumerFactsOf(launderer).settledWeightMilli, 2_000);
        assertEq(reputation.consumerScore(launderer), 80, "(2000 + 2000) * 100 / (2000 + 1000 + 2000)");
    }

    function provider2Staked() internal returns (address) {
        if (staking.stakedOf(provider2) == 0) {
            _fund(provider2, 10_000 ether);
            _registerAndStake(provider2, STAKE);
        }
        return provider2;
    }

    // ------------------------------------------------------------ item 5: blacklisting by free declines

    /// Item 5: a fresh provider claims honest consumers' jobs, reads their inputs and declines InputInvalid with
    /// its free declines: no evidence and no cost. Its declines are recorded but weigh nothing on the victims.
    function test_Attack5_FreeInvalidDeclinesOfAFreshProviderHarmNoOne() public {
        address[3] memory victims = [consumer, makeAddr("victim2"), makeAddr("victim3")];
        for (uint256 i; i < victims.length; ++i) {
            if (i > 0) _fund(victims[i], 1_000 ether);
            uint256 jobId = _postAs(victims[i], dedicatedModel, instances[0], PRICE);
            _claimAs(griefer, jobId);
            vm.prank(victims[i]);
            market.deliverInput(jobId, hex"c0ffee"); // the honest consumer hands over its input
            _declineAs(griefer, jobId, IJobMarket.DeclineReason.InputInvalid);
            assertEq(market.claimable(victims[i]), PRICE, "refunded");
            assertEq(reputation.consumerFactsOf(victims[i]).inputsInvalid, 1, "the decline is on record");
            assertEq(reputation.consumerFactsOf(victims[i]).harmMilli, 0, "but weighs nothing");
            assertEq(reputation.consumerScore(victims[i]), 100, "the victim's score is intact");
        }
        assertEq(staking.stakedOf(griefer), STAKE, "the griefer paid nothing: it may not move a score either");
        assertEq(reputation.freeDeclinesLeft(griefer), 0);
    }

    /// A provider with independent paid history is believed in proportion, and once per victim: its k-th
    /// InputInvalid decline against the same party weighs 1/(1+k).
    function test_InvalidDeclinesWeighByTheDeclinersHistoryAndDiminish() public {
        _earnHistory(griefer, 5); // 5 full-weight completions: half of DECLINER_FULL_WEIGHT
        assertEq(reputation.factsOf(griefer).weightMilli, 5_000);
        uint256 first = _postAs(consumer, dedicatedModel, instances[0], PRICE);
        _claimAs(griefer, first);
        _declineAs(griefer, first, IJobMarket.DeclineReason.InputInvalid);
        assertEq(reputation.consumerFactsOf(consumer).harmMilli, 500, "half weight");

        _earnHistory(griefer, 10); // the same 5 clients again (1000 / 2 each) and 5 new ones: 12_500
        uint256 weight = reputation.factsOf(griefer).weightMilli;
        assertLe(reputation.DECLINER_FULL_WEIGHT(), weight, "full weight now");
        uint256 second = _postAs(consumer, dedicatedModel, instances[0], PRICE);
        _claimAs(griefer, second);
        _declineAs(griefer, second, IJobMarket.DeclineReason.InputInvalid);
        assertEq(reputation.consumerFactsOf(consumer).harmMilli, 500 + 500, "full weight, second time: 1/2");
        assertEq(reputation.pairInvalidDeclines(griefer, consumer), 2);
        assertEq(reputation.consumerScore(consumer), 66, "(0 + 2000) * 100 / (0 + 1000 + 2000)");
    }

    /// Control: an InputMissing decline carries evidence the chain checked, and weighs fully from anyone.
    function test_InputMissingWeighsFullyFromAFreshProvider() public {
        _withheldOnce(launderer);
        assertEq(reputation.consumerFactsOf(launderer).harmMilli, 1_000);
    }

    // ------------------------------------------------------------ item 6: one borrower tanks the gate

    function _gate() internal returns (LoanGate gate) {
        IJobMarket.JobTerms memory terms = IJobMarket.JobTerms({
            modelId: dedicatedModel,
            minPrice: uint96(PRICE),
            maxPrice: uint96(PRICE),
            rampDelay: 0,
            rampLength: 0,
            claimWindow: CLAIM_WINDOW,
            proveWindow: PROVE_WINDOW,
            minReputation: 0,
            deliverer: address(0),
            callbackGasLimit: CALLBACK_GAS,
            settlement: 0
        });
        gate = new LoanGate(market, payToken, lender, terms, 0, 0);
        vm.prank(treasury);
        token.transfer(address(gate), 1_000 ether);
    }

    /// Item 6: a borrower of the shipped LoanGate withholds its input (and another sends junk); the declines fell
    /// on the gate, the consumer of every loan job, so workers with a minimum consumer score refused every other
    /// borrower. Now each decline falls on the job's deliverer, the borrower who did it.
    function test_Attack6_OneBorrowerCannotTankTheGatesScore() public {
        _earnHistory(provider, 10); // a provider whose InputInvalid declines weigh fully
        LoanGate gate = _gate();
        address bad = makeAddr("badBorrower");
        address junk = makeAddr("junkBorrower");

        vm.prank(bad);
        uint256 withheld = gate.requestLoan(_commitments());
        _claimAs(provider, withheld);
        vm.warp(market.inputDeadline(withheld));
        _declineAs(provider, withheld, IJobMarket.DeclineReason.InputMissing);

        vm.prank(junk);
        uint256 invalid = gate.requestLoan(_commitments());
        _claimAs(provider, invalid);
        vm.prank(junk);
        market.deliverInput(invalid, hex"00");
        _declineAs(provider, invalid, IJobMarket.DeclineReason.InputInvalid);

        assertEq(reputation.consumerScore(address(gate)), 100, "the gate harmed no one");
        assertEq(reputation.consumerFactsOf(address(gate)).inputsWithheld, 0);
        assertEq(reputation.consumerFactsOf(address(gate)).inputsInvalid, 0);
        assertEq(reputation.consumerFactsOf(bad).inputsWithheld, 1, "the withholding borrower's record shows it");
        assertEq(reputation.consumerScore(bad), 66);
        assertEq(reputation.consumerFactsOf(junk).inputsInvalid, 1, "so does the junk sender's");
        assertEq(reputation.consumerScore(junk), 66);

        // The next borrower's job is taken and settles; the gate's score grows with it.
        address good = makeAddr("goodBorrower");
        vm.prank(good);
        uint256 ok = gate.requestLoan(_commitments());
        _claimAs(provider, ok);
        _submit(ok);
        assertEq(gate.requestOf(ok).decided, true);
        assertGt(reputation.consumerFactsOf(address(gate)).settledWeightMilli, 0, "the gate earns");
    }

    /// Control: without a deliverer the consumer itself is the input party.
    function test_DeclineWithoutDelivererFallsOnTheConsumer() public {
        _withheldOnce(launderer);
        assertEq(reputation.consumerFactsOf(launderer).inputsWithheld, 1);
    }

    /// A decline for reason Other reads nothing and charges no one.
    function test_OtherDeclineChargesNoOne() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.expectEmit(true, true, true, true, address(reputation));
        emit IReputation.DeclineRecorded(provider, jobId, address(0), 0, false, 0);
        _declineAs(provider, jobId, IJobMarket.DeclineReason.Other);
        IReputation.ConsumerFacts memory c = reputation.consumerFactsOf(consumer);
        assertEq(c.harmMilli + c.inputsInvalid + c.inputsWithheld, 0);
    }
}
