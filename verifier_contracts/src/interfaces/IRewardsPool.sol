// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IRewardsPool
/// @notice Holds the provider-rewards share of NGX and pays a decaying reward per verified job.
/// @dev Emission schedule: reward per job in epoch e = initialReward >> e (halves every `epochDuration`
///      seconds from `genesis`). A job's reward is further capped by `fee * REWARD_FEE_BPS / 10000` (strictly
///      below the protocol fee the job paid, so self-dealing jobs to farm rewards lose money), by the pool's
///      balance, and by what is left of the provider's per-epoch cap. Only JobMarket may request a reward.
interface IRewardsPool {
    event RewardPaid(address indexed provider, uint256 amount, uint256 epoch);
    event Initialized(address indexed token, address indexed market);

    error RewardsPool__AlreadyInitialized();
    error RewardsPool__NotDeployer(address caller);
    error RewardsPool__ZeroAddress();
    error RewardsPool__NotMarket(address caller);
    error RewardsPool__InvalidSchedule(uint256 initialReward, uint256 epochDuration);
    error RewardsPool__ZeroCap();

    /// @notice One-time wiring by the deployer: the NGX token and the JobMarket allowed to request rewards.
    function initialize(address token, address market) external;
    /// @notice Pay `provider` the reward for a verified job that paid protocol fee `fee`:
    ///         `min(scheduled reward, fee * REWARD_FEE_BPS / 10000, balance, cap left this epoch)`.
    /// @return paid What was transferred (0 when nothing is due; never reverts for an empty pool).
    function reward(address provider, uint256 fee) external returns (uint256 paid);

    function currentEpoch() external view returns (uint256);
    /// @notice The uncapped per-job reward of `epoch`.
    function rewardForEpoch(uint256 epoch) external view returns (uint256);
    /// @notice The scheduled per-job reward now, capped by the balance (before the fee and provider caps).
    function currentReward() external view returns (uint256);
    /// @notice What `reward(provider, fee)` would pay now.
    function rewardFor(address provider, uint256 fee) external view returns (uint256);
    /// @notice Most NGX one provider can receive in one epoch.
    function providerCapPerEpoch() external view returns (uint256);
    /// @notice NGX paid to `provider` in the current epoch.
    function rewardedThisEpoch(address provider) external view returns (uint256);
    function genesis() external view returns (uint256);
    function epochDuration() external view returns (uint256);
    function initialReward() external view returns (uint256);
}
