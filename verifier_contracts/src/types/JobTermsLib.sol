// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IJobMarket} from "../interfaces/IJobMarket.sol";

/// @title JobTermsLib
/// @notice What a consumer asks of a job, as one type: the struct `IJobMarket.JobTerms` (declared in the interface,
///         where the ABI and every caller name it) plus this library of what terms know about themselves: their
///         validation and the job flags they set, their EIP-712 hash, and the auction's price maths (the price at a
///         time, and when the price reaches a floor).
/// @dev The struct-plus-library shape of Boundless' `contracts/src/types/Offer.sol`. The Python mirror is
///      `ngx_zk.chain.types.JobTerms`: its fields are pinned to the ABI by tests/test_chain_types.py, its formulas to
///      these by test/fixtures/job_terms_prices.json, which that test and test/JobTermsLib.t.sol both check.
library JobTermsLib {
    /// @notice EIP-712 type hash of `JobTerms` (a member of a signed `Order`).
    bytes32 internal constant TYPEHASH = keccak256(
        "JobTerms(uint256 modelId,uint96 minPrice,uint96 maxPrice,uint32 rampDelay,uint32 rampLength,uint32 claimWindow,uint32 proveWindow,uint8 minReputation,address deliverer,uint32 callbackGasLimit,uint8 settlement)"
    );
    /// @notice Job flag: an auction whose price is not locked yet (cleared by the claim).
    uint8 internal constant FLAG_AUCTION = 4;
    /// @notice Job flag: a deliverer besides the consumer may hand over the input.
    uint8 internal constant FLAG_DELIVERER = 16;
    /// @notice Job flag: optimistic settlement (`settlement == OPTIMISTIC`, see IJobSettlement).
    uint8 internal constant FLAG_OPTIMISTIC = 32;
    /// @notice `settlement`: the proof is verified at submission.
    uint8 internal constant EAGER = 0;
    /// @notice `settlement`: results are submitted with a proof hash and finalize after a challenge window.
    uint8 internal constant OPTIMISTIC = 1;
    /// @notice Most gas a job's callback may ask for (the provider pays for it in its settlement).
    uint32 internal constant MAX_CALLBACK_GAS = 2_000_000;

    /// @notice Any ramp field set makes an auction (whose price must then rise).
    function isAuction(IJobMarket.JobTerms memory terms) internal pure returns (bool) {
        return terms.minPrice != terms.maxPrice || terms.rampLength != 0 || terms.rampDelay != 0;
    }

    /// @notice Checks the auction, deliverer, callback and settlement terms of `consumer`'s job; returns the flags
    ///         they set. The governed bounds on price and windows are the ProtocolConfig's to check.
    function flagsFor(IJobMarket.JobTerms memory terms, address consumer) internal pure returns (uint8 flags) {
        if (isAuction(terms)) {
            if (
                terms.minPrice >= terms.maxPrice || terms.rampLength == 0
                    || uint256(terms.rampDelay) + terms.rampLength > terms.claimWindow
            ) revert IJobMarket.JobMarket__InvalidAuction(terms.minPrice, terms.maxPrice, terms.rampLength);
            flags = FLAG_AUCTION;
        }
        if (terms.deliverer != address(0)) {
            if (terms.deliverer == consumer) revert IJobMarket.JobMarket__InvalidDeliverer(terms.deliverer);
            flags |= FLAG_DELIVERER;
        }
        if (terms.callbackGasLimit > MAX_CALLBACK_GAS) {
            revert IJobMarket.JobMarket__CallbackGasTooHigh(terms.callbackGasLimit, MAX_CALLBACK_GAS);
        }
        if (terms.settlement != EAGER) {
            if (terms.settlement != OPTIMISTIC) revert IJobMarket.JobMarket__InvalidSettlement(terms.settlement);
            flags |= FLAG_OPTIMISTIC;
        }
    }

    /// @notice `flagsFor` without reverting: `valid` is false exactly where `flagsFor` reverts (`fillOrders` skips
    ///         such an order instead of reverting its batch; test/JobTermsLib.t.sol fuzzes the two against each other).
    function tryFlagsFor(IJobMarket.JobTerms memory terms, address consumer)
        internal
        pure
        returns (bool valid, uint8 flags)
    {
        if (isAuction(terms)) {
            if (
                terms.minPrice >= terms.maxPrice || terms.rampLength == 0
                    || uint256(terms.rampDelay) + terms.rampLength > terms.claimWindow
            ) return (false, 0);
            flags = FLAG_AUCTION;
        }
        if (terms.deliverer != address(0)) {
            if (terms.deliverer == consumer) return (false, 0);
            flags |= FLAG_DELIVERER;
        }
        if (terms.callbackGasLimit > MAX_CALLBACK_GAS) return (false, 0);
        if (terms.settlement != EAGER) {
            if (terms.settlement != OPTIMISTIC) return (false, 0);
            flags |= FLAG_OPTIMISTIC;
        }
        return (true, flags);
    }

    /// @notice EIP-712 `hashStruct(terms)`: keccak256 of the type hash and the eleven members, each one word.
    function hash(IJobMarket.JobTerms memory terms) internal pure returns (bytes32) {
        bytes memory head = abi.encode(
            TYPEHASH,
            terms.modelId,
            terms.minPrice,
            terms.maxPrice,
            terms.rampDelay,
            terms.rampLength,
            terms.claimWindow
        );
        bytes memory tail = abi.encode(
            terms.proveWindow, terms.minReputation, terms.deliverer, terms.callbackGasLimit, terms.settlement
        );
        return keccak256(bytes.concat(head, tail));
    }

    /// @notice The price a claim locks `secondsAfterStart` after the ramp's origin (the post, or a filled order's
    ///         `signedAt`): `minPrice` until `rampDelay` has passed, then rising linearly to `maxPrice` over
    ///         `rampLength` seconds (rounded down, so never above what the consumer escrowed).
    function priceAt(IJobMarket.JobTerms memory terms, uint256 secondsAfterStart) internal pure returns (uint256) {
        return rampPrice(terms.minPrice, terms.maxPrice, terms.rampDelay, terms.rampLength, secondsAfterStart);
    }

    /// @notice The ramp's price at `timestamp`, for a ramp that starts rising at `rampStart` (same clock).
    function rampPrice(uint256 minPrice, uint256 maxPrice, uint256 rampStart, uint256 rampLength, uint256 timestamp)
        internal
        pure
        returns (uint256)
    {
        if (timestamp <= rampStart) return minPrice;
        uint256 elapsed = timestamp - rampStart;
        if (elapsed >= rampLength) return maxPrice;
        return minPrice + (maxPrice - minPrice) * elapsed / rampLength;
    }

    /// @notice "When does the price reach my floor": the fewest whole seconds after the ramp's origin at which
    ///         `priceAt` is at least `floor`; `reachable` is false when the price never gets there.
    function secondsToReach(IJobMarket.JobTerms memory terms, uint256 floor)
        internal
        pure
        returns (bool reachable, uint256 secondsAfterStart)
    {
        if (floor <= terms.minPrice) return (true, 0);
        if (floor > terms.maxPrice) return (false, 0);
        // priceAt(delay + e) >= floor  <=>  (max - min) * e >= (floor - min) * length: the ceiling of the quotient.
        uint256 span = uint256(terms.maxPrice) - terms.minPrice;
        uint256 need = (floor - terms.minPrice) * terms.rampLength;
        return (true, uint256(terms.rampDelay) + (need + span - 1) / span);
    }
}
