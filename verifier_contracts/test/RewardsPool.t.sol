// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IRewardsPool} from "../src/interfaces/IRewardsPool.sol";
import {RewardsPool} from "../src/RewardsPool.sol";
import {NGXToken} from "../src/token/NGXToken.sol";

contract RewardsPoolTest is Base {
    function test_EmissionHalvesEachEpoch() public {
        assertEq(rewards.currentReward(), REWARD);
        vm.warp(block.timestamp + EPOCH - 1);
        assertEq(rewards.currentReward(), REWARD, "still epoch 0");
        vm.warp(block.timestamp + 1);
        assertEq(rewards.currentEpoch(), 1);
        assertEq(rewards.currentReward(), REWARD / 2, "epoch 1");
        vm.warp(block.timestamp + 2 * EPOCH);
        assertEq(rewards.currentReward(), REWARD / 8, "epoch 3");
        assertEq(rewards.rewardForEpoch(300), 0, "far future");
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256 before = token.balanceOf(provider);
        _submit(jobId);
        // 1.25 NGX scheduled, below the fee cap (80 % of the 2.5 NGX fee = 2 NGX)
        assertEq(rewards.owedTo(provider), REWARD / 8, "settlement grants the decayed reward");
        vm.prank(provider);
        assertEq(rewards.claim(), REWARD / 8, "claimed");
        assertEq(token.balanceOf(provider) - before, REWARD / 8, "and paid");
        vm.expectRevert(abi.encodeWithSelector(IRewardsPool.RewardsPool__NothingToClaim.selector, provider));
        vm.prank(provider);
        rewards.claim();
    }

    function test_RewardCappedByPool() public {
        // A fresh pool holding less than one reward, wired to this test as its market.
        RewardsPool small = new RewardsPool(REWARD, EPOCH, REWARD_CAP);
        vm.prank(treasury);
        token.transfer(address(small), 3 ether);
        small.initialize(address(token), address(this));
        assertEq(small.reward(provider, 100 ether), 3 ether, "capped by balance");
        assertEq(small.reward(provider, 100 ether), 0, "a pool whose balance is all owed grants 0, never reverts");
        assertEq(small.totalOwed(), 3 ether);
        assertEq(small.claimFor(provider), 3 ether, "the market has the pool pay what it owes");
        assertEq(token.balanceOf(address(small)), 0);
        assertEq(small.reward(provider, 100 ether), 0, "empty pool grants 0, never reverts");
    }

    function test_DepositsAfterInitializeCountOnceSynced() public {
        RewardsPool small = new RewardsPool(REWARD, EPOCH, REWARD_CAP);
        small.initialize(address(token), address(this));
        assertEq(small.reward(provider, 100 ether), 0, "nothing to grant");
        vm.prank(treasury);
        token.transfer(address(small), 4 ether);
        assertEq(small.reward(provider, 100 ether), 0, "a deposit waits for sync");
        assertEq(small.sync(), 4 ether);
        assertEq(small.reward(provider, 100 ether), 4 ether, "granted after sync");
        assertEq(small.sync(), 0, "what is owed is never granted twice");
        assertEq(small.owedTo(provider), 4 ether);
    }

    function test_RevertWhen_NotMarketOrReinitialized() public {
        vm.expectRevert(abi.encodeWithSelector(IRewardsPool.RewardsPool__NotMarket.selector, stranger));
        vm.prank(stranger);
        rewards.reward(stranger, 1 ether);
        vm.expectRevert(IRewardsPool.RewardsPool__AlreadyInitialized.selector);
        rewards.initialize(address(token), stranger);
    }

    function test_InitialDistribution() public view {
        uint256 supply = token.TOTAL_SUPPLY();
        assertEq(token.totalSupply(), supply);
        assertEq(token.balanceOf(address(rewards)), supply * 40 / 100, "rewards pool 40 %");
        assertEq(token.balanceOf(ecosystem), supply * 15 / 100, "ecosystem 15 %");
        assertEq(token.balanceOf(address(vesting)), supply * 15 / 100, "team vesting 15 %");
        assertEq(vesting.owner(), team);
    }

    function test_TeamVestsLinearly() public {
        vm.warp(block.timestamp + 365 days);
        vesting.release(address(token));
        assertEq(token.balanceOf(team), token.TOTAL_SUPPLY() * 15 / 100 / 4, "a quarter after one year");
    }
}
