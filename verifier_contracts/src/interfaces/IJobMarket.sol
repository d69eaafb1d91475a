// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IJobMarket
/// @notice Escrowed inference jobs whose payment is released only by a valid EZKL proof.
/// @dev Lifecycle (deadlines are the first second at which the earlier phase is over):
///      Open --claimJob (t < claimDeadline)--> Claimed --submitResult (t < proveDeadline)--> Settled
///      Open --cancelJob (consumer)--> Cancelled            Claimed --declineJob (provider)--> Cancelled
///      Open --expireJob (t >= claimDeadline)--> Expired    Claimed --expireJob (t >= proveDeadline)--> Expired
///      Claimed --expireJob (t >= proveDeadline, provider at fault, first miss)--> Open again (a second prover):
///        part of the slash is kept as a bounty for whoever finishes the job, the rest burned; the job reopens
///        for its claim window (FLAG_REOPENED), and if it ends Cancelled or Expired the bounty is burned.
///      An auction job (FLAG_AUCTION) locks its price at the claim (`priceAt`); a job with a callback has the
///      market call the consumer's `INgxConsumer.onInferenceResult` after settling, with bounded gas.
///      `fillOrder` posts a consumer's EIP-712 signed Order and claims it for the caller in one transaction
///      (Open and Claimed at once; the consumer pays by permit or allowance and sends no transaction).
///      While Claimed (t < proveDeadline) the consumer hands the provider the encrypted input with
///      `deliverInput` (an event; it also sets FLAG_INPUT_ON_CHAIN). The consumer must have handed over a
///      valid input before `inputDeadline` (the middle of the prove window).
///      An optimistic job (`JobTerms.settlement == 1`, FLAG_OPTIMISTIC) is Claimed --submitResults--> Submitted
///      --finalizeBatch--> Settled, or Challenged on the way (see IJobSettlement, whose functions are reached at
///      this market's address).
///      Money only moves by pull: refunds, provider pay, royalties and fees are credited to `claimable`
///      and paid out by `withdraw`. Emission rewards are owed by the RewardsPool and paid out by the same
///      `withdraw` (or the pool's `claim`).
///      Trust rules (issue #11): a verifier's code hash is pinned at model registration and checked at
///      settlement; rewards and NRS only for allow-listed verifier code and first-time commitments; slash
///      proceeds go to burn + treasury, never to the consumer; no slash when the provider could not submit
///      through no fault of its own (pauses, changed or non-allow-listed verifier).
interface IJobMarket {
    /// @dev The Python side mirrors these names (ngx_zk JobStatus).
    enum JobStatus {
        None,
        Open,
        Claimed,
        Settled,
        Expired,
        Cancelled,
        Submitted, // an optimistic result waits for its challenge window (IJobSettlement)
        Challenged // an optimistic result was challenged; the provider must answer with the proof
    }

    /// @notice Why a provider declines a claimed job. InputMissing and InputInvalid may be free (within the
    ///         provider's free-decline allowance) and count against the consumer; Other always costs.
    enum DeclineReason {
        Other,
        InputMissing,
        InputInvalid
    }

    /// @notice A job. Packed into four storage slots.
    struct Job {
        address consumer;
        uint40 claimDeadline; // claims accepted while block.timestamp < claimDeadline
        uint32 proveWindow; // seconds the provider has after claiming
        uint8 minReputation; // NRS (0-100) a provider needs to claim
        JobStatus status;
        uint8 rating; // 0 = unrated, else 1..5
        address provider; // zero until claimed
        uint40 proveDeadline; // proofs accepted while block.timestamp < proveDeadline
        uint8 flags; // FLAG_NO_REWARD | FLAG_INPUT_ON_CHAIN | FLAG_AUCTION | FLAG_REOPENED | FLAG_DELIVERER
        uint32 callbackGasLimit; // gas for the consumer's onInferenceResult at settlement; 0 = no callback
        uint96 price; // escrowed payment token amount (an auction job: the maximum until claimed, then the price)
        uint96 collateral; // provider stake locked while Claimed
        uint64 modelId;
        bytes32 commitmentsHash; // keccak256(abi.encodePacked(inputCommitments))
    }

    /// @notice What `postJobWithTerms` takes besides the input commitments.
    /// @dev A reverse Dutch auction: the price a claim locks rises linearly from `minPrice` (until
    ///      posting + `rampDelay`) to `maxPrice` (from posting + `rampDelay` + `rampLength` on). `maxPrice` is
    ///      escrowed; the difference to the locked price is credited back at the claim. A fixed price is
    ///      `minPrice == maxPrice` (then `rampDelay` and `rampLength` must be 0).
    struct JobTerms {
        uint256 modelId;
        uint96 minPrice;
        uint96 maxPrice;
        uint32 rampDelay;
        uint32 rampLength;
        uint32 claimWindow;
        uint32 proveWindow;
        uint8 minReputation;
        /// @dev Who else may `deliverInput` (and, off chain, hand the provider the input): e.g. the party a
        ///      contract consumer trusts for the input behind the commitments it posted. Zero: the consumer only.
        address deliverer;
        /// @dev Gas the market forwards to `INgxConsumer(consumer).onInferenceResult` after settling; 0: no
        ///      call. At most MAX_CALLBACK_GAS. The provider pays for it (it sees the limit before claiming).
        uint32 callbackGasLimit;
        /// @dev 0 = Eager (the proof is verified at submission), 1 = Optimistic (results are submitted with a proof
        ///      hash and finalize after a challenge window; see IJobSettlement). A contract consumer that needs a
        ///      verified result at once requires 0.
        uint8 settlement;
    }

    /// @notice A consumer's signed job order (EIP-712, see JobMarket.ORDER_TYPEHASH); filled by a provider with
    ///         `fillOrder`, which posts the job for the consumer and claims it for the provider in one transaction
    ///         (the consumer needs no ETH and sends no transaction).
    /// @dev The signed message also carries the input commitments (`fillOrder`'s second argument), hashed as
    ///      `keccak256(abi.encodePacked(inputCommitments))` (the job's `commitmentsHash`).
    struct Order {
        address consumer; // signer of the order; pays terms.maxPrice into escrow
        JobTerms terms; // as for postJobWithTerms
        address provider; // zero: any eligible provider may fill it; else only this provider
        uint256 nonce; // each (consumer, nonce) fills at most once; cancelOrder burns a nonce
        uint40 signedAt; // an auction's ramp starts at signedAt + rampDelay (not the fill's time); not in the future
        uint40 deadline; // the order fills only while block.timestamp < deadline
    }

    /// @notice Why `fillOrders` skipped an order (the `reason` of OrderSkipped, as uint8). Each is something the
    ///         consumer, a front-runner, the model owner or governance can change after the provider sent its batch,
    ///         so it costs the provider that one order, never the batch. Nothing of a skipped order is written and
    ///         its consumer pays nothing; its nonce stays unused (it may fill later) unless it was used before.
    ///         1 BadSignature: malformed, high-s, or not the consumer's signature over this order and commitments.
    ///         2 Expired: `block.timestamp >= deadline`.
    ///         3 NotYetValid: `signedAt > block.timestamp`.
    ///         4 ForAnotherProvider: `provider` is neither zero nor the caller.
    ///         5 NonceUsed: filled or cancelled before, or filled earlier in the same batch (a duplicate).
    ///         6 ModelNotActive: the model is unknown, Paused or Retired.
    ///         7 BadTerms: what `fillOrder` rejects in the terms and commitments: price or windows out of the
    ///           governed bounds, minReputation above 100, an invalid auction, deliverer, callback gas or settlement
    ///           mode, the wrong number of commitments or one outside the field, or optimistic settlement on a
    ///           verifier whose code is not allow-listed (or changed since registration).
    ///         8 ReputationTooLow: the caller's NRS is below the order's `minReputation`.
    ///         9 PaymentFailed: the escrow `transferFrom` failed (balance or allowance too low, after the permit).
    ///         10 OwnOrder: the order's consumer is the caller (a provider cannot claim its own job).
    enum OrderSkip {
        None,
        BadSignature,
        Expired,
        NotYetValid,
        ForAnotherProvider,
        NonceUsed,
        ModelNotActive,
        BadTerms,
        ReputationTooLow,
        PaymentFailed,
        OwnOrder
    }

    /// @notice An EIP-2612 permit of the consumer for (owner=consumer, spender=JobMarket, value, deadline); v == 0:
    ///         none, the allowance is used. It is tried only when the allowance is short of the order's price, and
    ///         `value` may exceed that price: one standing permit then covers several unfilled orders of the consumer,
    ///         whichever fills first (a permit SETS the allowance; the market still pulls only signed orders' prices).
    struct Permit {
        uint256 value;
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice The parts of a job that only some jobs have (zero otherwise): its auction, its deliverer, and
    ///         after a reopening the provider that missed it and the bounty waiting for the one that finishes.
    struct JobExtras {
        uint96 minPrice;
        uint40 rampStart;
        uint32 rampLength;
        address deliverer;
        address missedBy;
        uint96 bounty;
    }

    event JobPosted(
        uint256 indexed jobId,
        address indexed consumer,
        uint256 indexed modelId,
        uint256[] inputCommitments,
        uint256 price,
        uint256 claimDeadline,
        uint256 proveWindow,
        uint256 minReputation
    );
    event JobCancelled(uint256 indexed jobId, address indexed consumer, uint256 refund);
    event JobClaimed(uint256 indexed jobId, address indexed provider, uint256 collateral, uint256 proveDeadline);
    /// @notice The assigned provider declined. `reason` is a DeclineReason; `free` means nothing was slashed,
    ///         else `slashed` (of the collateral) went to burn + treasury. `refund` is what the consumer got back:
    ///         the price less `burned`, the input rule's cut (issue #23, item 1: a costly InputMissing or
    ///         InputInvalid decline burns min(slashed, price) of the escrow; zero for a free or an Other decline).
    event JobDeclined(
        uint256 indexed jobId,
        address indexed provider,
        uint256 refund,
        uint8 reason,
        bool free,
        uint256 slashed,
        uint256 burned
    );
    /// @notice The consumer published the job's input for the assigned provider (see `deliverInput`).
    ///         `payload` is ciphertext encrypted to the provider's registered `encryptionPubKey`; the
    ///         contract never reads it. If several are emitted for a job, the provider uses the latest.
    event InputDelivered(uint256 indexed jobId, address indexed consumer, address indexed provider, bytes payload);
    /// @notice A valid proof settled the job. `outputs` are the proof's output instances (field elements,
    ///         negative values as p - |v|). This event is where they are kept: storage holds only their hash,
    ///         `outputsHashOf(jobId) == keccak256(abi.encodePacked(outputs))`, against which a reader checks
    ///         what a node returns for this log. An optimistic job settled by `finalizeBatch` logs them once, in
    ///         its JobSubmitted (IJobSettlement), and its JobSettled carries an empty `outputs`.
    event JobSettled(
        uint256 indexed jobId,
        address indexed provider,
        uint256[] outputs,
        uint256 providerPay,
        uint256 royalty,
        uint256 fee,
        uint256 reward
    );
    /// @notice A job ended past its deadline. For a missed claimed job `slashed` of the collateral is taken
    ///         (`burned` of it burned, the rest to the treasury); `slashed` is 0 when the provider was not at
    ///         fault (market or model paused during its window, verifier changed or not allow-listed).
    event JobExpired(uint256 indexed jobId, address indexed provider, uint256 refund, uint256 slashed, uint256 burned);
    /// @notice Extra terms of a job posted with `postJobWithTerms` (emitted right after its JobPosted, whose
    ///         `price` is then the escrowed maximum).
    event JobTermsSet(
        uint256 indexed jobId,
        uint256 minPrice,
        uint256 rampStart,
        uint256 rampLength,
        address deliverer,
        uint256 callbackGasLimit,
        uint8 settlement
    );
    /// @notice An auction job was claimed at `price`; `refund` (escrow above it) was credited to the consumer.
    event JobPriceLocked(uint256 indexed jobId, uint256 price, uint256 refund);
    /// @notice The assigned provider missed the prove deadline: `slashed` of its collateral was taken, `bounty`
    ///         of it waits in the market for the provider that finishes the job (the rest was burned), and the
    ///         job is Open again until `claimDeadline`. The provider that missed it cannot claim it again.
    event JobReopened(
        uint256 indexed jobId, address indexed missedBy, uint256 slashed, uint256 bounty, uint256 claimDeadline
    );
    /// @notice The market called the consumer's `onInferenceResult` after settling; `success` false means it
    ///         reverted or ran out of its gas limit (the settlement stands either way).
    event CallbackResult(uint256 indexed jobId, address indexed consumer, bool success);
    /// @notice A provider filled a consumer's signed order: job `jobId` was posted for `consumer` (JobPosted) and
    ///         claimed by `provider` (JobClaimed) in the same transaction; `nonce` is now used.
    event OrderFilled(uint256 indexed jobId, address indexed consumer, uint256 indexed nonce, address provider);
    /// @notice `consumer` burned `nonce`: no order it signed with that nonce can be filled any more.
    event OrderCancelled(address indexed consumer, uint256 indexed nonce);
    /// @notice `fillOrders` skipped `consumer`'s order `nonce`; `reason` is an OrderSkip (1..10, see there).
    event OrderSkipped(address indexed consumer, uint256 indexed nonce, uint8 reason);
    event JobRated(uint256 indexed jobId, address indexed provider, uint8 rating);
    event Credited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);

    error JobMarket__UnknownJob(uint256 jobId);
    error JobMarket__InvalidStatus(uint256 jobId, JobStatus status);
    error JobMarket__ModelNotActive(uint256 modelId);
    error JobMarket__ModelPaused(uint256 modelId);
    error JobMarket__CommitmentCountMismatch(uint256 expected, uint256 actual);
    error JobMarket__InvalidPrice(uint256 price);
    error JobMarket__ClaimWindowOutOfBounds(uint256 window, uint256 min, uint256 max);
    error JobMarket__ProveWindowOutOfBounds(uint256 window, uint256 min, uint256 max);
    error JobMarket__InvalidMinReputation(uint256 minReputation);
    error JobMarket__NotConsumer(uint256 jobId, address caller);
    error JobMarket__NotAssignedProvider(uint256 jobId, address caller);
    error JobMarket__ClaimWindowClosed(uint256 jobId, uint256 claimDeadline);
    error JobMarket__ProveWindowClosed(uint256 jobId, uint256 proveDeadline);
    error JobMarket__NotExpired(uint256 jobId, uint256 deadline);
    error JobMarket__ConsumerCannotClaim(uint256 jobId);
    error JobMarket__ProviderNotRegistered(address provider);
    error JobMarket__StakeBelowMinimum(address provider, uint256 staked, uint256 minStake);
    error JobMarket__ReputationTooLow(address provider, uint256 nrs, uint256 minReputation);
    error JobMarket__InstanceCountMismatch(uint256 expected, uint256 actual);
    error JobMarket__CommitmentMismatch(uint256 jobId);
    error JobMarket__InstanceOutOfField(uint256 index, uint256 value);
    error JobMarket__VerifierHasNoCode(address verifier);
    error JobMarket__InvalidProof(uint256 jobId);
    error JobMarket__VkaDigestMismatch(bytes32 pinned, bytes32 reported);
    error JobMarket__InvalidRating(uint8 rating);
    error JobMarket__AlreadyRated(uint256 jobId);
    error JobMarket__NothingToWithdraw(address account);
    error JobMarket__NotGuardian(address caller);
    error JobMarket__ZeroAddress();
    error JobMarket__EmptyPayload();
    error JobMarket__PayloadTooLarge(uint256 size, uint256 max);
    error JobMarket__PriceBelowMinimum(uint256 price, uint256 min);
    /// @notice The code at the model's verifier address is not the code pinned at registration.
    error JobMarket__VerifierCodeChanged(address verifier, bytes32 pinned, bytes32 actual);
    /// @notice An InputMissing decline before `inputDeadline`.
    error JobMarket__InputDeadlineNotReached(uint256 jobId, uint256 deadline);
    /// @notice An InputMissing decline although the consumer delivered the input on chain.
    error JobMarket__InputWasDelivered(uint256 jobId);
    /// @notice `deliverInput` at or after the job's input deadline: a late delivery does not count (it would turn
    ///         the provider's free InputMissing decline into a costly one).
    error JobMarket__InputDeadlinePassed(uint256 jobId, uint256 deadline);
    /// @notice Auction terms out of order: need minPrice <= maxPrice, and a ramp only when they differ.
    error JobMarket__InvalidAuction(uint256 minPrice, uint256 maxPrice, uint256 rampLength);
    /// @notice A callback gas limit above MAX_CALLBACK_GAS.
    error JobMarket__CallbackGasTooHigh(uint256 limit, uint256 max);
    /// @notice The settlement transaction carries too little gas to give the callback its full limit.
    error JobMarket__CallbackGasTooLow(uint256 needed, uint256 left);
    /// @notice The provider that missed a job cannot claim it again after its reopening.
    error JobMarket__MissedBefore(uint256 jobId, address provider);
    /// @notice The deliverer is the consumer, or the consumer is a deliverer of itself.
    error JobMarket__InvalidDeliverer(address deliverer);
    /// @notice The settlement module given to the constructor has no code or another wiring than the market.
    error JobMarket__ModuleMismatch(address module);
    /// @notice `JobTerms.settlement` is neither 0 (Eager) nor 1 (Optimistic).
    error JobMarket__InvalidSettlement(uint8 settlement);
    /// @notice An optimistic job on a model whose verifier code is not allow-listed (or changed since registration):
    ///         a challenge could not be judged by trusted code, so optimistic settlement is refused (post it eager).
    error JobMarket__OptimisticNeedsTrustedVerifier(uint256 modelId, bytes32 verifierCodeHash);

    /// @notice `fillOrder` at or after the order's deadline.
    error JobMarket__OrderExpired(uint256 deadline);
    /// @notice `fillOrder` of an order whose `signedAt` is still in the future.
    error JobMarket__OrderNotYetValid(uint256 signedAt);
    /// @notice The consumer's order nonce was filled or cancelled before.
    error JobMarket__OrderNonceUsed(address consumer, uint256 nonce);
    /// @notice The order's signature is malformed, malleable (high s) or not the consumer's over this order.
    error JobMarket__BadOrderSignature();
    /// @notice The order names another provider than the caller.
    error JobMarket__OrderForAnotherProvider(address provider);
    /// @notice `fillOrders`' four arrays must have the same length, from 1 to MAX_BATCH.
    error JobMarket__OrderBatchShape(uint256 orders, uint256 commitments, uint256 signatures, uint256 permits);

    /// @notice Post a job and escrow `price` (transferFrom the caller; approve first). `price` must be at least
    ///         `config.minJobPrice()`. If the same commitments were posted before for this model, the job is
    ///         marked FLAG_NO_REWARD (a replay earns no emission reward and no reputation).
    /// @param modelId Registry id of an Active model.
    /// @param inputCommitments One salted Poseidon commitment per input tensor, each < the BN254 scalar field.
    /// @param claimWindow Seconds from now during which a provider may claim.
    /// @param proveWindow Seconds a provider has from its claim to submit a proof.
    /// @param minReputation Minimum provider NRS (0-100).
    function postJob(
        uint256 modelId,
        uint256[] calldata inputCommitments,
        uint256 price,
        uint32 claimWindow,
        uint32 proveWindow,
        uint8 minReputation
    ) external returns (uint256 jobId);

    /// @notice `postJob` with an EIP-2612 permit instead of a prior approve. A failed permit is ignored
    ///         when the allowance already suffices (front-run permits cannot grief the post).
    function postJobWithPermit(
        uint256 modelId,
        uint256[] calldata inputCommitments,
        uint256 price,
        uint32 claimWindow,
        uint32 proveWindow,
        uint8 minReputation,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256 jobId);

    /// @notice Post a job with the full terms: a price that rises over time (reverse Dutch auction), a trusted
    ///         deliverer of the input, and a callback to the consumer (a contract) when the proof settles.
    /// @dev The caller is the consumer and pays `maxPrice` (transferFrom; approve first). A contract consumer
    ///      implements `INgxConsumer` when it asks for a callback. Emits JobPosted then JobTermsSet.
    function postJobWithTerms(JobTerms calldata terms, uint256[] calldata inputCommitments)
        external
        returns (uint256 jobId);

    /// @notice A provider fills a consumer's signed order (gasless for the consumer): posts the job exactly as
    ///         `postJobWithTerms` would with `order.consumer` as its consumer (who pays `terms.maxPrice` into
    ///         escrow by `transferFrom`), then claims it for the caller exactly as `claimJob` would.
    /// @dev Checks `block.timestamp < order.deadline`, `order.signedAt <= block.timestamp`, `order.provider` zero or
    ///      the caller, and `signature` (65 bytes r||s||v, low s) by `order.consumer` over
    ///      `orderDigest(order, inputCommitments)`; then uses the nonce (JobMarket__OrderNonceUsed if it was filled
    ///      or cancelled before), before any external call. A `permit` with v != 0 is tried
    ///      first and a failed one ignored (a front-run permit leaves its allowance). An auction's ramp starts at
    ///      `signedAt + rampDelay`, and the claim locks its price at `block.timestamp` (the escrow above it is
    ///      credited back to the consumer). Emits JobPosted, [JobTermsSet, JobPriceLocked,] JobClaimed, OrderFilled.
    /// @param inputCommitments The commitments the consumer signed (part of the EIP-712 message).
    /// @param signature The consumer's EIP-712 signature over the order, 65 bytes r||s||v (v 27 or 28).
    /// @param permit The consumer's EIP-2612 permit of `permit.value` (at least `terms.maxPrice` to be of use) to this
    ///        market, tried only when the allowance is short of `terms.maxPrice`; v == 0: none.
    function fillOrder(
        Order calldata order,
        uint256[] calldata inputCommitments,
        bytes calldata signature,
        Permit calldata permit
    ) external returns (uint256 jobId);

    /// @notice A provider fills up to MAX_BATCH (64) signed orders of any consumers and models in one transaction:
    ///         each filled order is exactly what `fillOrder` would have made of it (job, escrow, collateral, events:
    ///         JobPosted, [JobTermsSet, JobPriceLocked,] JobClaimed, OrderFilled). An order that one consumer or a
    ///         front-runner could spoil (see OrderSkip) is skipped with OrderSkipped, so nobody can make the whole
    ///         batch revert for the price of one cancel; `jobIds[i]` is 0 for a skipped order.
    /// @dev Reverts only on what the caller controls: the market paused, arrays of unequal length, empty or over
    ///      MAX_BATCH (JobMarket__OrderBatchShape), the caller not registered, its stake below the minimum
    ///      `claimTerms` demands, or its free stake below the filled orders' collateral (locked once, in one sum).
    ///      Per order: the checks of `fillOrder`, then the nonce is marked used, the permit (v != 0) tried, and the
    ///      escrow pulled by a `transferFrom` whose failure (false, a revert, no code) unmarks the nonce and skips the
    ///      order (PaymentFailed) before anything of the job is written; then the job is written once, claimed.
    ///      Nonces of one consumer share a storage slot per 256 (`nonce >> 8`): signing consecutive nonces is
    ///      cheapest. A duplicate (same consumer and nonce) in one batch fills once and is skipped after.
    function fillOrders(
        Order[] calldata orders,
        uint256[][] calldata inputCommitments,
        bytes[] calldata signatures,
        Permit[] calldata permits
    ) external returns (uint256[] memory jobIds);

    /// @notice The caller burns its own order nonce: an order it signed with that nonce can never fill.
    function cancelOrder(uint256 nonce) external;

    /// @notice Consumer withdraws an unclaimed job; the price is credited back.
    function cancelJob(uint256 jobId) external;
    /// @notice An eligible provider takes an Open job of an Active model and locks collateral (a function of
    ///         its NRS tier).
    function claimJob(uint256 jobId) external;
    /// @notice The consumer publishes the job's input to the assigned provider, as the `InputDelivered`
    ///         event (which is how the provider's worker receives it; nothing is stored).
    /// @dev `payload` must be the input encrypted to the provider's `encryptionPubKey` from its
    ///      ProviderStaking profile, never plaintext: event data is public forever. The contract treats it
    ///      as opaque bytes and cannot check that it decrypts or opens the job's commitments; a provider
    ///      given a bad input uses `declineJob`. Sets FLAG_INPUT_ON_CHAIN (which rules out an InputMissing
    ///      decline). Only the job's consumer, only while the job is Claimed and
    ///      `block.timestamp < proveDeadline`; `payload` non-empty and at most `MAX_INPUT_PAYLOAD` bytes.
    ///      May be called again (e.g. a corrupted or lost delivery): each call just emits another event,
    ///      nothing else is stored on chain, and the provider uses the latest one. Not stopped by the guardian
    ///      pause: it only finishes a job already in flight, while the pause stops new work.
    /// @param payload Ciphertext of the job's input, opaque to the contract.
    function deliverInput(uint256 jobId, bytes calldata payload) external;
    /// @notice The assigned provider gives a claimed job back, before the prove deadline. The consumer is
    ///         refunded (in full unless the input rule below cuts it) and the job ends Cancelled.
    /// @dev InputMissing needs `block.timestamp >= inputDeadline(jobId)` and no on-chain delivery. A decline
    ///      is free when the reason is InputMissing or InputInvalid and the provider has free declines left
    ///      (Reputation.freeDeclinesLeft); otherwise `collateral * declineSlashBps / 10000` is slashed (burn +
    ///      treasury) and a costly decline counts against the provider's Reliability. The input rule (issue #23,
    ///      item 1): the chain cannot judge an input, so a costly InputMissing or InputInvalid decline also cuts
    ///      the consumer's refund by min(slashed, price), burned (paid to no one): a junk or withholding consumer
    ///      loses what it makes the provider lose, and a lying provider what it makes an honest consumer lose.
    ///      Reasons InputMissing / InputInvalid count against the consumer's score. Works while paused.
    function declineJob(uint256 jobId, DeclineReason reason) external;
    /// @notice The assigned provider submits the proof; on success the job settles and pays out.
    /// @dev The verifier's runtime code hash must equal the one pinned at registration
    ///      (JobMarket__VerifierCodeChanged). The emission reward and the provider's NRS credit are given only
    ///      when that code hash is allow-listed in ProtocolConfig and the job is not a replay.
    /// @param instances Public instances: the job's input commitments first, then the outputs.
    function submitResult(uint256 jobId, bytes calldata proof, uint256[] calldata instances) external;
    /// @notice Anyone ends a job past its deadline. The consumer is refunded in full. A missed claimed job is
    ///         slashed (burn + treasury) and recorded as a miss, unless the provider was not at fault: the
    ///         market is paused or was unpaused after the claim, the model is Paused or was unpaused after the
    ///         claim, or the verifier's code changed or is not allow-listed; then the collateral is just
    ///         unlocked.
    function expireJob(uint256 jobId) external;
    /// @notice The consumer rates a settled job once (1..5). Only rewarded jobs feed the provider's NRS.
    function rateJob(uint256 jobId, uint8 rating) external;
    /// @notice Pay out everything credited to the caller, and the emission rewards (NGX) the RewardsPool owes it.
    /// @return amount What this market paid (in its payment token); rewards are in the pool's RewardsClaimed.
    function withdraw() external returns (uint256 amount);

    /// @notice Guardian stops posts, claims and submissions. Cancel, input delivery, decline, expiry,
    ///         rating and withdrawals keep working.
    function pause() external;
    function unpause() external;

    /// @notice A job as stored, except that a Claimed job's `proveDeadline` is its current deadline: the claim's,
    ///         or a whole `proveWindow` after the latest guardian unpause (market or model) that came after the
    ///         claim (issue #23). Submitting, declining and delivering need `t <` it; expiry `t >=` it.
    function getJob(uint256 jobId) external view returns (Job memory);
    /// @notice A job's auction, deliverer and reopening details (all zero for a plain job).
    function getJobExtras(uint256 jobId) external view returns (JobExtras memory);
    /// @notice The price a claim of Open job `jobId` would lock at `timestamp` (the price itself once claimed).
    function priceAt(uint256 jobId, uint256 timestamp) external view returns (uint256);
    /// @notice `proveDeadline - proveWindow / 2` of a claimed job, with `getJob`'s (possibly moved) `proveDeadline`
    ///         (0 when never claimed): the consumer must
    ///         have handed over a valid input before it.
    function inputDeadline(uint256 jobId) external view returns (uint256);
    /// @notice Last time the guardian unpaused the market (0 if never).
    function lastUnpausedAt() external view returns (uint256);
    /// @notice keccak256(abi.encodePacked(outputs)) of a settled job (zero before); the outputs are in its
    ///         JobSettled event.
    function outputsHashOf(uint256 jobId) external view returns (bytes32);
    function claimable(address account) external view returns (uint256);
    function jobCount() external view returns (uint256);
    /// @notice Tokens the market must hold: escrowed prices of live jobs plus all unclaimed credits.
    function totalLiabilities() external view returns (uint256);
    /// @notice Whether `consumer`'s order nonce was filled or cancelled.
    function orderNonceUsed(address consumer, uint256 nonce) external view returns (bool);
    /// @notice The EIP-712 digest the consumer signs for `order` with `inputCommitments` (domain "NeuroGrid
    ///         JobMarket", version "1", this chain, this market).
    function orderDigest(Order calldata order, uint256[] calldata inputCommitments) external view returns (bytes32);
}
