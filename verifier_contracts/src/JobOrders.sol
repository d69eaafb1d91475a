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
import {JobTermsLib} from "./types/JobTermsLib.sol";
import {OrderLib} from "./types/OrderLib.sol";

/// @title JobOrders
/// @notice The market's order-batch module (issue #24): `IJobMarket.fillOrders`, many consumers' signed orders posted
///         and claimed for one provider in one transaction. JobMarket creates this contract in its constructor (so
///         its wiring is the market's) and runs it by DELEGATECALL in the market's storage; it is never called
///         directly (its own storage is empty and unused).
/// @dev Each filled order makes exactly what `JobMarket.fillOrder` makes (the job's four slots, written once, already
///      Claimed; the escrow; the collateral; the same events), with what a batch can share read once per call: the
///      caller's registration, stake and NRS, the governed post bounds, the EIP-712 domain, each model's registry
///      record (and, for optimistic orders, its verifier's trust), `claimTerms` per distinct price, and ONE
///      `lockCollateral` for the sum. An order anyone but the caller can spoil is skipped (IJobMarket.OrderSkip),
///      never reverted: its nonce is marked used before the escrow's `transferFrom`, and a failed transfer unmarks
///      it and skips the order before any of its job is written.
contract JobOrders is JobMarketState {
    using SafeERC20 for IERC20;

    /// @dev A model's registry record as one batch needs it (read once per model and call).
    struct Model {
        uint256 id;
        bool active;
        uint256 commitmentCount;
        address verifier;
        bytes32 verifierCodeHash;
        uint8 trust; // 0 not asked yet, 1 trusted judge (optimistic allowed), 2 not
    }

    /// @dev What one call reads once.
    struct Batch {
        address provider;
        uint256 score;
        uint256 staked;
        bytes32 domain;
        uint256 minJobPrice;
        uint32 minClaim;
        uint32 maxClaim;
        uint32 minProve;
        uint32 maxProve;
        uint256 termsPrice; // the last price `claimTerms` was asked for (type(uint256).max: none yet)
        uint256 termsCollateral; // its answer
        uint256 collateral; // the filled orders' collateral, locked once at the end
        uint256 filled;
        uint256 modelCount;
        Model[] models;
    }

    /// @dev One order's checked terms and claim.
    struct Fill {
        IJobMarket.JobTerms terms;
        uint8 flags;
        uint256 price;
        uint256 collateral;
    }

    /// @dev The market's own six addresses (JobMarket's constructor passes its own).
    constructor(
        IERC20 token_,
        IProtocolConfig config_,
        IModelRegistry registry_,
        IProviderStaking staking_,
        IReputation reputation_,
        IRewardsPool rewards_
    ) JobMarketState(token_, config_, registry_, staking_, reputation_, rewards_) {}

    /// @notice See `IJobMarket.fillOrders` (reached at the market's address).
    function fillOrders(
        IJobMarket.Order[] calldata orders,
        uint256[][] calldata inputCommitments,
        bytes[] calldata signatures,
        IJobMarket.Permit[] calldata permits
    ) external nonReentrant whenNotPaused returns (uint256[] memory jobIds) {
        uint256 n = orders.length;
        if (n == 0 || n > MAX_BATCH || inputCommitments.length != n || signatures.length != n || permits.length != n) {
            revert IJobMarket.JobMarket__OrderBatchShape(n, inputCommitments.length, signatures.length, permits.length);
        }
        Batch memory b = _open(n);
        Fill memory f;
        jobIds = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            jobIds[i] = _fill(b, f, orders[i], inputCommitments[i], signatures[i], permits[i]);
        }
        if (b.filled != 0) _staking.lockCollateral(b.provider, b.collateral);
    }

    /// @dev One order: its job id, or 0 and OrderSkipped.
    function _fill(
        Batch memory b,
        Fill memory f,
        IJobMarket.Order calldata order,
        uint256[] calldata commitments,
        bytes calldata signature,
        IJobMarket.Permit calldata permit
    ) private returns (uint256 jobId) {
        // A consumer holding less than the escrow (e.g. it moved its balance away after the provider judged its
        // orders), or an order without a permit whose allowance is short (e.g. cut after the provider judged it), is
        // skipped first, for one or two token reads: its orders cost the provider less than the transfer or approve
        // that spoiled them. (The allowance read warms the slot `transferFrom` reads next.)
        (address consumer, uint256 price) = (order.consumer, order.terms.maxPrice);
        IJobMarket.OrderSkip skip = _token.balanceOf(consumer) < price
                || (permit.v == 0 && _token.allowance(consumer, address(this)) < price)
            ? IJobMarket.OrderSkip.PaymentFailed
            : _check(b, f, order, commitments, signature);
        if (skip == IJobMarket.OrderSkip.None) skip = _pay(order, f.terms.maxPrice, permit);
        if (skip == IJobMarket.OrderSkip.None) return _write(b, f, order, commitments);
        emit IJobMarket.OrderSkipped(order.consumer, order.nonce, uint8(skip));
    }

    /// @dev The caller's standing and the governed bounds, read once; reverts for what only the caller controls.
    function _open(uint256 n) private view returns (Batch memory b) {
        address provider = msg.sender;
        if (!_staking.isRegistered(provider)) revert IJobMarket.JobMarket__ProviderNotRegistered(provider);
        b.provider = provider;
        b.staked = _staking.stakedOf(provider);
        b.score = _reputation.nrs(provider);
        b.domain = _orderDomain();
        (b.minJobPrice, b.minClaim, b.maxClaim, b.minProve, b.maxProve) = _config.postTerms();
        b.termsPrice = type(uint256).max;
        b.models = new Model[](n);
    }

    /// @dev `fillOrder`'s checks of one order, as a skip reason instead of a revert (None: fill it). On None, `f`
    ///      holds the terms, the flags, the price the claim locks and the collateral it takes.
    function _check(
        Batch memory b,
        Fill memory f,
        IJobMarket.Order calldata order,
        uint256[] calldata commitments,
        bytes calldata signature
    ) private view returns (IJobMarket.OrderSkip) {
        if (block.timestamp >= order.deadline) return IJobMarket.OrderSkip.Expired;
        if (order.signedAt > block.timestamp) return IJobMarket.OrderSkip.NotYetValid;
        {
            address named = order.provider;
            if (named != address(0) && named != b.provider) return IJobMarket.OrderSkip.ForAnotherProvider;
        }
        if (order.consumer == b.provider) return IJobMarket.OrderSkip.OwnOrder;
        {
            (uint256 bits, uint256 bit) = _nonceSlot(order.consumer, order.nonce);
            if (bits & bit != 0) return IJobMarket.OrderSkip.NonceUsed;
        }
        if (!_signed(order, commitments, signature, b.domain)) return IJobMarket.OrderSkip.BadSignature;
        f.terms = order.terms;
        return _checkTerms(b, f, order.consumer, order.signedAt, commitments);
    }

    /// @dev Whether `signature` is the consumer's (65 bytes, low s) over the order's digest under `domain`.
    function _signed(
        IJobMarket.Order calldata order,
        uint256[] calldata commitments,
        bytes calldata signature,
        bytes32 domain
    ) private pure returns (bool) {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(
            OrderLib.digest(order, _packedHash(commitments), domain), signature
        );
        return err == ECDSA.RecoverError.NoError && signer == order.consumer;
    }

    /// @dev The post's and the claim's checks of the terms (JobMarket's `_post` and `_claim`), with the registry and
    ///      `claimTerms` answers cached for the batch. A stake below `claimTerms`' minimum reverts, as in `_claim`.
    function _checkTerms(
        Batch memory b,
        Fill memory f,
        address consumer,
        uint256 signedAt,
        uint256[] calldata commitments
    ) private view returns (IJobMarket.OrderSkip) {
        IJobMarket.JobTerms memory t = f.terms;
        Model memory m = _model(b, t.modelId);
        if (!m.active) return IJobMarket.OrderSkip.ModelNotActive;
        (bool valid, uint8 flags) = JobTermsLib.tryFlagsFor(t, consumer);
        if (!valid || !_inBounds(b, t) || commitments.length != m.commitmentCount) {
            return IJobMarket.OrderSkip.BadTerms;
        }
        for (uint256 i; i < commitments.length; ++i) {
            if (commitments[i] >= SNARK_SCALAR_FIELD) return IJobMarket.OrderSkip.BadTerms;
        }
        if (flags & FLAG_OPTIMISTIC != 0 && !_trusted(m)) return IJobMarket.OrderSkip.BadTerms;
        if (b.score < t.minReputation) return IJobMarket.OrderSkip.ReputationTooLow;
        uint256 price = t.maxPrice;
        if (flags & FLAG_AUCTION != 0) {
            price = JobTermsLib.rampPrice(t.minPrice, price, signedAt + t.rampDelay, t.rampLength, block.timestamp);
        }
        (f.flags, f.price, f.collateral) = (flags, price, _collateral(b, price));
        return IJobMarket.OrderSkip.None;
    }

    /// @dev `claimTerms(price, score)`'s collateral, asked once per distinct price in a row; a stake below its
    ///      minimum reverts (JobMarket's `_claim`).
    function _collateral(Batch memory b, uint256 price) private view returns (uint256) {
        if (price != b.termsPrice) {
            (uint256 minStake, uint256 collateral) = _config.claimTerms(price, b.score);
            if (b.staked < minStake) revert IJobMarket.JobMarket__StakeBelowMinimum(b.provider, b.staked, minStake);
            (b.termsPrice, b.termsCollateral) = (price, collateral);
        }
        return b.termsCollateral;
    }

    /// @dev JobMarket's `_checkTerms` and minReputation bound, and a claim window the claim itself fits in.
    function _inBounds(Batch memory b, IJobMarket.JobTerms memory t) private pure returns (bool) {
        return t.minPrice != 0 && t.minPrice >= b.minJobPrice && t.claimWindow != 0 && t.claimWindow >= b.minClaim
            && t.claimWindow <= b.maxClaim && t.proveWindow >= b.minProve && t.proveWindow <= b.maxProve
            && t.minReputation <= 100;
    }

    /// @dev The model's record, from the batch's cache or (first use) the registry; an unknown model is not active.
    function _model(Batch memory b, uint256 modelId) private view returns (Model memory m) {
        Model[] memory models = b.models;
        uint256 count = b.modelCount;
        for (uint256 i; i < count; ++i) {
            if (models[i].id == modelId) return models[i];
        }
        m.id = modelId;
        try _registry.settlementOf(modelId) returns (IModelRegistry.Verification memory v) {
            m.active = v.status == IModelRegistry.ModelStatus.Active;
            (m.commitmentCount, m.verifier, m.verifierCodeHash) =
            (v.inputCommitmentCount, v.verifier, v.verifierCodeHash);
        } catch {}
        models[count] = m;
        b.modelCount = count + 1;
    }

    /// @dev JobMarket's `_requireTrustedJudge` as a bool, asked once per model and batch.
    function _trusted(Model memory m) private view returns (bool) {
        if (m.trust == 0) {
            bytes32 pinned = m.verifierCodeHash;
            m.trust = m.verifier.codehash == pinned && _config.isVerifierCodeAllowed(pinned) ? 1 : 2;
        }
        return m.trust == 1;
    }

    /// @dev Marks the nonce used, tries the permit, pulls the escrow; a failed pull unmarks the nonce (PaymentFailed).
    ///      The balance was read before the order's checks (`_fill`); a permit is only tried when the allowance is
    ///      short, so a valid allowance never pays for a signature recovery.
    function _pay(IJobMarket.Order calldata order, uint256 amount, IJobMarket.Permit calldata permit)
        private
        returns (IJobMarket.OrderSkip)
    {
        (address consumer, uint256 nonce) = (order.consumer, order.nonce);
        mapping(uint256 word => uint256 bits) storage words = _orderNonces[consumer];
        uint256 bit = 1 << (nonce & 255);
        words[nonce >> 8] |= bit;
        if (permit.v != 0 && _token.allowance(consumer, address(this)) < amount) {
            // A front-run permit leaves its allowance; a failed one is ignored (the transfer decides).
            try IERC20Permit(address(_token))
                .permit(consumer, address(this), permit.value, permit.deadline, permit.v, permit.r, permit.s) {}
                catch {}
        }
        if (_token.trySafeTransferFrom(consumer, address(this), amount)) return IJobMarket.OrderSkip.None;
        words[nonce >> 8] &= ~bit;
        return IJobMarket.OrderSkip.PaymentFailed;
    }

    /// @dev Writes the job once, posted and claimed (the state `fillOrder`'s post and claim leave), and emits what
    ///      they emit.
    function _write(Batch memory b, Fill memory f, IJobMarket.Order calldata order, uint256[] calldata commitments)
        private
        returns (uint256 jobId)
    {
        IJobMarket.JobTerms memory t = f.terms;
        address consumer = order.consumer;
        uint8 flags = f.flags;
        jobId = _newJobId();
        _totalLiabilities += t.maxPrice;
        uint256 claimDeadline = block.timestamp + t.claimWindow;
        uint256 proveDeadline = block.timestamp + t.proveWindow;
        _jobs[jobId] = IJobMarket.Job({
            consumer: consumer,
            claimDeadline: uint40(claimDeadline),
            proveWindow: t.proveWindow,
            minReputation: t.minReputation,
            status: IJobMarket.JobStatus.Claimed,
            rating: 0,
            provider: b.provider,
            proveDeadline: uint40(proveDeadline),
            flags: flags & ~FLAG_AUCTION,
            callbackGasLimit: t.callbackGasLimit,
            price: uint96(f.price),
            collateral: uint96(f.collateral),
            modelId: uint64(t.modelId),
            commitmentsHash: _packedHash(commitments)
        });
        emit IJobMarket.JobPosted(
            jobId, consumer, t.modelId, commitments, t.maxPrice, claimDeadline, t.proveWindow, t.minReputation
        );
        if (flags != 0 || t.callbackGasLimit != 0) _emitTerms(jobId, t, flags, order.signedAt);
        if (flags & FLAG_AUCTION != 0) {
            emit IJobMarket.JobPriceLocked(jobId, f.price, t.maxPrice - f.price);
            _credit(consumer, t.maxPrice - f.price);
        }
        emit IJobMarket.JobClaimed(jobId, b.provider, f.collateral, proveDeadline);
        emit IJobMarket.OrderFilled(jobId, consumer, order.nonce, b.provider);
        b.collateral += f.collateral;
        ++b.filled;
    }

    /// @dev JobMarket's `_recordExtras` for a job claimed in the same call (no auction record: the price is locked).
    function _emitTerms(uint256 jobId, IJobMarket.JobTerms memory t, uint8 flags, uint256 signedAt) private {
        if (flags & FLAG_DELIVERER != 0) _deliverers[jobId] = t.deliverer;
        emit IJobMarket.JobTermsSet(
            jobId,
            t.minPrice,
            flags & FLAG_AUCTION != 0 ? signedAt + t.rampDelay : 0,
            t.rampLength,
            t.deliverer,
            t.callbackGasLimit,
            t.settlement
        );
    }
}
