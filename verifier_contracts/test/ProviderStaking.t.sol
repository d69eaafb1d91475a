// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IProviderStaking} from "../src/interfaces/IProviderStaking.sol";
import {MarketBound} from "../src/utils/MarketBound.sol";

contract ProviderStakingTest is Base {
    function test_RevertWhen_UnstakeTouchesLockedCollateral() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256 locked = market.getJob(jobId).collateral;
        uint256 free = STAKE - locked;
        assertEq(staking.freeStake(provider), free);
        vm.expectRevert(
            abi.encodeWithSelector(IProviderStaking.ProviderStaking__InsufficientFreeStake.selector, provider, free + 1, free)
        );
        vm.prank(provider);
        staking.requestUnstake(free + 1);
        vm.prank(provider);
        staking.requestUnstake(free);
        assertEq(staking.stakedOf(provider), locked, "only the locked part stays");
    }

    function test_WithdrawAfterUnbonding() public {
        vm.prank(provider);
        staking.requestUnstake(500 ether);
        uint256 releaseAt = block.timestamp + config.unbondingDelay();
        assertGt(config.unbondingDelay(), uint256(config.maxClaimWindow()) + config.maxProveWindow(), "delay > longest job");
        vm.warp(releaseAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IProviderStaking.ProviderStaking__StillUnbonding.selector, provider, releaseAt)
        );
        vm.prank(provider);
        staking.withdraw();
        vm.warp(releaseAt);
        uint256 before = token.balanceOf(provider);
        vm.prank(provider);
        staking.withdraw();
        assertEq(token.balanceOf(provider) - before, 500 ether, "withdrawn");
        vm.expectRevert(abi.encodeWithSelector(IProviderStaking.ProviderStaking__NothingToWithdraw.selector, provider));
        vm.prank(provider);
        staking.withdraw();
    }

    function test_RevertWhen_NotMarket() public {
        vm.expectRevert(abi.encodeWithSelector(MarketBound.MarketBound__NotMarket.selector, stranger));
        vm.prank(stranger);
        staking.lockCollateral(provider, 1);
        vm.expectRevert(abi.encodeWithSelector(MarketBound.MarketBound__NotMarket.selector, stranger));
        vm.prank(stranger);
        staking.slash(provider, 1, 1, 1, stranger);
        vm.expectRevert(abi.encodeWithSelector(MarketBound.MarketBound__AlreadyBound.selector, address(market)));
        staking.bindMarket(stranger);
    }

    function test_RegisterAndProfile() public {
        vm.expectRevert(abi.encodeWithSelector(IProviderStaking.ProviderStaking__NotRegistered.selector, provider2));
        vm.prank(provider2);
        staking.stake(1 ether);
        vm.expectRevert(IProviderStaking.ProviderStaking__EmptyPubKey.selector);
        vm.prank(provider2);
        staking.register("", "x");
        vm.prank(provider2);
        staking.register(hex"01", "https://a");
        vm.expectRevert(abi.encodeWithSelector(IProviderStaking.ProviderStaking__AlreadyRegistered.selector, provider2));
        vm.prank(provider2);
        staking.register(hex"01", "https://a");
        vm.prank(provider2);
        staking.updateProfile(hex"02", "https://b");
        IProviderStaking.Provider memory p = staking.getProvider(provider2);
        assertEq(keccak256(p.encryptionPubKey), keccak256(hex"02"));
        assertEq(keccak256(bytes(p.endpointURI)), keccak256("https://b"));
        assertEq(p.registeredAt, block.timestamp);
    }
}
