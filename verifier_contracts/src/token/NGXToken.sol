// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title NGXToken
/// @notice The NeuroGrid token: payment for jobs, provider stake, emission rewards and governance votes.
/// @dev Fixed supply of 1,000,000,000 NGX minted once, in the constructor, as:
///      - 30 % treasury        (protocol treasury, governed by the timelock)
///      - 40 % rewards pool    (RewardsPool: per-job provider emissions, halving each epoch)
///      - 15 % ecosystem       (grants, liquidity, partnerships)
///      - 15 % team vesting    (an OpenZeppelin VestingWallet, see TeamVesting)
///      No mint function exists after deployment; slashing burns (ERC20Burnable). Votes use block numbers
///      (OpenZeppelin default clock); holders must `delegate` (to themselves) to vote.
contract NGXToken is ERC20, ERC20Burnable, ERC20Permit, ERC20Votes {
    uint256 public constant TOTAL_SUPPLY = 1_000_000_000 ether;
    uint256 public constant TREASURY_SHARE_BPS = 3_000;
    uint256 public constant REWARDS_SHARE_BPS = 4_000;
    uint256 public constant ECOSYSTEM_SHARE_BPS = 1_500;
    uint256 public constant TEAM_SHARE_BPS = 1_500;

    error NGXToken__ZeroAddress();

    constructor(address treasury, address rewardsPool, address ecosystem, address teamVesting)
        ERC20("NeuroGrid", "NGX")
        ERC20Permit("NeuroGrid")
    {
        if (treasury == address(0) || rewardsPool == address(0) || ecosystem == address(0) || teamVesting == address(0))
        {
            revert NGXToken__ZeroAddress();
        }
        uint256 toRewards = TOTAL_SUPPLY * REWARDS_SHARE_BPS / 10_000;
        uint256 toEcosystem = TOTAL_SUPPLY * ECOSYSTEM_SHARE_BPS / 10_000;
        uint256 toTeam = TOTAL_SUPPLY * TEAM_SHARE_BPS / 10_000;
        _mint(rewardsPool, toRewards);
        _mint(ecosystem, toEcosystem);
        _mint(teamVesting, toTeam);
        _mint(treasury, TOTAL_SUPPLY - toRewards - toEcosystem - toTeam);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
