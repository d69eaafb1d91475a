// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IReputation} from "./interfaces/IReputation.sol";
import {IProviderStaking} from "./interfaces/IProviderStaking.sol";
import {MarketBound} from "./utils/MarketBound.sol";

/// @title Reputation
/// @notice Records per-provider facts (one storage slot each) and computes the NRS on read.
contract Reputation is IReputation, MarketBound {
    /// @notice Weight of the prior, in pseudo-observations, for Performance, Reliability and Peer rating.
    uint256 public constant PRIOR_WEIGHT = 2;
    /// @notice Value (0-100) of each prior pseudo-observation.
    uint256 public constant PRIOR_SCORE = 50;
    /// @notice Provider age at which Longevity reaches 100.
    uint256 public constant LONGEVITY_HORIZON = 180 days;
    uint256 internal constant BPS = 10_000;

    IProviderStaking private immutable _staking;
    mapping(address provider => Facts) private _facts;

    constructor(IProviderStaking staking_) {
        _staking = staking_;
    }

    /// @inheritdoc IReputation
    function recordCompletion(address provider, uint256 elapsed, uint256 proveWindow) external onlyMarket {
        uint256 usedBps = proveWindow == 0 || elapsed >= proveWindow ? BPS : elapsed * BPS / proveWindow;
        Facts storage f = _facts[provider];
        f.completed += 1;
        f.windowUsedBpsSum += uint64(usedBps);
        emit CompletionRecorded(provider, elapsed, proveWindow);
    }

    /// @inheritdoc IReputation
    function recordMiss(address provider) external onlyMarket {
        _facts[provider].missed += 1;
        emit MissRecorded(provider);
    }

    /// @inheritdoc IReputation
    function recordRating(address provider, uint8 rating) external onlyMarket {
        if (rating == 0 || rating > 5) revert Reputation__InvalidRating(rating);
        Facts storage f = _facts[provider];
        f.ratingCount += 1;
        f.ratingSum += rating;
        emit RatingRecorded(provider, rating);
    }

    /// @inheritdoc IReputation
    function nrs(address provider) external view returns (uint256) {
        (uint256 p, uint256 r, uint256 l, uint256 s) = components(provider);
        return (40 * p + 30 * r + 20 * l + 10 * s) / 100;
    }

    /// @inheritdoc IReputation
    function components(address provider)
        public
        view
        returns (uint256 performance, uint256 reliability, uint256 longevity, uint256 peerRating)
    {
        Facts memory f = _facts[provider];
        uint256 prior = PRIOR_WEIGHT * PRIOR_SCORE;
        // Performance: each completed job scores 100 - 50 * windowUsed, i.e. 100*n - 50*sum(bps)/BPS.
        uint256 perfSum = 100 * uint256(f.completed) - 50 * uint256(f.windowUsedBpsSum) / BPS;
        performance = (perfSum + prior) / (f.completed + PRIOR_WEIGHT);
        reliability = (100 * uint256(f.completed) + prior) / (uint256(f.completed) + f.missed + PRIOR_WEIGHT);
        uint256 since = _staking.registeredAt(provider);
        if (since != 0 && block.timestamp > since) {
            uint256 age = block.timestamp - since;
            longevity = age >= LONGEVITY_HORIZON ? 100 : age * 100 / LONGEVITY_HORIZON;
        }
        // A rating r in 1..5 maps to (r - 1) * 25; sum over ratings = 25 * (ratingSum - ratingCount).
        uint256 ratingPoints = 25 * (uint256(f.ratingSum) - f.ratingCount);
        peerRating = (ratingPoints + prior) / (f.ratingCount + PRIOR_WEIGHT);
    }

    /// @inheritdoc IReputation
    function factsOf(address provider) external view returns (Facts memory) {
        return _facts[provider];
    }
}
