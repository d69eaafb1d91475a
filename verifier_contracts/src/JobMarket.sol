// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IJobMarket} from "./interfaces/IJobMarket.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IProtocolConfig} from "./interfaces/IProtocolConfig.sol";
import {IProviderStaking} from "./interfaces/IProviderStaking.sol";
import {IReputation} from "./interfaces/IReputation.sol";
import {IRewardsPool} from "./interfaces/IRewardsPool.sol";
import {IHalo2Verifier, IHalo2VerifierReusable} from "./interfaces/IHalo2Verifier.sol";
import {INgxConsumer} from "./interfaces/INgxConsumer.sol";

/// @title JobMarket
/// @notice Escrow for verifiable-inference jobs: the consumer's payment is released only when the
///         model's registered EZKL verifier accepts a proof whose public instances start with the job's
///         input commitments.
/// @dev A proof is bound to its job by contract logic (EZKL has no extra public inputs): only the assigned
///      provider may submit, payment goes to the assigned provider, and the instances must carry the job's
///      commitments. The payment token is fixed at deployment (NGX); fee-on-transfer tokens are unsupported.
///      Every state-changing function is nonReentrant and follows checks-effects-interactions; tokens only
///      leave through `withdraw` (pull; it also has the RewardsPool pay the caller's owed NGX rewards), except
///      slashes, which the trusted ProviderStaking pays in NGX.
///      Trust (issue #11): the verifier's code hash pinned in the registry is re-checked before each
///      verification (EXTCODEHASH, so a metamorphic or re-deployed verifier cannot settle); rewards and NRS go
///      only to allow-listed verifier code and to a model's first job with given commitments; slashes go to
///      burn + treasury; a provider is not slashed for a window it could not use.
///      Market II (issue #16): contract consumers get a bounded-gas callback after settlement (pay first, call
///      after, the outcome in CallbackResult); auction jobs lock a rising price at the claim; a job whose
///      provider missed its deadline reopens once for a second prover, paid a bounty out of the first one's
///      slash (burned if nobody finishes, so the consumer never profits from a slash).
///      Orders: a provider fills a consumer's EIP-712 signed order (`fillOrder`: post for the consumer, who pays by
///      permit or allowance and needs no ETH, and claim for the provider, in one transaction; one fill per nonce).
contract JobMarket is IJobMarket, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The BN254 scalar field modulus; every public instance must be below it.
    uint256 public constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice Largest `deliverInput` payload in bytes (32 KiB of ciphertext). Bounds the event's calldata
    ///         and log cost; larger inputs belong off chain.
    uint256 public constant MAX_INPUT_PAYLOAD = 32 * 1024;
    /// @notice Job flag, set at settlement: no reward, NRS or rating (a replay of a statement already settled, or a
    ///         verifier whose code is not allow-listed).
    uint8 public constant FLAG_NO_REWARD = 1;
    /// @notice Job flag: the consumer called `deliverInput` for this claim.
    uint8 public constant FLAG_INPUT_ON_CHAIN = 2;
    /// @notice Job flag: an auction whose price is not locked yet (cleared by the claim).
    uint8 public constant FLAG_AUCTION = 4;
    /// @notice Job flag: the first provider missed the job and it was reopened (at most once).
    uint8 public constant FLAG_REOPENED = 8;
    /// @notice Job flag: a deliverer besides the consumer may hand over the input.
    uint8 public constant FLAG_DELIVERER = 16;
    /// @notice Most gas a job's callback may ask for (the provider pays for it in its settlement).
    uint32 public constant MAX_CALLBACK_GAS = 2_000_000;
    /// @notice Share of a missed job's slash kept as the bounty for the provider that finishes it (the rest burned).
    uint256 public constant REOPEN_BOUNTY_BPS = 5_000;
    /// @notice EIP-712 type hash of a consumer's signed `Order` (its `inputCommitments` member is the array
    ///         `fillOrder` takes beside the order).
    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "Order(address consumer,JobTerms terms,uint256[] inputCommitments,address provider,uint256 nonce,uint40 signedAt,uint40 deadline)JobTerms(uint256 modelId,uint96 minPrice,uint96 maxPrice,uint32 rampDelay,uint32 rampLength,uint32 claimWindow,uint32 proveWindow,uint8 minReputation,address deliverer,uint32 callbackGasLimit)"
    );
    /// @notice EIP-712 type hash of `JobTerms` (an `Order` member).
    bytes32 public constant JOB_TERMS_TYPEHASH = keccak256(
        "JobTerms(uint256 modelId,uint96 minPrice,uint96 maxPrice,uint32 rampDelay,uint32 rampLength,uint32 claimWindow,uint32 proveWindow,uint8 minReputation,address deliverer,uint32 callbackGasLimit)"
    );
    /// @dev EIP-712 domain: name "NeuroGrid JobMarket", version "1", block.chainid, this market (computed per call,
    ///      so a fork's chain id is always the current one).
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant DOMAIN_NAME_HASH = keccak256("NeuroGrid JobMarket");
    bytes32 internal constant DOMAIN_VERSION_HASH = keccak256("1");
    /// @dev Gas kept back beyond a callback's limit for the call itself and the CallbackResult event.
    uint256 internal constant CALLBACK_OVERHEAD = 10_000;
    uint256 internal constant BPS = 10_000;

    IERC20 private immutable _token;
    IProtocolConfig private immutable _config;
    IModelRegistry private immutable _registry;
    IProviderStaking private immutable _staking;
    IReputation private immutable _reputation;
    IRewardsPool private immutable _rewards;

    // One slot, written once by postJob (count and liabilities) and read by postJob, claimJob and submitResult
    // (the pause flag). Liabilities (escrowed prices plus credits) only change when tokens come in or go out: a
    // settlement or refund moves an escrowed price to credits and leaves the total as it is.
    uint64 private _jobCount;
    uint144 private _totalLiabilities;
    uint40 private _lastUnpausedAt;
    bool private _paused;
    mapping(uint256 jobId => Job) private _jobs;
    /// @dev Per statement (`_statementOf`: what a proof proves, whatever the model id): zero until a job settles it,
    ///      then that first job's outputs hash. Only a settlement writes it, so posting or cancelling marks nothing.
    mapping(bytes32 statement => bytes32 outputsHash) private _settledStatements;
    /// @dev keccak256(abi.encodePacked(outputs)) of a settled replay job (whose statement's slot belongs to the
    ///      first job). The outputs themselves are in JobSettled.
    mapping(uint256 jobId => bytes32) private _replayOutputsHash;
    mapping(address account => uint256) private _claimable;
    /// @dev Only auction jobs (FLAG_AUCTION), until their claim.
    mapping(uint256 jobId => Auction) private _auctions;
    /// @dev Only jobs with FLAG_DELIVERER.
    mapping(uint256 jobId => address) private _deliverers;
    /// @dev Only reopened jobs (FLAG_REOPENED): who missed it, and the bounty held for whoever finishes it.
    mapping(uint256 jobId => Reopening) private _reopenings;
    /// @dev Order nonces filled or cancelled, per consumer.
    mapping(address consumer => mapping(uint256 nonce => bool)) private _orderNonceUsed;

    struct Auction {
        uint96 minPrice;
        uint40 rampStart;
        uint32 rampLength;
    }

    struct Reopening {
        address missedBy;
        uint96 bounty;
    }

    constructor(
        IERC20 token_,
        IProtocolConfig config_,
        IModelRegistry registry_,
        IProviderStaking staking_,
        IReputation reputation_,
        IRewardsPool rewards_
    ) {
        if (
            address(token_) == address(0) || address(config_) == address(0) || address(registry_) == address(0)
                || address(staking_) == address(0) || address(reputation_) == address(0)
                || address(rewards_) == address(0)
        ) revert JobMarket__ZeroAddress();
        _token = token_;
        _config = config_;
        _registry = registry_;
        _staking = staking_;
        _reputation = reputation_;
        _rewards = rewards_;
    }

    /// @notice The guardian paused the market (same event as OpenZeppelin's Pausable).
    event Paused(address account);
    /// @notice The guardian lifted the pause (same event as OpenZeppelin's Pausable).
    event Unpaused(address account);

    /// @notice The market is paused (same error as OpenZeppelin's Pausable).
    error EnforcedPause();
    /// @notice The market is not paused (same error as OpenZeppelin's Pausable).
    error ExpectedPause();

    modifier whenNotPaused() {
        _requireNotPaused();
        _;
    }

    modifier onlyGuardian() {
        _requireGuardian();
        _;
    }

    // ---------------------------------------------------------------- consumer

    /// @inheritdoc IJobMarket
    function postJob(
        uint256 modelId,
        uint256[] calldata inputCommitments,
        uint256 price,
        uint32 claimWindow,
        uint32 proveWindow,
        uint8 minReputation
    ) external nonReentrant whenNotPaused returns (uint256 jobId) {
        return _post(
            msg.sender,
            block.timestamp,
            _fixed(modelId, price, claimWindow, proveWindow, minReputation),
            inputCommitments
        );
    }

    /// @inheritdoc IJobMarket
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
    ) external nonReentrant whenNotPaused returns (uint256 jobId) {
        _permit(msg.sender, price, permitDeadline, v, r, s);
        return _post(
            msg.sender,
            block.timestamp,
            _fixed(modelId, price, claimWindow, proveWindow, minReputation),
            inputCommitments
        );
    }

    /// @inheritdoc IJobMarket
    function postJobWithTerms(JobTerms calldata terms, uint256[] calldata inputCommitments)
        external
        nonReentrant
        whenNotPaused
        returns (uint256 jobId)
    {
        return _post(msg.sender, block.timestamp, terms, inputCommitments);
    }

    /// @inheritdoc IJobMarket
    /// @dev Checks, then the nonce is marked used before any external call; the permit, the post's transferFrom
    ///      and the claim's calls to the trusted protocol contracts follow, all under the reentrancy guard.
    function fillOrder(
        Order calldata order,
        uint256[] calldata inputCommitments,
        bytes calldata signature,
        Permit calldata permit
    ) external nonReentrant whenNotPaused returns (uint256 jobId) {
        (address consumer, uint256 nonce, uint256 signedAt) = (order.consumer, order.nonce, order.signedAt);
        {
            (address provider, uint256 deadline) = (order.provider, order.deadline);
            if (block.timestamp >= deadline) revert JobMarket__OrderExpired(deadline);
            if (signedAt > block.timestamp) revert JobMarket__OrderNotYetValid(signedAt);
            if (provider != address(0) && provider != msg.sender) revert JobMarket__OrderForAnotherProvider(provider);
        }
        (address signer, ECDSA.RecoverError err,) =
            ECDSA.tryRecoverCalldata(_orderDigest(order, inputCommitments), signature);
        if (err != ECDSA.RecoverError.NoError || signer != consumer) revert JobMarket__BadOrderSignature();
        _useNonce(consumer, nonce);

        JobTerms memory terms = order.terms;
        if (permit.v != 0) _permit(consumer, terms.maxPrice, permit.deadline, permit.v, permit.r, permit.s);
        jobId = _post(consumer, signedAt, terms, inputCommitments);
        _claim(jobId, msg.sender);
        emit OrderFilled(jobId, consumer, nonce, msg.sender);
    }

    /// @inheritdoc IJobMarket
    /// @dev One write and no external calls, hence no nonReentrant guard; no whenNotPaused: withdrawing an offer
    ///      must always work.
    function cancelOrder(uint256 nonce) external {
        _useNonce(msg.sender, nonce);
        emit OrderCancelled(msg.sender, nonce);
    }

    /// @inheritdoc IJobMarket
    function cancelJob(uint256 jobId) external nonReentrant {
        Job storage job = _jobs[jobId];
        _requireStatus(jobId, job.status, JobStatus.Open);
        if (msg.sender != job.consumer) revert JobMarket__NotConsumer(jobId, msg.sender);
        job.status = JobStatus.Cancelled;
        uint256 price = job.price;
        emit JobCancelled(jobId, msg.sender, price);
        _refund(msg.sender, price);
        // Withdrawing a job a provider left unfinished is no fault of the consumer's.
        if (job.flags & FLAG_REOPENED == 0) _reputation.recordConsumerCancelled(msg.sender);
        else _burnBounty(jobId);
    }

    /// @inheritdoc IJobMarket
    function rateJob(uint256 jobId, uint8 rating) external nonReentrant {
        Job storage job = _jobs[jobId];
        _requireStatus(jobId, job.status, JobStatus.Settled);
        if (msg.sender != job.consumer) revert JobMarket__NotConsumer(jobId, msg.sender);
        if (rating == 0 || rating > 5) revert JobMarket__InvalidRating(rating);
        if (job.rating != 0) revert JobMarket__AlreadyRated(jobId);
        job.rating = rating;
        address provider = job.provider;
        emit JobRated(jobId, provider, rating);
        // A self-dealt or unverifiable job must not buy peer rating either.
        if (job.flags & FLAG_NO_REWARD == 0) _reputation.recordRating(provider, rating);
    }

    /// @inheritdoc IJobMarket
    /// @dev One flag write and one view call to the registry, hence no nonReentrant guard; no whenNotPaused:
    ///      delivery finishes a job already in flight. A delivery at or after the input deadline does not count:
    ///      it would turn the provider's free InputMissing decline into a costly one (issue #23, item 4).
    function deliverInput(uint256 jobId, bytes calldata payload) external {
        Job storage job = _jobs[jobId];
        _requireStatus(jobId, job.status, JobStatus.Claimed);
        uint8 flags = job.flags;
        if (msg.sender != job.consumer && (flags & FLAG_DELIVERER == 0 || msg.sender != _deliverers[jobId])) {
            revert JobMarket__NotConsumer(jobId, msg.sender);
        }
        uint256 deadline = _inputDeadline(job, _proveDeadline(job));
        if (block.timestamp >= deadline) revert JobMarket__InputDeadlinePassed(jobId, deadline);
        if (payload.length == 0) revert JobMarket__EmptyPayload();
        if (payload.length > MAX_INPUT_PAYLOAD) revert JobMarket__PayloadTooLarge(payload.length, MAX_INPUT_PAYLOAD);
        if (flags & FLAG_INPUT_ON_CHAIN == 0) job.flags = flags | FLAG_INPUT_ON_CHAIN;
        emit InputDelivered(jobId, msg.sender, job.provider, payload);
    }

    // ---------------------------------------------------------------- provider

    /// @inheritdoc IJobMarket
    function claimJob(uint256 jobId) external nonReentrant whenNotPaused {
        _claim(jobId, msg.sender);
    }

    /// @inheritdoc IJobMarket
    function declineJob(uint256 jobId, DeclineReason reason) external nonReentrant {
        Job storage job = _jobs[jobId];
        _requireStatus(jobId, job.status, JobStatus.Claimed);
        if (msg.sender != job.provider) revert JobMarket__NotAssignedProvider(jobId, msg.sender);
        uint256 proveDeadline = _proveDeadline(job);
        if (block.timestamp >= proveDeadline) revert JobMarket__ProveWindowClosed(jobId, proveDeadline);
        if (reason == DeclineReason.InputMissing) {
            uint256 deadline = _inputDeadline(job, proveDeadline);
            if (block.timestamp < deadline) revert JobMarket__InputDeadlineNotReached(jobId, deadline);
            if (job.flags & FLAG_INPUT_ON_CHAIN != 0) revert JobMarket__InputWasDelivered(jobId);
        }
        bool free = reason != DeclineReason.Other && _reputation.freeDeclinesLeft(msg.sender) != 0;
        job.status = JobStatus.Cancelled;
        (address consumer, uint256 price, uint256 collateral) = (job.consumer, job.price, job.collateral);
        uint256 slashed = free ? 0 : collateral * _config.declineSlashBps() / BPS;
        emit JobDeclined(jobId, msg.sender, price, uint8(reason), free, slashed);
        _refund(consumer, price);
        if (job.flags & FLAG_REOPENED != 0) _burnBounty(jobId);
        _release(msg.sender, collateral, slashed);
        _reputation.recordDecline(msg.sender, jobId, uint8(reason), free);
    }

    /// @inheritdoc IJobMarket
    function submitResult(uint256 jobId, bytes calldata proof, uint256[] calldata instances)
        external
        nonReentrant
        whenNotPaused
    {
        Job memory job = _jobs[jobId];
        _requireStatus(jobId, job.status, JobStatus.Claimed);
        if (msg.sender != job.provider) revert JobMarket__NotAssignedProvider(jobId, msg.sender);

        IModelRegistry.Verification memory model = _registry.settlementOf(job.modelId);
        {
            uint256 proveDeadline = _movedDeadline(job.proveDeadline, job.proveWindow, model.lastUnpausedAt);
            if (block.timestamp >= proveDeadline) revert JobMarket__ProveWindowClosed(jobId, proveDeadline);
        }
        if (model.status == IModelRegistry.ModelStatus.Paused) revert JobMarket__ModelPaused(job.modelId);
        // Provenance: the code that judges this proof is the code pinned when the model was registered.
        bytes32 codeHash = model.verifier.codehash;
        if (codeHash != model.verifierCodeHash) {
            revert JobMarket__VerifierCodeChanged(model.verifier, model.verifierCodeHash, codeHash);
        }
        uint256 nIn = model.inputCommitmentCount;
        if (instances.length != nIn + model.outputCount) {
            revert JobMarket__InstanceCountMismatch(nIn + model.outputCount, instances.length);
        }
        if (_packedHash(instances[:nIn]) != job.commitmentsHash) {
            revert JobMarket__CommitmentMismatch(jobId);
        }
        for (uint256 i = nIn; i < instances.length; ++i) {
            if (instances[i] >= SNARK_SCALAR_FIELD) revert JobMarket__InstanceOutOfField(i, instances[i]);
        }
        _verify(jobId, model, proof, instances);
        _settle(jobId, job, model, instances[nIn:]);
    }

    // ---------------------------------------------------------------- anyone

    /// @inheritdoc IJobMarket
    function expireJob(uint256 jobId) external nonReentrant {
        Job storage job = _jobs[jobId];
        JobStatus status = job.status;
        (address consumer, address provider, uint256 price) = (job.consumer, job.provider, job.price);
        bool reopened = job.flags & FLAG_REOPENED != 0;
        if (status == JobStatus.Open) {
            if (block.timestamp < job.claimDeadline) revert JobMarket__NotExpired(jobId, job.claimDeadline);
            job.status = JobStatus.Expired;
            uint256 bounty = reopened ? _burnBounty(jobId) : 0;
            emit JobExpired(jobId, address(0), price, 0, bounty);
            _refund(consumer, price);
            if (!reopened) _reputation.recordConsumerExpiredUnclaimed(consumer);
        } else if (status == JobStatus.Claimed) {
            IModelRegistry.Verification memory model = _registry.verificationOf(job.modelId);
            uint256 proveDeadline = _movedDeadline(job.proveDeadline, job.proveWindow, model.lastUnpausedAt);
            if (block.timestamp < proveDeadline) revert JobMarket__NotExpired(jobId, proveDeadline);
            uint256 collateral = job.collateral;
            bool atFault = _providerAtFault(model);
            uint256 slashed = atFault ? collateral * _config.slashBps() / BPS : 0;
            if (atFault && !reopened) {
                _reopen(jobId, job, provider, collateral, slashed);
                return;
            }
            job.status = JobStatus.Expired;
            emit JobExpired(jobId, provider, price, slashed, slashed * _config.slashBurnBps() / BPS);
            _refund(consumer, price);
            if (reopened) _burnBounty(jobId);
            _release(provider, collateral, slashed);
            if (atFault) _reputation.recordMiss(provider);
        } else {
            _requireStatus(jobId, status, JobStatus.Claimed);
        }
    }

    /// @inheritdoc IJobMarket
    /// @dev Emission rewards (NGX) stay in the RewardsPool until then (one write per settlement instead of a
    ///      token transfer); the pool transfers them here, after this market's own effects.
    function withdraw() external nonReentrant returns (uint256 amount) {
        amount = _claimable[msg.sender];
        if (amount != 0) {
            _claimable[msg.sender] = 0;
            _totalLiabilities -= uint144(amount);
            emit Withdrawn(msg.sender, amount);
        }
        uint256 rewarded = _rewards.claimFor(msg.sender);
        if (amount == 0) {
            if (rewarded == 0) revert JobMarket__NothingToWithdraw(msg.sender);
            return 0;
        }
        _token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- guardian

    /// @inheritdoc IJobMarket
    function pause() external onlyGuardian {
        _requireNotPaused();
        _paused = true;
        emit Paused(msg.sender);
    }

    /// @inheritdoc IJobMarket
    function unpause() external onlyGuardian {
        if (!_paused) revert ExpectedPause();
        _paused = false;
        _lastUnpausedAt = uint40(block.timestamp);
        emit Unpaused(msg.sender);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IJobMarket
    function getJob(uint256 jobId) external view returns (Job memory job) {
        job = _jobs[jobId];
        if (job.status == JobStatus.Claimed) job.proveDeadline = uint40(_proveDeadline(_jobs[jobId]));
    }

    /// @inheritdoc IJobMarket
    function getJobExtras(uint256 jobId) external view returns (JobExtras memory extras) {
        Auction memory auction = _auctions[jobId];
        Reopening memory reopening = _reopenings[jobId];
        return JobExtras({
            minPrice: auction.minPrice,
            rampStart: auction.rampStart,
            rampLength: auction.rampLength,
            deliverer: _deliverers[jobId],
            missedBy: reopening.missedBy,
            bounty: reopening.bounty
        });
    }

    /// @inheritdoc IJobMarket
    function priceAt(uint256 jobId, uint256 timestamp) external view returns (uint256) {
        Job storage job = _jobs[jobId];
        if (job.flags & FLAG_AUCTION == 0) return job.price;
        return _auctionPrice(_auctions[jobId], job.price, timestamp);
    }

    /// @inheritdoc IJobMarket
    function inputDeadline(uint256 jobId) external view returns (uint256) {
        Job storage job = _jobs[jobId];
        if (job.proveDeadline == 0) return 0;
        return _inputDeadline(job, _proveDeadline(job));
    }

    /// @dev onlyGuardian's check as one function (not copied into pause and unpause).
    function _requireGuardian() private view {
        if (msg.sender != _config.guardian()) revert JobMarket__NotGuardian(msg.sender);
    }

    /// @dev The modifier's check as one function (not copied into every function that uses it).
    function _requireNotPaused() private view {
        if (_paused) revert EnforcedPause();
    }

    /// @notice Whether the guardian has paused the market.
    function paused() public view returns (bool) {
        return _paused;
    }

    /// @inheritdoc IJobMarket
    function lastUnpausedAt() external view returns (uint256) {
        return _lastUnpausedAt;
    }

    /// @inheritdoc IJobMarket
    function outputsHashOf(uint256 jobId) external view returns (bytes32 hash) {
        Job storage job = _jobs[jobId];
        if (job.status != JobStatus.Settled) return 0;
        hash = _replayOutputsHash[jobId];
        if (hash == 0) {
            hash = _settledStatements[_statementOf(_registry.settlementOf(job.modelId), job.commitmentsHash)];
        }
    }

    /// @inheritdoc IJobMarket
    function claimable(address account) external view returns (uint256) {
        return _claimable[account];
    }

    /// @inheritdoc IJobMarket
    function jobCount() external view returns (uint256) {
        return _jobCount;
    }

    /// @inheritdoc IJobMarket
    function totalLiabilities() external view returns (uint256) {
        return _totalLiabilities;
    }

    /// @inheritdoc IJobMarket
    function orderNonceUsed(address consumer, uint256 nonce) external view returns (bool) {
        return _orderNonceUsed[consumer][nonce];
    }

    /// @inheritdoc IJobMarket
    function orderDigest(Order calldata order, uint256[] calldata inputCommitments) external view returns (bytes32) {
        return _orderDigest(order, inputCommitments);
    }

    /// @notice The contracts this market is wired to.
    function wiring()
        external
        view
        returns (
            IERC20 token,
            IProtocolConfig config,
            IModelRegistry registry,
            IProviderStaking staking,
            IReputation reputation,
            IRewardsPool rewards
        )
    {
        return (_token, _config, _registry, _staking, _reputation, _rewards);
    }

    // ---------------------------------------------------------------- internals

    /// @dev EIP-712: keccak256("\x19\x01" || domainSeparator || hashStruct(order)). hashStruct(order) =
    ///      keccak256(ORDER_TYPEHASH, consumer, hashStruct(terms), keccak256(packed inputCommitments), provider,
    ///      nonce, signedAt, deadline) and hashStruct(terms) = keccak256(JOB_TERMS_TYPEHASH, its ten members): an
    ///      Order is a static struct, so its 15 words lie in calldata in member order and are hashed as they are.
    ///      Hashing raw words is safe: a word with dirty high bits gives a digest no EIP-712 signer produces, and
    ///      fillOrder reads every member through Solidity (which reverts on dirty bits) anyway.
    function _orderDigest(Order calldata order, uint256[] calldata inputCommitments)
        private
        view
        returns (bytes32 digest)
    {
        bytes32 domain = keccak256(
            abi.encode(DOMAIN_TYPEHASH, DOMAIN_NAME_HASH, DOMAIN_VERSION_HASH, block.chainid, address(this))
        );
        bytes32 commitmentsHash = _packedHash(inputCommitments);
        (bytes32 orderType, bytes32 termsType) = (ORDER_TYPEHASH, JOB_TERMS_TYPEHASH);
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, termsType)
            calldatacopy(add(m, 0x20), add(order, 0x20), 0x140) // terms: words 1..10 of the order
            let termsHash := keccak256(m, 0x160)
            mstore(m, orderType)
            mstore(add(m, 0x20), calldataload(order)) // consumer
            mstore(add(m, 0x40), termsHash)
            mstore(add(m, 0x60), commitmentsHash)
            calldatacopy(add(m, 0x80), add(order, 0x160), 0x80) // provider, nonce, signedAt, deadline
            let structHash := keccak256(m, 0x100)
            mstore(m, hex"1901")
            mstore(add(m, 0x02), domain)
            mstore(add(m, 0x22), structHash)
            digest := keccak256(m, 0x42)
        }
    }

    /// @dev Marks `consumer`'s order nonce used (filled or cancelled); each nonce is used at most once.
    function _useNonce(address consumer, uint256 nonce) private {
        mapping(uint256 => bool) storage used = _orderNonceUsed[consumer];
        if (used[nonce]) revert JobMarket__OrderNonceUsed(consumer, nonce);
        used[nonce] = true;
    }

    /// @dev Tries `owner`'s EIP-2612 permit of `value` to this market. A front-runner may consume the permit first;
    ///      the allowance then exists and transferFrom works, so a failed permit is ignored.
    function _permit(address owner, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) private {
        try IERC20Permit(address(_token)).permit(owner, address(this), value, deadline, v, r, s) {} catch {}
    }

    /// @dev The terms of a fixed-price job without deliverer or callback.
    function _fixed(uint256 modelId, uint256 price, uint32 claimWindow, uint32 proveWindow, uint8 minReputation)
        private
        pure
        returns (JobTerms memory)
    {
        if (price > type(uint96).max) revert JobMarket__InvalidPrice(price);
        return JobTerms({
            modelId: modelId,
            minPrice: uint96(price),
            maxPrice: uint96(price),
            rampDelay: 0,
            rampLength: 0,
            claimWindow: claimWindow,
            proveWindow: proveWindow,
            minReputation: minReputation,
            deliverer: address(0),
            callbackGasLimit: 0
        });
    }

    /// @dev Posts a job for `consumer`, who pays `terms.maxPrice`; an auction's ramp starts at `rampFrom +
    ///      rampDelay` (the post's time, or a filled order's `signedAt`).
    function _post(address consumer, uint256 rampFrom, JobTerms memory terms, uint256[] calldata inputCommitments)
        private
        returns (uint256 jobId)
    {
        (IModelRegistry.ModelStatus status, uint256 commitmentCount) = _registry.postingOf(terms.modelId);
        if (status != IModelRegistry.ModelStatus.Active) revert JobMarket__ModelNotActive(terms.modelId);
        if (inputCommitments.length != commitmentCount) {
            revert JobMarket__CommitmentCountMismatch(commitmentCount, inputCommitments.length);
        }
        for (uint256 i; i < inputCommitments.length; ++i) {
            if (inputCommitments[i] >= SNARK_SCALAR_FIELD) {
                revert JobMarket__InstanceOutOfField(i, inputCommitments[i]);
            }
        }
        uint8 flags = _checkExtras(consumer, terms);
        _checkTerms(terms.minPrice, terms.claimWindow, terms.proveWindow);
        if (terms.minReputation > 100) revert JobMarket__InvalidMinReputation(terms.minReputation);
        bytes32 commitmentsHash = _packedHash(inputCommitments);

        jobId = ++_jobCount;
        uint256 claimDeadline = block.timestamp + terms.claimWindow;
        _jobs[jobId] = Job({
            consumer: consumer,
            claimDeadline: uint40(claimDeadline),
            proveWindow: terms.proveWindow,
            minReputation: terms.minReputation,
            status: JobStatus.Open,
            rating: 0,
            provider: address(0),
            proveDeadline: 0,
            flags: flags,
            callbackGasLimit: terms.callbackGasLimit,
            price: terms.maxPrice,
            collateral: 0,
            modelId: uint64(terms.modelId),
            commitmentsHash: commitmentsHash
        });
        _totalLiabilities += terms.maxPrice;
        _emitPosted(jobId, consumer, terms, inputCommitments, claimDeadline);
        if (flags != 0 || terms.callbackGasLimit != 0) _recordExtras(jobId, rampFrom + terms.rampDelay, terms, flags);
        _token.safeTransferFrom(consumer, address(this), terms.maxPrice);
    }

    function _emitPosted(
        uint256 jobId,
        address consumer,
        JobTerms memory terms,
        uint256[] calldata inputCommitments,
        uint256 claimDeadline
    ) private {
        emit JobPosted(
            jobId,
            consumer,
            terms.modelId,
            inputCommitments,
            terms.maxPrice,
            claimDeadline,
            terms.proveWindow,
            terms.minReputation
        );
    }

    /// @dev `claimJob` of `provider` (the caller of claimJob or fillOrder).
    function _claim(uint256 jobId, address provider) private {
        Job storage job = _jobs[jobId];
        _requireStatus(jobId, job.status, JobStatus.Open);
        if (block.timestamp >= job.claimDeadline) revert JobMarket__ClaimWindowClosed(jobId, job.claimDeadline);
        if (provider == job.consumer) revert JobMarket__ConsumerCannotClaim(jobId);
        if (_registry.modelStatus(job.modelId) != IModelRegistry.ModelStatus.Active) {
            revert JobMarket__ModelNotActive(job.modelId);
        }
        if (!_staking.isRegistered(provider)) revert JobMarket__ProviderNotRegistered(provider);
        uint8 flags = job.flags;
        if (flags & FLAG_REOPENED != 0 && _reopenings[jobId].missedBy == provider) {
            revert JobMarket__MissedBefore(jobId, provider);
        }
        uint256 price = job.price;
        if (flags & FLAG_AUCTION != 0) price = _auctionPrice(_auctions[jobId], price, block.timestamp);
        uint256 staked = _staking.stakedOf(provider);
        uint256 score = _reputation.nrs(provider);
        (uint256 minStake, uint256 collateral) = _config.claimTerms(price, score);
        if (staked < minStake) revert JobMarket__StakeBelowMinimum(provider, staked, minStake);
        if (score < job.minReputation) revert JobMarket__ReputationTooLow(provider, score, job.minReputation);

        if (flags & FLAG_AUCTION != 0) _lockPrice(jobId, job, price);
        uint256 proveDeadline = block.timestamp + job.proveWindow;
        job.status = JobStatus.Claimed;
        job.provider = provider;
        job.proveDeadline = uint40(proveDeadline);
        job.collateral = uint96(collateral);
        emit JobClaimed(jobId, provider, collateral, proveDeadline);
        _staking.lockCollateral(provider, collateral);
    }

    /// @dev Checks the auction, deliverer and callback terms; returns their flags.
    function _checkExtras(address consumer, JobTerms memory terms) private pure returns (uint8 flags) {
        (uint256 low, uint256 high) = (terms.minPrice, terms.maxPrice);
        if (low != high || terms.rampLength != 0 || terms.rampDelay != 0) {
            if (low >= high || terms.rampLength == 0 || uint256(terms.rampDelay) + terms.rampLength > terms.claimWindow)
            {
                revert JobMarket__InvalidAuction(low, high, terms.rampLength);
            }
            flags = FLAG_AUCTION;
        }
        if (terms.deliverer != address(0)) {
            if (terms.deliverer == consumer) revert JobMarket__InvalidDeliverer(terms.deliverer);
            flags |= FLAG_DELIVERER;
        }
        if (terms.callbackGasLimit > MAX_CALLBACK_GAS) {
            revert JobMarket__CallbackGasTooHigh(terms.callbackGasLimit, MAX_CALLBACK_GAS);
        }
    }

    function _recordExtras(uint256 jobId, uint256 rampStart, JobTerms memory terms, uint8 flags) private {
        if (flags & FLAG_AUCTION != 0) {
            _auctions[jobId] =
                Auction({minPrice: terms.minPrice, rampStart: uint40(rampStart), rampLength: terms.rampLength});
        }
        if (flags & FLAG_DELIVERER != 0) _deliverers[jobId] = terms.deliverer;
        emit JobTermsSet(
            jobId,
            terms.minPrice,
            flags & FLAG_AUCTION != 0 ? rampStart : 0,
            terms.rampLength,
            terms.deliverer,
            terms.callbackGasLimit
        );
    }

    /// @dev The price of an auction at `timestamp`: `minPrice` until the ramp starts, then rising linearly to
    ///      `maxPrice` at its end (rounded down, so never above what the consumer escrowed).
    function _auctionPrice(Auction memory auction, uint256 maxPrice, uint256 timestamp) private pure returns (uint256) {
        if (timestamp <= auction.rampStart) return auction.minPrice;
        uint256 elapsed = timestamp - auction.rampStart;
        if (elapsed >= auction.rampLength) return maxPrice;
        return auction.minPrice + (maxPrice - auction.minPrice) * elapsed / auction.rampLength;
    }

    /// @dev An auction's claim: the job's price becomes `price` and the escrow above it the consumer's credit.
    function _lockPrice(uint256 jobId, Job storage job, uint256 price) private {
        uint256 refund = job.price - price;
        job.price = uint96(price);
        job.flags &= ~FLAG_AUCTION;
        delete _auctions[jobId];
        emit JobPriceLocked(jobId, price, refund);
        _refund(job.consumer, refund);
    }

    /// @dev The first miss of a job: slash the provider, keep REOPEN_BOUNTY_BPS of the slash in this market as
    ///      the bounty (the rest burned), and open the job again for a claim window as long as its prove window.
    function _reopen(uint256 jobId, Job storage job, address provider, uint256 collateral, uint256 slashed) private {
        uint256 bounty = slashed * REOPEN_BOUNTY_BPS / BPS;
        uint256 claimDeadline = block.timestamp + job.proveWindow;
        job.status = JobStatus.Open;
        job.provider = address(0);
        job.proveDeadline = 0;
        job.collateral = 0;
        job.claimDeadline = uint40(claimDeadline);
        job.flags = (job.flags | FLAG_REOPENED) & ~FLAG_INPUT_ON_CHAIN;
        _reopenings[jobId] = Reopening({missedBy: provider, bounty: uint96(bounty)});
        _totalLiabilities += uint144(bounty);
        emit JobReopened(jobId, provider, slashed, bounty, claimDeadline);
        _staking.slash(provider, collateral, slashed, slashed - bounty, address(this));
        _reputation.recordMiss(provider);
    }

    /// @dev A reopened job ended without a result: its bounty is burned (never paid to the consumer).
    function _burnBounty(uint256 jobId) private returns (uint256 bounty) {
        bounty = _reopenings[jobId].bounty;
        if (bounty == 0) return 0;
        _reopenings[jobId].bounty = 0;
        _totalLiabilities -= uint144(bounty);
        ERC20Burnable(address(_token)).burn(bounty);
    }

    function _checkTerms(uint256 price, uint32 claimWindow, uint32 proveWindow) private view {
        if (price == 0 || price > type(uint96).max) revert JobMarket__InvalidPrice(price);
        (uint256 minPrice, uint32 minClaim, uint32 maxClaim, uint32 minProve, uint32 maxProve) = _config.postTerms();
        if (price < minPrice) revert JobMarket__PriceBelowMinimum(price, minPrice);
        if (claimWindow < minClaim || claimWindow > maxClaim) {
            revert JobMarket__ClaimWindowOutOfBounds(claimWindow, minClaim, maxClaim);
        }
        if (proveWindow < minProve || proveWindow > maxProve) {
            revert JobMarket__ProveWindowOutOfBounds(proveWindow, minProve, maxProve);
        }
    }

    /// @dev What a proof proves, whatever the model id (issue #23, item 3): the verifier code (a dedicated EZKL
    ///      verifier embeds its vk), the VKA digest for a reusable one (`settlementOf` leaves it zero for a dedicated
    ///      model, whose registered vkDigest nobody checks), and the input commitments (the outputs follow from them).
    function _statementOf(IModelRegistry.Verification memory model, bytes32 commitmentsHash)
        private
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(model.verifierCodeHash, model.vkDigest, commitmentsHash));
    }

    /// @dev A claimed job's prove deadline: a guardian unpause (market or model) after the claim gives the provider
    ///      a whole prove window from then on (issue #23, item 10), so a pause neither slashes it for time it could
    ///      not use nor lets it walk away from a claim unslashed. `unpausedAt + window > proveDeadline` is exactly
    ///      "unpaused after the claim".
    function _proveDeadline(Job storage job) private view returns (uint256) {
        return _movedDeadline(job.proveDeadline, job.proveWindow, _registry.lastUnpausedAtOf(job.modelId));
    }

    function _movedDeadline(uint256 deadline, uint256 window, uint256 modelUnpausedAt) private view returns (uint256) {
        uint256 unpausedAt = _lastUnpausedAt;
        if (modelUnpausedAt > unpausedAt) unpausedAt = modelUnpausedAt;
        uint256 moved = unpausedAt + window;
        return moved > deadline ? moved : deadline;
    }

    /// @dev The middle of the (possibly moved) prove window: the consumer must have delivered before it.
    function _inputDeadline(Job storage job, uint256 proveDeadline) private view returns (uint256) {
        return proveDeadline - job.proveWindow / 2;
    }

    /// @dev Effects and interactions of a valid proof: the job is paid exactly once (Settled is terminal).
    ///      Reward and NRS credit only for allow-listed verifier code and a first-time commitment. Only the
    ///      outputs' hash is stored (one slot for any number of outputs); the outputs are in JobSettled.
    function _settle(
        uint256 jobId,
        Job memory job,
        IModelRegistry.Verification memory model,
        uint256[] calldata outputs
    ) private {
        bool rewarded;
        uint256[3] memory split; // the provider's pay (price share plus any bounty), the royalty, the fee
        {
            (bool allowed, uint256 feeBps, address treasury) = _config.settlementTerms(model.verifierCodeHash);
            rewarded = _recordOutputs(jobId, _statementOf(model, job.commitmentsHash), _packedHash(outputs)) && allowed;
            _jobs[jobId].status = JobStatus.Settled;
            if (!rewarded) _jobs[jobId].flags = job.flags | FLAG_NO_REWARD;
            split[2] = job.price * feeBps / BPS;
            split[0] = _split(job.price, split[2], model, treasury);
            split[1] = job.price - split[2] - split[0];
        }
        if (job.flags & FLAG_REOPENED != 0) split[0] += _payBounty(jobId);

        // Interactions with trusted protocol contracts.
        _staking.unlockCollateral(msg.sender, job.collateral);
        uint256 reward;
        if (rewarded) {
            uint256 elapsed = block.timestamp + job.proveWindow - job.proveDeadline;
            _reputation.recordCompletion(msg.sender, job.consumer, elapsed, job.proveWindow, split[2]);
            reward = _rewards.reward(msg.sender, split[2]);
        } else {
            _reputation.recordConsumerSettled(job.consumer);
        }
        emit JobSettled(jobId, msg.sender, outputs, split[0], split[1], split[2], reward);
        if (job.callbackGasLimit != 0) _callback(jobId, job.consumer, job.callbackGasLimit, outputs);
    }

    /// @dev A reopened job's bounty goes to the provider that finished it (the caller).
    function _payBounty(uint256 jobId) private returns (uint256 bounty) {
        bounty = _reopenings[jobId].bounty;
        _reopenings[jobId].bounty = 0;
        _credit(msg.sender, bounty);
    }

    /// @dev Calls the consumer's `onInferenceResult` after everything is settled and paid, with exactly
    ///      `gasLimit` gas and no return data copied (a returndata bomb costs the callee, not the settlement).
    ///      A revert or out-of-gas only shows in CallbackResult. The market is still inside `submitResult`, so
    ///      every nonReentrant function reverts for the callee. The transaction must carry enough gas for the
    ///      full limit (EIP-150 forwards at most 63/64 of what is left): a provider cannot starve the callback.
    function _callback(uint256 jobId, address consumer, uint256 gasLimit, uint256[] calldata outputs) private {
        bytes memory data = abi.encodeCall(INgxConsumer.onInferenceResult, (jobId, outputs));
        uint256 needed = gasLimit + gasLimit / 63 + CALLBACK_OVERHEAD;
        if (gasleft() < needed) revert JobMarket__CallbackGasTooLow(needed, gasleft());
        bool ok;
        assembly ("memory-safe") {
            ok := call(gasLimit, consumer, 0, add(data, 0x20), mload(data), 0, 0)
        }
        emit CallbackResult(jobId, consumer, ok);
    }

    /// @dev Stores a settled job's outputs hash: the first settlement of a statement owns its slot; a later one
    ///      is a replay (returns false: no reward, NRS or rating) and keeps its hash under its job id.
    function _recordOutputs(uint256 jobId, bytes32 statement, bytes32 hash) private returns (bool first) {
        first = _settledStatements[statement] == 0;
        if (first) _settledStatements[statement] = hash;
        else _replayOutputsHash[jobId] = hash;
    }

    /// @dev Credits a settled job's price: `fee` to the treasury, the royalty to the model owner, the rest to the
    ///      provider (the caller). Returns the provider's pay.
    function _split(uint256 price, uint256 fee, IModelRegistry.Verification memory model, address treasury)
        private
        returns (uint256 pay)
    {
        uint256 royalty = price * model.royaltyBps / BPS;
        pay = price - fee - royalty;
        _credit(msg.sender, pay);
        _credit(model.owner, royalty);
        _credit(treasury, fee);
    }

    /// @dev A provider who misses a job is at fault unless it could not use its whole window: the market or
    ///      the model is paused now (an unpause after the claim moved the deadline instead, see `_proveDeadline`),
    ///      or the judge is not the trusted code (changed since registration, or not allow-listed: e.g. an owner's
    ///      proxy it can switch off).
    function _providerAtFault(IModelRegistry.Verification memory model) private view returns (bool) {
        if (paused() || model.status == IModelRegistry.ModelStatus.Paused) return false;
        if (model.verifier.codehash != model.verifierCodeHash) return false;
        return _config.isVerifierCodeAllowed(model.verifierCodeHash);
    }

    /// @dev Unlocks a job's collateral; `slashed` of it is taken, its burn share burned and the rest sent to
    ///      the treasury (never to the consumer, who could otherwise profit from a provider's failure).
    function _release(address provider, uint256 collateral, uint256 slashed) private {
        if (slashed == 0) {
            _staking.unlockCollateral(provider, collateral);
        } else {
            uint256 burned = slashed * _config.slashBurnBps() / BPS;
            _staking.slash(provider, collateral, slashed, burned, _config.treasury());
        }
    }

    /// @dev Reverts with JobMarket__InvalidProof unless the model's verifier accepts the proof. The verifier
    ///      is called with staticcall: it cannot change state or re-enter anything that writes. The caller has
    ///      checked the verifier's code hash against the pinned one, which also proves it has code.
    function _verify(
        uint256 jobId,
        IModelRegistry.Verification memory model,
        bytes calldata proof,
        uint256[] calldata instances
    ) private view {
        address verifier = model.verifier;
        bool ok;
        bytes memory ret;
        if (model.kind == IModelRegistry.VerifierKind.Dedicated) {
            (ok, ret) = verifier.staticcall(abi.encodeCall(IHalo2Verifier.verifyProof, (proof, instances)));
            if (!ok || ret.length < 32 || _word(ret, 0) != 1) revert JobMarket__InvalidProof(jobId);
        } else {
            bytes32[] memory vka = _loadVka(model.vkaPointer);
            (ok, ret) = verifier.staticcall(abi.encodeCall(IHalo2VerifierReusable.verifyProof, (proof, instances, vka)));
            // Non-standard return data: words [1, vka_digest, ...]; decode only those two.
            if (!ok || ret.length < 64 || _word(ret, 0) != 1) revert JobMarket__InvalidProof(jobId);
            bytes32 reported = bytes32(_word(ret, 1));
            if (reported != model.vkDigest) revert JobMarket__VkaDigestMismatch(model.vkDigest, reported);
        }
    }

    function _loadVka(address pointer) private view returns (bytes32[] memory words) {
        uint256 n = (pointer.code.length - 1) / 32;
        words = new bytes32[](n);
        assembly ("memory-safe") {
            extcodecopy(pointer, add(words, 0x20), 1, mul(n, 32))
        }
    }

    function _word(bytes memory data, uint256 index) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := mload(add(add(data, 0x20), mul(index, 0x20)))
        }
    }

    /// @dev The escrowed price becomes the consumer's credit (total liabilities unchanged).
    function _refund(address consumer, uint256 price) private {
        _credit(consumer, price);
    }

    function _credit(address account, uint256 amount) private {
        if (amount == 0) return;
        _claimable[account] += amount;
        emit Credited(account, amount);
    }

    /// @dev keccak256(abi.encodePacked(words)): uint256 words need no padding or cleaning, so this hashes their
    ///      calldata bytes as they are.
    function _packedHash(uint256[] calldata words) private pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            let size := shl(5, words.length)
            calldatacopy(m, words.offset, size)
            hash := keccak256(m, size)
        }
    }

    function _requireStatus(uint256 jobId, JobStatus actual, JobStatus expected) private pure {
        if (actual == expected) return;
        if (actual == JobStatus.None) revert JobMarket__UnknownJob(jobId);
        revert JobMarket__InvalidStatus(jobId, actual);
    }
}
