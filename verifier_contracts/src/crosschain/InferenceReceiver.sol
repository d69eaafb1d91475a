// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IModelMirror} from "./IModelMirror.sol";
import {IVerifiedInferenceConsumer} from "./IVerifiedInferenceConsumer.sol";

/// @title InferenceReceiver
/// @notice Chain B's inbox for inferences proven on chain A: anyone (a relayer) hands in a proof, the mirror verifies
///         it, and the consumer contract named gets the verified output through `onVerifiedInference`. Payment stays on
///         A; delivering costs the relayer gas only.
/// @dev One delivery per (consumer, model, input commitments, outputs): a replay, by anyone, is refused. The key holds
///      the consumer, so a front-runner that delivers a public proof elsewhere first blocks nothing; it holds no job id,
///      which B cannot check (a relayer renaming the job delivers nothing new). The relayer cannot change the outputs:
///      the proof binds them to the committed input.
contract InferenceReceiver {
    IModelMirror public immutable mirror;
    mapping(bytes32 key => bool) public delivered;

    event InferenceDelivered(
        bytes32 indexed key,
        uint256 indexed modelId,
        address indexed consumer,
        uint256 claimedSourceJobId,
        address relayer,
        uint256[] inputCommitments,
        uint256[] outputs
    );

    error Receiver__AlreadyDelivered(bytes32 key);
    error Receiver__ConsumerHasNoCode(address consumer);
    error Receiver__CallbackFailed(address consumer, bytes reason);

    constructor(IModelMirror mirror_) {
        mirror = mirror_;
    }

    /// @notice The replay key of a delivery.
    function deliveryKey(
        address consumer,
        uint256 modelId,
        uint256[] calldata inputCommitments,
        uint256[] calldata outputs
    ) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                consumer, modelId, keccak256(abi.encodePacked(inputCommitments)), keccak256(abi.encodePacked(outputs))
            )
        );
    }

    /// @notice Verify `proof` with the mirror and deliver `outputs` to `consumer` (its callback gets the gas left).
    /// @param claimedSourceJobId The job on chain A this came from, as the relayer says (logged, passed on, unchecked).
    function deliver(
        address consumer,
        uint256 claimedSourceJobId,
        uint256 modelId,
        uint256[] calldata inputCommitments,
        uint256[] calldata outputs,
        bytes calldata proof
    ) external returns (bytes32 key) {
        if (consumer.code.length == 0) revert Receiver__ConsumerHasNoCode(consumer);
        key = deliveryKey(consumer, modelId, inputCommitments, outputs);
        if (delivered[key]) revert Receiver__AlreadyDelivered(key);
        mirror.verifyInference(modelId, inputCommitments, outputs, proof); // reverts with the reason unless valid
        delivered[key] = true; // before the callback: a re-entrant replay is refused too
        emit InferenceDelivered(key, modelId, consumer, claimedSourceJobId, msg.sender, inputCommitments, outputs);
        try IVerifiedInferenceConsumer(consumer)
            .onVerifiedInference(modelId, inputCommitments, outputs, claimedSourceJobId) {}
        catch (bytes memory reason) {
            revert Receiver__CallbackFailed(consumer, reason);
        }
    }
}
