// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IRewardsPool} from "./interfaces/IRewardsPool.sol";

/// @title RewardsPool
/// @notice Holds the provider-rewards allocation of NGX (minted to it by NGXToken at deployment) and
///         grants one emission reward per verified job, halving every epoch, capped by the job's fee, its
///         unowed balance and a per-provider allowance per epoch. Rewards are pulled: a grant is one storage
///         write at settlement, and the provider's `JobMarket.withdraw` (or `claim` here) transfers them.
contract RewardsPool is IRewardsPool {
    using SafeERC20 for IERC20;

    /// @notice A reward never exceeds this share of the job's protocol fee (80 %).
    uint256 public constant REWARD_FEE_BPS = 8_000;
    uint256 internal constant BPS = 10_000;
    /// @dev Bit positions in the slots `rewardMany` reads and writes as whole words (Solidity packs from the lowest
    ///      bits up, in declaration order): a `Tally` is epoch (bits 0-63), paid (64-159) and owed (160-255); the
    ///      pool's slot is `_free` (bits 0-127) and `_totalOwed` (128-255).
    uint256 private constant TALLY_PAID_SHIFT = 64;
    uint256 private constant TALLY_OWED_SHIFT = 160;
    uint256 private constant POOL_OWED_SHIFT = 128;

    /// @dev One provider's rewards, packed in a slot: granted in `epoch`, and granted but not yet claimed.
    struct Tally {
        uint64 epoch;
        uint96 paid;
        uint96 owed;
    }

    address private immutable _deployer;
    uint256 private immutable _genesis;
    uint256 private immutable _epochDuration;
    uint256 private immutable _initialReward;
    uint256 private immutable _providerCapPerEpoch;
    IERC20 private _token;
    address private _market;
    /// @dev What the pool can still grant (its balance minus what it owes) and what it owes, in one slot: a grant
    ///      writes it and the provider's tally and never calls the token (`sync` counts later deposits).
    uint128 private _free;
    uint128 private _totalOwed;
    mapping(address provider => Tally) private _tallies;

    /// @param initialReward_ NGX paid per verified job in epoch 0.
    /// @param epochDuration_ Seconds per epoch; the reward halves at each epoch boundary.
    /// @param providerCapPerEpoch_ Most NGX one provider can receive per epoch.
    constructor(uint256 initialReward_, uint256 epochDuration_, uint256 providerCapPerEpoch_) {
        if (initialReward_ == 0 || epochDuration_ == 0) {
            revert RewardsPool__InvalidSchedule(initialReward_, epochDuration_);
        }
        if (providerCapPerEpoch_ == 0) revert RewardsPool__ZeroCap();
        _deployer = msg.sender;
        _genesis = block.timestamp;
        _epochDuration = epochDuration_;
        _initialReward = initialReward_;
        _providerCapPerEpoch = providerCapPerEpoch_;
    }

    /// @inheritdoc IRewardsPool
    function initialize(address token_, address market_) external {
        if (msg.sender != _deployer) revert RewardsPool__NotDeployer(msg.sender);
        if (_market != address(0)) revert RewardsPool__AlreadyInitialized();
        if (token_ == address(0) || market_ == address(0)) revert RewardsPool__ZeroAddress();
        _token = IERC20(token_);
        _market = market_;
        _free = uint128(IERC20(token_).balanceOf(address(this)));
        emit Initialized(token_, market_);
    }

    /// @inheritdoc IRewardsPool
    /// @dev Never reverts for an empty pool (settlement must not depend on rewards): it grants 0 instead.
    function reward(address provider, uint256 fee) external returns (uint256 paid) {
        if (msg.sender != _market || msg.sender == address(0)) revert RewardsPool__NotMarket(msg.sender);
        uint256 epoch = currentEpoch();
        Tally memory t = _tallies[provider];
        uint256 already = t.epoch == epoch ? t.paid : 0;
        paid = _due(epoch, fee, already);
        if (paid == 0) return 0;
        // Both fit: every grant is at most `_free`, and all the NGX there is (1e27) is below 2^90.
        _tallies[provider] = Tally(uint64(epoch), uint96(already + paid), t.owed + uint96(paid));
        _free -= uint128(paid);
        _totalOwed += uint128(paid);
        emit RewardPaid(provider, paid, epoch);
    }

    /// @inheritdoc IRewardsPool
    /// @dev Exactly `reward(provider, fees[i])` for each i in order (each grant sees the previous ones), with the
    ///      provider's tally and the pool's slot each read once and written once (as whole words: see `TALLY_*` and
    ///      `POOL_*`) and one RewardPaid event for the total.
    function rewardMany(address provider, uint256[] calldata fees) external returns (uint256[] memory paid) {
        if (msg.sender != _market || msg.sender == address(0)) revert RewardsPool__NotMarket(msg.sender);
        uint256 epoch = currentEpoch();
        Tally storage tally = _tallies[provider];
        uint256 tallyWord;
        uint256 poolWord;
        assembly ("memory-safe") {
            tallyWord := sload(tally.slot)
            poolWord := sload(_free.slot)
        }
        uint256 already = uint64(tallyWord) == epoch ? uint96(tallyWord >> TALLY_PAID_SHIFT) : 0;
        uint256 scheduled = rewardForEpoch(epoch);
        uint256 free = uint128(poolWord);
        uint256 total;
        paid = new uint256[](fees.length);
        for (uint256 i; i < fees.length; ++i) {
            uint256 fee;
            // fees[i] without its bounds check: i < fees.length.
            assembly ("memory-safe") {
                fee := calldataload(add(fees.offset, shl(5, i)))
            }
            uint256 amount = scheduled < free ? scheduled : free;
            uint256 byFee = fee * REWARD_FEE_BPS / BPS; // checked, as in `reward`
            if (byFee < amount) amount = byFee;
            // No underflow: `already` stays at most the cap (each amount is at most what the cap leaves), and each
            // amount is at most `free`; the sums are of NGX amounts (all the NGX there is is below 2^90).
            unchecked {
                uint256 capLeft = _providerCapPerEpoch - already;
                if (capLeft < amount) amount = capLeft;
                already += amount;
                free -= amount;
                total += amount;
            }
            // paid[i] without its bounds check: i < fees.length = paid.length.
            assembly ("memory-safe") {
                mstore(add(paid, shl(5, add(i, 1))), amount)
            }
        }
        if (total == 0) return paid;
        // The sums in their own types, so checked as `t.owed + uint96(total)` and `_totalOwed += ...` were.
        uint96 owed = uint96(tallyWord >> TALLY_OWED_SHIFT) + uint96(total);
        uint128 totalOwed = uint128(poolWord >> POOL_OWED_SHIFT) + uint128(total);
        tallyWord = uint64(epoch) | uint256(uint96(already)) << TALLY_PAID_SHIFT | uint256(owed) << TALLY_OWED_SHIFT;
        poolWord = free | uint256(totalOwed) << POOL_OWED_SHIFT;
        assembly ("memory-safe") {
            sstore(tally.slot, tallyWord)
            sstore(_free.slot, poolWord)
        }
        emit RewardPaid(provider, total, epoch);
    }

    /// @inheritdoc IRewardsPool
    function sync() external returns (uint256) {
        if (address(_token) == address(0)) return 0;
        _free = uint128(_token.balanceOf(address(this)) - _totalOwed);
        return _free;
    }

    /// @inheritdoc IRewardsPool
    function claim() external returns (uint256 amount) {
        amount = _claim(msg.sender);
        if (amount == 0) revert RewardsPool__NothingToClaim(msg.sender);
    }

    /// @inheritdoc IRewardsPool
    function claimFor(address provider) external returns (uint256) {
        if (msg.sender != _market || msg.sender == address(0)) revert RewardsPool__NotMarket(msg.sender);
        return _claim(provider);
    }

    /// @inheritdoc IRewardsPool
    function rewardFor(address provider, uint256 fee) public view returns (uint256) {
        return _due(currentEpoch(), fee, rewardedThisEpoch(provider));
    }

    /// @inheritdoc IRewardsPool
    function providerCapPerEpoch() external view returns (uint256) {
        return _providerCapPerEpoch;
    }

    /// @inheritdoc IRewardsPool
    function rewardedThisEpoch(address provider) public view returns (uint256) {
        Tally memory t = _tallies[provider];
        return t.epoch == currentEpoch() ? t.paid : 0;
    }

    /// @inheritdoc IRewardsPool
    function currentEpoch() public view returns (uint256) {
        return (block.timestamp - _genesis) / _epochDuration;
    }

    /// @inheritdoc IRewardsPool
    function rewardForEpoch(uint256 epoch) public view returns (uint256) {
        return epoch >= 256 ? 0 : _initialReward >> epoch;
    }

    /// @inheritdoc IRewardsPool
    function currentReward() public view returns (uint256) {
        return _available(rewardForEpoch(currentEpoch()));
    }

    /// @inheritdoc IRewardsPool
    function owedTo(address provider) external view returns (uint256) {
        return _tallies[provider].owed;
    }

    /// @inheritdoc IRewardsPool
    function totalOwed() external view returns (uint256) {
        return _totalOwed;
    }

    /// @inheritdoc IRewardsPool
    function genesis() external view returns (uint256) {
        return _genesis;
    }

    /// @inheritdoc IRewardsPool
    function epochDuration() external view returns (uint256) {
        return _epochDuration;
    }

    /// @inheritdoc IRewardsPool
    function initialReward() external view returns (uint256) {
        return _initialReward;
    }

    /// @notice The JobMarket allowed to request rewards.
    function market() external view returns (address) {
        return _market;
    }

    /// @notice The reward token (NGX).
    function token() external view returns (IERC20) {
        return _token;
    }

    /// @dev `min(scheduled reward of epoch, unowed balance, fee * REWARD_FEE_BPS / BPS, cap - already)`.
    function _due(uint256 epoch, uint256 fee, uint256 already) private view returns (uint256 amount) {
        amount = _available(rewardForEpoch(epoch));
        uint256 byFee = fee * REWARD_FEE_BPS / BPS;
        if (byFee < amount) amount = byFee;
        uint256 capLeft = _providerCapPerEpoch - already;
        if (capLeft < amount) amount = capLeft;
    }

    /// @dev `scheduled`, capped by what the pool holds beyond the rewards it already owes.
    function _available(uint256 scheduled) private view returns (uint256) {
        uint256 free = _free;
        return scheduled < free ? scheduled : free;
    }

    function _claim(address provider) private returns (uint256 amount) {
        Tally storage t = _tallies[provider];
        amount = t.owed;
        if (amount == 0) return 0;
        t.owed = 0;
        _totalOwed -= uint128(amount);
        emit RewardsClaimed(provider, amount);
        _token.safeTransfer(provider, amount);
    }
}
