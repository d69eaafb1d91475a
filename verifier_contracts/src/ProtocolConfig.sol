// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IProtocolConfig} from "./interfaces/IProtocolConfig.sol";

/// @title ProtocolConfig
/// @notice Governance-owned protocol parameters. Deploy with the TimelockController as `initialOwner`.
contract ProtocolConfig is IProtocolConfig, Ownable2Step {
    uint16 internal constant BPS = 10_000;
    uint16 public constant MAX_FEE_BPS = 1_000;
    uint16 public constant MIN_SLASH_BPS = 1_000;
    uint16 public constant MIN_TIER_BPS = 1_000;
    uint16 public constant MAX_TIER_BPS = 30_000;
    uint256 public constant MIN_MIN_STAKE = 1 ether;
    uint256 public constant MAX_MIN_STAKE = 10_000_000 ether;
    uint32 public constant MAX_UNBONDING_DELAY = 60 days;
    uint256 public constant MAX_MIN_JOB_PRICE = 1_000 ether;
    uint16 public constant MIN_DECLINE_SLASH_BPS = 100;
    uint16 public constant MAX_DECLINE_SLASH_BPS = 5_000;
    uint8 public constant MAX_FREE_DECLINE_BASE = 20;
    uint16 public constant MAX_FREE_DECLINE_PER_COMPLETED_BPS = 2_000;
    uint32 public constant MIN_CHALLENGE_WINDOW = 60;
    uint32 public constant MAX_CHALLENGE_WINDOW = 7 days;
    uint256 public constant MIN_CHALLENGE_BOND = 1 ether;
    uint256 public constant MAX_CHALLENGE_BOND = 10_000 ether;

    // Storage is grouped by the call that reads it, so each of JobMarket's calls reads one or two slots:
    // settlement (treasury, fee, slash params), posting (min price, windows), claiming (min stake, tiers).
    address private _treasury;
    uint16 private _protocolFeeBps = 250;
    uint16 private _slashBps = 5_000;
    uint16 private _slashBurnBps = 5_000;
    uint16 private _declineSlashBps = 1_000;
    uint96 private _minJobPrice = 0.1 ether;
    uint32 private _minClaimWindow = 60;
    uint32 private _maxClaimWindow = 7 days;
    uint32 private _minProveWindow = 60;
    uint32 private _maxProveWindow = 1 days;
    uint96 private _minStake = 1_000 ether;
    uint8 private _highThreshold = 80;
    uint8 private _midThreshold = 50;
    uint16 private _highBps = 5_000;
    uint16 private _midBps = 10_000;
    uint16 private _lowBps = 15_000;
    uint32 private _unbondingDelay = 14 days;
    uint8 private _freeDeclineBase = 3;
    uint16 private _freeDeclinePerCompletedBps = 1_000;
    address private _guardian;
    address private _verifierCurator;
    mapping(bytes32 codeHash => bool) private _allowedVerifierCode;
    // Optimistic settlement (issue #24), one slot read by submitResults, challenge and upholdChallenge.
    uint32 private _challengeWindow = 1 hours;
    uint32 private _answerWindow = 1 hours;
    uint96 private _challengeBond = 10 ether;
    uint16 private _challengerRewardBps = 5_000;

    /// @param initialOwner The TimelockController (or a test account on dev chains).
    /// @param treasury_ Receives protocol fees and the non-burned part of slashes.
    /// @param guardian_ May pause the market and individual models.
    /// @param curator_ May edit the verifier allow-list besides the owner (zero: only the owner).
    constructor(address initialOwner, address treasury_, address guardian_, address curator_) Ownable(initialOwner) {
        if (treasury_ == address(0) || guardian_ == address(0)) revert ProtocolConfig__ZeroAddress();
        _treasury = treasury_;
        _guardian = guardian_;
        _verifierCurator = curator_;
        emit VerifierCuratorChanged(address(0), curator_);
    }

    /// @inheritdoc IProtocolConfig
    function protocolFeeBps() external view returns (uint16) {
        return _protocolFeeBps;
    }

    /// @inheritdoc IProtocolConfig
    function slashBps() external view returns (uint16) {
        return _slashBps;
    }

    /// @inheritdoc IProtocolConfig
    function slashBurnBps() external view returns (uint16) {
        return _slashBurnBps;
    }

    /// @inheritdoc IProtocolConfig
    function minJobPrice() external view returns (uint256) {
        return _minJobPrice;
    }

    /// @inheritdoc IProtocolConfig
    function declineSlashBps() external view returns (uint16) {
        return _declineSlashBps;
    }

    /// @inheritdoc IProtocolConfig
    function freeDeclineBase() external view returns (uint8) {
        return _freeDeclineBase;
    }

    /// @inheritdoc IProtocolConfig
    function freeDeclinePerCompletedBps() external view returns (uint16) {
        return _freeDeclinePerCompletedBps;
    }

    /// @inheritdoc IProtocolConfig
    function verifierCurator() external view returns (address) {
        return _verifierCurator;
    }

    /// @inheritdoc IProtocolConfig
    function isVerifierCodeAllowed(bytes32 codeHash) external view returns (bool) {
        return _allowedVerifierCode[codeHash];
    }

    /// @inheritdoc IProtocolConfig
    function minClaimWindow() external view returns (uint32) {
        return _minClaimWindow;
    }

    /// @inheritdoc IProtocolConfig
    function maxClaimWindow() external view returns (uint32) {
        return _maxClaimWindow;
    }

    /// @inheritdoc IProtocolConfig
    function minProveWindow() external view returns (uint32) {
        return _minProveWindow;
    }

    /// @inheritdoc IProtocolConfig
    function maxProveWindow() external view returns (uint32) {
        return _maxProveWindow;
    }

    /// @inheritdoc IProtocolConfig
    function windowBounds() external view returns (uint32, uint32, uint32, uint32) {
        return (_minClaimWindow, _maxClaimWindow, _minProveWindow, _maxProveWindow);
    }

    /// @inheritdoc IProtocolConfig
    function minStake() external view returns (uint256) {
        return _minStake;
    }

    /// @inheritdoc IProtocolConfig
    function unbondingDelay() external view returns (uint32) {
        return _unbondingDelay;
    }

    /// @inheritdoc IProtocolConfig
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @inheritdoc IProtocolConfig
    function guardian() external view returns (address) {
        return _guardian;
    }

    /// @inheritdoc IProtocolConfig
    function collateralFor(uint256 price, uint256 nrs) public view returns (uint256) {
        uint256 bps = nrs >= _highThreshold ? _highBps : nrs >= _midThreshold ? _midBps : _lowBps;
        return price * bps / BPS;
    }

    /// @inheritdoc IProtocolConfig
    function postTerms() external view returns (uint256, uint32, uint32, uint32, uint32) {
        return (_minJobPrice, _minClaimWindow, _maxClaimWindow, _minProveWindow, _maxProveWindow);
    }

    /// @inheritdoc IProtocolConfig
    function claimTerms(uint256 price, uint256 nrs) external view returns (uint256, uint256) {
        return (_minStake, collateralFor(price, nrs));
    }

    /// @inheritdoc IProtocolConfig
    function settlementTerms(bytes32 codeHash) external view returns (bool, uint256, address) {
        return (_allowedVerifierCode[codeHash], _protocolFeeBps, _treasury);
    }

    /// @inheritdoc IProtocolConfig
    function optimisticTerms()
        external
        view
        returns (uint32 challengeWindow, uint32 answerWindow, uint96 challengeBond, uint16 challengerRewardBps)
    {
        return (_challengeWindow, _answerWindow, _challengeBond, _challengerRewardBps);
    }

    /// @inheritdoc IProtocolConfig
    function slashTerms() external view returns (uint16 slashBps_, uint16 slashBurnBps_, address treasury_) {
        return (_slashBps, _slashBurnBps, _treasury);
    }

    /// @inheritdoc IProtocolConfig
    function collateralTiers()
        external
        view
        returns (uint8 highThreshold, uint8 midThreshold, uint16 highBps, uint16 midBps, uint16 lowBps)
    {
        return (_highThreshold, _midThreshold, _highBps, _midBps, _lowBps);
    }

    /// @inheritdoc IProtocolConfig
    function setProtocolFeeBps(uint16 bps) external onlyOwner {
        if (bps > MAX_FEE_BPS) revert ProtocolConfig__BpsTooHigh("protocolFeeBps", bps, MAX_FEE_BPS);
        emit ParameterChanged("protocolFeeBps", _protocolFeeBps, bps);
        _protocolFeeBps = bps;
    }

    /// @inheritdoc IProtocolConfig
    function setSlashParams(uint16 slashBps_, uint16 slashBurnBps_) external onlyOwner {
        _checkBounds("slashBps", slashBps_, MIN_SLASH_BPS, BPS);
        _checkBounds("slashBurnBps", slashBurnBps_, 0, BPS);
        emit ParameterChanged("slashBps", _slashBps, slashBps_);
        emit ParameterChanged("slashBurnBps", _slashBurnBps, slashBurnBps_);
        _slashBps = slashBps_;
        _slashBurnBps = slashBurnBps_;
    }

    /// @inheritdoc IProtocolConfig
    function setWindowBounds(uint32 minClaim, uint32 maxClaim, uint32 minProve, uint32 maxProve)
        external
        onlyOwner
    {
        if (minClaim == 0 || minClaim > maxClaim) revert ProtocolConfig__InvalidWindowBounds(minClaim, maxClaim);
        if (minProve == 0 || minProve > maxProve) revert ProtocolConfig__InvalidWindowBounds(minProve, maxProve);
        _checkUnbonding(_unbondingDelay, uint256(maxClaim) + _challengeWindow + _answerWindow, maxProve);
        emit ParameterChanged("minClaimWindow", _minClaimWindow, minClaim);
        emit ParameterChanged("maxClaimWindow", _maxClaimWindow, maxClaim);
        emit ParameterChanged("minProveWindow", _minProveWindow, minProve);
        emit ParameterChanged("maxProveWindow", _maxProveWindow, maxProve);
        (_minClaimWindow, _maxClaimWindow, _minProveWindow, _maxProveWindow) = (minClaim, maxClaim, minProve, maxProve);
    }

    /// @inheritdoc IProtocolConfig
    function setMinStake(uint256 amount) external onlyOwner {
        _checkBounds("minStake", amount, MIN_MIN_STAKE, MAX_MIN_STAKE);
        emit ParameterChanged("minStake", _minStake, amount);
        _minStake = uint96(amount); // at most MAX_MIN_STAKE
    }

    /// @inheritdoc IProtocolConfig
    function setUnbondingDelay(uint32 delay) external onlyOwner {
        _checkUnbonding(delay, uint256(_maxClaimWindow) + _challengeWindow + _answerWindow, _maxProveWindow);
        emit ParameterChanged("unbondingDelay", _unbondingDelay, delay);
        _unbondingDelay = delay;
    }

    /// @inheritdoc IProtocolConfig
    function setCollateralTiers(uint8 highThreshold, uint8 midThreshold, uint16 highBps, uint16 midBps, uint16 lowBps)
        external
        onlyOwner
    {
        if (highThreshold > 100 || midThreshold == 0 || midThreshold >= highThreshold) {
            revert ProtocolConfig__InvalidTiers(highThreshold, midThreshold);
        }
        _checkBounds("highBps", highBps, MIN_TIER_BPS, MAX_TIER_BPS);
        _checkBounds("midBps", midBps, MIN_TIER_BPS, MAX_TIER_BPS);
        _checkBounds("lowBps", lowBps, MIN_TIER_BPS, MAX_TIER_BPS);
        if (lowBps < midBps || midBps < highBps) revert ProtocolConfig__TierBpsNotMonotonic(highBps, midBps, lowBps);
        emit ParameterChanged("collateralTiers", 0, 0);
        (_highThreshold, _midThreshold, _highBps, _midBps, _lowBps) =
            (highThreshold, midThreshold, highBps, midBps, lowBps);
    }

    /// @inheritdoc IProtocolConfig
    function setMinJobPrice(uint256 amount) external onlyOwner {
        _checkBounds("minJobPrice", amount, 1, MAX_MIN_JOB_PRICE);
        emit ParameterChanged("minJobPrice", _minJobPrice, amount);
        _minJobPrice = uint96(amount); // at most MAX_MIN_JOB_PRICE
    }

    /// @inheritdoc IProtocolConfig
    function setDeclineSlashBps(uint16 bps) external onlyOwner {
        _checkBounds("declineSlashBps", bps, MIN_DECLINE_SLASH_BPS, MAX_DECLINE_SLASH_BPS);
        emit ParameterChanged("declineSlashBps", _declineSlashBps, bps);
        _declineSlashBps = bps;
    }

    /// @inheritdoc IProtocolConfig
    function setFreeDeclines(uint8 base, uint16 perCompletedBps) external onlyOwner {
        _checkBounds("freeDeclineBase", base, 0, MAX_FREE_DECLINE_BASE);
        _checkBounds("freeDeclinePerCompletedBps", perCompletedBps, 0, MAX_FREE_DECLINE_PER_COMPLETED_BPS);
        emit ParameterChanged("freeDeclineBase", _freeDeclineBase, base);
        emit ParameterChanged("freeDeclinePerCompletedBps", _freeDeclinePerCompletedBps, perCompletedBps);
        (_freeDeclineBase, _freeDeclinePerCompletedBps) = (base, perCompletedBps);
    }

    /// @inheritdoc IProtocolConfig
    function setChallengeWindows(uint32 challengeWindow, uint32 answerWindow) external onlyOwner {
        _checkBounds("challengeWindow", challengeWindow, MIN_CHALLENGE_WINDOW, MAX_CHALLENGE_WINDOW);
        _checkBounds("answerWindow", answerWindow, MIN_CHALLENGE_WINDOW, MAX_CHALLENGE_WINDOW);
        _checkUnbonding(_unbondingDelay, uint256(_maxClaimWindow) + challengeWindow + answerWindow, _maxProveWindow);
        emit ParameterChanged("challengeWindow", _challengeWindow, challengeWindow);
        emit ParameterChanged("answerWindow", _answerWindow, answerWindow);
        (_challengeWindow, _answerWindow) = (challengeWindow, answerWindow);
    }

    /// @inheritdoc IProtocolConfig
    function setChallengeBond(uint256 amount) external onlyOwner {
        _checkBounds("challengeBond", amount, MIN_CHALLENGE_BOND, MAX_CHALLENGE_BOND);
        emit ParameterChanged("challengeBond", _challengeBond, amount);
        _challengeBond = uint96(amount); // at most MAX_CHALLENGE_BOND
    }

    /// @inheritdoc IProtocolConfig
    function setChallengerRewardBps(uint16 bps) external onlyOwner {
        _checkBounds("challengerRewardBps", bps, 0, BPS);
        emit ParameterChanged("challengerRewardBps", _challengerRewardBps, bps);
        _challengerRewardBps = bps;
    }

    /// @inheritdoc IProtocolConfig
    function setVerifierCurator(address curator_) external onlyOwner {
        emit VerifierCuratorChanged(_verifierCurator, curator_);
        _verifierCurator = curator_;
    }

    /// @inheritdoc IProtocolConfig
    function setVerifierCodeAllowed(bytes32 codeHash, bool allowed) external {
        if (msg.sender != owner() && (msg.sender != _verifierCurator || msg.sender == address(0))) {
            revert ProtocolConfig__NotCurator(msg.sender);
        }
        _allowedVerifierCode[codeHash] = allowed;
        emit VerifierCodeAllowed(codeHash, allowed);
    }

    /// @inheritdoc IProtocolConfig
    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert ProtocolConfig__ZeroAddress();
        emit TreasuryChanged(_treasury, treasury_);
        _treasury = treasury_;
    }

    /// @inheritdoc IProtocolConfig
    function setGuardian(address guardian_) external onlyOwner {
        if (guardian_ == address(0)) revert ProtocolConfig__ZeroAddress();
        emit GuardianChanged(_guardian, guardian_);
        _guardian = guardian_;
    }

    function _checkUnbonding(uint256 delay, uint256 maxClaim, uint256 maxProve) private pure {
        if (delay <= maxClaim + maxProve) revert ProtocolConfig__UnbondingTooShort(delay, maxClaim + maxProve);
        _checkBounds("unbondingDelay", delay, 0, MAX_UNBONDING_DELAY);
    }

    function _checkBounds(bytes32 name, uint256 value, uint256 min, uint256 max) private pure {
        if (value < min || value > max) revert ProtocolConfig__OutOfBounds(name, value, min, max);
    }
}
