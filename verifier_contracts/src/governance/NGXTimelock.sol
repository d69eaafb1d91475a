// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title NGXTimelock
/// @notice The TimelockController that owns ProtocolConfig; NGXGovernor is its proposer and canceller.
/// @dev Deploy with `proposers = []`, `executors = [address(0)]` (anyone executes a ready operation) and
///      `admin = deployer`; after granting PROPOSER_ROLE and CANCELLER_ROLE to the governor, the deployer
///      renounces DEFAULT_ADMIN_ROLE so only governance can change roles.
contract NGXTimelock is TimelockController {
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
