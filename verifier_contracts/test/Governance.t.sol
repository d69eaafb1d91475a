// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {NGXGovernor} from "../src/governance/NGXGovernor.sol";
import {NGXTimelock} from "../src/governance/NGXTimelock.sol";
import {ProtocolConfig} from "../src/ProtocolConfig.sol";
import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract GovernanceTest is Base {
    NGXTimelock internal timelock;
    NGXGovernor internal governor;
    ProtocolConfig internal governed;

    function setUp() public override {
        super.setUp();
        address[] memory none = new address[](0);
        address[] memory anyone = new address[](1);
        timelock = new NGXTimelock(1 days, none, anyone, address(this));
        governor = new NGXGovernor(token, timelock, 1, 50, 0, 4);
        timelock.grantRole(timelock.PROPOSER_ROLE(), address(governor));
        timelock.grantRole(timelock.CANCELLER_ROLE(), address(governor));
        timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), address(this));
        governed = new ProtocolConfig(address(timelock), treasury, guardian);
        vm.prank(treasury);
        token.delegate(treasury);
        vm.roll(block.number + 1);
    }

    function test_ProposalVoteQueueExecuteChangesFee() public {
        address[] memory targets = new address[](1);
        uint256[] memory values = new uint256[](1);
        bytes[] memory calldatas = new bytes[](1);
        targets[0] = address(governed);
        calldatas[0] = abi.encodeCall(ProtocolConfig.setProtocolFeeBps, (300));
        string memory description = "Raise the protocol fee to 3%";

        vm.prank(treasury);
        uint256 id = governor.propose(targets, values, calldatas, description);
        vm.roll(block.number + governor.votingDelay() + 1);
        vm.prank(treasury);
        governor.castVote(id, 1);
        vm.roll(block.number + governor.votingPeriod() + 1);
        assertTrue(governor.state(id) == IGovernor.ProposalState.Succeeded, "succeeded");

        bytes32 descHash = keccak256(bytes(description));
        governor.queue(targets, values, calldatas, descHash);
        vm.expectRevert();
        governor.execute(targets, values, calldatas, descHash);
        vm.warp(block.timestamp + 1 days);
        governor.execute(targets, values, calldatas, descHash);
        assertEq(governed.protocolFeeBps(), 300, "fee changed by governance");
    }

    function test_RevertWhen_ParamsChangedOutsideGovernance() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        governed.setProtocolFeeBps(300);
    }
}
