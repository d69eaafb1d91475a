// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Base} from "./utils/Base.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {INgxConsumer} from "../src/interfaces/INgxConsumer.sol";
import {LoanGate} from "../src/examples/LoanGate.sol";
import {ClassifierMarket} from "../src/examples/ClassifierMarket.sol";

/// @notice A contract consumer whose callback reverts (mode 0) or burns all the gas it is given (mode 1).
contract HostileConsumer is INgxConsumer {
    uint256 private immutable _mode;

    constructor(uint256 mode) {
        _mode = mode;
    }

    function post(IJobMarket market, IERC20 token, IJobMarket.JobTerms calldata terms, uint256[] calldata c)
        external
        returns (uint256)
    {
        token.approve(address(market), terms.maxPrice);
        return market.postJobWithTerms(terms, c);
    }

    function onInferenceResult(uint256, uint256[] calldata) external view {
        if (_mode == 0) revert("no");
        while (gasleft() > 0) {}
    }
}

/// Example contract consumers (issue #16) on the real EZKL proof of the tiny 4->2 model, whose outputs are
/// out0 < 0 < out1: a loan gate deciding on a score, a prediction market resolved by argmax, and hostile callbacks.
contract ExamplesTest is Base {
    uint256 internal constant FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint32 internal constant CALLBACK_GAS = 200_000;
    uint256 internal constant GATE_FUNDS = 1_000 ether;
    uint256 internal constant PROVIDER_PAY = 92.5 ether; // PRICE less the 2.5 % fee and 5 % royalty

    address internal borrower = makeAddr("borrower");
    address internal lender = makeAddr("lender");
    address internal resolver = makeAddr("resolver");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal carol = makeAddr("carol");

    int256 internal out0;
    int256 internal out1;
    ClassifierMarket internal cm;
    uint256 internal bettingDeadline;
    uint256 internal resolveDeadline;

    function setUp() public override {
        super.setUp();
        // The fixture's outputs, decoded here independently of the contracts: out0 is negative, out1 positive.
        assertGt(instances[1], FIELD / 2, "out0 is negative");
        assertLe(instances[2], FIELD / 2, "out1 is positive");
        out0 = -int256(FIELD - instances[1]);
        out1 = int256(instances[2]);

        bettingDeadline = block.timestamp + 1 days;
        resolveDeadline = bettingDeadline + 2 days;
        cm = _classifier(CALLBACK_GAS);
        address[4] memory players = [alice, bob, carol, resolver];
        for (uint256 i; i < players.length; ++i) {
            _fund(players[i], 100 ether + PRICE);
            vm.prank(players[i]);
            payToken.approve(address(cm), type(uint256).max);
        }
    }

    // ------------------------------------------------------------ helpers

    function _terms(uint32 callbackGas) internal view returns (IJobMarket.JobTerms memory) {
        return IJobMarket.JobTerms({
            modelId: dedicatedModel,
            minPrice: uint96(PRICE),
            maxPrice: uint96(PRICE),
            rampDelay: 0,
            rampLength: 0,
            claimWindow: CLAIM_WINDOW,
            proveWindow: PROVE_WINDOW,
            minReputation: 0,
            deliverer: address(0),
            callbackGasLimit: callbackGas,
            settlement: 0
        });
    }

    function _gate(int256 threshold, uint256 outputIndex) internal returns (LoanGate gate) {
        gate = new LoanGate(market, payToken, lender, _terms(CALLBACK_GAS), threshold, outputIndex);
        vm.prank(treasury);
        token.transfer(address(gate), GATE_FUNDS);
    }

    function _request(LoanGate gate) internal returns (uint256 jobId) {
        vm.prank(borrower);
        jobId = gate.requestLoan(_commitments());
    }

    function _claim(uint256 jobId) internal {
        vm.prank(provider);
        market.claimJob(jobId);
    }

    function _classifier(uint32 callbackGas) internal returns (ClassifierMarket) {
        return
            new ClassifierMarket(market, payToken, resolver, _terms(callbackGas), 2, bettingDeadline, resolveDeadline);
    }

    function _bet(ClassifierMarket m, address who, uint256 outcome, uint256 amount) internal {
        vm.prank(who);
        m.bet(outcome, amount);
    }

    function _resolve(ClassifierMarket m) internal returns (uint256 jobId) {
        if (block.timestamp < bettingDeadline) vm.warp(bettingDeadline);
        vm.prank(resolver);
        jobId = m.resolve(_commitments());
    }

    function _expectWrongPhase(ClassifierMarket.Phase expected, ClassifierMarket.Phase actual) internal {
        vm.expectRevert(
            abi.encodeWithSelector(ClassifierMarket.ClassifierMarket__WrongPhase.selector, expected, actual)
        );
    }

    function _expectCallback(uint256 jobId, address consumer_, bool success) internal {
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.CallbackResult(jobId, consumer_, success);
    }

    // ------------------------------------------------------------ LoanGate

    function test_LoanApprovedWhenScoreBelowThreshold() public {
        LoanGate gate = _gate(0, 0);
        uint256 jobId = _request(gate);
        IJobMarket.Job memory job = market.getJob(jobId);
        assertEq(job.consumer, address(gate));
        assertEq(job.callbackGasLimit, CALLBACK_GAS, "callback gas");
        assertEq(market.getJobExtras(jobId).deliverer, borrower);
        assertEq(token.balanceOf(address(gate)), GATE_FUNDS - PRICE, "the gate paid");
        _claim(jobId);

        vm.expectEmit(true, true, false, true, address(gate));
        emit LoanGate.LoanDecided(jobId, borrower, out0, true);
        _expectCallback(jobId, address(gate), true);
        _submit(jobId);

        assertTrue(gate.approved(borrower), "approved");
        assertTrue(gate.requestOf(jobId).decided, "decided");
        assertEq(market.claimable(provider), PROVIDER_PAY, "provider paid");
    }

    function test_LoanRejectedWhenScoreAtThreshold() public {
        LoanGate gate = _gate(out0, 0);
        uint256 jobId = _request(gate);
        _claim(jobId);
        vm.expectEmit(true, true, false, true, address(gate));
        emit LoanGate.LoanDecided(jobId, borrower, out0, false);
        _submit(jobId);
        assertFalse(gate.approved(borrower));
        assertTrue(gate.requestOf(jobId).decided, "decided");
    }

    /// The decision is exactly `output[index] < threshold` for either output of the real proof.
    function testFuzz_LoanDecisionIsScoreBelowThreshold(int256 threshold, bool second) public {
        threshold = int256(bound(uint256(threshold), 0, 20_000)) - 10_000; // around both outputs
        LoanGate gate = _gate(threshold, second ? 1 : 0);
        uint256 jobId = _request(gate);
        _claim(jobId);
        _submit(jobId);
        assertEq(gate.approved(borrower), (second ? out1 : out0) < threshold);
    }

    function test_RevertWhen_LoanCallbackNotFromMarket() public {
        LoanGate gate = _gate(0, 0);
        uint256 jobId = _request(gate);
        uint256[] memory forged = new uint256[](2); // a score of 0: approved if a forger could deliver it
        vm.expectRevert(abi.encodeWithSelector(LoanGate.LoanGate__NotMarket.selector, borrower));
        vm.prank(borrower);
        gate.onInferenceResult(jobId, forged);
        vm.expectRevert(abi.encodeWithSelector(LoanGate.LoanGate__NotMarket.selector, provider));
        vm.prank(provider);
        gate.onInferenceResult(jobId, forged);

        // The market itself, for a job the gate did not post, or a second time.
        vm.expectRevert(abi.encodeWithSelector(LoanGate.LoanGate__UnknownJob.selector, jobId + 1));
        vm.prank(address(market));
        gate.onInferenceResult(jobId + 1, forged);
        _claim(jobId);
        _submit(jobId);
        vm.expectRevert(abi.encodeWithSelector(LoanGate.LoanGate__AlreadyDecided.selector, borrower));
        vm.prank(address(market));
        gate.onInferenceResult(jobId, forged);
        assertTrue(gate.approved(borrower), "the proof's decision stands");
    }

    function test_BorrowerDeliversInputAndStrangerCannot() public {
        LoanGate gate = _gate(0, 0);
        uint256 jobId = _request(gate);
        _claim(jobId);
        vm.expectEmit(true, true, true, true, address(market));
        emit IJobMarket.InputDelivered(jobId, borrower, provider, hex"c0ffee");
        vm.prank(borrower);
        market.deliverInput(jobId, hex"c0ffee");
        assertEq(market.getJob(jobId).flags & market.FLAG_INPUT_ON_CHAIN(), market.FLAG_INPUT_ON_CHAIN());

        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotConsumer.selector, jobId, stranger));
        vm.prank(stranger);
        market.deliverInput(jobId, hex"c0ffee");
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotConsumer.selector, jobId, lender));
        vm.prank(lender);
        market.deliverInput(jobId, hex"c0ffee");
    }

    function test_RevertWhen_LoanRequestedWhilePendingOrAfterDecision() public {
        LoanGate gate = _gate(0, 0);
        uint256 jobId = _request(gate);
        vm.expectRevert(abi.encodeWithSelector(LoanGate.LoanGate__RequestPending.selector, borrower, jobId));
        _request(gate);
        _claim(jobId);
        vm.expectRevert(abi.encodeWithSelector(LoanGate.LoanGate__RequestPending.selector, borrower, jobId));
        _request(gate);
        _submit(jobId);
        vm.expectRevert(abi.encodeWithSelector(LoanGate.LoanGate__AlreadyDecided.selector, borrower));
        _request(gate);
        assertEq(token.balanceOf(address(gate)), GATE_FUNDS - PRICE, "one job paid");
    }

    function test_LoanRequestAgainAfterExpiryAndLenderRecoversFunds() public {
        LoanGate gate = _gate(0, 0);
        uint256 first = _request(gate);
        vm.warp(market.getJob(first).claimDeadline);
        market.expireJob(first);
        vm.prank(stranger);
        assertEq(gate.collectRefunds(), PRICE, "refund collected by anyone, into the gate");
        assertEq(token.balanceOf(address(gate)), GATE_FUNDS, "whole again");

        uint256 second = _request(gate);
        assertEq(gate.lastJobOf(borrower), second);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        gate.withdrawFunds(stranger, 1);
        vm.prank(lender);
        gate.withdrawFunds(lender, GATE_FUNDS - PRICE);
        assertEq(token.balanceOf(lender), GATE_FUNDS - PRICE, "lender withdrew the unspent funds");
        assertEq(token.balanceOf(address(gate)), 0);
    }

    function test_RevertWhen_LoanGateUnderfunded() public {
        LoanGate gate = new LoanGate(market, payToken, lender, _terms(CALLBACK_GAS), 0, 0);
        vm.expectRevert(abi.encodeWithSelector(LoanGate.LoanGate__InsufficientFunds.selector, 0, PRICE));
        _request(gate);
    }

    function test_RevertWhen_LoanGateMisconfigured() public {
        IJobMarket.JobTerms memory terms = _terms(0);
        vm.expectRevert(LoanGate.LoanGate__InvalidConfig.selector);
        new LoanGate(market, payToken, lender, terms, 0, 0);
        terms = _terms(CALLBACK_GAS);
        terms.deliverer = borrower;
        vm.expectRevert(LoanGate.LoanGate__InvalidConfig.selector);
        new LoanGate(market, payToken, lender, terms, 0, 0);
    }

    // ------------------------------------------------------------ ClassifierMarket

    /// A consumer contract that needs a verified result at once refuses optimistic terms itself (issue #24): the
    /// classifier market will not be built to post an optimistic job.
    function test_RevertWhen_ClassifierMarketIsGivenOptimisticTerms() public {
        IJobMarket.JobTerms memory terms = _terms(CALLBACK_GAS);
        terms.settlement = 1;
        vm.expectRevert(ClassifierMarket.ClassifierMarket__InvalidConfig.selector);
        new ClassifierMarket(market, payToken, resolver, terms, 2, bettingDeadline, resolveDeadline);
    }

    /// Outcome 1 wins (out1 > out0); winners share the pot pro rata, rounded down, and nothing else leaves.
    function test_ClassifierResolvesToArgmaxAndPaysWinnersExactly() public {
        _bet(cm, alice, 1, 1 ether);
        _bet(cm, bob, 1, 2 ether);
        _bet(cm, carol, 0, 5 ether);
        uint256 pot = 8 ether;
        assertEq(cm.pot(), pot);
        uint256 supplyHeld = token.balanceOf(alice) + token.balanceOf(bob) + token.balanceOf(carol) + pot;

        uint256 jobId = _resolve(cm);
        assertEq(token.balanceOf(resolver), 100 ether, "the resolver paid the job");
        assertEq(market.getJobExtras(jobId).deliverer, resolver);
        _claim(jobId);
        vm.prank(resolver);
        market.deliverInput(jobId, hex"01");
        vm.expectEmit(true, true, false, true, address(cm));
        emit ClassifierMarket.Resolved(jobId, 1);
        _expectCallback(jobId, address(cm), true);
        _submit(jobId);
        (uint256 winner, bool resolved) = cm.result();
        assertTrue(resolved && winner == 1, "argmax of the proof's outputs");
        assertTrue(cm.phase() == ClassifierMarket.Phase.Resolved, "resolved");

        vm.prank(alice);
        assertEq(cm.claim(), pot / 3, "alice: 1/3 of the pot, rounded down");
        vm.prank(bob);
        assertEq(cm.claim(), pot * 2 / 3, "bob: 2/3 of the pot, rounded down");
        vm.expectRevert(abi.encodeWithSelector(ClassifierMarket.ClassifierMarket__NothingToClaim.selector, alice));
        vm.prank(alice);
        cm.claim();
        vm.expectRevert(abi.encodeWithSelector(ClassifierMarket.ClassifierMarket__NothingToClaim.selector, carol));
        vm.prank(carol);
        cm.claim();
        _expectWrongPhase(ClassifierMarket.Phase.Void, ClassifierMarket.Phase.Resolved);
        vm.prank(carol);
        cm.refund();

        assertEq(token.balanceOf(address(cm)), 1, "only the rounding dust stays");
        assertEq(
            token.balanceOf(alice) + token.balanceOf(bob) + token.balanceOf(carol) + token.balanceOf(address(cm)),
            supplyHeld,
            "conservation"
        );
        assertEq(market.claimable(provider), PROVIDER_PAY, "the provider was paid from the resolver's fee");
    }

    function test_ClassifierRefundsWhenJobExpires() public {
        _bet(cm, alice, 1, 3 ether);
        _bet(cm, alice, 0, 1 ether);
        _bet(cm, carol, 0, 5 ether);
        uint256 jobId = _resolve(cm);
        vm.warp(market.getJob(jobId).claimDeadline);
        market.expireJob(jobId);

        _expectWrongPhase(ClassifierMarket.Phase.Void, ClassifierMarket.Phase.Resolving);
        vm.prank(alice);
        cm.refund();
        vm.prank(stranger);
        assertEq(cm.reclaimResolverFee(), PRICE);
        assertEq(token.balanceOf(resolver), 100 ether + PRICE, "the resolver got its fee back");

        vm.warp(resolveDeadline);
        assertTrue(cm.phase() == ClassifierMarket.Phase.Void, "void");
        _expectWrongPhase(ClassifierMarket.Phase.Resolving, ClassifierMarket.Phase.Void);
        vm.prank(resolver);
        cm.resolve(_commitments());
        vm.prank(alice);
        assertEq(cm.refund(), 4 ether, "alice: all her stakes");
        vm.prank(carol);
        assertEq(cm.refund(), 5 ether);
        vm.expectRevert(abi.encodeWithSelector(ClassifierMarket.ClassifierMarket__NothingToClaim.selector, alice));
        vm.prank(alice);
        cm.refund();
        assertEq(token.balanceOf(alice), 100 ether + PRICE);
        assertEq(token.balanceOf(carol), 100 ether + PRICE);
        assertEq(token.balanceOf(address(cm)), 0, "emptied");
    }

    function test_ClassifierResolverRetriesAfterExpiry() public {
        _bet(cm, alice, 1, 1 ether);
        uint256 first = _resolve(cm);
        vm.expectRevert(
            abi.encodeWithSelector(
                ClassifierMarket.ClassifierMarket__JobInFlight.selector, first, IJobMarket.JobStatus.Open
            )
        );
        vm.prank(resolver);
        cm.resolve(_commitments());
        vm.warp(market.getJob(first).claimDeadline);
        market.expireJob(first);

        uint256 second = _resolve(cm);
        assertEq(cm.currentJobId(), second);
        _claim(second);
        _submit(second);
        assertTrue(cm.phase() == ClassifierMarket.Phase.Resolved, "resolved by the second job");
        vm.prank(alice);
        assertEq(cm.claim(), 1 ether, "sole winner takes the pot");
    }

    /// A result at or after resolveDeadline is refused (refunds may have started); the provider is still paid.
    function test_ClassifierRefusesLateResult() public {
        _bet(cm, alice, 1, 1 ether);
        _bet(cm, carol, 0, 1 ether);
        vm.warp(resolveDeadline - 10 minutes);
        uint256 jobId = _resolve(cm);
        _claim(jobId);
        vm.warp(resolveDeadline);
        vm.prank(carol);
        assertEq(cm.refund(), 1 ether, "void: a refund before the late proof");
        _expectCallback(jobId, address(cm), false);
        _submit(jobId);
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Settled, "settled anyway");
        assertEq(market.claimable(provider), PROVIDER_PAY);
        assertTrue(cm.phase() == ClassifierMarket.Phase.Void, "still void");
        vm.prank(alice);
        assertEq(cm.refund(), 1 ether, "alice, who would have won, is refunded like everyone");
        _expectWrongPhase(ClassifierMarket.Phase.Resolving, ClassifierMarket.Phase.Void);
        cm.applySettledResult(_outputs());
    }

    function test_ClassifierAppliesSettledResultAfterFailedCallback() public {
        ClassifierMarket starved = _classifier(100); // too little gas for the callback
        vm.prank(alice);
        payToken.approve(address(starved), type(uint256).max);
        vm.prank(resolver);
        payToken.approve(address(starved), type(uint256).max);
        _bet(starved, alice, 1, 1 ether);
        uint256 jobId = _resolve(starved);
        _claim(jobId);
        _expectCallback(jobId, address(starved), false);
        _submit(jobId);
        assertTrue(starved.phase() == ClassifierMarket.Phase.Resolving, "not resolved by the failed callback");

        uint256[] memory forged = _outputs();
        (forged[0], forged[1]) = (forged[1], forged[0]);
        vm.expectRevert(abi.encodeWithSelector(ClassifierMarket.ClassifierMarket__OutputsMismatch.selector, jobId));
        starved.applySettledResult(forged);
        vm.prank(stranger);
        starved.applySettledResult(_outputs());
        (uint256 winner, bool resolved) = starved.result();
        assertTrue(resolved && winner == 1, "the settled outputs' argmax");
    }

    function test_ClassifierVoidWhenNobodyBackedTheWinner() public {
        _bet(cm, alice, 0, 2 ether);
        _bet(cm, carol, 0, 3 ether);
        uint256 jobId = _resolve(cm);
        _claim(jobId);
        _submit(jobId);
        (uint256 winner, bool resolved) = cm.result();
        assertTrue(resolved && winner == 1, "resolved to 1");
        assertTrue(cm.phase() == ClassifierMarket.Phase.Void, "no winners: void");
        vm.prank(alice);
        assertEq(cm.refund(), 2 ether);
        vm.prank(carol);
        assertEq(cm.refund(), 3 ether);
        assertEq(token.balanceOf(address(cm)), 0);
    }

    function test_RevertWhen_ClassifierCalledOutOfTurn() public {
        vm.expectRevert(abi.encodeWithSelector(ClassifierMarket.ClassifierMarket__InvalidOutcome.selector, 2, 2));
        _bet(cm, alice, 2, 1 ether);
        vm.expectRevert(ClassifierMarket.ClassifierMarket__ZeroAmount.selector);
        _bet(cm, alice, 0, 0);
        _bet(cm, alice, 1, 1 ether);
        _expectWrongPhase(ClassifierMarket.Phase.Resolving, ClassifierMarket.Phase.Betting);
        vm.prank(resolver);
        cm.resolve(_commitments());
        _expectWrongPhase(ClassifierMarket.Phase.Resolved, ClassifierMarket.Phase.Betting);
        vm.prank(alice);
        cm.claim();

        vm.warp(bettingDeadline);
        _expectWrongPhase(ClassifierMarket.Phase.Betting, ClassifierMarket.Phase.Resolving);
        _bet(cm, bob, 1, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(ClassifierMarket.ClassifierMarket__NotResolver.selector, alice));
        vm.prank(alice);
        cm.resolve(_commitments());

        uint256 jobId = _resolve(cm);
        uint256[] memory outputs = _outputs();
        vm.expectRevert(abi.encodeWithSelector(ClassifierMarket.ClassifierMarket__NotMarket.selector, alice));
        vm.prank(alice);
        cm.onInferenceResult(jobId, outputs);
        vm.expectRevert(abi.encodeWithSelector(ClassifierMarket.ClassifierMarket__UnknownJob.selector, jobId + 1));
        vm.prank(address(market));
        cm.onInferenceResult(jobId + 1, outputs);
        vm.expectRevert(
            abi.encodeWithSelector(
                ClassifierMarket.ClassifierMarket__NotSettled.selector, jobId, IJobMarket.JobStatus.Open
            )
        );
        cm.applySettledResult(outputs);
        assertTrue(cm.phase() == ClassifierMarket.Phase.Resolving, "nothing resolved it");
    }

    // ------------------------------------------------------------ hostile consumers

    /// A callback that reverts or burns all its gas is recorded as failed; the settlement and the pay stand, and
    /// the burner costs the provider its gas limit, no more.
    function test_HostileCallbackCannotUndoSettlement() public {
        uint32 limit = 1_000_000;
        uint256[3] memory used;
        // Modes: revert, revert, burn; the last two are replays of the first job's commitments (no reward),
        // so they settle alike but for the callback.
        for (uint256 i; i < 3; ++i) {
            HostileConsumer hostile = new HostileConsumer(i / 2);
            vm.prank(treasury);
            token.transfer(address(hostile), PRICE);
            uint256 jobId = hostile.post(market, payToken, _terms(limit), _commitments());
            _claim(jobId);
            uint256 paidBefore = market.claimable(provider);
            _expectCallback(jobId, address(hostile), false);
            uint256 gasBefore = gasleft();
            _submit(jobId);
            used[i] = gasBefore - gasleft();
            assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Settled, "settled");
            assertEq(market.claimable(provider) - paidBefore, PROVIDER_PAY, "provider paid");
        }
        assertGt(used[2], used[1] + limit - 10_000, "the burner took its whole limit");
        assertLe(used[2], used[1] + limit, "and no more");
    }
}
