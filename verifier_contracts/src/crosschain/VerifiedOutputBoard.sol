// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IModelMirror} from "./IModelMirror.sol";
import {IVerifiedInferenceConsumer} from "./IVerifiedInferenceConsumer.sol";

/// @title VerifiedOutputBoard
/// @notice Example consumer on chain B: its owner asks for the output of one pinned model on inputs it committed to
///         (on chain A, by posting jobs there); a relayer brings the proven outputs through the InferenceReceiver, and
///         any contract on B can read them here.
/// @dev It trusts only what the proof binds: it checks the caller is its receiver, the model is its model and the input
///      commitments are ones its owner asked for, once each. At deployment it checks the mirror's entry is the model it
///      was told to trust (code hash and vk digest), so an updater cannot have swapped it before.
contract VerifiedOutputBoard is IVerifiedInferenceConsumer {
    address public immutable receiver;
    address public immutable owner;
    uint256 public immutable modelId;

    mapping(bytes32 commitmentsHash => bool) public requested;
    mapping(bytes32 commitmentsHash => bool) public answered;
    mapping(bytes32 commitmentsHash => uint256[]) private _outputs;

    event Requested(bytes32 indexed commitmentsHash);
    event Answered(bytes32 indexed commitmentsHash, uint256 claimedSourceJobId, uint256[] outputs);

    error Board__NotOwner(address caller);
    error Board__NotReceiver(address caller);
    error Board__WrongModel(uint256 expected, uint256 actual);
    error Board__NotRequested(bytes32 commitmentsHash);
    error Board__AlreadyAnswered(bytes32 commitmentsHash);
    error Board__UnexpectedModelEntry(bytes32 verifierCodeHash, bytes32 vkDigest);

    constructor(address receiver_, IModelMirror mirror, uint256 modelId_, bytes32 verifierCodeHash, bytes32 vkDigest) {
        IModelMirror.Mirrored memory m = mirror.modelOf(modelId_);
        if (m.commitment.verifierCodeHash != verifierCodeHash || m.commitment.vkDigest != vkDigest) {
            revert Board__UnexpectedModelEntry(m.commitment.verifierCodeHash, m.commitment.vkDigest);
        }
        receiver = receiver_;
        owner = msg.sender;
        modelId = modelId_;
    }

    /// @notice Owner: accept the output for the input committed to by `commitmentsHash`
    ///         (keccak256(abi.encodePacked(inputCommitments)), the market's `commitmentsHash` of the job on A).
    function request(bytes32 commitmentsHash) external {
        if (msg.sender != owner) revert Board__NotOwner(msg.sender);
        requested[commitmentsHash] = true;
        emit Requested(commitmentsHash);
    }

    /// @inheritdoc IVerifiedInferenceConsumer
    function onVerifiedInference(
        uint256 modelId_,
        uint256[] calldata inputCommitments,
        uint256[] calldata outputs,
        uint256 claimedSourceJobId
    ) external {
        if (msg.sender != receiver) revert Board__NotReceiver(msg.sender);
        if (modelId_ != modelId) revert Board__WrongModel(modelId, modelId_);
        bytes32 h = keccak256(abi.encodePacked(inputCommitments));
        if (!requested[h]) revert Board__NotRequested(h);
        if (answered[h]) revert Board__AlreadyAnswered(h);
        answered[h] = true;
        _outputs[h] = outputs;
        emit Answered(h, claimedSourceJobId, outputs);
    }

    /// @notice The verified outputs for `commitmentsHash` (empty until answered).
    function outputsOf(bytes32 commitmentsHash) external view returns (uint256[] memory) {
        return _outputs[commitmentsHash];
    }
}
