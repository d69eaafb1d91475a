// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";

/// deliverInput: the consumer's encrypted input reaches the assigned provider as an event, nothing is stored.
contract DeliverInputTest is Base {
    uint256 internal constant MAX = 32 * 1024;

    function _payload(uint256 size) internal pure returns (bytes memory p) {
        p = new bytes(size);
        for (uint256 i; i < size; ++i) {
            p[i] = bytes1(uint8(i * 7 + 1));
        }
    }

    function _deliver(uint256 jobId, bytes memory payload) internal {
        vm.prank(consumer);
        market.deliverInput(jobId, payload);
    }

    function _expectDelivered(uint256 jobId, bytes memory payload) internal {
        vm.expectEmit(true, true, true, true, address(market));
        emit IJobMarket.InputDelivered(jobId, consumer, provider, payload);
    }

    // ------------------------------------------------------------ happy path

    function test_MaxInputPayloadIs32KiB() public view {
        assertEq(market.MAX_INPUT_PAYLOAD(), MAX, "32 KiB");
    }

    function test_ConsumerDeliversAfterClaimEmitsPayload() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        IJobMarket.Job memory expected = market.getJob(jobId);
        assertEq(expected.flags, 0, "no delivery yet");
        bytes memory payload = _payload(300);
        _expectDelivered(jobId, payload);
        _deliver(jobId, payload);
        // The only state change is the on-chain delivery flag (it rules out an InputMissing decline).
        expected.flags = market.FLAG_INPUT_ON_CHAIN();
        assertEq(keccak256(abi.encode(market.getJob(jobId))), keccak256(abi.encode(expected)));
        assertEq(market.totalLiabilities(), PRICE, "no money moved");
        _submit(jobId); // the job goes on to settle normally
        assertTrue(market.getJob(jobId).status == IJobMarket.JobStatus.Settled, "settled");
    }

    function test_RedeliveryEmitsAgain() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        bytes memory first = _payload(64);
        bytes memory second = hex"c0ffee";
        _expectDelivered(jobId, first);
        _deliver(jobId, first);
        _expectDelivered(jobId, second);
        _deliver(jobId, second);
    }

    function test_DeliversOneByteAndExactlyMaxBytes() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        _expectDelivered(jobId, hex"01");
        _deliver(jobId, hex"01");
        bytes memory big = _payload(MAX);
        _expectDelivered(jobId, big);
        _deliver(jobId, big);
    }

    function test_DeliversOneSecondBeforeInputDeadline() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.warp(market.inputDeadline(jobId) - 1);
        bytes memory payload = _payload(32);
        _expectDelivered(jobId, payload);
        _deliver(jobId, payload);
    }

    function test_DeliversWhilePaused() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.prank(guardian);
        market.pause();
        bytes memory payload = _payload(300);
        _expectDelivered(jobId, payload);
        _deliver(jobId, payload);
    }

    // ------------------------------------------------------------ reverts

    function test_RevertWhen_DeliveredByNonConsumer() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotConsumer.selector, jobId, stranger));
        vm.prank(stranger);
        market.deliverInput(jobId, hex"01");
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__NotConsumer.selector, jobId, provider));
        vm.prank(provider);
        market.deliverInput(jobId, hex"01");
    }

    function test_RevertWhen_DeliveredBeforeClaim() public {
        uint256 jobId = _post(dedicatedModel);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, jobId, IJobMarket.JobStatus.Open)
        );
        _deliver(jobId, hex"01");
    }

    function test_RevertWhen_DeliveredForUnknownJob() public {
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__UnknownJob.selector, 42));
        _deliver(42, hex"01");
    }

    function test_RevertWhen_DeliveredAfterSettle() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        _submit(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, jobId, IJobMarket.JobStatus.Settled)
        );
        _deliver(jobId, hex"01");
    }

    function test_RevertWhen_DeliveredAfterDeclineOrExpiry() public {
        uint256 declined = _postAndClaim(dedicatedModel);
        vm.prank(provider);
        market.declineJob(declined, IJobMarket.DeclineReason.InputInvalid);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarket__InvalidStatus.selector, declined, IJobMarket.JobStatus.Cancelled
            )
        );
        _deliver(declined, hex"01");

        uint256 expired = _postAndClaim(dedicatedModel);
        vm.warp(market.getJob(expired).proveDeadline);
        market.expireJob(expired); // reopened
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, expired, IJobMarket.JobStatus.Open)
        );
        _deliver(expired, hex"01");
        vm.warp(market.getJob(expired).claimDeadline);
        market.expireJob(expired);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidStatus.selector, expired, IJobMarket.JobStatus.Expired)
        );
        _deliver(expired, hex"01");
    }

    /// A delivery counts only before the input deadline (issue #23, item 4; TrustIII.t.sol plays the front-run).
    function test_RevertWhen_DeliveredAtOrAfterInputDeadline() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256 deadline = market.inputDeadline(jobId);
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InputDeadlinePassed.selector, jobId, deadline));
        _deliver(jobId, hex"01");
        vm.warp(market.getJob(jobId).proveDeadline);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__InputDeadlinePassed.selector, jobId, deadline));
        _deliver(jobId, hex"01");
    }

    function test_RevertWhen_PayloadEmpty() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__EmptyPayload.selector));
        _deliver(jobId, "");
    }

    function test_RevertWhen_PayloadOverMax() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__PayloadTooLarge.selector, MAX + 1, MAX));
        _deliver(jobId, new bytes(MAX + 1));
    }

    // ------------------------------------------------------------ fuzz

    function testFuzz_DeliversAnyAllowedPayloadVerbatim(bytes calldata payload) public {
        vm.assume(payload.length > 0 && payload.length <= MAX);
        uint256 jobId = _postAndClaim(dedicatedModel);
        _expectDelivered(jobId, payload);
        _deliver(jobId, payload);
    }
}
