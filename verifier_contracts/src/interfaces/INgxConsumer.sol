// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title INgxConsumer
/// @notice What a contract implements to receive a verified inference from the JobMarket.
/// @dev The market calls `onInferenceResult` once, after the job is settled and everyone is paid, with at most
///      the job's `callbackGasLimit` gas. A revert or an out-of-gas is recorded (CallbackResult, success false)
///      and changes nothing else: the settlement stands. A consumer must therefore check `msg.sender` is the
///      market and that `jobId` is one it posted, and must not rely on being called again.
interface INgxConsumer {
    /// @param jobId The settled job (posted by this contract).
    /// @param outputs The proof's output instances, field elements of the BN254 scalar field: a fixed-point
    ///        value v (scaled by 2^scale of the model's circuit) is v when v >= 0, and p - |v| when negative.
    function onInferenceResult(uint256 jobId, uint256[] calldata outputs) external;
}
