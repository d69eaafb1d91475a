// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {OrderBatchBase, VmLogs} from "./utils/OrderBatchBase.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IJobSettlement} from "../src/interfaces/IJobSettlement.sol";
import {IProviderStaking} from "../src/interfaces/IProviderStaking.sol";
import {JobMarketState} from "../src/JobMarketState.sol";
import {JobOrders} from "../src/JobOrders.sol";

/// Batched order fills (`fillOrders`, issue #24): a provider fills many consumers' signed orders in one transaction.
/// Each filled order must be exactly what `fillOrder` makes of it; an order one consumer (or a front-runner) can spoil
/// is skipped, never the batch: the attack tests come first, each showing what the attacker's move costs the provider
/// (that order only) and that the spoiled order's consumer loses nothing.
contract OrderBatchTest is OrderBatchBase {
    /// Where `_orderNonces` lives in JobMarketState's layout (`forge inspect JobMarket storageLayout`).
    uint256 internal constant NONCES_SLOT = 8;

    /// What a fill leaves behind, per job and in total.
    struct Outcome {
        bytes32[] jobs; // keccak of getJob, getJobExtras per job
        uint256[4] balances;
        uint256[4] credits;
        uint256[4] allowances;
        uint256 marketBalance;
        uint256 liabilities;
        uint256 locked;
        uint256 jobCount;
    }

    /// What the consumer of a spoiled order could have lost.
    struct Purse {
        uint256 balance;
        uint256 allowance;
        uint256 credit;
        bool nonceUsed;
    }

    // ------------------------------------------------------------ attacks: a consumer front-runs the batch

    /// The consumer cancels one order's nonce after the provider sent its batch: the batch lands, that order is
    /// skipped (NonceUsed), the other 15 fill; the provider loses that one order (and no collateral for it).
    function test_AttackFrontRunCancelSkipsOnlyThatOrder() public {
        Batch memory b = _batchOf(16, 1, _termsOf(dedicatedModel, 1));
        vm.prank(consumers[1]);
        market.cancelOrder(b.orders[5].nonce);
        _assertSkipped(b, 5, IJobMarket.OrderSkip.NonceUsed);
    }

    /// The consumer revokes its allowance: its order is skipped (PaymentFailed) before anything of its job is
    /// written, and its nonce stays unused, so the same signed order fills once the allowance is back.
    function test_AttackRevokedAllowanceSkipsOnlyThatOrder() public {
        Batch memory b = _batchOf(16, 1, _termsOf(dedicatedModel, 1));
        vm.prank(consumers[2]);
        payToken.approve(address(market), PRICE - 1);
        // Consumer 2's first order (index 2) fails; with the allowance still below the price, so do 6, 10, 14.
        uint256[] memory ids = _assertSkipped(b, 2, IJobMarket.OrderSkip.PaymentFailed);
        for (uint256 i = 2; i < 16; i += 4) {
            assertEq(ids[i], 0, "every order of the revoking consumer skipped");
            assertFalse(market.orderNonceUsed(consumers[2], b.orders[i].nonce));
        }
        assertEq(token.allowance(consumers[2], address(market)), PRICE - 1, "allowance untouched");

        vm.prank(consumers[2]);
        payToken.approve(address(market), type(uint256).max);
        Batch memory again = _newBatch(1);
        (again.orders[0], again.commitments[0], again.signatures[0]) = (b.orders[2], b.commitments[2], b.signatures[2]);
        assertGt(_fillAll(provider, again)[0], 0, "the skipped order fills later");
    }

    /// The consumer moves its balance away: only its orders are skipped, nobody else's.
    function test_AttackMovedBalanceSkipsOnlyThatConsumersOrders() public {
        Batch memory b = _batchOf(8, 1, _termsOf(dedicatedModel, 0));
        uint256 all = token.balanceOf(consumers[3]);
        vm.prank(consumers[3]);
        token.transfer(stranger, all - PRICE + 1);
        uint256[] memory ids = _assertSkipped(b, 3, IJobMarket.OrderSkip.PaymentFailed);
        assertEq(ids[7], 0, "its second order too");
        assertEq(token.balanceOf(consumers[3]), PRICE - 1, "nothing taken from the consumer");
        for (uint256 i; i < 8; ++i) {
            if (i % 4 != 3) assertGt(ids[i], 0, "the other consumers' orders fill");
        }
    }

    /// A permit someone used first leaves its allowance: the order still fills.
    function test_AttackFrontRunPermitStillFills() public {
        uint256 key = 0xFEED;
        address fresh = vm.addr(key);
        vm.prank(treasury);
        token.transfer(fresh, 10 * PRICE); // no approval: it pays by permit
        Batch memory b = _newBatch(2);
        _put(b, 0, keys[0], _orderOf(keys[0], 1, _termsOf(dedicatedModel, 0)));
        _put(b, 1, key, _orderOf(key, 1, _termsOf(dedicatedModel, 0)));
        b.permits[1] = _permitOf(key, PRICE);
        IJobMarket.Permit memory p = b.permits[1];
        vm.prank(stranger);
        token.permit(fresh, address(market), PRICE, p.deadline, p.v, p.r, p.s);
        uint256[] memory ids = _fillAll(provider, b);
        assertGt(ids[1], 0, "filled on the front-run permit's allowance");
        assertEq(token.balanceOf(fresh), 9 * PRICE);
    }

    /// The same order twice in one batch fills once; its consumer pays once.
    function test_DuplicateOrderInOneBatchFillsOnce() public {
        Batch memory b = _batchOf(3, 1, _termsOf(dedicatedModel, 0));
        (b.orders[2], b.commitments[2], b.signatures[2]) = (b.orders[0], b.commitments[0], b.signatures[0]);
        uint256 before = token.balanceOf(consumers[0]);
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.OrderSkipped(consumers[0], 1, uint8(IJobMarket.OrderSkip.NonceUsed));
        uint256[] memory ids = _fillAll(provider, b);
        assertGt(ids[0], 0, "filled");
        assertGt(ids[1], 0, "filled");
        assertEq(ids[2], 0, "the duplicate is skipped");
        assertEq(token.balanceOf(consumers[0]), before - PRICE, "paid once");
        assertEq(market.jobCount(), ids[1]);
    }

    /// Two different orders of one consumer on the same nonce: whichever comes first fills, the other is skipped.
    function test_TwoOrdersOnOneNonceFillOnce() public {
        Batch memory b = _newBatch(2);
        _put(b, 0, keys[0], _orderOf(keys[0], 7, _termsOf(dedicatedModel, 0)));
        _put(b, 1, keys[0], _orderOf(keys[0], 7, _termsOf(reusableModel, 1)));
        uint256[] memory ids = _fillAll(provider, b);
        assertGt(ids[0], 0, "filled");
        assertEq(ids[1], 0, "the second order on the nonce is skipped");
        assertEq(market.getJob(ids[0]).modelId, dedicatedModel);
    }

    function test_OrderForAnotherProviderIsSkipped() public {
        Batch memory b = _batchOf(3, 1, _termsOf(dedicatedModel, 0));
        b.orders[1].provider = provider2;
        _resign(b, 1, keys[1]);
        _assertSkipped(b, 1, IJobMarket.OrderSkip.ForAnotherProvider);
    }

    /// Sending a filled batch again (a replay, or the provider's retry) fills nothing and moves nothing.
    function test_ReplayedBatchFillsNothing() public {
        Batch memory b = _batchOf(8, 1, _termsOf(dedicatedModel, 1));
        _fillAll(provider, b);
        uint256 jobs = market.jobCount();
        uint256 locked = staking.getProvider(provider).locked;
        uint256 held = token.balanceOf(address(market));
        uint256[] memory ids = _fillAll(provider, b);
        for (uint256 i; i < 8; ++i) {
            assertEq(ids[i], 0, "nothing filled twice");
        }
        assertEq(market.jobCount(), jobs, "no job");
        assertEq(staking.getProvider(provider).locked, locked, "no collateral");
        assertEq(token.balanceOf(address(market)), held, "no escrow");
        _assertSolvent();
    }

    /// The module has its own (empty) storage and address: called directly, every order's signature is over another
    /// domain (the market's), so nothing fills, no token moves and nothing is locked.
    function test_OrderModuleCalledDirectlyFillsNothing() public {
        Batch memory b = _batchOf(4, 1, _termsOf(dedicatedModel, 0));
        JobOrders orders = JobOrders(market.orderModule());
        uint256 held = token.balanceOf(consumers[0]);
        vm.prank(provider);
        uint256[] memory ids = orders.fillOrders(b.orders, b.commitments, b.signatures, b.permits);
        for (uint256 i; i < 4; ++i) {
            assertEq(ids[i], 0, "nothing filled outside the market");
        }
        assertEq(token.balanceOf(consumers[0]), held, "no token moved");
        assertEq(staking.getProvider(provider).locked, 0, "nothing locked");
        (,,, IProviderStaking st,,) = orders.wiring();
        assertTrue(address(st) == address(staking), "the market's wiring");
    }

    // ------------------------------------------------------------ every skip reason, one bad order among good ones

    function test_SkipsBadSignature() public {
        Batch memory b = _batchOf(3, 1, _termsOf(dedicatedModel, 0));
        _resign(b, 1, keys[2]); // signed by another consumer
        _assertSkipped(b, 1, IJobMarket.OrderSkip.BadSignature);
    }

    function test_SkipsTamperedOrderAndMalformedSignatures() public {
        Batch memory b = _batchOf(3, 1, _termsOf(dedicatedModel, 0));
        uint256 snap = vm.snapshotState();
        b.orders[1].terms.maxPrice += 1; // the signed price was lower
        b.orders[1].terms.minPrice += 1;
        _assertSkipped(b, 1, IJobMarket.OrderSkip.BadSignature);
        vm.revertToState(snap);
        b = _batchOf(3, 1, _termsOf(dedicatedModel, 0));
        b.signatures[1] = hex"00";
        _assertSkipped(b, 1, IJobMarket.OrderSkip.BadSignature);
        vm.revertToState(snap);
        b = _batchOf(3, 1, _termsOf(dedicatedModel, 0));
        b.commitments[1][0] += 1; // the commitments are signed too
        _assertSkipped(b, 1, IJobMarket.OrderSkip.BadSignature);
    }

    function test_SkipsExpired() public {
        Batch memory b = _batchOf(3, 1, _termsOf(dedicatedModel, 0));
        b.orders[1].deadline = uint40(block.timestamp);
        _resign(b, 1, keys[1]);
        _assertSkipped(b, 1, IJobMarket.OrderSkip.Expired);
    }

    function test_SkipsNotYetValid() public {
        Batch memory b = _batchOf(3, 1, _termsOf(dedicatedModel, 0));
        b.orders[1].signedAt = uint40(block.timestamp + 1);
        _resign(b, 1, keys[1]);
        _assertSkipped(b, 1, IJobMarket.OrderSkip.NotYetValid);
    }

    function test_SkipsModelNotActive() public {
        Batch memory b = _batchOf(3, 1, _termsOf(dedicatedModel, 0));
        b.orders[1].terms.modelId = 999; // unknown
        _resign(b, 1, keys[1]);
        _assertSkipped(b, 1, IJobMarket.OrderSkip.ModelNotActive);

        // Paused by the guardian after the provider sent the batch.
        b = _batchOf(3, 2, _termsOf(dedicatedModel, 0));
        b.orders[1].terms.modelId = reusableModel;
        _resign(b, 1, keys[1]);
        vm.prank(guardian);
        registry.pauseModel(reusableModel);
        _assertSkipped(b, 1, IJobMarket.OrderSkip.ModelNotActive);
    }

    /// Every kind of terms `fillOrder` rejects is skipped (BadTerms) by `fillOrders`.
    function test_SkipsBadTermsOfEveryKind() public {
        for (uint256 kind; kind < 11; ++kind) {
            uint256 snap = vm.snapshotState();
            Batch memory b = _batchOf(3, 1, _termsOf(dedicatedModel, 0));
            IJobMarket.JobTerms memory t = b.orders[1].terms;
            if (kind == 0) t.claimWindow = 59; // below the governed minimum
            if (kind == 1) t.proveWindow = type(uint32).max;
            if (kind == 2) t.minReputation = 101;
            if (kind == 3) t.settlement = 2;
            if (kind == 4) t.minPrice = t.maxPrice + 1; // an auction upside down
            if (kind == 5) t.deliverer = consumers[1]; // the consumer delivers to itself
            if (kind == 6) t.callbackGasLimit = 2_000_001;
            if (kind == 7) (t.minPrice, t.maxPrice) = (0.01 ether, 0.01 ether); // below minJobPrice
            if (kind == 8) b.commitments[1][0] = market.SNARK_SCALAR_FIELD();
            if (kind == 9) b.commitments[1] = new uint256[](2);
            if (kind == 10) {
                // Optimistic on a verifier whose code is not allow-listed (any more).
                (t.modelId, t.settlement) = (reusableModel, 1);
                config.setVerifierCodeAllowed(address(reusableVerifier).codehash, false);
            }
            _resign(b, 1, keys[1]);
            vm.prank(provider);
            vm.expectRevert();
            market.fillOrder(b.orders[1], b.commitments[1], b.signatures[1], b.permits[1]);
            _assertSkipped(b, 1, IJobMarket.OrderSkip.BadTerms);
            vm.revertToState(snap);
        }
    }

    function test_SkipsReputationTooLow() public {
        Batch memory b = _batchOf(3, 1, _termsOf(dedicatedModel, 0));
        b.orders[1].terms.minReputation = uint8(reputation.nrs(provider) + 1);
        _resign(b, 1, keys[1]);
        _assertSkipped(b, 1, IJobMarket.OrderSkip.ReputationTooLow);
    }

    function test_SkipsPaymentFailedWithoutAllowanceOrPermit() public {
        uint256 key = 0xFEED;
        vm.prank(treasury);
        token.transfer(vm.addr(key), 10 * PRICE); // funded, never approved, no permit
        Batch memory b = _batchOf(3, 1, _termsOf(dedicatedModel, 0));
        _put(b, 1, key, _orderOf(key, 1, _termsOf(dedicatedModel, 0)));
        _assertSkipped(b, 1, IJobMarket.OrderSkip.PaymentFailed);
    }

    function test_SkipsOwnOrder() public {
        Batch memory b = _batchOf(3, 1, _termsOf(dedicatedModel, 0));
        _put(b, 1, providerKey, _orderOf(providerKey, 1, _termsOf(dedicatedModel, 0)));
        _assertSkipped(b, 1, IJobMarket.OrderSkip.OwnOrder);
    }

    // ------------------------------------------------------------ the batch equals fillOrder, order by order

    /// 16 orders of 4 consumers on both models, fixed and auction prices, eager and optimistic, a deliverer, a
    /// callback and a permit: one fillOrders makes exactly what 16 fillOrder calls make (jobs, extras, escrow,
    /// credits, allowances, collateral, the market's events in order).
    function test_BatchOf16EqualsSixteenFillOrders() public {
        Batch memory b = _mixedBatch();
        (uint256[] memory ids, Outcome memory a) = _assertBatchEqualsSingles(b);
        for (uint256 i; i < 16; ++i) {
            assertEq(ids[i], ids[0] + i, "all filled, ids in order");
        }
        assertGt(a.credits[1], 0, "an auction refunded part of its escrow");
        _assertSolvent();
    }

    /// Property: with any terms, timing and model, fillOrders fills exactly the orders fillOrder accepts, and makes
    /// of each exactly what fillOrder makes; the ones fillOrder refuses are skipped and leave nothing.
    function testFuzz_BatchFillsWhatFillOrderAcceptsAndTheSame(uint256 seed) public {
        Batch memory b = _newBatch(3);
        for (uint256 i; i < 3; ++i) {
            _put(b, i, keys[i], _fuzzedOrder(keys[i], uint256(keccak256(abi.encode(seed, i)))));
        }
        _assertBatchEqualsSingles(b);
        _assertSolvent();
    }

    /// A batch's jobs settle like any: the optimistic ones by one submitResults and one finalizeBatch.
    function test_BatchFilledJobsSettleOptimistically() public {
        Batch memory b = _batchOf(4, 1, _termsOf(dedicatedModel, 1));
        uint256[] memory ids = _fillAll(provider, b);
        IJobSettlement.Result[] memory rs = new IJobSettlement.Result[](4);
        for (uint256 i; i < 4; ++i) {
            rs[i] = _resultOf(ids[i], _outputs());
        }
        _finalize(_submitAs(provider, rs), rs);
        for (uint256 i; i < 4; ++i) {
            assertTrue(market.getJob(ids[i]).status == IJobMarket.JobStatus.Settled, "settled");
        }
        assertEq(staking.getProvider(provider).locked, 0, "collateral released");
        _assertSolvent();
    }

    // ------------------------------------------------------------ nonces as a bitmap

    /// Nonces 0, 255 (one word), 256 (the next) and 2^256-1 (the last word's last bit) fill in one batch; their
    /// neighbours stay unused; cancelOrder and fillOrder see the same bits.
    function test_NonceBitmapEdges() public {
        uint256[4] memory nonces = [uint256(0), 255, 256, type(uint256).max];
        Batch memory b = _newBatch(4);
        for (uint256 i; i < 4; ++i) {
            _put(b, i, keys[0], _orderOf(keys[0], nonces[i], _termsOf(dedicatedModel, 0)));
        }
        uint256[] memory ids = _fillAll(provider, b);
        address c = consumers[0];
        for (uint256 i; i < 4; ++i) {
            assertGt(ids[i], 0, "filled");
            assertTrue(market.orderNonceUsed(c, nonces[i]));
        }
        assertFalse(market.orderNonceUsed(c, 1));
        assertFalse(market.orderNonceUsed(c, 254));
        assertFalse(market.orderNonceUsed(c, 257));
        assertFalse(market.orderNonceUsed(c, type(uint256).max - 1));
        assertTrue(!market.orderNonceUsed(consumers[1], 0), "per consumer");
        assertEq(uint256(_nonceWord(c, 0)), 1 | (1 << 255), "nonces 0 and 255 share a word");
        assertEq(uint256(_nonceWord(c, 1)), 1, "nonce 256: bit 0 of word 1");
        assertEq(uint256(_nonceWord(c, type(uint256).max >> 8)), 1 << 255, "the last nonce: the last bit");

        vm.prank(c);
        market.cancelOrder(1);
        assertTrue(market.orderNonceUsed(c, 1));
        assertEq(uint256(_nonceWord(c, 0)), 1 | 2 | (1 << 255), "cancel sets its bit in the same word");
        vm.prank(c);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__OrderNonceUsed.selector, c, type(uint256).max));
        market.cancelOrder(type(uint256).max);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__OrderNonceUsed.selector, c, 255));
        market.fillOrder(b.orders[1], b.commitments[1], b.signatures[1], b.permits[1]);
    }

    // ------------------------------------------------------------ what only the provider controls reverts the call

    function test_PausedMarketRevertsTheBatchButCancelWorks() public {
        Batch memory b = _batchOf(2, 1, _termsOf(dedicatedModel, 0));
        vm.prank(guardian);
        market.pause();
        vm.prank(provider);
        vm.expectRevert(JobMarketState.EnforcedPause.selector);
        market.fillOrders(b.orders, b.commitments, b.signatures, b.permits);
        vm.prank(consumers[0]);
        market.cancelOrder(1);
        vm.prank(guardian);
        market.unpause();
        uint256[] memory ids = _fillAll(provider, b);
        assertEq(ids[0], 0, "the cancelled order");
        assertGt(ids[1], 0, "filled");
    }

    function test_RevertWhen_BatchShapeIsWrong() public {
        Batch memory b = _newBatch(0);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__OrderBatchShape.selector, 0, 0, 0, 0));
        market.fillOrders(b.orders, b.commitments, b.signatures, b.permits);

        b = _newBatch(65);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__OrderBatchShape.selector, 65, 65, 65, 65));
        market.fillOrders(b.orders, b.commitments, b.signatures, b.permits);

        b = _batchOf(3, 1, _termsOf(dedicatedModel, 0));
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__OrderBatchShape.selector, 3, 3, 2, 3));
        market.fillOrders(b.orders, b.commitments, new bytes[](2), b.permits);
    }

    function test_RevertWhen_CallerIsNotARegisteredProvider() public {
        Batch memory b = _batchOf(2, 1, _termsOf(dedicatedModel, 0));
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__ProviderNotRegistered.selector, stranger));
        market.fillOrders(b.orders, b.commitments, b.signatures, b.permits);
    }

    function test_RevertWhen_StakeBelowMinimumOrCollateralAboveFreeStake() public {
        Batch memory b = _batchOf(2, 1, _termsOf(dedicatedModel, 0));
        config.setMinStake(TOTAL_STAKE + 1);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarket__StakeBelowMinimum.selector, provider, TOTAL_STAKE, TOTAL_STAKE + 1
            )
        );
        market.fillOrders(b.orders, b.commitments, b.signatures, b.permits);
        config.setMinStake(STAKE);

        // 64 orders of 100 NGX at 150 % collateral need 9,600 NGX of the provider's 8,000.
        b = _batchOf(64, 1, _termsOf(dedicatedModel, 0));
        uint256 collateral = config.collateralFor(PRICE, reputation.nrs(provider));
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                IProviderStaking.ProviderStaking__InsufficientFreeStake.selector, provider, 64 * collateral, TOTAL_STAKE
            )
        );
        market.fillOrders(b.orders, b.commitments, b.signatures, b.permits);
    }

    // ------------------------------------------------------------ helpers

    /// Fills `b` as the provider, expecting exactly order `bad` skipped for `reason` (and, in the attack tests,
    /// every other order of its consumer that the same move spoils); checks that the spoiled order's consumer lost
    /// nothing and that the filled orders' collateral, and only theirs, was locked.
    function _assertSkipped(Batch memory b, uint256 bad, IJobMarket.OrderSkip reason)
        internal
        returns (uint256[] memory ids)
    {
        address victim = b.orders[bad].consumer;
        Purse memory before = _purse(victim, b.orders[bad].nonce);
        uint256[3] memory was = [market.jobCount(), staking.getProvider(provider).locked, market.totalLiabilities()];
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.OrderSkipped(victim, b.orders[bad].nonce, uint8(reason));
        ids = _fillAll(provider, b);
        assertEq(ids[bad], 0, "the spoiled order is skipped");
        (uint256 filled, uint256 collateral, uint256 escrow) = _filled(ids, was[0]);
        assertGt(filled, 0, "the good orders fill");
        assertEq(market.jobCount(), was[0] + filled, "no job written for a skipped order");
        assertEq(staking.getProvider(provider).locked, was[1] + collateral, "collateral of the filled orders only");
        assertEq(market.totalLiabilities(), was[2] + escrow, "escrow of the filled orders only");
        _assertVictimLostNothing(victim, before, b, bad, ids);
        _assertSolvent();
    }

    /// The filled orders' count, collateral and escrow; each filled order is a claimed job with consecutive ids.
    function _filled(uint256[] memory ids, uint256 jobs)
        internal
        view
        returns (uint256 filled, uint256 collateral, uint256 escrow)
    {
        for (uint256 i; i < ids.length; ++i) {
            if (ids[i] == 0) continue;
            ++filled;
            assertEq(ids[i], jobs + filled, "filled orders get consecutive ids");
            IJobMarket.Job memory job = market.getJob(ids[i]);
            assertTrue(job.status == IJobMarket.JobStatus.Claimed, "posted and claimed");
            assertEq(job.provider, provider);
            (collateral, escrow) = (collateral + job.collateral, escrow + job.price);
        }
    }

    /// The spoiled order's consumer paid only for its orders that filled (if any), nothing for the spoiled one.
    function _assertVictimLostNothing(
        address victim,
        Purse memory before,
        Batch memory b,
        uint256 bad,
        uint256[] memory ids
    ) internal view {
        (uint256 paid, uint256 refunded) = _paidBy(victim, b, ids);
        Purse memory afterwards = _purse(victim, b.orders[bad].nonce);
        if (victim != provider) {
            assertEq(afterwards.balance, before.balance - paid, "the spoiled order's consumer paid nothing for it");
            if (before.allowance != type(uint256).max) {
                assertEq(afterwards.allowance, before.allowance - paid, "its allowance spent only by its fills");
            }
        }
        assertEq(afterwards.credit, before.credit + refunded, "no credit for the spoiled order");
        assertTrue(afterwards.nonceUsed == before.nonceUsed, "its nonce as it was");
    }

    function _paidBy(address who, Batch memory b, uint256[] memory ids)
        internal
        view
        returns (uint256 paid, uint256 refunded)
    {
        for (uint256 i; i < ids.length; ++i) {
            if (ids[i] == 0 || b.orders[i].consumer != who) continue;
            paid += b.orders[i].terms.maxPrice;
            refunded += b.orders[i].terms.maxPrice - market.getJob(ids[i]).price;
        }
    }

    /// Runs `b` once as one fillOrders and once as one fillOrder per order (a refused one: id 0), from the same
    /// state, and checks both leave the same jobs, escrow, credits, allowances, collateral and market events
    /// (OrderSkipped aside, which only the batch emits).
    function _assertBatchEqualsSingles(Batch memory b) internal returns (uint256[] memory batched, Outcome memory a) {
        uint256 n = b.orders.length;
        uint256 first = market.jobCount() + 1;
        uint256 snap = vm.snapshotState();

        vmLogs.recordLogs();
        batched = _fillAll(provider, b);
        bytes32[] memory batchLogs = _marketLogs();
        a = _outcome(first, n);
        vm.revertToState(snap);

        uint256[] memory singles = new uint256[](n);
        bytes32[] memory singleLogs = new bytes32[](8 * n);
        uint256 logged;
        for (uint256 i; i < n; ++i) {
            vmLogs.recordLogs();
            vm.prank(provider);
            try market.fillOrder(b.orders[i], b.commitments[i], b.signatures[i], b.permits[i]) returns (uint256 id) {
                singles[i] = id;
            } catch {}
            // Forge records the events of a call that then reverted too: keep a successful fill's only.
            bytes32[] memory logs = _marketLogs();
            for (uint256 j; singles[i] != 0 && j < logs.length; ++j) {
                singleLogs[logged++] = logs[j];
            }
        }
        assembly ("memory-safe") {
            mstore(singleLogs, logged)
        }
        Outcome memory s = _outcome(first, n);

        assertEq(batched, singles);
        for (uint256 i; i < n; ++i) {
            assertEq(a.jobs[i], s.jobs[i], "job and extras as fillOrder makes them");
        }
        for (uint256 i; i < 4; ++i) {
            assertEq(a.balances[i], s.balances[i], "consumer balance");
            assertEq(a.credits[i], s.credits[i], "consumer credit (auction refunds)");
            assertEq(a.allowances[i], s.allowances[i], "consumer allowance");
        }
        assertEq(a.marketBalance, s.marketBalance, "escrow");
        assertEq(a.liabilities, s.liabilities, "liabilities");
        assertEq(a.locked, s.locked, "collateral locked");
        assertEq(a.jobCount, s.jobCount, "job count");
        assertEq(batchLogs.length, singleLogs.length, "market events");
        for (uint256 i; i < batchLogs.length; ++i) {
            assertEq(batchLogs[i], singleLogs[i], "market event");
        }
    }

    /// An order with terms and timing drawn from small ranges around every bound (some valid, many not).
    function _fuzzedOrder(uint256 key, uint256 seed) internal view returns (IJobMarket.Order memory o) {
        uint256 m = _pick(seed, 0, 0, 7); // 7: an unknown model
        uint256 mode = _pick(seed, 1, 0, 6); // 6: no such settlement mode
        IJobMarket.JobTerms memory t =
            _termsOf(m == 7 ? 999 : m % 2 == 0 ? dedicatedModel : reusableModel, uint8(mode == 6 ? 2 : mode % 2));
        t.maxPrice = uint96(_pick(seed, 2, 0, 200) * 1 ether);
        t.minPrice = _pick(seed, 3, 0, 3) != 0 ? t.maxPrice : uint96(_pick(seed, 4, 0, 200) * 0.5 ether);
        (t.rampDelay, t.rampLength) = (uint32(_pick(seed, 5, 0, 1_000)), uint32(_pick(seed, 6, 0, 3_000)));
        if (t.minPrice == t.maxPrice && _pick(seed, 7, 0, 3) != 0) (t.rampDelay, t.rampLength) = (0, 0);
        t.claimWindow = uint32(_pick(seed, 8, 0, 40) * 100);
        t.proveWindow = uint32(_pick(seed, 9, 50, 200));
        t.minReputation = _pick(seed, 11, 0, 3) == 0 ? uint8(_pick(seed, 10, 0, 101)) : 0;
        o = _orderOf(key, _pick(seed, 12, 0, 2), t);
        o.signedAt = uint40(block.timestamp + 10 - _pick(seed, 13, 0, 3_000));
        o.deadline = uint40(block.timestamp + _pick(seed, 14, 0, 7));
    }

    function _pick(uint256 seed, uint256 salt, uint256 min, uint256 max) internal pure returns (uint256) {
        return bound(uint256(keccak256(abi.encode(seed, salt))), min, max);
    }

    function _purse(address who, uint256 nonce) internal view returns (Purse memory p) {
        p.balance = token.balanceOf(who);
        p.allowance = token.allowance(who, address(market));
        p.credit = market.claimable(who);
        p.nonceUsed = market.orderNonceUsed(who, nonce);
    }

    /// Order i: consumer i % 4, nonce 10 + i / 4; a mix of every kind of terms (see the test using it).
    function _mixedBatch() internal returns (Batch memory b) {
        b = _newBatch(16);
        for (uint256 i; i < 16; ++i) {
            uint256 key = keys[i % 4];
            IJobMarket.JobTerms memory t = _termsOf(i % 3 == 0 ? reusableModel : dedicatedModel, uint8(i % 2));
            IJobMarket.Order memory o = _orderOf(key, 10 + i / 4, t);
            if (i == 1 || i == 9) {
                // Half way up a 600 s ramp from 10 NGX (signed 300 s ago): locks 55 NGX, 45 credited back.
                (o.terms.minPrice, o.terms.rampLength, o.signedAt) = (10 ether, 600, uint40(block.timestamp - 300));
            }
            if (i == 5) (o.terms.minPrice, o.terms.rampDelay, o.terms.rampLength) = (1 ether, 120, 600); // at its floor
            if (i == 2) o.terms.deliverer = stranger;
            if (i == 3) o.terms.callbackGasLimit = 50_000;
            if (i == 7) o.provider = provider;
            _put(b, i, key, o);
        }
        // Consumer 0's last order pays by permit (a permit replaces the allowance, so only its last order).
        b.permits[12] = _permitOf(keys[0], PRICE);
    }

    function _outcome(uint256 first, uint256 n) internal view returns (Outcome memory o) {
        o.jobs = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            o.jobs[i] = keccak256(abi.encode(market.getJob(first + i), market.getJobExtras(first + i)));
        }
        for (uint256 i; i < 4; ++i) {
            o.balances[i] = token.balanceOf(consumers[i]);
            o.credits[i] = market.claimable(consumers[i]);
            o.allowances[i] = token.allowance(consumers[i], address(market));
        }
        o.marketBalance = token.balanceOf(address(market));
        o.liabilities = market.totalLiabilities();
        o.locked = staking.getProvider(provider).locked;
        o.jobCount = market.jobCount();
    }

    /// The market's events since `recordLogs` but OrderSkipped, each as keccak256 of its topics and data.
    function _marketLogs() internal returns (bytes32[] memory hashes) {
        VmLogs.Log[] memory logs = vmLogs.getRecordedLogs();
        hashes = new bytes32[](logs.length);
        uint256 n;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(market) || logs[i].topics[0] == IJobMarket.OrderSkipped.selector) continue;
            hashes[n++] = keccak256(abi.encode(logs[i].topics, logs[i].data));
        }
        assembly ("memory-safe") {
            mstore(hashes, n)
        }
    }

    /// The market's nonce-bitmap word `word` of `consumer`, read from storage.
    function _nonceWord(address consumer, uint256 word) internal view returns (bytes32) {
        bytes32 inner = keccak256(abi.encode(consumer, NONCES_SLOT));
        return vmLogs.load(address(market), keccak256(abi.encode(word, inner)));
    }
}
