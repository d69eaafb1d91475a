// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IProtocolConfig} from "../src/interfaces/IProtocolConfig.sol";

contract ProtocolConfigTest is Base {
    function test_RevertWhen_BoundsViolated() public {
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__BpsTooHigh.selector, bytes32("protocolFeeBps"), 1_001, 1_000));
        config.setProtocolFeeBps(1_001);
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__UnbondingTooShort.selector, 8 days, 8 days));
        config.setUnbondingDelay(8 days);
        vm.expectRevert(abi.encodeWithSelector(IProtocolConfig.ProtocolConfig__UnbondingTooShort.selector, 14 days, 14 days));
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
}
