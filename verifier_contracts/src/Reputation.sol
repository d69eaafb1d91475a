// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IReputation} from "./interfaces/IReputation.sol";
import {IProviderStaking} from "./interfaces/IProviderStaking.sol";
import {IProtocolConfig} from "./interfaces/IProtocolConfig.sol";
import {IJobMarket} from "./interfaces/IJobMarket.sol";
import {MarketBound} from "./utils/MarketBound.sol";

/// @title Reputation
/// @notice Records per-provider facts (two storage slots) and per-consumer facts (one slot) and computes the NRS
///         on read.
contract Reputation is IReputation, MarketBound {
    /// @notice Weight of the prior, in pseudo-observations, for Performance, Reliability and Peer rating.
    uint256 public constant PRIOR_WEIGHT = 2;
    /// @notice Value (0-100) of each prior pseudo-observation.
    uint256 public constant PRIOR_SCORE = 50;
    /// @notice Provider age at which Longevity reaches 100.
    uint256 public constant LONGEVITY_HORIZON = 180 days;
    /// @notice Protocol fee at or above which a completion has full weight (1000 milli).
    uint256 public constant FULL_WEIGHT_FEE = 0.25 ether;
    /// @notice Provider completion weight (milli) at which its InputInvalid declines weigh fully on the input party.
    uint256 public constant DECLINER_FULL_WEIGHT = 10_000;
    uint256 internal constant MILLI = 1_000;
    uint256 internal constant BPS = 10_000;
    uint8 internal constant REASON_INPUT_MISSING = 1;
    uint8 internal constant REASON_INPUT_INVALID = 2;
    uint8 internal constant FLAG_DELIVERER = 16; // JobMarket.FLAG_DELIVERER
    /// @dev Bit positions in the packed slots that `recordCompletions` reads and writes as one word (Solidity packs
    ///      a struct's members from the lowest bits up, in declaration order): `Record`'s first slot holds
    ///      weightMilli (bits 0-63), windowUsedBpsSum (64-127) and completed (128-159); `ConsumerFacts` holds settled
    ///      (bits 0-31) and settledWeightMilli (160-191). The exactness tests compare every field with the per-job calls.
    uint256 private constant R_USED_SHIFT = 64;
    uint256 private constant R_COMPLETED_SHIFT = 128;
    uint256 private constant R_COMPLETION_MASK = (1 << 160) - 1;
    uint256 private constant CF_WEIGHT_SHIFT = 160;
    uint256 private constant CF_SETTLED_MASK = uint256(type(uint32).max) | uint256(type(uint32).max) << CF_WEIGHT_SHIFT;

    /// @dev `Facts` as stored: what a completion changes shares one slot, so `recordCompletion` writes one
    ///      provider slot; misses, ratings and declines share the other.
    struct Record {
        uint64 weightMilli;
        uint64 windowUsedBpsSum;
        uint32 completed;
        uint32 missed;
        uint32 ratingCount;
        uint32 ratingSum;
        uint32 freeDeclines;
        uint32 costlyDeclines;
    }

    IProviderStaking private immutable _staking;
    IProtocolConfig private immutable _config;
    mapping(address provider => Record) private _facts;
    mapping(address consumer => ConsumerFacts) private _consumers;
    mapping(address provider => mapping(address consumer => uint256)) private _pairCompletions;
    mapping(address provider => mapping(address party => uint256)) private _pairInvalidDeclines;

    constructor(IProviderStaking staking_, IProtocolConfig config_) {
        _staking = staking_;
        _config = config_;
    }

    /// @inheritdoc IReputation
    function recordCompletion(address provider, address consumer, uint256 elapsed, uint256 proveWindow, uint256 fee)
        external
        onlyMarket
    {
        uint256 usedBps = proveWindow == 0 || elapsed >= proveWindow ? BPS : elapsed * BPS / proveWindow;
        uint256 k = _pairCompletions[provider][consumer]++;
        uint256 full = fee >= FULL_WEIGHT_FEE ? MILLI : fee * MILLI / FULL_WEIGHT_FEE;
        uint256 weight = full / (1 + k);
        Record storage f = _facts[provider];
        f.completed += 1;
        f.weightMilli += uint64(weight);
        f.windowUsedBpsSum += uint64(usedBps * weight);
        emit CompletionRecorded(provider, consumer, elapsed, proveWindow, weight);
        ConsumerFacts storage c = _consumers[consumer];
        (c.settled, c.settledWeightMilli) = (c.settled + 1, _add32(c.settledWeightMilli, weight));
    }

    /// @inheritdoc IReputation
    /// @dev The same facts and weights as one `recordCompletion` (or `recordConsumerSettled` for an unrewarded job)
    ///      per entry in order; the rewarded entries are logged once, as sums (a CompletionRecorded per job was 2.3k
    ///      gas of a batch's per-job settlement). The provider's record is written once, with the sums of the rewarded
    ///      entries (checked as the per-entry sums are: an overflow reverts either way), and not at all when none is;
    ///      a pair counter or a consumer's facts slot is paid for (cold read, first write) once per distinct consumer,
    ///      later entries of the same consumer only re-write a slot already written in this call (100 gas each).
    ///      Each slot is read once and written once per entry (see `_recordRewarded`).
    function recordCompletions(address provider, uint256[] calldata done) external onlyMarket {
        uint256 words = done.length;
        if (words % 2 != 0) revert Reputation__InvalidCompletions(words);
        uint256 pairSlot;
        uint256 completed;
        uint256 weightMilli;
        uint256 windowUsed;
        {
            mapping(address => uint256) storage pairOf = _pairCompletions[provider];
            assembly ("memory-safe") {
                pairSlot := pairOf.slot
            }
        }
        uint256 n = words / 2;
        for (uint256 j; j < n; ++j) {
            uint256 w;
            uint256 fee;
            // Entry j's two words, 2j and 2j + 1, without bounds checks: both are below `words` = 2n.
            assembly ("memory-safe") {
                let p := add(done.offset, shl(6, j))
                w := calldataload(p)
                fee := calldataload(add(p, 0x20))
            }
            if (w >> 255 == 0) {
                _recordConsumer(address(uint160(w)), ConsumerFact.Settled);
                continue;
            }
            (uint256 weight, uint256 used) = _recordRewarded(pairSlot, w, fee);
            // No overflow: at most MAX_BATCH entries of a weight at most MILLI and its window use at most MILLI * BPS.
            unchecked {
                ++completed;
                weightMilli += weight;
                windowUsed += used;
            }
        }
        if (completed == 0) return;
        emit CompletionsRecorded(provider, completed, weightMilli, windowUsed);
        Record storage f = _facts[provider];
        uint256 word;
        assembly ("memory-safe") {
            word := sload(f.slot)
        }
        // The three sums in their own types, so checked as `f.completed + ...` (and the others) were.
        uint64 newWeight = uint64(word) + uint64(weightMilli);
        uint64 newUsed = uint64(word >> R_USED_SHIFT) + uint64(windowUsed);
        uint32 newCompleted = uint32(word >> R_COMPLETED_SHIFT) + uint32(completed);
        word = (word & ~R_COMPLETION_MASK) | newWeight | uint256(newUsed) << R_USED_SHIFT;
        word |= uint256(newCompleted) << R_COMPLETED_SHIFT;
        assembly ("memory-safe") {
            sstore(f.slot, word)
        }
    }

    /// @dev One rewarded entry (`w`, `fee`) of `recordCompletions`: its pair counter (in the mapping at `pairSlot`,
    ///      `_pairCompletions[provider]`) and consumer facts; returns its weight and its weighted window use for the
    ///      provider's record (which the caller writes once). Each of the two slots is read once and written once:
    ///      the pair counter's slot is the one Solidity gives `pairOf[consumer]` (keccak256(consumer . pairSlot)), and
    ///      the consumer's facts word is re-packed with only `settled` and `settledWeightMilli` changed.
    function _recordRewarded(uint256 pairSlot, uint256 w, uint256 fee)
        private
        returns (uint256 weight, uint256 usedBps)
    {
        address consumer = address(uint160(w));
        uint256 elapsed = uint32(w >> 160);
        uint256 proveWindow = uint32(w >> 192);
        uint256 next;
        // The key is masked here: Solidity leaves an address's high bits undefined on the stack. `next` is checked as
        // `pairOf[consumer] = k + 1` was: the same Panic(0x11) on overflow.
        assembly ("memory-safe") {
            mstore(0x00, and(w, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(0x20, pairSlot)
            let pair := keccak256(0x00, 0x40)
            let k := sload(pair)
            if eq(k, not(0)) {
                mstore(0x00, shl(224, 0x4e487b71)) // Panic(uint256)
                mstore(0x04, 0x11)
                revert(0x00, 0x24)
            }
            next := add(k, 1)
            sstore(pair, next)
        }
        // No overflow: elapsed and proveWindow are below 2^32, and a weight (at most MILLI) times usedBps (at most
        // BPS) is below 2^24.
        unchecked {
            usedBps = proveWindow == 0 || elapsed >= proveWindow ? BPS : elapsed * BPS / proveWindow;
            uint256 full = fee >= FULL_WEIGHT_FEE ? MILLI : fee * MILLI / FULL_WEIGHT_FEE;
            weight = full / next;
            usedBps *= weight;
        }
        ConsumerFacts storage cf = _consumers[consumer];
        uint256 word;
        assembly ("memory-safe") {
            word := sload(cf.slot)
        }
        uint32 settled = uint32(word) + 1; // checked, as `cf.settled + 1` was
        uint32 settledWeight = _add32(uint32(word >> CF_WEIGHT_SHIFT), weight);
        word = (word & ~CF_SETTLED_MASK) | settled | uint256(settledWeight) << CF_WEIGHT_SHIFT;
        assembly ("memory-safe") {
            sstore(cf.slot, word)
        }
    }

    /// @inheritdoc IReputation
    function recordConsumerSettled(address consumer) external onlyMarket {
        _recordConsumer(consumer, ConsumerFact.Settled);
    }

    /// @inheritdoc IReputation
    function recordConsumerCancelled(address consumer) external onlyMarket {
        _recordConsumer(consumer, ConsumerFact.Cancelled);
    }

    /// @inheritdoc IReputation
    function recordConsumerExpiredUnclaimed(address consumer) external onlyMarket {
        _recordConsumer(consumer, ConsumerFact.ExpiredUnclaimed);
    }

    /// @inheritdoc IReputation
    /// @dev Reads the job back from the market (two view calls, only for reasons 1 and 2): JobMarket passes the id,
    ///      not the parties, so that it stays under EIP-170.
    function recordDecline(address provider, uint256 jobId, uint8 reason, bool free) external onlyMarket {
        Record storage f = _facts[provider];
        if (free) f.freeDeclines += 1;
        else f.costlyDeclines += 1;
        if (reason != REASON_INPUT_MISSING && reason != REASON_INPUT_INVALID) {
            emit DeclineRecorded(provider, jobId, address(0), reason, free, 0);
            return;
        }
        IJobMarket.Job memory job = IJobMarket(market()).getJob(jobId);
        address party =
            job.flags & FLAG_DELIVERER != 0 ? IJobMarket(market()).getJobExtras(jobId).deliverer : job.consumer;
        uint256 harm = MILLI;
        if (reason == REASON_INPUT_INVALID) {
            uint256 history = f.weightMilli;
            harm = history >= DECLINER_FULL_WEIGHT ? MILLI : history * MILLI / DECLINER_FULL_WEIGHT;
            uint256 k = _pairInvalidDeclines[provider][party];
            harm /= 1 + k;
            if (harm != 0) _pairInvalidDeclines[provider][party] = k + 1; // a weightless decline writes nothing
        }
        emit DeclineRecorded(provider, jobId, party, reason, free, harm);
        ConsumerFacts storage c = _consumers[party];
        c.harmMilli = _add32(c.harmMilli, harm);
        _recordConsumer(party, reason == REASON_INPUT_MISSING ? ConsumerFact.InputWithheld : ConsumerFact.InputInvalid);
    }

    /// @inheritdoc IReputation
    function recordMiss(address provider) external onlyMarket {
        _facts[provider].missed += 1;
        emit MissRecorded(provider);
    }

    /// @inheritdoc IReputation
    function recordRating(address provider, uint8 rating) external onlyMarket {
        if (rating == 0 || rating > 5) revert Reputation__InvalidRating(rating);
        Record storage f = _facts[provider];
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
        Record memory f = _facts[provider];
        uint256 prior = PRIOR_WEIGHT * PRIOR_SCORE;
        // In milli-completions: each completion of weight w scores w * (100 - 50 * windowUsed).
        uint256 w = f.weightMilli;
        uint256 perfSum = 100 * w - 50 * uint256(f.windowUsedBpsSum) / BPS;
        performance = (perfSum + prior * MILLI) / (w + PRIOR_WEIGHT * MILLI);
        uint256 failures = uint256(f.missed) + f.costlyDeclines;
        reliability = (100 * w + prior * MILLI) / (w + (failures + PRIOR_WEIGHT) * MILLI);
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
        Record memory r = _facts[provider];
        return Facts({
            completed: r.completed,
            missed: r.missed,
            ratingCount: r.ratingCount,
            ratingSum: r.ratingSum,
            windowUsedBpsSum: r.windowUsedBpsSum,
            freeDeclines: r.freeDeclines,
            costlyDeclines: r.costlyDeclines,
            weightMilli: r.weightMilli
        });
    }

    /// @inheritdoc IReputation
    function freeDeclinesLeft(address provider) external view returns (uint256) {
        Record storage f = _facts[provider];
        uint256 allowance = uint256(_config.freeDeclineBase()) + uint256(f.weightMilli)
            * _config.freeDeclinePerCompletedBps() / (MILLI * BPS);
        uint256 used = f.freeDeclines;
        return allowance > used ? allowance - used : 0;
    }

    /// @inheritdoc IReputation
    function pairCompletions(address provider, address consumer) external view returns (uint256) {
        return _pairCompletions[provider][consumer];
    }

    /// @inheritdoc IReputation
    function consumerFactsOf(address consumer) external view returns (ConsumerFacts memory) {
        return _consumers[consumer];
    }

    /// @inheritdoc IReputation
    function consumerScore(address consumer) external view returns (uint256) {
        ConsumerFacts memory c = _consumers[consumer];
        uint256 prior = PRIOR_WEIGHT * MILLI;
        return (100 * (uint256(c.settledWeightMilli) + prior)) / (uint256(c.settledWeightMilli) + c.harmMilli + prior);
    }

    /// @inheritdoc IReputation
    function pairInvalidDeclines(address provider, address party) external view returns (uint256) {
        return _pairInvalidDeclines[provider][party];
    }

    function _recordConsumer(address consumer, ConsumerFact what) private {
        ConsumerFacts storage c = _consumers[consumer];
        if (what == ConsumerFact.Settled) c.settled += 1;
        else if (what == ConsumerFact.Cancelled) c.cancelled += 1;
        else if (what == ConsumerFact.InputWithheld) c.inputsWithheld += 1;
        else if (what == ConsumerFact.InputInvalid) c.inputsInvalid += 1;
        else c.expiredUnclaimed += 1;
        emit ConsumerRecorded(consumer, uint8(what));
    }

    /// @dev Saturating: a counter at its cap must never make a settlement or a decline revert.
    function _add32(uint32 a, uint256 b) private pure returns (uint32) {
        uint256 sum;
        unchecked {
            sum = uint256(a) + b; // b is a weight, at most MILLI
        }
        return sum > type(uint32).max ? type(uint32).max : uint32(sum);
    }
}
