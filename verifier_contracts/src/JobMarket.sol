// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IJobMarket} from "./interfaces/IJobMarket.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IProtocolConfig} from "./interfaces/IProtocolConfig.sol";
import {IProviderStaking} from "./interfaces/IProviderStaking.sol";
import {IReputation} from "./interfaces/IReputation.sol";
import {IRewardsPool} from "./interfaces/IRewardsPool.sol";
import {JobMarketState} from "./JobMarketState.sol";
import {JobOrders} from "./JobOrders.sol";
import {JobTermsLib} from "./types/JobTermsLib.sol";
import {OrderLib} from "./types/OrderLib.sol";

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
///      Many orders in one transaction (`fillOrders`, issue #24) are code of the JobOrders module, which this market
///      creates in its constructor (same wiring) and runs by DELEGATECALL like the settlement module; order nonces
///      are a bitmap per consumer (256 a slot) that fillOrder, fillOrders and cancelOrder share.
///      Job terms and orders are struct-plus-library types: the structs are IJobMarket's, their validation, EIP-712
///      hashing and auction price maths are `types/JobTermsLib.sol` and `types/OrderLib.sol`.
///      Settlement at market cost (issue #24): every settlement (`submitResult`, and IJobSettlement's eager batches
///      and optimistic results with challenges) is code of the JobSettlement module, which this market runs by
///      DELEGATECALL in its own storage (its `fallback`; there is no `receive`). Both inherit JobMarketState, so the
///      storage layout is one; the module must be wired to the same six contracts (checked at construction).
contract JobMarket is JobMarketState, IJobMarket {
    using SafeERC20 for IERC20;
    using JobTermsLib for JobTerms;

    /// @notice Largest `deliverInput` payload in bytes (32 KiB of ciphertext). Bounds the event's calldata
    ///         and log cost; larger inputs belong off chain.
    uint256 public constant MAX_INPUT_PAYLOAD = 32 * 1024;
    /// @notice Share of a missed job's slash kept as the bounty for the provider that finishes it (the rest burned).
    uint256 public constant REOPEN_BOUNTY_BPS = 5_000;
    /// @notice EIP-712 type hash of a consumer's signed `Order` (its `inputCommitments` member is the array
    ///         `fillOrder` takes beside the order).
    bytes32 public constant ORDER_TYPEHASH = OrderLib.TYPEHASH;
    /// @notice EIP-712 type hash of `JobTerms` (an `Order` member).
    bytes32 public constant JOB_TERMS_TYPEHASH = JobTermsLib.TYPEHASH;
    /// @dev The settlement module (JobSettlement), run by DELEGATECALL for every selector this contract lacks.
    address private immutable _module;
    /// @dev The order-batch module (JobOrders, `fillOrders`), created by this market's constructor with its wiring.
    address private immutable _orders;

    /// @param module_ A JobSettlement deployed with the same six addresses (checked here).
    constructor(
        IERC20 token_,
        IProtocolConfig config_,
        IModelRegistry registry_,
        IProviderStaking staking_,
        IReputation reputation_,
        IRewardsPool rewards_,
        address module_
    ) JobMarketState(token_, config_, registry_, staking_, reputation_, rewards_) {
        if (module_.code.length == 0) revert JobMarket__ModuleMismatch(module_);
        (IERC20 t, IProtocolConfig c, IModelRegistry g, IProviderStaking st, IReputation r, IRewardsPool w) =
            JobMarketState(module_).wiring();
        if (t != token_ || c != config_ || g != registry_ || st != staking_ || r != reputation_ || w != rewards_) {
            revert JobMarket__ModuleMismatch(module_);
        }
        _module = module_;
        _orders = address(new JobOrders(token_, config_, registry_, staking_, reputation_, rewards_));
        _finalizedBits[0] = WORD_IN_USE; // jobs 1-254 (see `_newJobId` for the later words)
    }

    /// @notice The guardian paused the market (same event as OpenZeppelin's Pausable).
    event Paused(address account);
    /// @notice The guardian lifted the pause (same event as OpenZeppelin's Pausable).
    event Unpaused(address account);

    /// @notice The market is not paused (same error as OpenZeppelin's Pausable).
    error ExpectedPause();

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
        // A permit is only used when the allowance is short (as fillOrders does): a valid allowance needs none.
        if (permit.v != 0 && _token.allowance(consumer, address(this)) < terms.maxPrice) {
            _permit(consumer, permit.value, permit.deadline, permit.v, permit.r, permit.s);
        }
        jobId = _post(consumer, signedAt, terms, inputCommitments);
        _claim(jobId, msg.sender);
        emit OrderFilled(jobId, consumer, nonce, msg.sender);
    }

    /// @inheritdoc IJobMarket
    /// @dev Runs JobOrders.fillOrders in this market's storage (its guard and pause check are the module's).
    function fillOrders(Order[] calldata, uint256[][] calldata, bytes[] calldata, Permit[] calldata)
        external
        returns (uint256[] memory)
    {
        _delegate(_orders);
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
        _requireStatus(jobId, _statusOf(jobId, job.status), JobStatus.Settled);
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
        // A moved prove deadline is never earlier than the stored one, so before the stored input deadline the
        // registry (the model's last unpause) need not be asked.
        if (block.timestamp >= _inputDeadline(job, job.proveDeadline)) {
            uint256 deadline = _inputDeadline(job, _proveDeadline(job));
            if (block.timestamp >= deadline) revert JobMarket__InputDeadlinePassed(jobId, deadline);
        }
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
        // The input rule (issue #23, item 1): a costly input decline cuts the refund by the slash, burned.
        uint256 burned = reason == DeclineReason.Other ? 0 : slashed < price ? slashed : price;
        emit JobDeclined(jobId, msg.sender, price - burned, uint8(reason), free, slashed, burned);
        _refund(consumer, price - burned);
        _burnEscrow(burned);
        if (job.flags & FLAG_REOPENED != 0) _burnBounty(jobId);
        _release(msg.sender, collateral, slashed);
        _reputation.recordDecline(msg.sender, jobId, uint8(reason), free);
    }

    /// @inheritdoc IJobMarket
    /// @dev Runs JobSettlement.submitResult in this market's storage (the module holds every settlement).
    function submitResult(uint256, bytes calldata, uint256[] calldata) external {
        _delegate(_module);
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
        job.status = _statusOf(jobId, job.status);
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

    /// @notice The settlement module this market delegates to (IJobSettlement's functions and submitResult).
    function settlementModule() external view returns (address) {
        return _module;
    }

    /// @notice The order-batch module this market created and delegates `fillOrders` to.
    function orderModule() external view returns (address) {
        return _orders;
    }

    /// @notice Every selector this market lacks runs in the settlement module (IJobSettlement), in this market's
    ///         storage. Not payable, and there is no `receive`: the market takes no ETH.
    fallback() external {
        _delegate(_module);
    }

    /// @dev OpenZeppelin's `Proxy._delegate` (not inherited: its fallback is payable): runs `module` on this call's
    ///      calldata by DELEGATECALL and returns or reverts with its return data, straight to the caller.
    function _delegate(address module) private {
        assembly {
            calldatacopy(0x00, 0x00, calldatasize())
            let result := delegatecall(gas(), module, 0x00, calldatasize(), 0x00, 0x00)
            returndatacopy(0x00, 0x00, returndatasize())
            switch result
            case 0 { revert(0x00, returndatasize()) }
            default { return(0x00, returndatasize()) }
        }
    }

    /// @inheritdoc IJobMarket
    function lastUnpausedAt() external view returns (uint256) {
        return _lastUnpausedAt;
    }

    /// @inheritdoc IJobMarket
    function outputsHashOf(uint256 jobId) external view returns (bytes32 hash) {
        Job storage job = _jobs[jobId];
        if (_statusOf(jobId, job.status) != JobStatus.Settled) return 0;
        hash = _replayOutputsHash[jobId];
        if (hash == 0) {
            // The statement's first settlement: its slot holds the outputs hash XOR this job's id.
            hash = _settledStatements[_statementOf(_registry.settlementOf(job.modelId), job.commitmentsHash)]
                ^ bytes32(jobId);
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
        (uint256 bits, uint256 bit) = _nonceSlot(consumer, nonce);
        return bits & bit != 0;
    }

    /// @inheritdoc IJobMarket
    function orderDigest(Order calldata order, uint256[] calldata inputCommitments) external view returns (bytes32) {
        return _orderDigest(order, inputCommitments);
    }

    // ---------------------------------------------------------------- internals

    /// @dev EIP-712 (OrderLib): the digest of `order` with `inputCommitments` under this market's domain.
    function _orderDigest(Order calldata order, uint256[] calldata inputCommitments) private view returns (bytes32) {
        return OrderLib.digest(order, _packedHash(inputCommitments), _orderDomain());
    }

    /// @dev Marks `consumer`'s order nonce used (filled or cancelled); each nonce is used at most once.
    function _useNonce(address consumer, uint256 nonce) private {
        (uint256 bits, uint256 bit) = _nonceSlot(consumer, nonce);
        if (bits & bit != 0) revert JobMarket__OrderNonceUsed(consumer, nonce);
        _orderNonces[consumer][nonce >> 8] = bits | bit;
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
            callbackGasLimit: 0,
            settlement: 0
        });
    }

    /// @dev Posts a job for `consumer`, who pays `terms.maxPrice`; an auction's ramp starts at `rampFrom +
    ///      rampDelay` (the post's time, or a filled order's `signedAt`).
    function _post(address consumer, uint256 rampFrom, JobTerms memory terms, uint256[] calldata inputCommitments)
        private
        returns (uint256 jobId)
    {
        IModelRegistry.Verification memory model = _checkModel(terms.modelId, inputCommitments, terms.settlement);
        uint8 flags = terms.flagsFor(consumer);
        if (flags & FLAG_OPTIMISTIC != 0) _requireTrustedJudge(terms.modelId, model);
        _checkTerms(terms.minPrice, terms.claimWindow, terms.proveWindow);
        if (terms.minReputation > 100) revert JobMarket__InvalidMinReputation(terms.minReputation);
        bytes32 commitmentsHash = _packedHash(inputCommitments);

        jobId = _newJobId();
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
            terms.callbackGasLimit,
            terms.settlement
        );
    }

    /// @dev The price of an auction at `timestamp` (JobTermsLib's ramp, from the recorded ramp start).
    function _auctionPrice(Auction memory auction, uint256 maxPrice, uint256 timestamp) private pure returns (uint256) {
        return JobTermsLib.rampPrice(auction.minPrice, maxPrice, auction.rampStart, auction.rampLength, timestamp);
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

    /// @dev A post's model checks: the model is Active, the commitments are as many as it takes and in the field.
    ///      One registry call: `settlementOf` when the terms ask for optimistic settlement (`_requireTrustedJudge`
    ///      needs it, and it carries the status and commitment count too), the lighter `postingOf` otherwise.
    function _checkModel(uint256 modelId, uint256[] calldata inputCommitments, uint8 settlement)
        private
        view
        returns (IModelRegistry.Verification memory model)
    {
        IModelRegistry.ModelStatus status;
        uint256 count;
        if (settlement != JobTermsLib.EAGER) {
            model = _registry.settlementOf(modelId);
            (status, count) = (model.status, model.inputCommitmentCount);
        } else {
            (status, count) = _registry.postingOf(modelId);
        }
        if (status != IModelRegistry.ModelStatus.Active) revert JobMarket__ModelNotActive(modelId);
        if (inputCommitments.length != count) {
            revert JobMarket__CommitmentCountMismatch(count, inputCommitments.length);
        }
        for (uint256 i; i < inputCommitments.length; ++i) {
            if (inputCommitments[i] >= SNARK_SCALAR_FIELD) {
                revert JobMarket__InstanceOutOfField(i, inputCommitments[i]);
            }
        }
    }

    /// @dev Optimistic settlement rests on challenges, and a challenge is only as good as its judge: on verifier
    ///      code that is not allow-listed (an owner's proxy it can switch off) a provider could not answer, and an
    ///      unanswered challenge would then slash nobody while the consumer, holding the outputs, is refunded.
    ///      `model` is the registry's `settlementOf(modelId)`.
    function _requireTrustedJudge(uint256 modelId, IModelRegistry.Verification memory model) private view {
        bytes32 pinned = model.verifierCodeHash;
        if (model.verifier.codehash != pinned || !_config.isVerifierCodeAllowed(pinned)) {
            revert JobMarket__OptimisticNeedsTrustedVerifier(modelId, pinned);
        }
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

    /// @dev A claimed job's prove deadline: a guardian unpause (market or model) after the claim gives the provider
    ///      a whole prove window from then on (issue #23, item 10), so a pause neither slashes it for time it could
    ///      not use nor lets it walk away from a claim unslashed. `unpausedAt + window > proveDeadline` is exactly
    ///      "unpaused after the claim".
    function _proveDeadline(Job storage job) private view returns (uint256) {
        return _movedDeadline(job.proveDeadline, job.proveWindow, _registry.lastUnpausedAtOf(job.modelId));
    }

    /// @dev The middle of the (possibly moved) prove window: the consumer must have delivered before it.
    function _inputDeadline(Job storage job, uint256 proveDeadline) private view returns (uint256) {
        return proveDeadline - job.proveWindow / 2;
    }
}
