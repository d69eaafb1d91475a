// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IJobSettlement
/// @notice Settlement at market cost (issue #24): optimistic settlement with challenges, and many jobs per
///         transaction. These functions live in the JobSettlement module and are reached at the JobMarket address
///         (the market forwards unknown selectors to the module with DELEGATECALL; calling the module directly
///         reverts). One ABI for the market is IJobMarket's entries plus these.
/// @dev Optimistic lifecycle (a job posted with `JobTerms.settlement == 1`, flag FLAG_OPTIMISTIC):
///      Claimed --submitResults (t < proveDeadline)--> Submitted --finalizeBatch (t >= challengeDeadline)--> Settled
///      Submitted --challenge (t < challengeDeadline, bond)--> Challenged
///      Challenged --answerChallenge (valid proof, t < answerDeadline)--> Settled (the bond goes to the provider)
///      Challenged --upholdChallenge (t >= answerDeadline)--> Expired (provider slashed, consumer refunded,
///        challenger gets its bond back plus a share of the slash)
///      Settlement effects (pay, royalty, fee, reward, NRS, replay rule, bounty, callback, JobSettled) happen only at
///      finalization or at a valid answer, exactly as eager settlement would make them. The provider's collateral
///      stays locked until then.
///      Hashes: `leaf(r) = keccak256(abi.encode(r.jobId, keccak256(abi.encodePacked(r.outputs)), r.proofHash))`,
///      `entry(r) = keccak256(abi.encode(leaf(r), stateWord, claimWord, termsWord))`,
///      `root = keccak256(abi.encodePacked(entry(r_0), ..., entry(r_n-1)))`, `proofHash = keccak256(proof)`.
///      An entry commits the job's storage slots 0-2 as `submitResults` read them (a finalization then reads only
///      the job's slot 3 and its bit in a slot shared by 255 jobs): `stateWord = consumer | claimDeadline << 160 |
///      proveWindow << 200`, `claimWord = provider | proveDeadline << 160 | flags << 200 | callbackGasLimit << 208`
///      and `termsWord = price | collateral << 96 | modelId << 192` (IJobMarket.Job's fields, from `getJob`; none of
///      them changes between submission and settlement, except FLAG_NO_REWARD, set at settlement: leave it out of
///      `flags`). `finalizeBatch` and `challenge` take them as `jobWords`, three per result in batch order
///      (stateWord, claimWord, termsWord). A finalized job's own status slot keeps Submitted; `getJob` (and every
///      check) reads it as Settled.
interface IJobSettlement {
    /// @notice One optimistic result: the job, its outputs (the proof's output instances) and keccak256 of the
    ///         proof bytes the provider commits to (and serves off chain until finalization + 1 day).
    struct Result {
        uint256 jobId;
        uint256[] outputs;
        bytes32 proofHash;
    }

    /// @notice A provider's optimistic submission. One storage slot after the root.
    /// @dev `challengeWindow` is the window this batch got (so `challengeDeadline - challengeWindow` is the
    ///      submission time, the one a job's NRS completion time is measured at). `pending` counts the jobs a
    ///      finalization left (of a paused model); the batch is deleted when a finalization leaves none. A challenge
    ///      takes its job out of the batch (the challenge record carries what its answer needs).
    struct Batch {
        bytes32 root;
        address provider;
        uint40 challengeDeadline;
        uint16 count;
        uint16 pending;
        uint24 challengeWindow;
    }

    /// @notice An open challenge of a job: who challenged, its escrowed bond, until when the provider may answer
    ///         (before a pause moves it, see `answerDeadlineOf`), the challenged leaf, and the batch's submission time.
    struct Challenge {
        address challenger;
        uint96 bond;
        uint40 answerDeadline;
        uint40 submittedAt;
        bytes32 leaf;
    }

    /// @notice Job `jobId` was submitted optimistically in batch `batchId` with `outputs` and proof hash `proofHash`.
    event JobSubmitted(
        uint256 indexed jobId, uint256 indexed batchId, address indexed provider, uint256[] outputs, bytes32 proofHash
    );
    /// @notice A batch of `count` optimistic results (emitted after its JobSubmitted events); challenges are
    ///         accepted while `block.timestamp < challengeDeadline`.
    event ResultsSubmitted(
        uint256 indexed batchId, address indexed provider, bytes32 root, uint256 challengeDeadline, uint256 count
    );
    /// @notice `challenger` escrowed `bond` against job `jobId`'s result; the provider must answer with the proof
    ///         before `answerDeadline` (moved by a guardian pause).
    event JobChallenged(
        uint256 indexed jobId, uint256 indexed batchId, address indexed challenger, uint256 bond, uint256 answerDeadline
    );
    /// @notice The provider answered the challenge of job `jobId` with a valid proof: the job settled (JobSettled)
    ///         and the challenger's `bond` was credited to the provider.
    event ChallengeAnswered(uint256 indexed jobId, address indexed provider, address indexed challenger, uint256 bond);
    /// @notice The challenge of job `jobId` went unanswered: the provider lost `slashed` of its collateral, the
    ///         challenger got its bond back plus `challengerReward`, the consumer was credited `refund` (the price).
    event ChallengeUpheld(
        uint256 indexed jobId,
        address indexed provider,
        address indexed challenger,
        uint256 slashed,
        uint256 challengerReward,
        uint256 refund
    );
    /// @notice `finalizeBatch` settled `settled` jobs of batch `batchId` (each with its JobSettled).
    event BatchFinalized(uint256 indexed batchId, uint256 settled);

    /// @notice `submitResult`/`settleResults` of an Optimistic job, or `submitResults` of an Eager one.
    error JobMarket__WrongSettlementMode(uint256 jobId);
    /// @notice A batch of zero results, more than MAX_BATCH, or argument arrays of different lengths.
    error JobMarket__InvalidBatchSize(uint256 size);
    /// @notice No batch with this id (never submitted, or finished and deleted).
    error JobMarket__UnknownBatch(uint256 batchId);
    /// @notice The results and job words given do not hash to the batch's root (or not two words per result).
    error JobMarket__BatchMismatch(uint256 batchId);
    /// @notice A challenge at or after the batch's challenge deadline.
    error JobMarket__ChallengeWindowClosed(uint256 batchId, uint256 challengeDeadline);
    /// @notice A finalization before the batch's challenge deadline.
    error JobMarket__ChallengeWindowOpen(uint256 batchId, uint256 challengeDeadline);
    /// @notice The batch's provider challenged its own result.
    error JobMarket__ProviderCannotChallenge(uint256 jobId);
    /// @notice An answer at or after the (moved) answer deadline.
    error JobMarket__AnswerWindowClosed(uint256 jobId, uint256 answerDeadline);
    /// @notice An uphold before the (moved) answer deadline.
    error JobMarket__AnswerWindowOpen(uint256 jobId, uint256 answerDeadline);
    /// @notice The answer's proof bytes or outputs are not the ones committed in the challenged leaf.
    error JobMarket__AnswerMismatch(uint256 jobId);
    /// @notice A result whose outputs count is not the model's.
    error JobMarket__OutputCountMismatch(uint256 jobId, uint256 expected, uint256 actual);
    /// @notice A module function called directly instead of through the JobMarket.
    error JobMarket__NotDelegated();

    /// @notice The assigned provider submits results of its Optimistic Claimed jobs (t < each prove deadline,
    ///         models not paused, each output < the SNARK field), 1..MAX_BATCH of them. Jobs become Submitted; one
    ///         Batch is stored with `challengeDeadline = now + config.challengeWindow`. No proof is verified.
    /// @return batchId The new batch (1, 2, ...).
    function submitResults(Result[] calldata results) external returns (uint256 batchId);

    /// @notice Anyone but the batch's provider challenges `batch[index]` before the challenge deadline, escrowing
    ///         `config.challengeBond` NGX (transferFrom: approve the market first). `batch` and `jobWords` (two per
    ///         result: see the entry above) must hash to the root.
    function challenge(uint256 batchId, Result[] calldata batch, uint256[] calldata jobWords, uint256 index) external;

    /// @notice The provider answers a challenge with the committed proof (keccak256(proof) and the outputs equal the
    ///         leaf's); it is verified exactly as `submitResult` verifies. The job settles as an eager job and the
    ///         challenger's bond is credited to the provider. Stopped by the guardian pause (which moves the deadline).
    function answerChallenge(uint256 jobId, bytes calldata proof, uint256[] calldata instances) external;

    /// @notice Anyone ends an unanswered challenge at or after the (moved) answer deadline: the provider is
    ///         slashed, the challenger repaid plus its reward, the consumer refunded, and the job Expired. Reverts
    ///         while the market or the job's model is paused (the provider could not answer). When the provider
    ///         could not answer through no fault of its own (verifier code changed or not allow-listed) nothing is
    ///         slashed: the consumer is refunded and the challenger gets its bond back.
    function upholdChallenge(uint256 jobId) external;

    /// @notice Anyone settles every still-Submitted job of a batch at or after its challenge deadline (Challenged
    ///         and finished jobs are skipped, jobs of a paused model wait for a later call). Idempotent. `batch` and
    ///         `jobWords` (two per result: see the entry above) must hash to the root.
    /// @return settled How many jobs this call settled.
    function finalizeBatch(uint256 batchId, Result[] calldata batch, uint256[] calldata jobWords)
        external
        returns (uint256 settled);

    /// @notice The assigned provider settles many Eager jobs at once, each exactly as `submitResult` would; the
    ///         whole call reverts on any invalid proof. Effects are aggregated (one credit per account, one
    ///         collateral unlock and one reward call for the caller).
    function settleResults(uint256[] calldata jobIds, bytes[] calldata proofs, uint256[][] calldata instances)
        external;

    /// @notice A stored batch (all zero once every job of it finished).
    function batchOf(uint256 batchId) external view returns (Batch memory);
    /// @notice A job's open challenge (all zero when none or finished).
    function challengeOf(uint256 jobId) external view returns (Challenge memory);
    /// @notice The answer deadline of a Challenged job with the guardian pauses applied (0 when none).
    function answerDeadlineOf(uint256 jobId) external view returns (uint256);
    /// @notice Batches submitted so far (the last batch id).
    function batchCount() external view returns (uint256);
    /// @notice `keccak256(abi.encode(r.jobId, keccak256(abi.encodePacked(r.outputs)), r.proofHash))`.
    function leafOf(Result calldata result) external view returns (bytes32);
}
