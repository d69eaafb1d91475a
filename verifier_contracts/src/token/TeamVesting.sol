// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {VestingWallet} from "@openzeppelin/contracts/finance/VestingWallet.sol";

/// @title TeamVesting
/// @notice Linear vesting of the team's NGX allocation (OpenZeppelin VestingWallet, no changes).
/// @dev Deploy before NGXToken and pass its address as `teamVesting`. Anyone may call `release(token)`;
///      vested tokens go to the beneficiary (the wallet's owner).
contract TeamVesting is VestingWallet {
    /// @param beneficiary Receives vested tokens.
    /// @param startTimestamp Vesting start (unix seconds).
    /// @param durationSeconds Linear vesting length, e.g. 4 years.
    constructor(address beneficiary, uint64 startTimestamp, uint64 durationSeconds)
        VestingWallet(beneficiary, startTimestamp, durationSeconds)
    {}
}
