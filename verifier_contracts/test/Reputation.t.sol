// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IReputation} from "../src/interfaces/IReputation.sol";

contract ReputationTest is Base {
    function test_PriorForNewProvider() public view {
        (uint256 p, uint256 r, uint256 l, uint256 s) = reputation.components(provider);
        assertEq(p, 50, "performance prior");
        assertEq(r, 50, "reliability prior");
        assertEq(l, 0, "longevity starts at 0");
        assertEq(s, 50, "peer rating prior");
        assertEq(reputation.nrs(provider), 40, "new provider NRS");
        assertEq(reputation.nrs(stranger), 40, "unregistered: same prior, no longevity");
    }

    function test_NrsMath() public {
        vm.startPrank(address(market));
        // 8 full-weight jobs (fee >= FULL_WEIGHT_FEE, 8 distinct consumers) using a quarter of the window
        // -> each scores 100 - 50 * 0.25 = 87.5
        for (uint256 i; i < 8; ++i) {
            reputation.recordCompletion(provider, address(uint160(0x1000 + i)), 450, 1800, 1 ether);
        }
        reputation.recordMiss(provider);
        reputation.recordMiss(provider);
        reputation.recordRating(provider, 5);
        reputation.recordRating(provider, 5);
        vm.stopPrank();
        vm.warp(block.timestamp + 90 days);
        (uint256 p, uint256 r, uint256 l, uint256 s) = reputation.components(provider);
        assertEq(p, (8 * 875 / 10 + 100) / 10, "performance = (700 + 100) / 10");
        assertEq(r, (800 + 100) / 12, "reliability = (8*100 + 100) / 12");
        assertEq(l, 50, "90 of 180 days");
        assertEq(s, (200 + 100) / 4, "rating = (2*100 + 100) / 4");
        assertEq(reputation.nrs(provider), (40 * p + 30 * r + 20 * l + 10 * s) / 100);
    }

    function test_SettledJobsRaiseNrsAndUnlockBetterTier() public {
        vm.startPrank(address(market));
        for (uint256 i; i < 30; ++i) {
            reputation.recordCompletion(provider, address(uint160(0x1000 + i)), 0, 1800, 1 ether);
            reputation.recordRating(provider, 5);
        }
        vm.stopPrank();
        vm.warp(block.timestamp + 180 days);
        assertEq(reputation.nrs(provider), 96);
        uint256 jobId = _postAndClaim(dedicatedModel);
        assertEq(market.getJob(jobId).collateral, PRICE / 2, "high tier locks 50 %");
    }

    function test_RevertWhen_InvalidRatingOrNotMarket() public {
        vm.expectRevert(abi.encodeWithSelector(IReputation.Reputation__InvalidRating.selector, 0));
        vm.prank(address(market));
        reputation.recordRating(provider, 0);
        vm.expectRevert();
        reputation.recordMiss(provider);
    }

    function testFuzz_ComponentsStayInRange(uint32 done, uint32 missed, uint16 used, uint8 rating, uint32 age) public {
        done = uint32(bound(done, 0, 50));
        missed = uint32(bound(missed, 0, 50));
        rating = uint8(bound(rating, 1, 5));
        vm.startPrank(address(market));
        for (uint256 i; i < done; ++i) {
            reputation.recordCompletion(provider, address(uint160(0x1000 + i % 3)), used, 1000, i * 0.01 ether);
            reputation.recordRating(provider, rating);
        }
        for (uint256 i; i < missed; ++i) {
            reputation.recordMiss(provider);
        }
        vm.stopPrank();
        vm.warp(block.timestamp + age);
        (uint256 p, uint256 r, uint256 l, uint256 s) = reputation.components(provider);
        assertLe(p, 100, "p");
        assertLe(r, 100, "r");
        assertLe(l, 100, "l");
        assertLe(s, 100, "s");
        assertLe(reputation.nrs(provider), 100, "nrs");
    }
}
