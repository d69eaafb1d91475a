// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IJobMarket} from "../interfaces/IJobMarket.sol";
import {JobTermsLib} from "./JobTermsLib.sol";

/// @title OrderLib
/// @notice A consumer's signed job order as one type: the struct `IJobMarket.Order` plus this library of its
///         EIP-712 encoding (type hash, struct hash, digest under a domain). `ngx_zk.chain.orders` is the Python
///         signer, pinned to `JobMarket.ORDER_TYPEHASH` and `orderDigest` by tests/test_orders.py.
library OrderLib {
    /// @notice EIP-712 type hash of `Order` (its `inputCommitments` member is the array `fillOrder` takes beside
    ///         the order, hashed as `keccak256(abi.encodePacked(inputCommitments))`).
    bytes32 internal constant TYPEHASH = keccak256(
        "Order(address consumer,JobTerms terms,uint256[] inputCommitments,address provider,uint256 nonce,uint40 signedAt,uint40 deadline)JobTerms(uint256 modelId,uint96 minPrice,uint96 maxPrice,uint32 rampDelay,uint32 rampLength,uint32 claimWindow,uint32 proveWindow,uint8 minReputation,address deliverer,uint32 callbackGasLimit,uint8 settlement)"
    );

    /// @notice EIP-712 `hashStruct(order)` = keccak256(TYPEHASH, consumer, hashStruct(terms), commitmentsHash,
    ///         provider, nonce, signedAt, deadline), with `hashStruct(terms)` as `JobTermsLib.hash`.
    /// @dev An Order is a static struct, so its 16 words lie in calldata in member order and are hashed as they are
    ///      (no copy to memory; test/JobTermsLib.t.sol checks the result against `JobTermsLib.hash`). Hashing raw
    ///      words is safe: a word with dirty high bits gives a digest no EIP-712 signer produces, and fillOrder
    ///      reads every member through Solidity (which reverts on dirty bits) anyway.
    function structHash(IJobMarket.Order calldata order, bytes32 commitmentsHash) internal pure returns (bytes32 h) {
        (bytes32 orderType, bytes32 termsType) = (TYPEHASH, JobTermsLib.TYPEHASH);
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, termsType)
            calldatacopy(add(m, 0x20), add(order, 0x20), 0x160) // terms: words 1..11 of the order
            let termsHash := keccak256(m, 0x180)
            mstore(m, orderType)
            mstore(add(m, 0x20), calldataload(order)) // consumer
            mstore(add(m, 0x40), termsHash)
            mstore(add(m, 0x60), commitmentsHash)
            calldatacopy(add(m, 0x80), add(order, 0x180), 0x80) // provider, nonce, signedAt, deadline
            h := keccak256(m, 0x100)
        }
    }

    /// @notice The digest a consumer signs: keccak256("\x19\x01" || domainSeparator || structHash).
    function digest(IJobMarket.Order calldata order, bytes32 commitmentsHash, bytes32 domainSeparator)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(hex"1901", domainSeparator, structHash(order, commitmentsHash)));
    }
}
