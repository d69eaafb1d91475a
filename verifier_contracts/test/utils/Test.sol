// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The subset of Foundry's cheatcodes these tests use (signatures match forge's `Vm`).
/// @dev Kept in-repo so the suite builds offline from npm packages only (no forge-std download).
interface Vm {
    function warp(uint256 newTimestamp) external;
    function roll(uint256 newHeight) external;
    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;
    function expectRevert() external;
    function expectRevert(bytes4 revertData) external;
    function expectRevert(bytes calldata revertData) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData, address emitter) external;
    function readFile(string calldata path) external view returns (string memory);
    function parseJsonBytes(string calldata json, string calldata key) external pure returns (bytes memory);
    function parseJsonBytes32(string calldata json, string calldata key) external pure returns (bytes32);
    function parseJsonStringArray(string calldata json, string calldata key) external pure returns (string[] memory);
    function parseUint(string calldata value) external pure returns (uint256);
    function parseJsonUint(string calldata json, string calldata key) external pure returns (uint256);
    function parseJsonUintArray(string calldata json, string calldata key) external pure returns (uint256[] memory);
    function toString(uint256 value) external pure returns (string memory);
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function label(address account, string calldata newLabel) external;
    function assume(bool condition) external pure;
    function etch(address target, bytes calldata newRuntimeBytecode) external;
    function startBroadcast() external;
    function stopBroadcast() external;
    function envOr(string calldata name, address defaultValue) external view returns (address);
    function chainId(uint256 newChainId) external;
    function getNonce(address account) external view returns (uint64);
    function deal(address account, uint256 newBalance) external;
    function snapshotState() external returns (uint256 snapshotId);
    function revertToState(uint256 snapshotId) external returns (bool success);
    function load(address target, bytes32 slot) external view returns (bytes32 data);
    function store(address target, bytes32 slot, bytes32 value) external;
    /// @dev Marks every storage slot of `target` cold again (as at the start of a transaction).
    function cool(address target) external;
}

/// @notice Forge's console (the subset these tests use): printed with `forge test -vv`.
library console {
    address internal constant CONSOLE = 0x000000000000000000636F6e736F6c652e6c6f67;

    function log(string memory label, uint256 value) internal view {
        (bool ok,) = CONSOLE.staticcall(abi.encodeWithSignature("log(string,uint256)", label, value));
        ok;
    }
}

/// @notice Minimal test base: the cheatcode handle, assertions, and `bound` for fuzz inputs.
abstract contract Test {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @dev Forge reads this flag; `true` marks a test contract.
    bool public IS_TEST = true;

    error AssertionFailed(string message);

    function makeAddr(string memory name) internal returns (address account) {
        account = vm.addr(uint256(keccak256(bytes(name))));
        vm.label(account, name);
    }

    function assertTrue(bool condition, string memory message) internal pure {
        if (!condition) revert AssertionFailed(message);
    }

    function assertTrue(bool condition) internal pure {
        assertTrue(condition, "expected true");
    }

    function assertFalse(bool condition) internal pure {
        assertTrue(!condition, "expected false");
    }

    function assertEq(uint256 a, uint256 b, string memory message) internal pure {
        if (a != b) revert AssertionFailed(string.concat(message, ": ", _str(a), " != ", _str(b)));
    }

    function assertEq(uint256 a, uint256 b) internal pure {
        assertEq(a, b, "uint mismatch");
    }

    function assertEq(address a, address b) internal pure {
        if (a != b) revert AssertionFailed("address mismatch");
    }

    function assertEq(bytes32 a, bytes32 b) internal pure {
        if (a != b) revert AssertionFailed("bytes32 mismatch");
    }

    function assertEq(bytes32 a, bytes32 b, string memory message) internal pure {
        if (a != b) revert AssertionFailed(string.concat(message, ": bytes32 mismatch"));
    }

    function assertEq(bool a, bool b) internal pure {
        if (a != b) revert AssertionFailed("bool mismatch");
    }

    function assertEq(uint256[] memory a, uint256[] memory b) internal pure {
        assertEq(a.length, b.length, "array length");
        for (uint256 i; i < a.length; ++i) {
            assertEq(a[i], b[i], "array element");
        }
    }

    function assertLe(uint256 a, uint256 b, string memory message) internal pure {
        if (a > b) revert AssertionFailed(string.concat(message, ": ", _str(a), " > ", _str(b)));
    }

    function assertGt(uint256 a, uint256 b, string memory message) internal pure {
        if (a <= b) revert AssertionFailed(string.concat(message, ": ", _str(a), " <= ", _str(b)));
    }

    /// @dev Maps `x` into [min, max] without discarding fuzz runs.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 size = max - min + 1;
        if (size == 0) return x;
        return min + (x % size);
    }

    function _str(uint256 v) private pure returns (string memory) {
        if (v == 0) return "0";
        bytes memory buf;
        while (v != 0) {
            buf = abi.encodePacked(bytes1(uint8(48 + v % 10)), buf);
            v /= 10;
        }
        return string(buf);
    }
}
