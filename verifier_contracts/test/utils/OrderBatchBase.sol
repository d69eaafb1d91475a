// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SettlementBase} from "./SettlementBase.sol";
import {IJobMarket} from "../../src/interfaces/IJobMarket.sol";

/// @notice Cheatcodes these tests use beyond test/utils/Test.sol's `Vm` (signatures match forge's).
interface VmLogs {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
    function load(address target, bytes32 slot) external view returns (bytes32);
}

/// @notice Helpers for batched order fills (`fillOrders`, issue #24): SettlementBase's four funded consumers (their
///         keys are makeAddr's), signed orders with a fresh commitment each, and batches of them.
abstract contract OrderBatchBase is SettlementBase {
    VmLogs internal constant vmLogs = VmLogs(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint256[4] internal keys;
    uint256 internal providerKey;
    /// Each order gets its own input commitment (a distinct statement, like distinct inputs).
    uint256 internal nextCommitment = 1_000;

    /// The four arrays `fillOrders` takes.
    struct Batch {
        IJobMarket.Order[] orders;
        uint256[][] commitments;
        bytes[] signatures;
        IJobMarket.Permit[] permits;
    }

    function setUp() public virtual override {
        super.setUp();
        for (uint256 i; i < 4; ++i) {
            keys[i] = uint256(keccak256(abi.encodePacked("consumer", bytes1(uint8(48 + i)))));
            assertEq(vm.addr(keys[i]), consumers[i]);
        }
        providerKey = uint256(keccak256("provider"));
        assertEq(vm.addr(providerKey), provider);
        vm.warp(block.timestamp + 2 days); // room for signing times in the past
    }

    /// An order of `who` (its key) for any provider, signed now, valid for an hour.
    function _orderOf(uint256 key, uint256 nonce, IJobMarket.JobTerms memory terms)
        internal
        view
        returns (IJobMarket.Order memory)
    {
        return IJobMarket.Order({
            consumer: vm.addr(key),
            terms: abi.decode(abi.encode(terms), (IJobMarket.JobTerms)), // a copy: orders never share terms
            provider: address(0),
            nonce: nonce,
            signedAt: uint40(block.timestamp),
            deadline: uint40(block.timestamp + 1 hours)
        });
    }

    function _newBatch(uint256 n) internal pure returns (Batch memory b) {
        b.orders = new IJobMarket.Order[](n);
        b.commitments = new uint256[][](n);
        b.signatures = new bytes[](n);
        b.permits = new IJobMarket.Permit[](n);
    }

    /// Puts `o` at `i` with a fresh commitment, signed by `key` (no permit: the consumers approved the market).
    function _put(Batch memory b, uint256 i, uint256 key, IJobMarket.Order memory o) internal {
        uint256[] memory c = new uint256[](1);
        c[0] = nextCommitment++;
        b.orders[i] = o;
        b.commitments[i] = c;
        b.signatures[i] = _signOrder(key, o, c);
    }

    function _signOrder(uint256 key, IJobMarket.Order memory o, uint256[] memory c)
        internal
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, market.orderDigest(o, c));
        return abi.encodePacked(r, s, v);
    }

    /// Re-signs order `i` (after a test changed it) with `key`.
    function _resign(Batch memory b, uint256 i, uint256 key) internal view {
        b.signatures[i] = _signOrder(key, b.orders[i], b.commitments[i]);
    }

    /// `n` orders of the four consumers (order i: consumer i % 4, nonce firstNonce + i / 4), all with `terms`.
    function _batchOf(uint256 n, uint256 firstNonce, IJobMarket.JobTerms memory terms)
        internal
        returns (Batch memory b)
    {
        b = _newBatch(n);
        for (uint256 i; i < n; ++i) {
            _put(b, i, keys[i % 4], _orderOf(keys[i % 4], firstNonce + i / 4, terms));
        }
    }

    function _fillAll(address who, Batch memory b) internal returns (uint256[] memory jobIds) {
        vm.prank(who);
        jobIds = market.fillOrders(b.orders, b.commitments, b.signatures, b.permits);
    }
}
