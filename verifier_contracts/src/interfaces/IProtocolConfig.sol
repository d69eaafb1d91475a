// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IProtocolConfig
/// @notice Protocol parameters of the NeuroGrid market, owned by the governance timelock.
/// @dev Every setter is `onlyOwner` (the TimelockController behind NGXGovernor). The config keeps one
///      safety invariant on every change: `maxClaimWindow + maxProveWindow < unbondingDelay`, so a provider
///      can never withdraw stake that a live job may still need to slash.
interface IProtocolConfig {
    /// @notice A numeric parameter changed. `name` is the parameter's getter name, e.g. "protocolFeeBps".
    event ParameterChanged(bytes32 indexed name, uint256 oldValue, uint256 newValue);
    /// @notice The fee recipient changed.
    event TreasuryChanged(address indexed oldTreasury, address indexed newTreasury);
    /// @notice The guardian (who may pause the market and pause models) changed.
    event GuardianChanged(address indexed oldGuardian, address indexed newGuardian);

    /// @notice A basis-point value is above its ceiling.
    error ProtocolConfig__BpsTooHigh(bytes32 name, uint256 value, uint256 max);
    /// @notice A window bound pair is inverted or zero.
    error ProtocolConfig__InvalidWindowBounds(uint256 minWindow, uint256 maxWindow);
    /// @notice The longest job (claim + prove window) would not end before stake can be withdrawn.
    error ProtocolConfig__UnbondingTooShort(uint256 unbondingDelay, uint256 longestJob);
    /// @notice Collateral tiers must have strictly decreasing NRS thresholds, each at most 100.
    error ProtocolConfig__InvalidTiers(uint8 highThreshold, uint8 midThreshold);
    /// @notice The zero address was given where an account is required.
    error ProtocolConfig__ZeroAddress();

    /// @notice Protocol fee on each settled job, in basis points of the price (max 1000 = 10 %).
    function protocolFeeBps() external view returns (uint16);
    /// @notice Share of a late provider's locked collateral that is slashed on expiry, in bps (max 10000).
    function slashBps() external view returns (uint16);
    /// @notice Share of a slashed amount that is burned, in bps; the rest goes to the consumer.
    function slashBurnBps() external view returns (uint16);
    /// @notice Bounds on a job's claim window, in seconds.
    function minClaimWindow() external view returns (uint32);
    function maxClaimWindow() external view returns (uint32);
    /// @notice Bounds on a job's prove window (claim -> proof on chain), in seconds.
    function minProveWindow() external view returns (uint32);
    function maxProveWindow() external view returns (uint32);
    /// @notice All four window bounds in one call (they share a storage slot).
    function windowBounds() external view returns (uint32 minClaim, uint32 maxClaim, uint32 minProve, uint32 maxProve);
    /// @notice Minimum NGX a provider must keep staked to claim jobs.
    function minStake() external view returns (uint256);
    /// @notice Seconds between `requestUnstake` and `withdraw` in ProviderStaking.
    function unbondingDelay() external view returns (uint32);
    /// @notice Receives protocol fees (credited in JobMarket, withdrawn by pull).
    function treasury() external view returns (address);
    /// @notice May pause/unpause JobMarket and individual models in ModelRegistry.
    function guardian() external view returns (address);

    /// @notice Collateral a provider with reputation `nrs` (0-100) locks to claim a job of `price`.
    /// @dev Tiers: nrs >= highThreshold -> highBps, nrs >= midThreshold -> midBps, else lowBps of price.
    function collateralFor(uint256 price, uint256 nrs) external view returns (uint256);
    /// @notice The collateral tier table: thresholds and bps per tier.
    function collateralTiers()
        external
        view
        returns (uint8 highThreshold, uint8 midThreshold, uint16 highBps, uint16 midBps, uint16 lowBps);

    function setProtocolFeeBps(uint16 bps) external;
    function setSlashParams(uint16 slashBps_, uint16 slashBurnBps_) external;
    function setWindowBounds(uint32 minClaim, uint32 maxClaim, uint32 minProve, uint32 maxProve) external;
    function setMinStake(uint256 amount) external;
    function setUnbondingDelay(uint32 delay) external;
    function setCollateralTiers(uint8 highThreshold, uint8 midThreshold, uint16 highBps, uint16 midBps, uint16 lowBps)
        external;
    function setTreasury(address treasury_) external;
    function setGuardian(address guardian_) external;
}
