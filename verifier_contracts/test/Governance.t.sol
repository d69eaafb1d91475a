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
    uint256 internal constant THRESHOLD = 10_000 ether;

    function setUp() public override {
        super.setUp();
        address[] memory none = new address[](0);
        address[] memory anyone = new address[](1);
        timelock = new NGXTimelock(1 days, none, anyone, address(this));
        governor = new NGXGovernor(token, timelock, 1, 50, THRESHOLD, 4);
        timelock.grantRole(timelock.PROPOSER_ROLE(), address(governor));
        timelock.grantRole(timelock.CANCELLER_ROLE(), address(governor));
        timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), address(this));
        governed = new ProtocolConfig(address(timelock), treasury, guardian, address(0));
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

    function test_RevertWhen_ProposalThresholdZero() public {
        vm.expectRevert(NGXGovernor.NGXGovernor__ZeroProposalThreshold.selector);
        new NGXGovernor(token, timelock, 1, 50, 0, 4);
        assertEq(governor.proposalThreshold(), THRESHOLD);
    }

    function test_RevertWhen_ProposerBelowThreshold() public {
        address small = makeAddr("smallHolder");
        vm.prank(treasury);
        token.transfer(small, THRESHOLD - 1);
        vm.prank(small);
        token.delegate(small);
        vm.roll(block.number + 1);
        address[] memory targets = new address[](1);
        targets[0] = address(governed);
        bytes[] memory calldatas = new bytes[](1);
        calldatas[0] = abi.encodeCall(ProtocolConfig.setProtocolFeeBps, (0));
        vm.expectRevert(
            abi.encodeWithSelector(IGovernor.GovernorInsufficientProposerVotes.selector, small, THRESHOLD - 1, THRESHOLD)
        );
        vm.prank(small);
        governor.propose(targets, new uint256[](1), calldatas, "zero the fee");
    }

    /// A passed proposal cannot lower the threshold to zero either (GovernorSettings.setProposalThreshold).
    function test_RevertWhen_ThresholdSetToZeroByGovernance() public {
        address[] memory targets = new address[](1);
        uint256[] memory values = new uint256[](1);
        bytes[] memory calldatas = new bytes[](1);
        targets[0] = address(governor);
        calldatas[0] = abi.encodeCall(governor.setProposalThreshold, (0));
        string memory description = "Let anyone propose";
        vm.prank(treasury);
        uint256 id = governor.propose(targets, values, calldatas, description);
        vm.roll(block.number + governor.votingDelay() + 1);
        vm.prank(treasury);
        governor.castVote(id, 1);
        vm.roll(block.number + governor.votingPeriod() + 1);
        bytes32 descHash = keccak256(bytes(description));
        governor.queue(targets, values, calldatas, descHash);
        vm.warp(block.timestamp + 1 days);
        vm.expectRevert(NGXGovernor.NGXGovernor__ZeroProposalThreshold.selector);
        governor.execute(targets, values, calldatas, descHash);
        assertEq(governor.proposalThreshold(), THRESHOLD, "unchanged");
    }
}
