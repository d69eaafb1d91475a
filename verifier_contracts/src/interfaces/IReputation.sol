// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IReputation
/// @notice The NeuroGrid Reputation Score (NRS), 0-100, computed on read from facts JobMarket records.
/// @dev NRS = (40 P + 30 R + 20 L + 10 S) / 100, each component 0-100:
///      - Performance P: 100 - 50 * (average share of the prove window used by completed jobs).
///      - Reliability R: completed / (completed + missed).
///      - Longevity L:   provider age since staking registration, linear up to 100 at 180 days.
///      - Peer rating S: average consumer rating (1..5) mapped to 0..100 as (r - 1) * 25.
///      Prior for new providers: P, R and S are Bayesian averages with PRIOR_WEIGHT = 2 pseudo-observations
///      of value PRIOR_SCORE = 50; L starts at 0. A brand-new provider therefore scores
///      0.4*50 + 0.3*50 + 0.2*0 + 0.1*50 = 40.
interface IReputation {
    struct Facts {
        uint32 completed; // jobs settled with a valid proof
        uint32 missed; // claimed jobs that expired without a proof
        uint32 ratingCount;
        uint32 ratingSum; // sum of ratings 1..5
        uint64 windowUsedBpsSum; // sum over completed jobs of elapsed/proveWindow in bps (0..10000)
    }

    event CompletionRecorded(address indexed provider, uint256 elapsed, uint256 proveWindow);
    event MissRecorded(address indexed provider);
    event RatingRecorded(address indexed provider, uint8 rating);

    error Reputation__InvalidRating(uint8 rating);

    /// @notice JobMarket records a settled job and how long the proof took.
    function recordCompletion(address provider, uint256 elapsed, uint256 proveWindow) external;
    /// @notice JobMarket records a claimed job that expired.
    function recordMiss(address provider) external;
    /// @notice JobMarket records a consumer's rating (1..5) of a settled job.
    function recordRating(address provider, uint8 rating) external;

    /// @notice The NRS of `provider`, 0-100 (integer, rounded down).
    function nrs(address provider) external view returns (uint256);
    /// @notice The four NRS components, each 0-100.
    function components(address provider)
        external
        view
        returns (uint256 performance, uint256 reliability, uint256 longevity, uint256 peerRating);
    function factsOf(address provider) external view returns (Facts memory);
}
