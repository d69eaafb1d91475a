// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IJobMarket} from "./interfaces/IJobMarket.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IProtocolConfig} from "./interfaces/IProtocolConfig.sol";
import {IProviderStaking} from "./interfaces/IProviderStaking.sol";
import {IReputation} from "./interfaces/IReputation.sol";
import {IRewardsPool} from "./interfaces/IRewardsPool.sol";
import {IHalo2Verifier, IHalo2VerifierReusable} from "./interfaces/IHalo2Verifier.sol";

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
contract JobMarket is IJobMarket, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The BN254 scalar field modulus; every public instance must be below it.
    uint256 public constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice Largest `deliverInput` payload in bytes (32 KiB of ciphertext). Bounds the event's calldata
    ///         and log cost; larger inputs belong off chain.
    uint256 public constant MAX_INPUT_PAYLOAD = 32 * 1024;
    /// @notice Job flag: the model already had a job with these commitments; no reward and no NRS.
    uint8 public constant FLAG_NO_REWARD = 1;
    /// @notice Job flag: the consumer called `deliverInput` for this claim.
    uint8 public constant FLAG_INPUT_ON_CHAIN = 2;
    uint256 internal constant BPS = 10_000;
    bytes32 internal constant POSTED = bytes32(uint256(1));

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
    /// @dev Per keccak256(abi.encode(modelId, commitmentsHash)): zero until a job with these commitments is
    ///      posted for the model, then POSTED; once that first job settles, its outputs hash (slot reuse: a
    ///      non-zero to non-zero write instead of a fresh slot per job).
    mapping(bytes32 modelCommitments => bytes32) private _commitmentsPosted;
    /// @dev keccak256(abi.encodePacked(outputs)) of a settled replay job (whose commitments' slot belongs to the
    ///      first job). The outputs themselves are in JobSettled.
    mapping(uint256 jobId => bytes32) private _replayOutputsHash;
    mapping(address account => uint256) private _claimable;

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
        if (_paused) revert EnforcedPause();
        _;
    }

    modifier onlyGuardian() {
        if (msg.sender != _config.guardian()) revert JobMarket__NotGuardian(msg.sender);
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
        return _post(modelId, inputCommitments, price, claimWindow, proveWindow, minReputation);
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
        // A front-runner may consume the permit first; the allowance then exists and transferFrom works.
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), price, permitDeadline, v, r, s) {} catch {}
        return _post(modelId, inputCommitments, price, claimWindow, proveWindow, minReputation);
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
        _reputation.recordConsumerCancelled(msg.sender);
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
    /// @dev One flag write and no external calls, hence no nonReentrant guard; no whenNotPaused: delivery
    ///      finishes a job already in flight.
    function deliverInput(uint256 jobId, bytes calldata payload) external {
        Job storage job = _jobs[jobId];
        _requireStatus(jobId, job.status, JobStatus.Claimed);
        if (msg.sender != job.consumer) revert JobMarket__NotConsumer(jobId, msg.sender);
        uint256 proveDeadline = job.proveDeadline;
        if (block.timestamp >= proveDeadline) revert JobMarket__ProveWindowClosed(jobId, proveDeadline);
        if (payload.length == 0) revert JobMarket__EmptyPayload();
        if (payload.length > MAX_INPUT_PAYLOAD) revert JobMarket__PayloadTooLarge(payload.length, MAX_INPUT_PAYLOAD);
        uint8 flags = job.flags;
        if (flags & FLAG_INPUT_ON_CHAIN == 0) job.flags = flags | FLAG_INPUT_ON_CHAIN;
        emit InputDelivered(jobId, msg.sender, job.provider, payload);
    }

    // ---------------------------------------------------------------- provider

    /// @inheritdoc IJobMarket
    function claimJob(uint256 jobId) external nonReentrant whenNotPaused {
        Job storage job = _jobs[jobId];
        _requireStatus(jobId, job.status, JobStatus.Open);
        if (block.timestamp >= job.claimDeadline) revert JobMarket__ClaimWindowClosed(jobId, job.claimDeadline);
        if (msg.sender == job.consumer) revert JobMarket__ConsumerCannotClaim(jobId);
        if (_registry.modelStatus(job.modelId) != IModelRegistry.ModelStatus.Active) {
            revert JobMarket__ModelNotActive(job.modelId);
        }
        if (!_staking.isRegistered(msg.sender)) revert JobMarket__ProviderNotRegistered(msg.sender);
        uint256 staked = _staking.stakedOf(msg.sender);
        uint256 score = _reputation.nrs(msg.sender);
        (uint256 minStake, uint256 collateral) = _config.claimTerms(job.price, score);
        if (staked < minStake) revert JobMarket__StakeBelowMinimum(msg.sender, staked, minStake);
        if (score < job.minReputation) revert JobMarket__ReputationTooLow(msg.sender, score, job.minReputation);

        uint256 proveDeadline = block.timestamp + job.proveWindow;
        job.status = JobStatus.Claimed;
        job.provider = msg.sender;
        job.proveDeadline = uint40(proveDeadline);
        job.collateral = uint96(collateral);
        emit JobClaimed(jobId, msg.sender, collateral, proveDeadline);
        _staking.lockCollateral(msg.sender, collateral);
    }

    /// @inheritdoc IJobMarket
    function declineJob(uint256 jobId, DeclineReason reason) external nonReentrant {
        Job storage job = _jobs[jobId];
        _requireStatus(jobId, job.status, JobStatus.Claimed);
        if (msg.sender != job.provider) revert JobMarket__NotAssignedProvider(jobId, msg.sender);
        uint256 proveDeadline = job.proveDeadline;
        if (block.timestamp >= proveDeadline) revert JobMarket__ProveWindowClosed(jobId, proveDeadline);
        if (reason == DeclineReason.InputMissing) {
            uint256 deadline = proveDeadline - job.proveWindow / 2;
            if (block.timestamp < deadline) revert JobMarket__InputDeadlineNotReached(jobId, deadline);
            if (job.flags & FLAG_INPUT_ON_CHAIN != 0) revert JobMarket__InputWasDelivered(jobId);
        }
        bool free = reason != DeclineReason.Other && _reputation.freeDeclinesLeft(msg.sender) != 0;
        job.status = JobStatus.Cancelled;
        (address consumer, uint256 price, uint256 collateral) = (job.consumer, job.price, job.collateral);
        uint256 slashed = free ? 0 : collateral * _config.declineSlashBps() / BPS;
        emit JobDeclined(jobId, msg.sender, price, uint8(reason), free, slashed);
        _refund(consumer, price);
        _release(msg.sender, collateral, slashed);
        _reputation.recordDecline(msg.sender, consumer, uint8(reason), free);
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
        if (block.timestamp >= job.proveDeadline) revert JobMarket__ProveWindowClosed(jobId, job.proveDeadline);

        IModelRegistry.Verification memory model = _registry.settlementOf(job.modelId);
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
        if (keccak256(abi.encodePacked(instances[:nIn])) != job.commitmentsHash) {
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
        if (status == JobStatus.Open) {
            if (block.timestamp < job.claimDeadline) revert JobMarket__NotExpired(jobId, job.claimDeadline);
            job.status = JobStatus.Expired;
            emit JobExpired(jobId, address(0), price, 0, 0);
            _refund(consumer, price);
            _reputation.recordConsumerExpiredUnclaimed(consumer);
        } else if (status == JobStatus.Claimed) {
            uint256 proveDeadline = job.proveDeadline;
            if (block.timestamp < proveDeadline) revert JobMarket__NotExpired(jobId, proveDeadline);
            job.status = JobStatus.Expired;
            uint256 collateral = job.collateral;
            bool atFault = _providerAtFault(job.modelId, proveDeadline - job.proveWindow);
            uint256 slashed = atFault ? collateral * _config.slashBps() / BPS : 0;
            emit JobExpired(jobId, provider, price, slashed, slashed * _config.slashBurnBps() / BPS);
            _refund(consumer, price);
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
        if (_paused) revert EnforcedPause();
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
    function getJob(uint256 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    /// @inheritdoc IJobMarket
    function inputDeadline(uint256 jobId) external view returns (uint256) {
        Job storage job = _jobs[jobId];
        uint256 proveDeadline = job.proveDeadline;
        return proveDeadline == 0 ? 0 : proveDeadline - job.proveWindow / 2;
    }

    /// @notice Whether the guardian has paused the market.
    function paused() public view returns (bool) {
        return _paused;
    }

    /// @inheritdoc IJobMarket
    function lastUnpausedAt() external view returns (uint256) {
        return _lastUnpausedAt;
    }

    /// @notice Whether a job with `commitmentsHash` was already posted for `modelId` (the next one is a replay).
    function commitmentsPosted(uint256 modelId, bytes32 commitmentsHash) external view returns (bool) {
        return _commitmentsPosted[keccak256(abi.encode(modelId, commitmentsHash))] != 0;
    }

    /// @inheritdoc IJobMarket
    function outputsHashOf(uint256 jobId) external view returns (bytes32 hash) {
        Job storage job = _jobs[jobId];
        if (job.status != JobStatus.Settled) return 0;
        hash = _replayOutputsHash[jobId];
        if (hash == 0) hash = _commitmentsPosted[keccak256(abi.encode(uint256(job.modelId), job.commitmentsHash))];
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

    function _post(
        uint256 modelId,
        uint256[] calldata inputCommitments,
        uint256 price,
        uint32 claimWindow,
        uint32 proveWindow,
        uint8 minReputation
    ) private returns (uint256 jobId) {
        (IModelRegistry.ModelStatus status, uint256 commitmentCount) = _registry.postingOf(modelId);
        if (status != IModelRegistry.ModelStatus.Active) revert JobMarket__ModelNotActive(modelId);
        if (inputCommitments.length != commitmentCount) {
            revert JobMarket__CommitmentCountMismatch(commitmentCount, inputCommitments.length);
        }
        for (uint256 i; i < inputCommitments.length; ++i) {
            if (inputCommitments[i] >= SNARK_SCALAR_FIELD) revert JobMarket__InstanceOutOfField(i, inputCommitments[i]);
        }
        _checkTerms(price, claimWindow, proveWindow);
        if (minReputation > 100) revert JobMarket__InvalidMinReputation(minReputation);
        bytes32 commitmentsHash = keccak256(abi.encodePacked(inputCommitments));

        jobId = ++_jobCount;
        uint256 claimDeadline = block.timestamp + claimWindow;
        _jobs[jobId] = Job({
            consumer: msg.sender,
            claimDeadline: uint40(claimDeadline),
            proveWindow: proveWindow,
            minReputation: minReputation,
            status: JobStatus.Open,
            rating: 0,
            provider: address(0),
            proveDeadline: 0,
            flags: _markCommitments(modelId, commitmentsHash),
            price: uint96(price),
            collateral: 0,
            modelId: uint64(modelId),
            commitmentsHash: commitmentsHash
        });
        _totalLiabilities += uint144(price);
        emit JobPosted(jobId, msg.sender, modelId, inputCommitments, price, claimDeadline, proveWindow, minReputation);
        _token.safeTransferFrom(msg.sender, address(this), price);
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

    /// @dev Records that `modelId` had a job with these commitments; returns FLAG_NO_REWARD for a replay.
    function _markCommitments(uint256 modelId, bytes32 commitmentsHash) private returns (uint8 flags) {
        bytes32 key = keccak256(abi.encode(modelId, commitmentsHash));
        if (_commitmentsPosted[key] != 0) return FLAG_NO_REWARD;
        _commitmentsPosted[key] = POSTED;
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
        uint256 fee;
        uint256 royalty;
        {
            (bool allowed, uint256 feeBps, address treasury) = _config.settlementTerms(model.verifierCodeHash);
            rewarded = job.flags & FLAG_NO_REWARD == 0 && allowed;
            _jobs[jobId].status = JobStatus.Settled;
            if (!rewarded) _jobs[jobId].flags = job.flags | FLAG_NO_REWARD;
            _recordOutputs(jobId, job, keccak256(abi.encodePacked(outputs)));
            fee = job.price * feeBps / BPS;
            royalty = _split(job.price, fee, model, treasury);
        }

        // Interactions with trusted protocol contracts.
        _staking.unlockCollateral(msg.sender, job.collateral);
        uint256 reward;
        if (rewarded) {
            uint256 elapsed = block.timestamp + job.proveWindow - job.proveDeadline;
            _reputation.recordCompletion(msg.sender, job.consumer, elapsed, job.proveWindow, fee);
            reward = _rewards.reward(msg.sender, fee);
        } else {
            _reputation.recordConsumerSettled(job.consumer);
        }
        emit JobSettled(jobId, msg.sender, outputs, job.price - fee - royalty, royalty, fee, reward);
    }

    /// @dev Stores a settled job's outputs hash. Before settlement FLAG_NO_REWARD is set only by `_post`, for a
    ///      replay; any other job was the first with its commitments and owns their slot, which now takes the hash.
    function _recordOutputs(uint256 jobId, Job memory job, bytes32 hash) private {
        if (job.flags & FLAG_NO_REWARD != 0) {
            _replayOutputsHash[jobId] = hash;
        } else {
            _commitmentsPosted[keccak256(abi.encode(uint256(job.modelId), job.commitmentsHash))] = hash;
        }
    }

    /// @dev Credits a settled job's price: `fee` to the treasury, the royalty to the model owner, the rest to the
    ///      provider (the caller). Returns the royalty.
    function _split(uint256 price, uint256 fee, IModelRegistry.Verification memory model, address treasury)
        private
        returns (uint256 royalty)
    {
        royalty = price * model.royaltyBps / BPS;
        _credit(msg.sender, price - fee - royalty);
        _credit(model.owner, royalty);
        _credit(treasury, fee);
    }

    /// @dev A provider who misses a job is at fault unless it could not use its whole window: the market or
    ///      the model is paused now or was unpaused after the claim, or the judge is not the trusted code
    ///      (changed since registration, or not allow-listed: e.g. an owner's proxy it can switch off).
    function _providerAtFault(uint256 modelId, uint256 claimedAt) private view returns (bool) {
        if (paused() || _lastUnpausedAt > claimedAt) return false;
        IModelRegistry.Verification memory model = _registry.verificationOf(modelId);
        if (model.status == IModelRegistry.ModelStatus.Paused || model.lastUnpausedAt > claimedAt) return false;
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

    function _requireStatus(uint256 jobId, JobStatus actual, JobStatus expected) private pure {
        if (actual == expected) return;
        if (actual == JobStatus.None) revert JobMarket__UnknownJob(jobId);
        revert JobMarket__InvalidStatus(jobId, actual);
    }
}
