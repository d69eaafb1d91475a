// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IRewardsPool
/// @notice Holds the provider-rewards share of NGX and pays a decaying reward per verified job.
/// @dev Emission schedule: reward per job in epoch e = initialReward >> e (halves every `epochDuration`
///      seconds from `genesis`), capped by the pool's balance; once the pool is empty rewards are 0.
///      Only JobMarket may request a reward.
interface IRewardsPool {
    event RewardPaid(address indexed provider, uint256 amount, uint256 epoch);
    event Initialized(address indexed token, address indexed market);

    error RewardsPool__AlreadyInitialized();
    error RewardsPool__NotDeployer(address caller);
    error RewardsPool__ZeroAddress();
    error RewardsPool__NotMarket(address caller);
    error RewardsPool__InvalidSchedule(uint256 initialReward, uint256 epochDuration);

    /// @notice One-time wiring by the deployer: the NGX token and the JobMarket allowed to request rewards.
    function initialize(address token, address market) external;
    /// @notice Pay the current per-job reward (capped by the balance) to `provider`; returns what was paid.
    function reward(address provider) external returns (uint256 paid);

    function currentEpoch() external view returns (uint256);
    /// @notice The uncapped per-job reward of `epoch`.
    function rewardForEpoch(uint256 epoch) external view returns (uint256);
    /// @notice What `reward` would pay now.
    function currentReward() external view returns (uint256);
    function genesis() external view returns (uint256);
    function epochDuration() external view returns (uint256);
    function initialReward() external view returns (uint256);
}
