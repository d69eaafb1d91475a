// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IJobMarket} from "../interfaces/IJobMarket.sol";
import {INgxConsumer} from "../interfaces/INgxConsumer.sol";

/// @title ClassifierMarket
/// @notice Example contract consumer (issue #16): a parimutuel prediction market on which class a model assigns
///         to an input, resolved by a verified inference.
/// @dev Betting: until `bettingDeadline` anyone stakes the market's payment token on an outcome 0..k-1.
///      Resolving: from the deadline the resolver (a trusted reporter) calls `resolve` with the commitments of the
///      input, paying the job's price; it is the job's deliverer and hands the provider the input. The market's
///      callback picks the argmax of the k outputs (signed; the lowest index wins a tie) as the winning outcome,
///      and each winner `claim`s `stake * pot / winningStake` (rounded down: the dust stays in the contract).
///      Void: if nothing resolved the market before `resolveDeadline` (no job, a job that ended Expired or
///      Cancelled, a result that came too late), or nobody staked on the winning outcome, every participant
///      `refund`s its stakes in full. A result at or after `resolveDeadline` is refused, so refunds and claims
///      never mix. If a job settled but its callback failed, anyone can `applySettledResult` with the outputs
///      from JobSettled (checked against the market's outputs hash) before `resolveDeadline`.
///      Trust: the resolver chooses the input behind the commitments (it cannot change the outputs), and the
///      input must be unknown to everyone until betting closes, or bettors run the model themselves. A provider
///      that withholds its proof only delays (the job reopens, the resolver may post again), but a losing side
///      that keeps every provider from proving until `resolveDeadline` turns its loss into a refund. The
///      resolver's fee is its own: refunds of its jobs go back to it (`reclaimResolverFee`).
contract ClassifierMarket is INgxConsumer, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The BN254 scalar field modulus: outputs above half of it encode negative values.
    uint256 public constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    enum Phase {
        Betting,
        Resolving,
        Resolved,
        Void
    }

    IJobMarket private immutable _market;
    IERC20 private immutable _token;
    address private immutable _resolver;
    uint256 private immutable _outcomeCount;
    uint256 private immutable _bettingDeadline;
    uint256 private immutable _resolveDeadline;
    /// @dev The terms of the resolving job; `deliverer` is zero here and set to the resolver when posting.
    IJobMarket.JobTerms private _terms;

    mapping(address account => mapping(uint256 outcome => uint256)) private _stakes;
    mapping(address account => uint256) private _stakedBy;
    mapping(uint256 outcome => uint256) private _outcomeStakes;
    uint256 private _pot;
    uint256 private _jobId;
    bool private _resolved;
    uint256 private _winner;

    event Staked(address indexed account, uint256 indexed outcome, uint256 amount);
    event ResolutionRequested(uint256 indexed jobId);
    event Resolved(uint256 indexed jobId, uint256 indexed winner);
    event Claimed(address indexed account, uint256 amount);
    event Refunded(address indexed account, uint256 amount);
    event ResolverFeeReclaimed(uint256 amount);

    /// @notice A constructor argument is unusable.
    error ClassifierMarket__InvalidConfig();
    /// @notice The call needs phase `expected`; the market is in `actual`.
    error ClassifierMarket__WrongPhase(Phase expected, Phase actual);
    error ClassifierMarket__InvalidOutcome(uint256 outcome, uint256 outcomeCount);
    error ClassifierMarket__ZeroAmount();
    error ClassifierMarket__NotResolver(address caller);
    error ClassifierMarket__NotMarket(address caller);
    /// @notice `jobId` is not the job this market is waiting for.
    error ClassifierMarket__UnknownJob(uint256 jobId);
    /// @notice The current job `jobId` can still settle (`status` Open or Claimed), or has settled.
    error ClassifierMarket__JobInFlight(uint256 jobId, IJobMarket.JobStatus status);
    error ClassifierMarket__NotSettled(uint256 jobId, IJobMarket.JobStatus status);
    error ClassifierMarket__OutputsMismatch(uint256 jobId);
    error ClassifierMarket__OutputCountMismatch(uint256 expected, uint256 actual);
    error ClassifierMarket__NothingToClaim(address account);

    /// @param market_ The JobMarket.
    /// @param token_ The market's payment token (NGX); stakes are in it too.
    /// @param resolver_ The trusted reporter that posts the resolving job and delivers its input.
    /// @param terms_ The resolving job's terms; `deliverer` must be zero, `callbackGasLimit` non-zero, `settlement`
    ///        eager (0): the market needs a verified result inside its resolve window, and an optimistic one arrives
    ///        only when its challenge window (governed, up to days) closes, which could void the market instead.
    /// @param outcomeCount_ k, the model's number of outputs (at least 2).
    /// @param bettingDeadline_ First second at which bets are refused and `resolve` is allowed.
    /// @param resolveDeadline_ First second at which an unresolved market is void.
    constructor(
        IJobMarket market_,
        IERC20 token_,
        address resolver_,
        IJobMarket.JobTerms memory terms_,
        uint256 outcomeCount_,
        uint256 bettingDeadline_,
        uint256 resolveDeadline_
    ) {
        if (
            address(market_) == address(0) || address(token_) == address(0) || resolver_ == address(0)
                || terms_.deliverer != address(0) || terms_.callbackGasLimit == 0 || terms_.settlement != 0
                || outcomeCount_ < 2
                || bettingDeadline_ <= block.timestamp || resolveDeadline_ <= bettingDeadline_
        ) revert ClassifierMarket__InvalidConfig();
        _market = market_;
        _token = token_;
        _resolver = resolver_;
        _terms = terms_;
        _outcomeCount = outcomeCount_;
        _bettingDeadline = bettingDeadline_;
        _resolveDeadline = resolveDeadline_;
    }

    // ---------------------------------------------------------------- participants

    /// @notice Stake `amount` (transferFrom; approve first) on `outcome`, before the betting deadline.
    function bet(uint256 outcome, uint256 amount) external nonReentrant {
        _requirePhase(Phase.Betting);
        if (outcome >= _outcomeCount) revert ClassifierMarket__InvalidOutcome(outcome, _outcomeCount);
        if (amount == 0) revert ClassifierMarket__ZeroAmount();
        _stakes[msg.sender][outcome] += amount;
        _stakedBy[msg.sender] += amount;
        _outcomeStakes[outcome] += amount;
        _pot += amount;
        emit Staked(msg.sender, outcome, amount);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice A winner takes its share of the pot: `stake * pot / winningStake`, rounded down.
    function claim() external nonReentrant returns (uint256 amount) {
        _requirePhase(Phase.Resolved);
        uint256 winner = _winner;
        uint256 stake = _stakes[msg.sender][winner];
        if (stake == 0) revert ClassifierMarket__NothingToClaim(msg.sender);
        _stakes[msg.sender][winner] = 0;
        // _pot and _outcomeStakes stay as they were at resolution, so every winner's share is the same fraction.
        amount = Math.mulDiv(stake, _pot, _outcomeStakes[winner]);
        emit Claimed(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @notice In a void market, take back everything staked.
    function refund() external nonReentrant returns (uint256 amount) {
        _requirePhase(Phase.Void);
        amount = _stakedBy[msg.sender];
        if (amount == 0) revert ClassifierMarket__NothingToClaim(msg.sender);
        _stakedBy[msg.sender] = 0;
        emit Refunded(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- resolution

    /// @notice The resolver posts the job that classifies the input behind `commitments`, paying its price
    ///         (transferFrom the resolver; approve this contract first). Again after a job that ended Expired
    ///         or Cancelled, until `resolveDeadline`.
    function resolve(uint256[] calldata commitments) external nonReentrant returns (uint256 jobId) {
        if (msg.sender != _resolver) revert ClassifierMarket__NotResolver(msg.sender);
        _requirePhase(Phase.Resolving);
        uint256 previous = _jobId;
        if (previous != 0) {
            IJobMarket.JobStatus status = _market.getJob(previous).status;
            if (status != IJobMarket.JobStatus.Expired && status != IJobMarket.JobStatus.Cancelled) {
                revert ClassifierMarket__JobInFlight(previous, status);
            }
        }
        IJobMarket.JobTerms memory jobTerms = _terms;
        jobTerms.deliverer = msg.sender;
        _token.safeTransferFrom(msg.sender, address(this), jobTerms.maxPrice);
        _token.forceApprove(address(_market), jobTerms.maxPrice);
        jobId = _market.postJobWithTerms(jobTerms, commitments);
        _jobId = jobId;
        emit ResolutionRequested(jobId);
    }

    /// @inheritdoc INgxConsumer
    function onInferenceResult(uint256 jobId, uint256[] calldata outputs) external {
        if (msg.sender != address(_market)) revert ClassifierMarket__NotMarket(msg.sender);
        _resolveWith(jobId, outputs);
    }

    /// @notice Resolve with the outputs of the current job when it settled but its callback failed. Anyone may;
    ///         `outputs` (from JobSettled) must hash to the market's `outputsHashOf(jobId)`.
    function applySettledResult(uint256[] calldata outputs) external {
        uint256 jobId = _jobId;
        IJobMarket.JobStatus status = _market.getJob(jobId).status;
        if (status != IJobMarket.JobStatus.Settled) revert ClassifierMarket__NotSettled(jobId, status);
        if (keccak256(abi.encodePacked(outputs)) != _market.outputsHashOf(jobId)) {
            revert ClassifierMarket__OutputsMismatch(jobId);
        }
        _resolveWith(jobId, outputs);
    }

    /// @notice Send this contract's market credits (refunds of the resolver's jobs) to the resolver. Anyone may.
    function reclaimResolverFee() external nonReentrant returns (uint256 amount) {
        amount = _market.withdraw();
        emit ResolverFeeReclaimed(amount);
        if (amount != 0) _token.safeTransfer(_resolver, amount);
    }

    // ---------------------------------------------------------------- views

    /// @notice Betting until `bettingDeadline`; then Resolving until a result (Resolved) or `resolveDeadline`
    ///         (Void). A resolution without stakes on the winning outcome is Void too.
    function phase() public view returns (Phase) {
        if (_resolved) return _outcomeStakes[_winner] == 0 ? Phase.Void : Phase.Resolved;
        if (block.timestamp < _bettingDeadline) return Phase.Betting;
        if (block.timestamp < _resolveDeadline) return Phase.Resolving;
        return Phase.Void;
    }

    /// @notice The winning outcome (meaningful once resolved) and whether the market resolved.
    function result() external view returns (uint256 winner, bool resolved) {
        return (_winner, _resolved);
    }

    /// @notice What `account` has staked on `outcome` (zeroed by its claim if it won).
    function stakeOf(address account, uint256 outcome) external view returns (uint256) {
        return _stakes[account][outcome];
    }

    /// @notice Everything `account` staked, refundable if the market is void (zeroed by its refund).
    function stakedBy(address account) external view returns (uint256) {
        return _stakedBy[account];
    }

    /// @notice Total stake on `outcome`.
    function outcomeStake(uint256 outcome) external view returns (uint256) {
        return _outcomeStakes[outcome];
    }

    /// @notice Total staked: the pot the winners share.
    function pot() external view returns (uint256) {
        return _pot;
    }

    /// @notice The latest resolving job (zero before `resolve`).
    function currentJobId() external view returns (uint256) {
        return _jobId;
    }

    /// @notice The market's fixed parameters.
    function parameters()
        external
        view
        returns (address resolver, uint256 outcomeCount, uint256 bettingDeadline, uint256 resolveDeadline)
    {
        return (_resolver, _outcomeCount, _bettingDeadline, _resolveDeadline);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Records the argmax of `outputs` as the winner. Only for the current job and only while Resolving:
    ///      a result at or after `resolveDeadline` is refused, as refunds may have started.
    function _resolveWith(uint256 jobId, uint256[] calldata outputs) private {
        if (jobId == 0 || jobId != _jobId) revert ClassifierMarket__UnknownJob(jobId);
        _requirePhase(Phase.Resolving);
        if (outputs.length != _outcomeCount) {
            revert ClassifierMarket__OutputCountMismatch(_outcomeCount, outputs.length);
        }
        uint256 winner;
        int256 best = _toSigned(outputs[0]);
        for (uint256 i = 1; i < outputs.length; ++i) {
            int256 value = _toSigned(outputs[i]);
            if (value > best) (best, winner) = (value, i);
        }
        _resolved = true;
        _winner = winner;
        emit Resolved(jobId, winner);
    }

    function _requirePhase(Phase expected) private view {
        Phase actual = phase();
        if (actual != expected) revert ClassifierMarket__WrongPhase(expected, actual);
    }

    /// @dev A field element as a signed value: v for v <= (p - 1) / 2, else v - p. Outputs are below p (the
    ///      market checks), so both casts are in range.
    function _toSigned(uint256 v) private pure returns (int256) {
        return v > SNARK_SCALAR_FIELD / 2 ? -int256(SNARK_SCALAR_FIELD - v) : int256(v);
    }
}
