// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Base} from "./utils/Base.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {ReentrantTokenFake} from "./fakes/ReentrantTokenFake.sol";

/// Runs the market on a hostile payment token that re-enters during every token transfer.
contract ReentrancyTest is Base {
    ReentrantTokenFake internal evil;

    function setUp() public override {
        _loadFixture();
        evil = new ReentrantTokenFake();
        _deploy(IERC20(address(evil)));
    }

    function test_RevertWhen_WithdrawReentered() public {
        uint256 jobId = _post(dedicatedModel);
        vm.prank(consumer);
        market.cancelJob(jobId);
        evil.arm(address(market), abi.encodeCall(IJobMarket.withdraw, ()));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(consumer);
        market.withdraw();
        assertEq(market.claimable(consumer), PRICE, "credit intact after the failed attack");
        assertEq(evil.balanceOf(address(market)), market.totalLiabilities(), "solvent");
    }

    function test_RevertWhen_PostReentersCancel() public {
        evil.arm(address(market), abi.encodeCall(IJobMarket.cancelJob, (1)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        _post(dedicatedModel);
        assertEq(market.jobCount(), 0, "nothing posted");
    }

    function test_SettlementWorksOnFakeToken() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        _submit(jobId);
        vm.prank(provider);
        market.withdraw();
        assertEq(evil.balanceOf(address(market)), market.totalLiabilities(), "solvent");
    }
}
