// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IJobMarket} from "./interfaces/IJobMarket.sol";
import {IJobSettlement} from "./interfaces/IJobSettlement.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IProtocolConfig} from "./interfaces/IProtocolConfig.sol";
import {IProviderStaking} from "./interfaces/IProviderStaking.sol";
import {IReputation} from "./interfaces/IReputation.sol";
import {IRewardsPool} from "./interfaces/IRewardsPool.sol";
import {JobTermsLib} from "./types/JobTermsLib.sol";

/// @title JobMarketState
/// @notice The storage, wiring and shared rules of the JobMarket and its settlement module (issue #24).
/// @dev JobMarket (jobs' posting, claiming, declining, expiry, withdrawals) and JobSettlement (every settlement:
///      `submitResult`, `settleResults` and the optimistic flow) both inherit this contract, so both have exactly
///      this storage layout; the market runs the module's code by DELEGATECALL in its own storage. So does the order
///      module JobOrders (`fillOrders`), which the market creates with its own wiring. Immutables live
///      in each contract's code, so the module is constructed with the same six addresses (JobMarket checks that
///      at construction). Only append state variables here, never reorder them.
abstract contract JobMarketState is ReentrancyGuardTransient {
    /// @notice The BN254 scalar field modulus; every public instance must be below it.
    uint256 public constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice Job flag, set at settlement: no reward, NRS or rating (a replay of a statement already settled, or a
    ///         verifier whose code is not allow-listed).
    uint8 public constant FLAG_NO_REWARD = 1;
    /// @notice Job flag: the consumer called `deliverInput` for this claim.
    uint8 public constant FLAG_INPUT_ON_CHAIN = 2;
    /// @notice Job flag: an auction whose price is not locked yet (cleared by the claim).
    uint8 public constant FLAG_AUCTION = JobTermsLib.FLAG_AUCTION;
    /// @notice Job flag: the first provider missed the job and it was reopened (at most once).
    uint8 public constant FLAG_REOPENED = 8;
    /// @notice Job flag: a deliverer besides the consumer may hand over the input.
    uint8 public constant FLAG_DELIVERER = JobTermsLib.FLAG_DELIVERER;
    /// @notice Job flag: optimistic settlement (`JobTerms.settlement == 1`, see IJobSettlement).
    uint8 public constant FLAG_OPTIMISTIC = JobTermsLib.FLAG_OPTIMISTIC;
    /// @notice Most gas a job's callback may ask for (the provider pays for it in its settlement).
    uint32 public constant MAX_CALLBACK_GAS = JobTermsLib.MAX_CALLBACK_GAS;
    /// @notice Most jobs in one `submitResults` or `settleResults`.
    uint256 public constant MAX_BATCH = 64;
    uint256 internal constant BPS = 10_000;

    IERC20 internal immutable _token;
    IProtocolConfig internal immutable _config;
    IModelRegistry internal immutable _registry;
    IProviderStaking internal immutable _staking;
    IReputation internal immutable _reputation;
    IRewardsPool internal immutable _rewards;

    // One slot, written once by postJob (count and liabilities) and read by postJob, claimJob and submitResult
    // (the pause flag). Liabilities (escrowed prices, challenge bonds and credits) only change when tokens come in or
    // go out: a settlement or refund moves an escrowed price to credits and leaves the total as it is.
    uint64 internal _jobCount;
    uint144 internal _totalLiabilities;
    uint40 internal _lastUnpausedAt;
    bool internal _paused;
    mapping(uint256 jobId => IJobMarket.Job) internal _jobs;
    /// @dev Per statement (`_statementOf`: what a proof proves, whatever the model id): zero until a job settles it,
    ///      then that first job's outputs hash XOR its job id (the hash for `outputsHashOf`, the job for its price,
    ///      the statement's credit until `_statementCredit` holds a higher one). Only a settlement writes it (and
    ///      `_statementCredit`), so posting or cancelling marks nothing.
    mapping(bytes32 statement => bytes32 outputsHash) internal _settledStatements;
    /// @dev keccak256(abi.encodePacked(outputs)) of a settled replay job (whose statement's slot belongs to the
    ///      first job). The outputs themselves are in JobSettled.
    mapping(uint256 jobId => bytes32) internal _replayOutputsHash;
    mapping(address account => uint256) internal _claimable;
    /// @dev Only auction jobs (FLAG_AUCTION), until their claim.
    mapping(uint256 jobId => Auction) internal _auctions;
    /// @dev Only jobs with FLAG_DELIVERER.
    mapping(uint256 jobId => address) internal _deliverers;
    /// @dev Only reopened jobs (FLAG_REOPENED): who missed it, and the bounty held for whoever finishes it.
    mapping(uint256 jobId => Reopening) internal _reopenings;
    /// @dev Order nonces filled or cancelled, per consumer, as a bitmap (Permit2's unordered nonces): nonce n is bit
    ///      `n & 255` of word `n >> 8`, so a consumer's orders share one slot per 256 nonces.
    mapping(address consumer => mapping(uint256 word => uint256 bits)) internal _orderNonces;
    // ---- issue #24 (appended)
    uint256 internal _batchCount;
    /// @dev Optimistic submissions, until every job of the batch is finished.
    mapping(uint256 batchId => IJobSettlement.Batch) internal _batches;
    /// @dev Open challenges (Challenged jobs only).
    mapping(uint256 jobId => IJobSettlement.Challenge) internal _challenges;
    // ---- issue #23, item 7 (appended)
    /// @dev Per statement: the highest price it has been credited at (reward and NRS weight go by the fee of the
    ///      price above it: a statement earns once, at the highest price paid for it), once a later settlement
    ///      raised it above the first settlement's price (until then zero: the first job's price is the credit).
    mapping(bytes32 statement => uint256 price) internal _statementCredit;

    // ---- issue #24, settlement at market cost II (appended)
    /// @dev Optimistic jobs a finalization settled, or a challenge took out of their batch: job j is bit `j % 255`
    ///      of word `j / 255`. Bit 255 (`WORD_IN_USE`) is set when a word's first job is created (word 0 by the
    ///      market's constructor), so a finalization re-writes a non-zero slot (2.9k, or 100 when warm) instead of a
    ///      fresh one (20k), whichever batch comes first. A finalized job keeps the status Submitted in its own slot,
    ///      which a finalization does not touch; every reader goes through `_statusOf` (Settled).
    mapping(uint256 word => uint256 bits) internal _finalizedBits;

    /// @dev Jobs per `_finalizedBits` word, and the word's in-use bit.
    uint256 internal constant JOBS_PER_WORD = 255;
    uint256 internal constant WORD_IN_USE = 1 << 255;

    struct Auction {
        uint96 minPrice;
        uint40 rampStart;
        uint32 rampLength;
    }

    struct Reopening {
        address missedBy;
        uint96 bounty;
    }

    /// @dev EIP-712 domain of signed orders: name "NeuroGrid JobMarket", version "1", block.chainid, this market
    ///      (computed per call, so a fork's chain id is always the current one).
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant DOMAIN_NAME_HASH = keccak256("NeuroGrid JobMarket");
    bytes32 internal constant DOMAIN_VERSION_HASH = keccak256("1");

    /// @notice The market is paused (same error as OpenZeppelin's Pausable).
    error EnforcedPause();

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
        ) revert IJobMarket.JobMarket__ZeroAddress();
        _token = token_;
        _config = config_;
        _registry = registry_;
        _staking = staking_;
        _reputation = reputation_;
        _rewards = rewards_;
    }

    modifier whenNotPaused() {
        _requireNotPaused();
        _;
    }

    /// @notice The contracts this market (or module) is wired to.
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

    /// @notice Whether the guardian has paused the market.
    function paused() public view returns (bool) {
        return _paused;
    }

    /// @dev A new job's id (the job count, raised); the first job of a `_finalizedBits` word marks it in use.
    function _newJobId() internal returns (uint256 jobId) {
        jobId = ++_jobCount;
        if (jobId % JOBS_PER_WORD == 0) _finalizedBits[jobId / JOBS_PER_WORD] = WORD_IN_USE;
    }

    /// @dev Whether job `jobId`'s bit in `_finalizedBits` is set (finalized, or challenged out of its batch).
    function _isFinalized(uint256 jobId) internal view returns (bool) {
        return (_finalizedBits[jobId / JOBS_PER_WORD] >> (jobId % JOBS_PER_WORD)) & 1 != 0;
    }

    /// @dev Sets job `jobId`'s bit in `_finalizedBits` (its word is in use: a warm re-write after the first).
    function _setFinalized(uint256 jobId) internal {
        _finalizedBits[jobId / JOBS_PER_WORD] |= 1 << (jobId % JOBS_PER_WORD);
    }

    /// @dev A job's status as every reader sees it: a Submitted job that a finalization settled is Settled (its own
    ///      slot keeps Submitted; see `_finalizedBits`). A challenged job's slot says Challenged, then Settled or
    ///      Expired, whatever its bit.
    function _statusOf(uint256 jobId, IJobMarket.JobStatus stored) internal view returns (IJobMarket.JobStatus) {
        if (stored == IJobMarket.JobStatus.Submitted && _isFinalized(jobId)) return IJobMarket.JobStatus.Settled;
        return stored;
    }

    /// @dev The modifier's check as one function (not copied into every function that uses it).
    function _requireNotPaused() internal view {
        if (_paused) revert EnforcedPause();
    }

    /// @dev The EIP-712 domain separator of orders (`address(this)` is the market, also in its modules).
    function _orderDomain() internal view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, DOMAIN_NAME_HASH, DOMAIN_VERSION_HASH, block.chainid, address(this)));
    }

    /// @dev `consumer`'s nonce-bitmap slot holding `nonce`, and the nonce's bit in it.
    function _nonceSlot(address consumer, uint256 nonce) internal view returns (uint256 bits, uint256 bit) {
        return (_orderNonces[consumer][nonce >> 8], 1 << (nonce & 255));
    }

    /// @dev What a proof proves, whatever the model id (issue #23, item 3): the verifier code (a dedicated EZKL
    ///      verifier embeds its vk), the VKA digest for a reusable one (`settlementOf` leaves it zero for a dedicated
    ///      model, whose registered vkDigest nobody checks), and the input commitments (the outputs follow from them).
    function _statementOf(IModelRegistry.Verification memory model, bytes32 commitmentsHash)
        internal
        pure
        returns (bytes32)
    {
        return _hash3(model.verifierCodeHash, model.vkDigest, commitmentsHash);
    }

    /// @dev keccak256(abi.encode(a, b, c)) of three words, hashed in scratch memory past the free memory pointer
    ///      (nothing allocated: a batch hashes one statement and one leaf per job).
    function _hash3(bytes32 a, bytes32 b, bytes32 c) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, a)
            mstore(add(m, 0x20), b)
            mstore(add(m, 0x40), c)
            h := keccak256(m, 0x60)
        }
    }

    /// @dev A deadline moved by a guardian unpause (market or model): an unpause after the window began gives a
    ///      whole `window` from then on (issue #23, item 10), so a pause never costs a party time it could not use.
    ///      `unpausedAt + window > deadline` is exactly "unpaused after the window began".
    function _movedDeadline(uint256 deadline, uint256 window, uint256 modelUnpausedAt) internal view returns (uint256) {
        uint256 unpausedAt = _lastUnpausedAt;
        if (modelUnpausedAt > unpausedAt) unpausedAt = modelUnpausedAt;
        uint256 moved = unpausedAt + window;
        return moved > deadline ? moved : deadline;
    }

    /// @dev A provider who misses a job (or a challenge) is at fault unless it could not use its whole window: the
    ///      market or the model is paused now (an unpause moved the deadline instead), or the judge is not the
    ///      trusted code (changed since registration, or not allow-listed: e.g. an owner's proxy it can switch off).
    function _providerAtFault(IModelRegistry.Verification memory model) internal view returns (bool) {
        if (_paused || model.status == IModelRegistry.ModelStatus.Paused) return false;
        if (model.verifier.codehash != model.verifierCodeHash) return false;
        return _config.isVerifierCodeAllowed(model.verifierCodeHash);
    }

    /// @dev Unlocks a job's collateral; `slashed` of it is taken, its burn share burned and the rest sent to
    ///      the treasury (never to the consumer, who could otherwise profit from a provider's failure).
    function _release(address provider, uint256 collateral, uint256 slashed) internal {
        if (slashed == 0) {
            _staking.unlockCollateral(provider, collateral);
        } else {
            uint256 burned = slashed * _config.slashBurnBps() / BPS;
            _staking.slash(provider, collateral, slashed, burned, _config.treasury());
        }
    }

    /// @dev A reopened job ended without a result: its bounty is burned (never paid to the consumer).
    function _burnBounty(uint256 jobId) internal returns (uint256 bounty) {
        bounty = _reopenings[jobId].bounty;
        if (bounty == 0) return 0;
        _reopenings[jobId].bounty = 0;
        _burnEscrow(bounty);
    }

    /// @dev Burns `amount` of the NGX this market holds for its liabilities (a bounty, an input decline's cut).
    function _burnEscrow(uint256 amount) internal {
        if (amount == 0) return;
        _totalLiabilities -= uint144(amount);
        ERC20Burnable(address(_token)).burn(amount);
    }

    /// @dev The escrowed price becomes the consumer's credit (total liabilities unchanged).
    function _refund(address consumer, uint256 price) internal {
        _credit(consumer, price);
    }

    function _credit(address account, uint256 amount) internal {
        if (amount == 0) return;
        _claimable[account] += amount;
        emit IJobMarket.Credited(account, amount);
    }

    /// @dev keccak256(abi.encodePacked(words)): uint256 words need no padding or cleaning, so this hashes their
    ///      calldata bytes as they are.
    function _packedHash(uint256[] calldata words) internal pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            let size := shl(5, words.length)
            calldatacopy(m, words.offset, size)
            hash := keccak256(m, size)
        }
    }

    /// @dev `actual` is the status in the job's slot; the error names the status a reader sees (`_statusOf`). A check
    ///      that expects Submitted must pass `_statusOf(jobId, stored)` itself (a finalized job's slot says Submitted).
    function _requireStatus(uint256 jobId, IJobMarket.JobStatus actual, IJobMarket.JobStatus expected) internal view {
        if (actual == expected) return;
        if (actual == IJobMarket.JobStatus.None) revert IJobMarket.JobMarket__UnknownJob(jobId);
        revert IJobMarket.JobMarket__InvalidStatus(jobId, _statusOf(jobId, actual));
    }
}
