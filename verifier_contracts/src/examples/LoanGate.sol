// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IJobMarket} from "../interfaces/IJobMarket.sol";
import {INgxConsumer} from "../interfaces/INgxConsumer.sol";

/// @title LoanGate
/// @notice Example contract consumer (issue #16): a lender's pot of the market's payment token buys one verified
///         credit-risk inference per loan request, and the proof's output decides the loan.
/// @dev Flow: the lender (owner) funds the gate with a plain token transfer. A borrower commits to its features off
///      chain (salted Poseidon, as for any job) and calls `requestLoan`; the gate posts a job for its risk model,
///      paid from its own balance, with the borrower as the job's deliverer: the borrower hands the provider the
///      input (off chain, or `IJobMarket.deliverInput`). When the proof settles, the market calls
///      `onInferenceResult`; the gate reads output `outputIndex` as a signed fixed-point score and approves the
///      borrower iff `score < threshold`.
///      Trust: the proof shows that the model ran on the committed input, not that the input is the borrower's
///      true data; a real lender has the features committed or attested by a party it trusts. Each request spends
///      the lender's money, so a borrower has one request in flight and one decision at most (a request whose job
///      expired, was cancelled, or whose callback failed may be made again); sybil borrowers are the lender's
///      risk to gate (e.g. a job `minReputation` that a self-dealing borrower's fresh provider does not have).
contract LoanGate is INgxConsumer, Ownable2Step {
    using SafeERC20 for IERC20;

    /// @notice The BN254 scalar field modulus: outputs above half of it encode negative values.
    uint256 public constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    struct Request {
        address borrower;
        bool decided;
    }

    IJobMarket private immutable _market;
    IERC20 private immutable _token;
    int256 private immutable _threshold;
    uint256 private immutable _outputIndex;
    /// @dev The terms of every job; `deliverer` is zero here and set to the borrower per request.
    IJobMarket.JobTerms private _terms;
    mapping(uint256 jobId => Request) private _requests;
    mapping(address borrower => uint256 jobId) private _lastJob;
    mapping(address borrower => bool) private _approved;

    /// @notice `borrower` asked for a loan; job `jobId` will decide it.
    event LoanRequested(uint256 indexed jobId, address indexed borrower);
    /// @notice The proof of job `jobId` settled: `approved` is `score < threshold`.
    event LoanDecided(uint256 indexed jobId, address indexed borrower, int256 score, bool approved);

    /// @notice A constructor argument is unusable (zero address, no callback, or a deliverer preset).
    error LoanGate__InvalidConfig();
    /// @notice Only the market delivers results.
    error LoanGate__NotMarket(address caller);
    /// @notice `jobId` was not posted by this gate.
    error LoanGate__UnknownJob(uint256 jobId);
    /// @notice `borrower` already has a decision.
    error LoanGate__AlreadyDecided(address borrower);
    /// @notice `borrower`'s job `jobId` is still Open or Claimed.
    error LoanGate__RequestPending(address borrower, uint256 jobId);
    /// @notice The gate holds `balance`, less than a job's `price`.
    error LoanGate__InsufficientFunds(uint256 balance, uint256 price);
    /// @notice The proof has `count` outputs; the gate reads output `index`.
    error LoanGate__MissingOutput(uint256 index, uint256 count);

    /// @param market_ The JobMarket.
    /// @param token_ The market's payment token (NGX).
    /// @param owner_ The lender: may withdraw the gate's funds.
    /// @param terms_ Terms of every job (model, price, windows, minimum reputation, callback gas); `deliverer` must
    ///        be zero (each request sets the borrower) and `callbackGasLimit` non-zero.
    /// @param threshold_ Scores below it are approved (fixed-point, the model's output scale).
    /// @param outputIndex_ Which model output is the risk score.
    constructor(
        IJobMarket market_,
        IERC20 token_,
        address owner_,
        IJobMarket.JobTerms memory terms_,
        int256 threshold_,
        uint256 outputIndex_
    ) Ownable(owner_) {
        if (
            address(market_) == address(0) || address(token_) == address(0) || terms_.deliverer != address(0)
                || terms_.callbackGasLimit == 0
        ) revert LoanGate__InvalidConfig();
        _market = market_;
        _token = token_;
        _terms = terms_;
        _threshold = threshold_;
        _outputIndex = outputIndex_;
    }

    /// @notice Ask for a loan: the gate pays for a job scoring the features behind `commitments`.
    /// @dev The caller becomes the job's deliverer; it must hand the provider the input once the job is claimed.
    /// @param commitments One salted Poseidon commitment per input tensor of the risk model.
    function requestLoan(uint256[] calldata commitments) external returns (uint256 jobId) {
        uint256 last = _lastJob[msg.sender];
        if (last != 0) {
            if (_requests[last].decided) revert LoanGate__AlreadyDecided(msg.sender);
            IJobMarket.JobStatus status = _market.getJob(last).status;
            if (status == IJobMarket.JobStatus.Open || status == IJobMarket.JobStatus.Claimed) {
                revert LoanGate__RequestPending(msg.sender, last);
            }
        }
        IJobMarket.JobTerms memory jobTerms = _terms;
        jobTerms.deliverer = msg.sender;
        uint256 balance = _token.balanceOf(address(this));
        if (balance < jobTerms.maxPrice) revert LoanGate__InsufficientFunds(balance, jobTerms.maxPrice);
        _token.forceApprove(address(_market), jobTerms.maxPrice);
        jobId = _market.postJobWithTerms(jobTerms, commitments);
        _requests[jobId] = Request({borrower: msg.sender, decided: false});
        _lastJob[msg.sender] = jobId;
        emit LoanRequested(jobId, msg.sender);
    }

    /// @inheritdoc INgxConsumer
    function onInferenceResult(uint256 jobId, uint256[] calldata outputs) external {
        if (msg.sender != address(_market)) revert LoanGate__NotMarket(msg.sender);
        Request storage request = _requests[jobId];
        address borrower = request.borrower;
        if (borrower == address(0)) revert LoanGate__UnknownJob(jobId);
        if (request.decided) revert LoanGate__AlreadyDecided(borrower);
        if (_outputIndex >= outputs.length) revert LoanGate__MissingOutput(_outputIndex, outputs.length);
        int256 score = _toSigned(outputs[_outputIndex]);
        bool ok = score < _threshold;
        request.decided = true;
        _approved[borrower] = ok;
        emit LoanDecided(jobId, borrower, score, ok);
    }

    /// @notice Move the gate's market credits (refunds of expired or cancelled jobs) into the gate. Anyone may.
    function collectRefunds() external returns (uint256 amount) {
        return _market.withdraw();
    }

    /// @notice The lender takes back `amount` of the gate's unspent funds.
    function withdrawFunds(address to, uint256 amount) external onlyOwner {
        _token.safeTransfer(to, amount);
    }

    /// @notice Whether `borrower`'s loan was approved (false until decided).
    function approved(address borrower) external view returns (bool) {
        return _approved[borrower];
    }

    /// @notice The borrower of job `jobId` (zero if this gate did not post it) and whether it was decided.
    function requestOf(uint256 jobId) external view returns (Request memory) {
        return _requests[jobId];
    }

    /// @notice `borrower`'s latest job (zero if none).
    function lastJobOf(address borrower) external view returns (uint256) {
        return _lastJob[borrower];
    }

    /// @notice The terms every job is posted with (`deliverer` is set to the borrower per request).
    function terms() external view returns (IJobMarket.JobTerms memory) {
        return _terms;
    }

    /// @notice The approval threshold and the output index read as the score.
    function scoring() external view returns (int256 threshold, uint256 outputIndex) {
        return (_threshold, _outputIndex);
    }

    /// @dev A field element as a signed value: v for v <= (p - 1) / 2, else v - p. Outputs are below p (the
    ///      market checks), so both casts are in range.
    function _toSigned(uint256 v) private pure returns (int256) {
        return v > SNARK_SCALAR_FIELD / 2 ? -int256(SNARK_SCALAR_FIELD - v) : int256(v);
    }
}
