// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IProtocolConfig
/// @notice Protocol parameters of the NeuroGrid market, owned by the governance timelock.
/// @dev Every parameter setter is `onlyOwner` (the TimelockController behind NGXGovernor) and bounded, so a
///      captured governance cannot set a value that breaks the market (zero slash, 1-wei jobs, ...). The
///      config keeps one safety invariant on every change: `maxClaimWindow + maxProveWindow + challengeWindow +
///      answerWindow < unbondingDelay`,
///      so a provider can never withdraw stake that a live job may still need to slash.
///      It also holds the verifier allow-list: runtime code hashes of verifiers whose proofs are worth
///      emission rewards and reputation (EZKL verifiers rendered from a known template and key). The owner
///      or the verifier curator maintains it.
interface IProtocolConfig {
    /// @notice A numeric parameter changed. `name` is the parameter's getter name, e.g. "protocolFeeBps".
    event ParameterChanged(bytes32 indexed name, uint256 oldValue, uint256 newValue);
    /// @notice The fee recipient changed.
    event TreasuryChanged(address indexed oldTreasury, address indexed newTreasury);
    /// @notice The guardian (who may pause the market and pause models) changed.
    event GuardianChanged(address indexed oldGuardian, address indexed newGuardian);
    /// @notice The verifier curator (who may edit the allow-list besides the owner) changed.
    event VerifierCuratorChanged(address indexed oldCurator, address indexed newCurator);
    /// @notice A verifier runtime code hash was added to (`allowed`) or removed from the allow-list.
    event VerifierCodeAllowed(bytes32 indexed codeHash, bool allowed);

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
    /// @notice `value` of parameter `name` is outside `[min, max]`.
    error ProtocolConfig__OutOfBounds(bytes32 name, uint256 value, uint256 min, uint256 max);
    /// @notice Collateral tier bps must not increase with reputation: `lowBps >= midBps >= highBps`.
    error ProtocolConfig__TierBpsNotMonotonic(uint16 highBps, uint16 midBps, uint16 lowBps);
    /// @notice Only the owner or the verifier curator may edit the verifier allow-list.
    error ProtocolConfig__NotCurator(address caller);

    /// @notice Protocol fee on each settled job, in basis points of the price (max 1000 = 10 %).
    function protocolFeeBps() external view returns (uint16);
    /// @notice Share of a late provider's locked collateral that is slashed on expiry, in bps (1000..10000).
    function slashBps() external view returns (uint16);
    /// @notice Share of a slashed amount that is burned, in bps; the rest goes to the treasury (never to the
    ///         consumer, who could otherwise profit from making a provider miss).
    function slashBurnBps() external view returns (uint16);
    /// @notice Smallest job price (default 0.1 NGX; bounds 1 wei .. 1000 NGX). Makes wash trading cost fees.
    function minJobPrice() external view returns (uint256);
    /// @notice Share of the collateral slashed for a costly decline, in bps (default 1000; bounds 100..5000).
    function declineSlashBps() external view returns (uint16);
    /// @notice Free declines every provider has (lifetime; default 3; bounds 0..20).
    function freeDeclineBase() external view returns (uint8);
    /// @notice Extra free declines per weighted completion, in bps (default 1000 = one per ten; bounds 0..2000).
    function freeDeclinePerCompletedBps() external view returns (uint16);
    /// @notice May edit the verifier allow-list besides the owner (zero: nobody but the owner).
    function verifierCurator() external view returns (address);
    /// @notice Whether a verifier whose runtime code hashes to `codeHash` earns rewards and reputation, and
    ///         whether missing a job judged by it can be slashed.
    function isVerifierCodeAllowed(bytes32 codeHash) external view returns (bool);
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
    /// @notice What `postJob` checks, in one call from one storage slot: the minimum price and the window bounds.
    function postTerms()
        external
        view
        returns (uint256 minJobPrice, uint32 minClaim, uint32 maxClaim, uint32 minProve, uint32 maxProve);
    /// @notice What `claimJob` checks, in one call from one storage slot: the minimum stake and the collateral
    ///         (`collateralFor(price, nrs)`).
    function claimTerms(uint256 price, uint256 nrs) external view returns (uint256 minStake, uint256 collateral);
    /// @notice What `submitResult` needs, in one call: whether `codeHash` is allow-listed, the protocol fee (bps)
    ///         and the treasury (fee and treasury share a storage slot).
    function settlementTerms(bytes32 codeHash) external view returns (bool allowed, uint256 feeBps, address treasury);
    /// @notice Optimistic settlement (issue #24), one storage slot: seconds a batch of results can be challenged
    ///         (default 1 hour; 60 s .. 7 days), seconds a provider has to answer a challenge with its proof
    ///         (default 1 hour; 60 s .. 7 days), the NGX bond a challenger escrows (default 10 NGX; 1 .. 10,000 NGX;
    ///         it should cover the gas of an answer, which it pays the provider when the result was valid), and the
    ///         challenger's share of an upheld challenge's slash in bps (default 5,000; capped at the slash minus
    ///         its burn share).
    function optimisticTerms()
        external
        view
        returns (uint32 challengeWindow, uint32 answerWindow, uint96 challengeBond, uint16 challengerRewardBps);
    /// @notice What an upheld challenge needs, in one call: slashBps, slashBurnBps and the treasury.
    function slashTerms() external view returns (uint16 slashBps, uint16 slashBurnBps, address treasury);
    /// @notice The collateral tier table: thresholds and bps per tier.
    function collateralTiers()
        external
        view
        returns (uint8 highThreshold, uint8 midThreshold, uint16 highBps, uint16 midBps, uint16 lowBps);

    /// @notice Bounds: 0..1000 bps.
    function setProtocolFeeBps(uint16 bps) external;
    /// @notice Bounds: slashBps 1000..10000 (a slash must hurt), slashBurnBps 0..10000.
    function setSlashParams(uint16 slashBps_, uint16 slashBurnBps_) external;
    /// @notice Bounds: each minimum >= 1 and <= its maximum; `maxClaim + maxProve < unbondingDelay`.
    function setWindowBounds(uint32 minClaim, uint32 maxClaim, uint32 minProve, uint32 maxProve) external;
    /// @notice Bounds: 1 NGX .. 10,000,000 NGX.
    function setMinStake(uint256 amount) external;
    /// @notice Bounds: above `maxClaimWindow + maxProveWindow + challengeWindow + answerWindow`, at most `MAX_UNBONDING_DELAY` (60 days).
    function setUnbondingDelay(uint32 delay) external;
    /// @notice Bounds: thresholds 1..100 with `mid < high`; each bps 1000..30000 with `low >= mid >= high`.
    function setCollateralTiers(uint8 highThreshold, uint8 midThreshold, uint16 highBps, uint16 midBps, uint16 lowBps)
        external;
    /// @notice Bounds: 1 wei .. 1000 NGX.
    function setMinJobPrice(uint256 amount) external;
    /// @notice Bounds: 100..5000 bps.
    function setDeclineSlashBps(uint16 bps) external;
    /// @notice Bounds: base 0..20, perCompletedBps 0..2000.
    function setFreeDeclines(uint8 base, uint16 perCompletedBps) external;
    /// @notice Bounds: each 60 s .. 7 days; `maxClaim + maxProve + challengeWindow + answerWindow < unbondingDelay`.
    function setChallengeWindows(uint32 challengeWindow, uint32 answerWindow) external;
    /// @notice Bounds: 1 .. 10,000 NGX.
    function setChallengeBond(uint256 amount) external;
    /// @notice Bounds: 0 .. 10,000 bps (the reward is capped at the slash minus its burn share when paid).
    function setChallengerRewardBps(uint16 bps) external;
    function setTreasury(address treasury_) external;
    function setGuardian(address guardian_) external;
    /// @notice Owner only; zero removes the curator.
    function setVerifierCurator(address curator_) external;
    /// @notice Owner or curator: allow or disallow a verifier runtime code hash.
    function setVerifierCodeAllowed(bytes32 codeHash, bool allowed) external;
}
