// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IProviderStaking
/// @notice Provider registration, NGX stake, unbonding, and per-job collateral locked by JobMarket.
/// @dev Invariant: `locked <= staked` for every provider. Unstaking moves only unlocked stake into an
///      unbonding bucket that can be withdrawn `unbondingDelay` seconds later (longer than any job).
interface IProviderStaking {
    struct Provider {
        uint128 staked; // active stake, including the locked part
        uint128 locked; // collateral locked by claimed jobs
        uint128 unbonding; // requested to unstake, not yet withdrawn
        uint40 unbondingReleaseAt; // when `unbonding` becomes withdrawable
        uint40 registeredAt; // stake age origin for the Longevity component of NRS
        bool registered;
        bytes encryptionPubKey; // consumers encrypt job inputs to this key (JobMarket.deliverInput)
        string endpointURI; // where consumers send encrypted inputs (later issues)
    }

    event ProviderRegistered(address indexed provider, bytes encryptionPubKey, string endpointURI);
    event ProviderProfileUpdated(address indexed provider, bytes encryptionPubKey, string endpointURI);
    event Staked(address indexed provider, uint256 amount, uint256 totalStaked);
    event UnstakeRequested(address indexed provider, uint256 amount, uint256 releaseAt);
    event Withdrawn(address indexed provider, uint256 amount);
    event CollateralLocked(address indexed provider, uint256 amount, uint256 totalLocked);
    event CollateralUnlocked(address indexed provider, uint256 amount, uint256 totalLocked);
    event Slashed(address indexed provider, uint256 amount, uint256 burned, address indexed recipient);

    error ProviderStaking__NotRegistered(address provider);
    error ProviderStaking__AlreadyRegistered(address provider);
    error ProviderStaking__ZeroAmount();
    error ProviderStaking__EmptyPubKey();
    /// @notice Asked to unstake or lock more than the free (staked - locked) amount.
    error ProviderStaking__InsufficientFreeStake(address provider, uint256 requested, uint256 free);
    error ProviderStaking__NothingToWithdraw(address provider);
    error ProviderStaking__StillUnbonding(address provider, uint256 releaseAt);
    error ProviderStaking__UnlockExceedsLocked(address provider, uint256 amount, uint256 locked);
    error ProviderStaking__InvalidSlash(uint256 amount, uint256 burn, uint256 unlock);

    /// @notice Become a provider. Stake separately with `stake`.
    function register(bytes calldata encryptionPubKey, string calldata endpointURI) external;
    function updateProfile(bytes calldata encryptionPubKey, string calldata endpointURI) external;
    /// @notice Add `amount` NGX (transferFrom the caller; approve first) to the caller's stake.
    function stake(uint256 amount) external;
    /// @notice Move `amount` of free stake into unbonding; restarts the unbonding timer for the whole bucket.
    function requestUnstake(uint256 amount) external;
    /// @notice Withdraw the unbonding bucket once its release time has passed.
    function withdraw() external;

    /// @notice JobMarket locks collateral for a claimed job.
    function lockCollateral(address provider, uint256 amount) external;
    /// @notice JobMarket releases collateral after settlement or a decline.
    function unlockCollateral(address provider, uint256 amount) external;
    /// @notice JobMarket releases `unlockAmount` of a job's collateral and slashes `slashAmount` of it (a miss
    ///         or a costly decline): `burnAmount` is burned, the rest is transferred to `recipient` (JobMarket
    ///         passes the treasury; never the consumer).
    function slash(address provider, uint256 unlockAmount, uint256 slashAmount, uint256 burnAmount, address recipient)
        external;

    function getProvider(address provider) external view returns (Provider memory);
    /// @notice staked - locked: what can be locked for a new job or unstaked.
    function freeStake(address provider) external view returns (uint256);
    function stakedOf(address provider) external view returns (uint256);
    function registeredAt(address provider) external view returns (uint256);
    function isRegistered(address provider) external view returns (bool);
}
