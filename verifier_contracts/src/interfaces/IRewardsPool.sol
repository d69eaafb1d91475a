// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IRewardsPool
/// @notice Holds the provider-rewards share of NGX and grants a decaying reward per verified job, which the
///         provider pulls (`JobMarket.withdraw` claims it along with the market's credits, or `claim`).
/// @dev Emission schedule: reward per job in epoch e = initialReward >> e (halves every `epochDuration`
///      seconds from `genesis`). A job's reward is further capped by `fee * REWARD_FEE_BPS / 10000` (strictly
///      below the protocol fee the job paid, so self-dealing jobs to farm rewards lose money), by the pool's
///      balance, and by what is left of the provider's per-epoch cap. Only JobMarket may request a reward.
interface IRewardsPool {
    /// @notice A verified job earned `provider` this reward (owed until claimed; see `RewardsClaimed`).
    event RewardPaid(address indexed provider, uint256 amount, uint256 epoch);
    /// @notice `provider`'s owed rewards were transferred to it.
    event RewardsClaimed(address indexed provider, uint256 amount);
    event Initialized(address indexed token, address indexed market);

    error RewardsPool__AlreadyInitialized();
    error RewardsPool__NotDeployer(address caller);
    error RewardsPool__ZeroAddress();
    error RewardsPool__NotMarket(address caller);
    error RewardsPool__InvalidSchedule(uint256 initialReward, uint256 epochDuration);
    error RewardsPool__ZeroCap();
    error RewardsPool__NothingToClaim(address provider);

    /// @notice One-time wiring by the deployer: the NGX token and the JobMarket allowed to request rewards. The
    ///         pool's NGX balance at this moment is what it can grant (see `sync` for later deposits).
    function initialize(address token, address market) external;
    /// @notice Grant `provider` the reward for a verified job that paid protocol fee `fee`:
    ///         `min(scheduled reward, fee * REWARD_FEE_BPS / 10000, balance not yet owed, cap left this epoch)`.
    ///         Only JobMarket. The reward is owed to the provider until claimed (pull payment).
    /// @return paid What was granted (0 when nothing is due; never reverts for an empty pool).
    function reward(address provider, uint256 fee) external returns (uint256 paid);
    /// @notice Market only: `reward(provider, fees[i])` for each job of a batch settlement, in order; returns each
    ///         job's grant. One RewardPaid event for the total.
    function rewardMany(address provider, uint256[] calldata fees) external returns (uint256[] memory paid);
    /// @notice Count NGX sent to the pool after `initialize` (or since the last sync) as grantable; anyone may
    ///         call it. Returns what the pool can grant now. Grants never read the token balance (a settlement
    ///         costs one write here), so deposits wait for this.
    function sync() external returns (uint256);
    /// @notice Transfer the caller's owed rewards to it. Reverts when nothing is owed.
    function claim() external returns (uint256 amount);
    /// @notice JobMarket's `withdraw` transfers `provider`'s owed rewards to it (0 when nothing is owed).
    function claimFor(address provider) external returns (uint256 amount);
    /// @notice Rewards granted to `provider` and not yet claimed.
    function owedTo(address provider) external view returns (uint256);
    /// @notice Rewards granted and not yet claimed, over all providers (the pool keeps this much NGX back).
    function totalOwed() external view returns (uint256);

    function currentEpoch() external view returns (uint256);
    /// @notice The uncapped per-job reward of `epoch`.
    function rewardForEpoch(uint256 epoch) external view returns (uint256);
    /// @notice The scheduled per-job reward now, capped by the balance not yet owed (before the fee and provider
    ///         caps).
    function currentReward() external view returns (uint256);
    /// @notice What `reward(provider, fee)` would grant now.
    function rewardFor(address provider, uint256 fee) external view returns (uint256);
    /// @notice Most NGX one provider can receive in one epoch.
    function providerCapPerEpoch() external view returns (uint256);
    /// @notice NGX granted to `provider` in the current epoch.
    function rewardedThisEpoch(address provider) external view returns (uint256);
    function genesis() external view returns (uint256);
    function epochDuration() external view returns (uint256);
    function initialReward() external view returns (uint256);
}
