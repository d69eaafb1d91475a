// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IJobSettlement} from "../../src/interfaces/IJobSettlement.sol";

interface VmStorage {
    function load(address target, bytes32 slot) external view returns (bytes32);
}

/// @notice The `jobWords` of a batch for `finalizeBatch` and `challenge` (IJobSettlement: each job's storage slot 0's
///         consumer, claim deadline and prove window, and its slots 1 and 2, as submitted), read with the `load`
///         cheatcode (no call: a `vm.prank` or `vm.expectRevert` before the settlement call stays for it) and
///         FLAG_NO_REWARD (bit 200, set only at settlement) cleared.
library JobWords {
    VmStorage internal constant VM = VmStorage(address(uint160(uint256(keccak256("hevm cheat code")))));
    /// @dev `_jobs` is the market's storage slot 1 (after the one packed slot of counters).
    uint256 internal constant JOBS_SLOT = 1;
    uint256 internal constant NO_REWARD_BIT = 1 << 200;
    uint256 internal constant STATE_WORD_MASK = (1 << 232) - 1;

    function read(address market, IJobSettlement.Result[] memory rs) internal view returns (uint256[] memory words) {
        words = new uint256[](3 * rs.length);
        for (uint256 i; i < rs.length; ++i) {
            uint256 base = uint256(keccak256(abi.encode(rs[i].jobId, JOBS_SLOT)));
            words[3 * i] = uint256(VM.load(market, bytes32(base))) & STATE_WORD_MASK;
            words[3 * i + 1] = uint256(VM.load(market, bytes32(base + 1))) & ~NO_REWARD_BIT;
            words[3 * i + 2] = uint256(VM.load(market, bytes32(base + 2)));
        }
    }
}
