// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {JobTermsLib} from "../src/types/JobTermsLib.sol";
import {OrderLib} from "../src/types/OrderLib.sol";

/// Calls the library's internal functions, so a revert can be expected from an external call.
contract JobTermsLibHarness {
    function flagsFor(IJobMarket.JobTerms memory terms, address consumer) external pure returns (uint8) {
        return JobTermsLib.flagsFor(terms, consumer);
    }

    function structHash(IJobMarket.Order calldata order, bytes32 commitmentsHash) external pure returns (bytes32) {
        return OrderLib.structHash(order, commitmentsHash);
    }
}

/// Issue #22: job terms and orders as struct-plus-library types, pinned to the Python mirror
/// (`ngx_zk.chain.types.JobTerms`) by vectors both sides check.
contract JobTermsLibTest is Base {
    using JobTermsLib for IJobMarket.JobTerms;

    string internal constant VECTORS = "test/fixtures/job_terms_prices.json";
    JobTermsLibHarness internal harness = new JobTermsLibHarness();

    function _ramp(uint256[] memory row) internal pure returns (IJobMarket.JobTerms memory terms) {
        terms.minPrice = uint96(row[0]);
        terms.maxPrice = uint96(row[1]);
        terms.rampDelay = uint32(row[2]);
        terms.rampLength = uint32(row[3]);
    }

    function _row(string memory json, string memory table, uint256 i) internal pure returns (uint256[] memory) {
        return vm.parseJsonUintArray(json, string.concat(".", table, "[", vm.toString(i), "]"));
    }

    function test_PriceAtMatchesThePythonMirrorsVectors() public view {
        string memory json = vm.readFile(VECTORS);
        uint256 n = vm.parseJsonUint(json, ".priceCount");
        assertTrue(n > 20, "vectors read");
        for (uint256 i; i < n; ++i) {
            uint256[] memory row = _row(json, "prices", i);
            assertEq(_ramp(row).priceAt(row[4]), row[5], "price at");
        }
    }

    function test_SecondsToReachMatchesThePythonMirrorsVectors() public view {
        string memory json = vm.readFile(VECTORS);
        uint256 n = vm.parseJsonUint(json, ".reachCount");
        assertTrue(n > 20, "vectors read");
        for (uint256 i; i < n; ++i) {
            uint256[] memory row = _row(json, "reach", i);
            (bool reachable, uint256 at) = _ramp(row).secondsToReach(row[4]);
            assertEq(reachable ? 1 : 0, row[5], "reachable");
            assertEq(at, row[6], "seconds to reach");
        }
    }

    /// secondsToReach inverts priceAt exactly: at that second the price is at the floor, a second earlier below.
    function testFuzz_SecondsToReachInvertsPriceAt(uint96 low, uint96 high, uint32 delay, uint32 length, uint96 floor)
        public
        pure
    {
        vm.assume(low < high && length > 0);
        IJobMarket.JobTerms memory terms;
        (terms.minPrice, terms.maxPrice, terms.rampDelay, terms.rampLength) = (low, high, delay, length);
        (bool reachable, uint256 at) = terms.secondsToReach(floor);
        if (!reachable) {
            assertTrue(floor > high, "unreachable only above the maximum");
            return;
        }
        assertTrue(terms.priceAt(at) >= floor, "reached");
        if (at > 0) assertTrue(terms.priceAt(at - 1) < floor, "not a second earlier");
    }

    function test_FlagsAndRefusals() public {
        IJobMarket.JobTerms memory terms;
        terms.minPrice = 10;
        terms.maxPrice = 10;
        assertEq(harness.flagsFor(terms, address(1)), 0, "fixed eager job: no flag");
        terms.minPrice = 5;
        terms.rampLength = 60;
        terms.claimWindow = 60;
        terms.deliverer = address(2);
        terms.settlement = JobTermsLib.OPTIMISTIC;
        assertEq(
            harness.flagsFor(terms, address(1)),
            JobTermsLib.FLAG_AUCTION | JobTermsLib.FLAG_DELIVERER | JobTermsLib.FLAG_OPTIMISTIC
        );
        terms.claimWindow = 59; // the ramp ends after the claim window
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidAuction.selector, 5, 10, 60));
        harness.flagsFor(terms, address(1));
        terms.claimWindow = 60;
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidDeliverer.selector, address(2)));
        harness.flagsFor(terms, address(2));
        terms.settlement = 2;
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InvalidSettlement.selector, 2));
        harness.flagsFor(terms, address(1));
    }

    /// `tryFlagsFor` (fillOrders' skip) is `flagsFor` without the revert: invalid exactly where it reverts, the same
    ///  flags elsewhere. Small ranges so every boundary (equal prices, ramp = claim window, limits) is hit.
    function testFuzz_TryFlagsForAgreesWithFlagsFor(uint256 seed) public view {
        IJobMarket.JobTerms memory terms;
        terms.minPrice = uint96(bound(uint256(keccak256(abi.encode(seed, 0))), 0, 12));
        terms.maxPrice = uint96(bound(uint256(keccak256(abi.encode(seed, 1))), 0, 12));
        terms.rampDelay = uint32(bound(uint256(keccak256(abi.encode(seed, 2))), 0, 40));
        terms.rampLength = uint32(bound(uint256(keccak256(abi.encode(seed, 3))), 0, 40));
        terms.claimWindow = uint32(bound(uint256(keccak256(abi.encode(seed, 4))), 0, 60));
        terms.deliverer = address(uint160(bound(uint256(keccak256(abi.encode(seed, 5))), 0, 2)));
        terms.callbackGasLimit =
            uint32(JobTermsLib.MAX_CALLBACK_GAS - 1 + bound(uint256(keccak256(abi.encode(seed, 6))), 0, 2));
        terms.settlement = uint8(bound(uint256(keccak256(abi.encode(seed, 7))), 0, 2));
        (bool valid, uint8 flags) = JobTermsLib.tryFlagsFor(terms, address(1));
        try harness.flagsFor(terms, address(1)) returns (uint8 expected) {
            assertTrue(valid, "flagsFor accepted what tryFlagsFor refused");
            assertEq(flags, expected, "same flags");
        } catch {
            assertTrue(!valid, "flagsFor reverted where tryFlagsFor accepted");
        }
    }

    /// The calldata word-hashing of OrderLib equals EIP-712 hashStruct written plainly with JobTermsLib.hash, and
    /// the market's constants and digest are the libraries'.
    function test_OrderStructHashEqualsThePlainEncoding() public view {
        IJobMarket.Order memory order;
        order.consumer = address(0xC0);
        order.terms = IJobMarket.JobTerms(7, 5, 9, 3, 30, 600, 60, 40, address(0xD0), 50_000, 1);
        order.provider = address(0xB0);
        order.nonce = 11;
        order.signedAt = 1_000;
        order.deadline = 2_000;
        bytes32 commitments = keccak256("commitments");
        bytes32 plain = keccak256(
            abi.encode(
                OrderLib.TYPEHASH,
                order.consumer,
                JobTermsLib.hash(order.terms),
                commitments,
                order.provider,
                order.nonce,
                order.signedAt,
                order.deadline
            )
        );
        assertEq(harness.structHash(order, commitments), plain, "struct hash");
        assertEq(market.ORDER_TYPEHASH(), OrderLib.TYPEHASH);
        assertEq(market.JOB_TERMS_TYPEHASH(), JobTermsLib.TYPEHASH);
    }
}
