// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IVerifiedInferenceConsumer
/// @notice What a contract on chain B implements to receive, from an `InferenceReceiver`, an output proven on chain A.
/// @dev The receiver has verified the proof against the mirrored model before calling: `outputs` are what model
///      `modelId` computes on the input committed to by `inputCommitments`. Anyone may relay, so a consumer must check
///      `msg.sender` is its receiver and that the input commitments are ones it asked for. `claimedSourceJobId` is the
///      relayer's word (chain B cannot read chain A): informational only, never a key.
///      A revert here reverts the whole delivery (nothing is recorded; it may be relayed again later).
interface IVerifiedInferenceConsumer {
    function onVerifiedInference(
        uint256 modelId,
        uint256[] calldata inputCommitments,
        uint256[] calldata outputs,
        uint256 claimedSourceJobId
    ) external;
}
