// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IReputation
/// @notice The NeuroGrid Reputation Score (NRS), 0-100, computed on read from facts JobMarket records, and a
///         consumer score that shows consumers who withhold or corrupt inputs.
/// @dev NRS = (40 P + 30 R + 20 L + 10 S) / 100, each component 0-100:
///      - Performance P: 100 - 50 * (weighted average share of the prove window used by completed jobs).
///      - Reliability R: weighted completions / (weighted completions + missed + costly declines).
///      - Longevity L:   provider age since staking registration, linear up to 100 at 180 days.
///      - Peer rating S: average consumer rating (1..5) mapped to 0..100 as (r - 1) * 25.
///      Prior for new providers: P, R and S are Bayesian averages with PRIOR_WEIGHT = 2 pseudo-observations
///      of value PRIOR_SCORE = 50; L starts at 0. A brand-new provider therefore scores
///      0.4*50 + 0.3*50 + 0.2*0 + 0.1*50 = 40.
///      Completion weight (anti wash trading): only rewarded completions (allow-listed verifier, not a
///      replayed commitment) are recorded, each with weight `min(1000, fee * 1000 / FULL_WEIGHT_FEE) / (1 + k)`
///      milli-completions, where `fee` is the job's protocol fee and `k` the number of earlier completions
///      of this provider for the same consumer. P and R count `weightMilli / 1000` completions, so many cheap
///      jobs with one counterparty barely move the NRS.
///      Free declines: a provider may make `freeDeclineBase + weightMilli * freeDeclinePerCompletedBps /
///      (1000 * 10000)` free declines in its lifetime (config parameters); later declines are costly.
///      Consumer score (issue #23, items 5 and 6): what a consumer earns and what it loses are both weighed, in
///      milli-jobs. Earned: only rewarded completions, each with the provider's completion weight (fee-weighted,
///      diminishing per provider), so self-dealt unrewarded jobs on one's own verifier add nothing. Lost: a decline
///      is held against the job's input party (its deliverer if it has one, else its consumer), so one end user
///      of a contract consumer cannot tank the contract's score for the others. An InputMissing decline, which
///      the chain checks (input deadline passed, nothing delivered on chain), weighs 1000; an InputInvalid decline,
///      which carries no evidence, weighs what the decliner's own independent, paid history is worth
///      (`min(1000, weightMilli * 1000 / DECLINER_FULL_WEIGHT)`), divided by `1 + k`, k the decliner's earlier
///      InputInvalid declines against the same party that weighed: a provider that only holds the base free
///      declines lowers no one's score.
interface IReputation {
    struct Facts {
        uint32 completed; // rewarded jobs settled with a valid proof (unweighted count)
        uint32 missed; // claimed jobs that expired without a proof, by the provider's fault
        uint32 ratingCount;
        uint32 ratingSum; // sum of ratings 1..5
        uint64 windowUsedBpsSum; // sum over completed jobs of weightMilli * elapsed/proveWindow in bps
        uint32 freeDeclines; // declines that cost nothing
        uint32 costlyDeclines; // declines that cost collateral (count against Reliability)
        uint64 weightMilli; // sum of completion weights, 0..1000 each
    }

    /// @notice What a consumer did, as counted in `ConsumerFacts`.
    enum ConsumerFact {
        Settled,
        Cancelled,
        InputWithheld,
        InputInvalid,
        ExpiredUnclaimed
    }

    struct ConsumerFacts {
        uint32 settled; // jobs settled with a proof (rewarded or not; see settledWeightMilli)
        uint32 cancelled; // open jobs the consumer cancelled
        uint32 inputsWithheld; // declines with reason InputMissing, as the job's input party
        uint32 inputsInvalid; // declines with reason InputInvalid, as the job's input party
        uint32 expiredUnclaimed; // open jobs nobody claimed
        uint32 settledWeightMilli; // sum of the completion weights of rewarded settled jobs, 0..1000 each
        uint32 harmMilli; // sum of the weights of the declines held against it, 0..1000 each
    }

    /// @notice A rewarded settled job: a completion of `provider` of weight `weightMilli`, and `consumer`'s settled
    ///         job (its `settled` count and `settledWeightMilli`; no ConsumerRecorded is emitted for it).
    event CompletionRecorded(address indexed provider, address indexed consumer, uint256 elapsed, uint256 proveWindow, uint256 weightMilli);
    /// @notice A batch settlement's rewarded jobs (`recordCompletions`): `completed` completions of `provider`
    ///         adding `weightMilli` to its weight and `windowUsed` (each weight times its window use, in bps) to its
    ///         window-use sum; one event for the batch instead of a CompletionRecorded per job (each job's amounts are
    ///         in its JobSettled, and its weight follows from its fee and the pair's count, see recordCompletion).
    event CompletionsRecorded(address indexed provider, uint256 completed, uint256 weightMilli, uint256 windowUsed);
    event MissRecorded(address indexed provider);
    event RatingRecorded(address indexed provider, uint8 rating);
    /// @notice A decline of job `jobId`; `inputParty` (the job's deliverer, else its consumer) is charged
    ///         `harmMilli` (0 for reason Other).
    event DeclineRecorded(
        address indexed provider,
        uint256 indexed jobId,
        address indexed inputParty,
        uint8 reason,
        bool free,
        uint256 harmMilli
    );
    /// @notice One of a consumer's facts (`what`: ConsumerFact) other than a rewarded settled job, which
    ///         CompletionRecorded (its `consumer`) records.
    event ConsumerRecorded(address indexed consumer, uint8 what);

    error Reputation__InvalidRating(uint8 rating);
    /// @notice `recordCompletions` with an odd number of words (see its encoding).
    error Reputation__InvalidCompletions(uint256 words);

    /// @notice JobMarket records a rewarded settled job (and counts it as settled for the consumer).
    /// @param fee The job's protocol fee, which sets the completion's weight.
    function recordCompletion(address provider, address consumer, uint256 elapsed, uint256 proveWindow, uint256 fee)
        external;
    /// @notice JobMarket records many settled jobs of one provider at once (a batch settlement): the same facts as
    ///         one `recordCompletion` or `recordConsumerSettled` per entry, in order; the rewarded entries' events are
    ///         one CompletionsRecorded with their sums (emitted when there is one), the unrewarded entries' the same
    ///         ConsumerRecorded as `recordConsumerSettled`.
    /// @param done The n entries as 2n words: word 2i is entry i's consumer (bits 0-159), elapsed (160-191),
    ///        proveWindow (192-223) and rewarded (bit 255: false records only the consumer's settlement, as
    ///        `recordConsumerSettled`; true a completion, as `recordCompletion`); word 2i + 1 is its fee.
    function recordCompletions(address provider, uint256[] calldata done) external;
    /// @notice JobMarket records a settled job that earns the provider nothing (replay or a verifier not on the
    ///         allow-list): only the consumer's settled count moves, not its score.
    function recordConsumerSettled(address consumer) external;
    /// @notice JobMarket records a consumer cancelling an open job.
    function recordConsumerCancelled(address consumer) external;
    /// @notice JobMarket records an open job that expired unclaimed.
    function recordConsumerExpiredUnclaimed(address consumer) external;
    /// @notice JobMarket records a decline of job `jobId` (already Cancelled). `reason` is
    ///         IJobMarket.DeclineReason (0 Other, 1 InputMissing, 2 InputInvalid); reasons 1 and 2 count against the
    ///         job's input party (its deliverer if it has one, else its consumer), weighed as in the contract
    ///         NatSpec. `free`: no collateral was slashed.
    function recordDecline(address provider, uint256 jobId, uint8 reason, bool free) external;
    /// @notice JobMarket records a claimed job that expired by the provider's fault.
    function recordMiss(address provider) external;
    /// @notice JobMarket records a consumer's rating (1..5) of a rewarded settled job.
    function recordRating(address provider, uint8 rating) external;

    /// @notice The NRS of `provider`, 0-100 (integer, rounded down).
    function nrs(address provider) external view returns (uint256);
    /// @notice The four NRS components, each 0-100.
    function components(address provider)
        external
        view
        returns (uint256 performance, uint256 reliability, uint256 longevity, uint256 peerRating);
    function factsOf(address provider) external view returns (Facts memory);
    /// @notice Free declines `provider` has left (see the contract NatSpec).
    function freeDeclinesLeft(address provider) external view returns (uint256);
    /// @notice Earlier rewarded completions of `provider` for `consumer`.
    function pairCompletions(address provider, address consumer) external view returns (uint256);
    function consumerFactsOf(address consumer) external view returns (ConsumerFacts memory);
    /// @notice 0..100: `(100 * settledWeightMilli + 100 * 1000 * PRIOR_WEIGHT) / (settledWeightMilli + harmMilli +
    ///         1000 * PRIOR_WEIGHT)`. A new consumer scores 100 (it has harmed no one).
    function consumerScore(address consumer) external view returns (uint256);
    /// @notice Earlier InputInvalid declines of `provider` that weighed on `party` (the `k` of the decline weight).
    function pairInvalidDeclines(address provider, address party) external view returns (uint256);
}
