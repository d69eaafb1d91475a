// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IRewardsPool} from "./interfaces/IRewardsPool.sol";

/// @title RewardsPool
/// @notice Holds the provider-rewards allocation of NGX (minted to it by NGXToken at deployment) and
///         pays one emission reward per verified job, halving every epoch, capped by the job's fee, its
///         balance and a per-provider allowance per epoch.
contract RewardsPool is IRewardsPool {
    using SafeERC20 for IERC20;

    /// @notice A reward never exceeds this share of the job's protocol fee (80 %).
    uint256 public constant REWARD_FEE_BPS = 8_000;
    uint256 internal constant BPS = 10_000;

    /// @dev Rewards of one provider in one epoch, packed in a slot.
    struct Tally {
        uint64 epoch;
        uint192 paid;
    }

    address private immutable _deployer;
    uint256 private immutable _genesis;
    uint256 private immutable _epochDuration;
    uint256 private immutable _initialReward;
    uint256 private immutable _providerCapPerEpoch;
    IERC20 private _token;
    address private _market;
    mapping(address provider => Tally) private _tallies;

    /// @param initialReward_ NGX paid per verified job in epoch 0.
    /// @param epochDuration_ Seconds per epoch; the reward halves at each epoch boundary.
    /// @param providerCapPerEpoch_ Most NGX one provider can receive per epoch.
    constructor(uint256 initialReward_, uint256 epochDuration_, uint256 providerCapPerEpoch_) {
        if (initialReward_ == 0 || epochDuration_ == 0) {
            revert RewardsPool__InvalidSchedule(initialReward_, epochDuration_);
        }
        if (providerCapPerEpoch_ == 0) revert RewardsPool__ZeroCap();
        _deployer = msg.sender;
        _genesis = block.timestamp;
        _epochDuration = epochDuration_;
        _initialReward = initialReward_;
        _providerCapPerEpoch = providerCapPerEpoch_;
    }

    /// @inheritdoc IRewardsPool
    function initialize(address token_, address market_) external {
        if (msg.sender != _deployer) revert RewardsPool__NotDeployer(msg.sender);
        if (_market != address(0)) revert RewardsPool__AlreadyInitialized();
        if (token_ == address(0) || market_ == address(0)) revert RewardsPool__ZeroAddress();
        _token = IERC20(token_);
        _market = market_;
        emit Initialized(token_, market_);
    }

    /// @inheritdoc IRewardsPool
    /// @dev Never reverts for an empty pool (settlement must not depend on rewards): it pays 0 instead.
    function reward(address provider, uint256 fee) external returns (uint256 paid) {
        if (msg.sender != _market || msg.sender == address(0)) revert RewardsPool__NotMarket(msg.sender);
        paid = rewardFor(provider, fee);
        if (paid == 0) return 0;
        uint256 epoch = currentEpoch();
        Tally storage t = _tallies[provider];
        uint256 already = t.epoch == epoch ? t.paid : 0;
        (t.epoch, t.paid) = (uint64(epoch), uint192(already + paid));
        emit RewardPaid(provider, paid, epoch);
        _token.safeTransfer(provider, paid);
    }

    /// @inheritdoc IRewardsPool
    function rewardFor(address provider, uint256 fee) public view returns (uint256 amount) {
        amount = currentReward();
        uint256 byFee = fee * REWARD_FEE_BPS / BPS;
        if (byFee < amount) amount = byFee;
        uint256 capLeft = _providerCapPerEpoch - rewardedThisEpoch(provider);
        if (capLeft < amount) amount = capLeft;
    }

    /// @inheritdoc IRewardsPool
    function providerCapPerEpoch() external view returns (uint256) {
        return _providerCapPerEpoch;
    }

    /// @inheritdoc IRewardsPool
    function rewardedThisEpoch(address provider) public view returns (uint256) {
        Tally memory t = _tallies[provider];
        return t.epoch == currentEpoch() ? t.paid : 0;
    }

    /// @inheritdoc IRewardsPool
    function currentEpoch() public view returns (uint256) {
        return (block.timestamp - _genesis) / _epochDuration;
    }

    /// @inheritdoc IRewardsPool
    function rewardForEpoch(uint256 epoch) public view returns (uint256) {
        return epoch >= 256 ? 0 : _initialReward >> epoch;
    }

    /// @inheritdoc IRewardsPool
    function currentReward() public view returns (uint256) {
        if (address(_token) == address(0)) return 0;
        uint256 scheduled = rewardForEpoch(currentEpoch());
        uint256 balance = _token.balanceOf(address(this));
        return scheduled < balance ? scheduled : balance;
    }

    /// @inheritdoc IRewardsPool
    function genesis() external view returns (uint256) {
        return _genesis;
    }

    /// @inheritdoc IRewardsPool
    function epochDuration() external view returns (uint256) {
        return _epochDuration;
    }

    /// @inheritdoc IRewardsPool
    function initialReward() external view returns (uint256) {
        return _initialReward;
    }

    /// @notice The JobMarket allowed to request rewards.
    function market() external view returns (address) {
        return _market;
    }

    /// @notice The reward token (NGX).
    function token() external view returns (IERC20) {
        return _token;
    }
}
