// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IProtocolConfig} from "../src/interfaces/IProtocolConfig.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract ProtocolConfigTest is Base {
    function test_RevertWhen_BoundsViolated() public {
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__BpsTooHigh.selector, bytes32("protocolFeeBps"), 1_001, 1_000));
        config.setProtocolFeeBps(1_001);
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__UnbondingTooShort.selector, 8 days, 8 days + 2 hours));
        config.setUnbondingDelay(8 days);
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__UnbondingTooShort.selector, 14 days, 14 days + 2 hours));
        config.setWindowBounds(60, 13 days, 60, 1 days);
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__InvalidWindowBounds.selector, 100, 50));
        config.setWindowBounds(100, 50, 60, 1 days);
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__InvalidTiers.selector, 50, 50));
        config.setCollateralTiers(50, 50, 1, 1, 1);
        vm.expectRevert(IProtocolConfig.ProtocolConfig__ZeroAddress.selector);
        config.setTreasury(address(0));
    }

    function test_SettersApply() public {
        config.setSlashParams(10_000, 0);
        config.setMinStake(5 ether);
        config.setCollateralTiers(90, 30, 1_000, 2_000, 3_000);
        assertEq(config.collateralFor(100, 40), 20, "mid tier");
        assertEq(config.slashBps(), 10_000);
        assertEq(config.minStake(), 5 ether);
        config.setGuardian(stranger);
        assertEq(config.guardian(), stranger);
    }

    // ------------------------------------------------------------ every setter is bounded (attack 13)

    function _expectOOB(bytes32 name, uint256 value, uint256 min, uint256 max) internal {
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__OutOfBounds.selector, name, value, min, max));
    }

    function test_Defaults() public view {
        assertEq(config.minJobPrice(), 0.1 ether);
        assertEq(config.declineSlashBps(), 1_000);
        assertEq(config.freeDeclineBase(), 3);
        assertEq(config.freeDeclinePerCompletedBps(), 1_000);
        assertEq(config.verifierCurator(), address(this));
    }

    function test_ProtocolFeeBoundaries() public {
        config.setProtocolFeeBps(0);
        config.setProtocolFeeBps(1_000);
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__BpsTooHigh.selector, bytes32("protocolFeeBps"), 1_001, 1_000));
        config.setProtocolFeeBps(1_001);
    }

    function test_SlashParamBoundaries() public {
        _expectOOB("slashBps", 999, 1_000, 10_000);
        config.setSlashParams(999, 0);
        _expectOOB("slashBps", 10_001, 1_000, 10_000);
        config.setSlashParams(10_001, 0);
        _expectOOB("slashBurnBps", 10_001, 0, 10_000);
        config.setSlashParams(1_000, 10_001);
        config.setSlashParams(1_000, 0);
        assertEq(config.slashBps(), 1_000);
        config.setSlashParams(10_000, 10_000);
        assertEq(config.slashBurnBps(), 10_000);
    }

    function test_MinStakeBoundaries() public {
        _expectOOB("minStake", 1 ether - 1, 1 ether, 10_000_000 ether);
        config.setMinStake(1 ether - 1);
        _expectOOB("minStake", 10_000_000 ether + 1, 1 ether, 10_000_000 ether);
        config.setMinStake(10_000_000 ether + 1);
        config.setMinStake(1 ether);
        config.setMinStake(10_000_000 ether);
        assertEq(config.minStake(), 10_000_000 ether);
    }

    function test_UnbondingDelayBoundaries() public {
        // maxClaim 7 days + maxProve 1 day + challenge window 1 hour + answer window 1 hour
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__UnbondingTooShort.selector, 8 days + 2 hours, 8 days + 2 hours));
        config.setUnbondingDelay(8 days + 2 hours);
        config.setUnbondingDelay(8 days + 2 hours + 1);
        config.setUnbondingDelay(60 days);
        _expectOOB("unbondingDelay", 60 days + 1, 0, 60 days);
        config.setUnbondingDelay(60 days + 1);
        assertEq(config.unbondingDelay(), 60 days);
    }

    function test_WindowBoundaries() public {
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__InvalidWindowBounds.selector, 0, 60));
        config.setWindowBounds(0, 60, 60, 60);
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__InvalidWindowBounds.selector, 0, 60));
        config.setWindowBounds(60, 60, 0, 60);
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__InvalidWindowBounds.selector, 61, 60));
        config.setWindowBounds(60, 60, 61, 60);
        config.setWindowBounds(1, 1, 1, 1);
        config.setWindowBounds(1, 13 days, 1, 1 days - 2 hours - 1); // + 2 hours of challenge windows < 14 days
        assertEq(config.maxClaimWindow(), 13 days);
    }

    /// Issue #24: the optimistic settlement's parameters, their bounds, and the unbonding invariant that covers them.
    function test_OptimisticTermsBoundaries() public {
        (uint32 cw, uint32 aw, uint96 bond, uint16 rewardBps) = config.optimisticTerms();
        assertEq(cw, 1 hours, "challenge window default");
        assertEq(aw, 1 hours, "answer window default");
        assertEq(bond, 10 ether, "bond default");
        assertEq(rewardBps, 5_000, "reward default");
        _expectOOB("challengeWindow", 59, 60, 7 days);
        config.setChallengeWindows(59, 60);
        _expectOOB("answerWindow", 7 days + 1, 60, 7 days);
        config.setChallengeWindows(60, 7 days + 1);
        // 7 days + 1 day + 3 days + 3 days = 14 days: not below the 14-day unbonding delay
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__UnbondingTooShort.selector, 14 days, 14 days));
        config.setChallengeWindows(3 days, 3 days);
        config.setChallengeWindows(3 days, 3 days - 1);
        config.setChallengeWindows(60, 60);
        _expectOOB("challengeBond", 1 ether - 1, 1 ether, 10_000 ether);
        config.setChallengeBond(1 ether - 1);
        _expectOOB("challengeBond", 10_000 ether + 1, 1 ether, 10_000 ether);
        config.setChallengeBond(10_000 ether + 1);
        config.setChallengeBond(1 ether);
        _expectOOB("challengerRewardBps", 10_001, 0, 10_000);
        config.setChallengerRewardBps(10_001);
        config.setChallengerRewardBps(10_000);
        (cw, aw, bond, rewardBps) = config.optimisticTerms();
        assertEq(cw, 60, "challenge window");
        assertEq(aw, 60, "answer window");
        assertEq(bond, 1 ether, "bond");
        assertEq(rewardBps, 10_000, "reward");
        vm.prank(address(0xBAD));
        vm.expectRevert();
        config.setChallengeBond(2 ether);
    }

    function test_CollateralTierBoundaries() public {
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__InvalidTiers.selector, 101, 50));
        config.setCollateralTiers(101, 50, 5_000, 10_000, 15_000);
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__InvalidTiers.selector, 80, 0));
        config.setCollateralTiers(80, 0, 5_000, 10_000, 15_000);
        _expectOOB("highBps", 999, 1_000, 30_000);
        config.setCollateralTiers(80, 50, 999, 10_000, 15_000);
        _expectOOB("midBps", 30_001, 1_000, 30_000);
        config.setCollateralTiers(80, 50, 5_000, 30_001, 30_001);
        _expectOOB("lowBps", 30_001, 1_000, 30_000);
        config.setCollateralTiers(80, 50, 5_000, 10_000, 30_001);
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__TierBpsNotMonotonic.selector, 10_000, 5_000, 15_000));
        config.setCollateralTiers(80, 50, 10_000, 5_000, 15_000);
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__TierBpsNotMonotonic.selector, 5_000, 10_000, 9_999));
        config.setCollateralTiers(80, 50, 5_000, 10_000, 9_999);
        config.setCollateralTiers(100, 99, 1_000, 1_000, 1_000);
        config.setCollateralTiers(2, 1, 30_000, 30_000, 30_000);
        assertEq(config.collateralFor(100, 0), 300, "low tier 300 %");
    }

    function test_MinJobPriceBoundaries() public {
        _expectOOB("minJobPrice", 0, 1, 1_000 ether);
        config.setMinJobPrice(0);
        _expectOOB("minJobPrice", 1_000 ether + 1, 1, 1_000 ether);
        config.setMinJobPrice(1_000 ether + 1);
        config.setMinJobPrice(1_000 ether);
        config.setMinJobPrice(1);
        assertEq(config.minJobPrice(), 1);
    }

    function test_DeclineParamBoundaries() public {
        _expectOOB("declineSlashBps", 99, 100, 5_000);
        config.setDeclineSlashBps(99);
        _expectOOB("declineSlashBps", 5_001, 100, 5_000);
        config.setDeclineSlashBps(5_001);
        config.setDeclineSlashBps(100);
        config.setDeclineSlashBps(5_000);
        assertEq(config.declineSlashBps(), 5_000);
        _expectOOB("freeDeclineBase", 21, 0, 20);
        config.setFreeDeclines(21, 0);
        _expectOOB("freeDeclinePerCompletedBps", 2_001, 0, 2_000);
        config.setFreeDeclines(0, 2_001);
        config.setFreeDeclines(20, 2_000);
        assertEq(config.freeDeclineBase(), 20);
        assertEq(config.freeDeclinePerCompletedBps(), 2_000);
        config.setFreeDeclines(0, 0);
    }

    function test_RevertWhen_NotOwner() public {
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        config.setMinJobPrice(1 ether);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        config.setDeclineSlashBps(1_000);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        config.setFreeDeclines(1, 1);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        config.setVerifierCurator(stranger);
        vm.stopPrank();
    }

    function test_VerifierAllowListOwnerOrCurator() public {
        bytes32 h = keccak256("some verifier runtime");
        address curator = makeAddr("curator");
        config.setVerifierCurator(curator);
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__NotCurator.selector, stranger));
        vm.prank(stranger);
        config.setVerifierCodeAllowed(h, true);
        vm.expectEmit(true, false, false, true, address(config));
        emit IProtocolConfig.VerifierCodeAllowed(h, true);
        vm.prank(curator);
        config.setVerifierCodeAllowed(h, true);
        assertTrue(config.isVerifierCodeAllowed(h), "allowed by the curator");
        config.setVerifierCodeAllowed(h, false); // the owner too
        assertFalse(config.isVerifierCodeAllowed(h));
        config.setVerifierCurator(address(0));
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__NotCurator.selector, curator));
        vm.prank(curator);
        config.setVerifierCodeAllowed(h, true);
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__NotCurator.selector, address(0)));
        vm.prank(address(0));
        config.setVerifierCodeAllowed(h, true);
    }
}
