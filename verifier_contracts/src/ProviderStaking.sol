// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IProviderStaking} from "./interfaces/IProviderStaking.sol";
import {IProtocolConfig} from "./interfaces/IProtocolConfig.sol";
import {MarketBound} from "./utils/MarketBound.sol";

/// @title ProviderStaking
/// @notice Holds provider stake in NGX; JobMarket locks, unlocks and slashes per-job collateral.
/// @dev The stake token must be burnable (NGXToken is ERC20Burnable): the burned part of a slash is
///      destroyed with `burn`, reducing total supply and voting power.
contract ProviderStaking is IProviderStaking, MarketBound, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    IERC20 private immutable _token;
    IProtocolConfig private immutable _config;
    mapping(address provider => Provider) private _providers;

    constructor(IERC20 token_, IProtocolConfig config_) {
        _token = token_;
        _config = config_;
    }

    /// @inheritdoc IProviderStaking
    function register(bytes calldata encryptionPubKey, string calldata endpointURI) external {
        Provider storage p = _providers[msg.sender];
        if (p.registered) revert ProviderStaking__AlreadyRegistered(msg.sender);
        if (encryptionPubKey.length == 0) revert ProviderStaking__EmptyPubKey();
        p.registered = true;
        p.registeredAt = uint40(block.timestamp);
        p.encryptionPubKey = encryptionPubKey;
        p.endpointURI = endpointURI;
        emit ProviderRegistered(msg.sender, encryptionPubKey, endpointURI);
    }

    /// @inheritdoc IProviderStaking
    function updateProfile(bytes calldata encryptionPubKey, string calldata endpointURI) external {
        Provider storage p = _registered(msg.sender);
        if (encryptionPubKey.length == 0) revert ProviderStaking__EmptyPubKey();
        p.encryptionPubKey = encryptionPubKey;
        p.endpointURI = endpointURI;
        emit ProviderProfileUpdated(msg.sender, encryptionPubKey, endpointURI);
    }

    /// @inheritdoc IProviderStaking
    function stake(uint256 amount) external nonReentrant {
        if (amount == 0) revert ProviderStaking__ZeroAmount();
        Provider storage p = _registered(msg.sender);
        p.staked += amount.toUint128();
        emit Staked(msg.sender, amount, p.staked);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IProviderStaking
    function requestUnstake(uint256 amount) external {
        if (amount == 0) revert ProviderStaking__ZeroAmount();
        Provider storage p = _registered(msg.sender);
        uint256 free = p.staked - p.locked;
        if (amount > free) revert ProviderStaking__InsufficientFreeStake(msg.sender, amount, free);
        p.staked -= uint128(amount);
        p.unbonding += uint128(amount);
        uint256 releaseAt = block.timestamp + _config.unbondingDelay();
        p.unbondingReleaseAt = uint40(releaseAt);
        emit UnstakeRequested(msg.sender, amount, releaseAt);
    }

    /// @inheritdoc IProviderStaking
    function withdraw() external nonReentrant {
        Provider storage p = _providers[msg.sender];
        uint256 amount = p.unbonding;
        if (amount == 0) revert ProviderStaking__NothingToWithdraw(msg.sender);
        if (block.timestamp < p.unbondingReleaseAt) {
            revert ProviderStaking__StillUnbonding(msg.sender, p.unbondingReleaseAt);
        }
        p.unbonding = 0;
        emit Withdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IProviderStaking
    function lockCollateral(address provider, uint256 amount) external onlyMarket {
        Provider storage p = _providers[provider];
        uint256 free = p.staked - p.locked;
        if (amount > free) revert ProviderStaking__InsufficientFreeStake(provider, amount, free);
        p.locked += uint128(amount);
        emit CollateralLocked(provider, amount, p.locked);
    }

    /// @inheritdoc IProviderStaking
    function unlockCollateral(address provider, uint256 amount) external onlyMarket {
        Provider storage p = _providers[provider];
        if (amount > p.locked) revert ProviderStaking__UnlockExceedsLocked(provider, amount, p.locked);
        p.locked -= uint128(amount);
        emit CollateralUnlocked(provider, amount, p.locked);
    }

    /// @inheritdoc IProviderStaking
    function slash(address provider, uint256 unlockAmount, uint256 slashAmount, uint256 burnAmount, address recipient)
        external
        onlyMarket
        nonReentrant
    {
        Provider storage p = _providers[provider];
        if (slashAmount > unlockAmount || burnAmount > slashAmount) {
            revert ProviderStaking__InvalidSlash(slashAmount, burnAmount, unlockAmount);
        }
        if (unlockAmount > p.locked) revert ProviderStaking__UnlockExceedsLocked(provider, unlockAmount, p.locked);
        p.locked -= uint128(unlockAmount);
        p.staked -= uint128(slashAmount);
        emit CollateralUnlocked(provider, unlockAmount, p.locked);
        emit Slashed(provider, slashAmount, burnAmount, recipient);
        if (burnAmount != 0) ERC20Burnable(address(_token)).burn(burnAmount);
        if (slashAmount != burnAmount) _token.safeTransfer(recipient, slashAmount - burnAmount);
    }

    /// @inheritdoc IProviderStaking
    function getProvider(address provider) external view returns (Provider memory) {
        return _providers[provider];
    }

    /// @inheritdoc IProviderStaking
    function freeStake(address provider) external view returns (uint256) {
        Provider storage p = _providers[provider];
        return p.staked - p.locked;
    }

    /// @inheritdoc IProviderStaking
    function stakedOf(address provider) external view returns (uint256) {
        return _providers[provider].staked;
    }

    /// @inheritdoc IProviderStaking
    function registeredAt(address provider) external view returns (uint256) {
        return _providers[provider].registeredAt;
    }

    /// @inheritdoc IProviderStaking
    function isRegistered(address provider) external view returns (bool) {
        return _providers[provider].registered;
    }

    /// @notice The staked token (NGX).
    function token() external view returns (IERC20) {
        return _token;
    }

    function _registered(address provider) private view returns (Provider storage p) {
        p = _providers[provider];
        if (!p.registered) revert ProviderStaking__NotRegistered(provider);
    }
}
