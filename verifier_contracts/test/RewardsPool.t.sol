// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IRewardsPool} from "../src/interfaces/IRewardsPool.sol";
import {RewardsPool} from "../src/RewardsPool.sol";
import {NGXToken} from "../src/token/NGXToken.sol";
import {VmLogs} from "./utils/OrderBatchBase.sol";

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

    /// What a grant call leaves: its outcome, its logs and the two storage words it writes.
    struct Grant {
        bool ok;
        bytes ret;
        VmLogs.Log[] logs;
        bytes32 tally;
        bytes32 pool;
    }

    /// Exactness of `rewardMany`: the same grants, and the same tally and pool words in storage, as `reward` once per
    /// fee in order, from any pool balance, per-epoch cap and earlier grant (this epoch or an earlier one), with fees
    /// of 0, around the cap and ones whose fee cap overflows (a revert either way, with the same data); one RewardPaid
    /// for the total, none when nothing is granted.
    function testFuzz_RewardManyEqualsOneCallPerFee(uint256 seed) public {
        RewardsPool pool = _fuzzPool(seed);
        uint256[] memory fees = new uint256[](1 + (seed >> 140) % 12);
        for (uint256 i; i < fees.length; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            uint256 kind = r % 16;
            fees[i] = kind == 0 ? 0 : kind == 1 ? type(uint256).max / 8_000 + (r >> 8) % 2 : (r >> 8) % 25 ether;
        }
        uint256 snap = vm.snapshotState();
        Grant memory batched = _grant(pool, abi.encodeCall(pool.rewardMany, (provider, fees)));
        vm.revertToState(snap);
        uint256[] memory paid = new uint256[](fees.length);
        uint256 total;
        Grant memory single;
        for (uint256 i; i < fees.length; ++i) {
            single = _grant(pool, abi.encodeCall(pool.reward, (provider, fees[i])));
            if (!single.ok) {
                assertFalse(batched.ok);
                assertEq(keccak256(batched.ret), keccak256(single.ret), "the same revert");
                return;
            }
            paid[i] = abi.decode(single.ret, (uint256));
            total += paid[i];
        }
        assertTrue(batched.ok, "no revert one by one, none batched");
        assertEq(abi.decode(batched.ret, (uint256[])), paid);
        assertEq(batched.tally, single.tally, "the provider's tally word");
        assertEq(batched.pool, single.pool, "the pool's free and owed word");
        assertEq(uint256(batched.tally) >> 160, pool.owedTo(provider), "the tally slot is the one read back");
        assertEq(uint256(batched.pool) >> 128, pool.totalOwed(), "the pool slot is the one read back");
        if (total == 0) {
            assertEq(batched.logs.length, 0, "no RewardPaid without a grant");
            return;
        }
        assertEq(batched.logs.length, 1, "one RewardPaid");
        assertEq(batched.logs[0].topics[0], IRewardsPool.RewardPaid.selector, "RewardPaid");
        assertEq(batched.logs[0].topics[1], bytes32(uint256(uint160(provider))), "its provider");
        assertEq(keccak256(batched.logs[0].data), keccak256(abi.encode(total, pool.currentEpoch())), "the total");
    }

    /// A pool with this test as its market, a fuzzed balance and cap, and maybe an earlier grant (maybe stale).
    function _fuzzPool(uint256 seed) internal returns (RewardsPool pool) {
        pool = new RewardsPool(REWARD, EPOCH, 1 + seed % 40 ether);
        vm.prank(treasury);
        token.transfer(address(pool), uint256(keccak256(abi.encode(seed, "balance"))) % 60 ether);
        pool.initialize(address(token), address(this));
        if (seed >> 128 & 1 != 0) pool.reward(provider, uint256(keccak256(abi.encode(seed, "earlier"))) % 20 ether);
        if (seed >> 129 & 1 != 0) vm.warp(block.timestamp + EPOCH * (1 + (seed >> 130) % 3));
    }

    /// One call to `pool` as its market, with its logs and then the provider's tally word and the pool's word.
    function _grant(RewardsPool pool, bytes memory data) internal returns (Grant memory g) {
        VmLogs logs = VmLogs(address(vm));
        logs.recordLogs();
        (g.ok, g.ret) = address(pool).call(data);
        g.logs = logs.getRecordedLogs();
        g.tally = logs.load(address(pool), keccak256(abi.encode(provider, uint256(3)))); // _tallies[provider]
        g.pool = logs.load(address(pool), bytes32(uint256(2))); // _free and _totalOwed
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
