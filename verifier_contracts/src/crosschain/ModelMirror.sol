// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {IHalo2Verifier, IHalo2VerifierReusable} from "../interfaces/IHalo2Verifier.sol";
import {IModelMirror} from "./IModelMirror.sol";

/// @title ModelMirror
/// @notice Chain B's copy of chain A's model commitments, its verifier registry, and `verifyInference` (ERC-7992 shape).
/// @dev Verification is the market's (`JobSettlement._checkInstances` + `_verify`): the verifier's code hash is the
///      pinned one, instances = commitments ++ outputs with the pinned counts, each below the BN254 scalar field, and
///      the verifier called with staticcall (a Reusable one with the model's VKA, its reported digest checked).
contract ModelMirror is IModelMirror {
    uint256 private constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice Largest VKA in bytes (the data contract's runtime 0x00 ++ vka must fit EIP-170), as on A.
    uint256 public constant MAX_VKA_BYTES = 24_575;

    uint256 public immutable sourceChainId;
    address public immutable sourceRegistry;
    address public immutable sourceMarket;
    address public updater;
    address public pendingUpdater;

    mapping(uint256 modelId => Mirrored) private _models;
    mapping(bytes32 codeHash => address) private _verifiers;

    constructor(address updater_, uint256 sourceChainId_, address sourceRegistry_, address sourceMarket_) {
        if (updater_ == address(0)) revert Mirror__NotUpdater(updater_);
        updater = updater_;
        sourceChainId = sourceChainId_;
        sourceRegistry = sourceRegistry_;
        sourceMarket = sourceMarket_;
        emit UpdaterChanged(address(0), updater_);
    }

    modifier onlyUpdater() {
        if (msg.sender != updater) revert Mirror__NotUpdater(msg.sender);
        _;
    }

    /// @inheritdoc IModelMirror
    function mirrorModel(uint256 modelId, ModelCommitment calldata c, bytes calldata vka) external onlyUpdater {
        if (_models[modelId].mirroredAt != 0) revert Mirror__AlreadyMirrored(modelId);
        if (modelId == 0) revert Mirror__UnknownModel(modelId);
        if (c.inputCommitmentCount == 0) revert Mirror__InvalidInstanceCounts(c.inputCommitmentCount, c.outputCount);
        if (c.vkDigest == 0 || c.verifierCodeHash == 0 || c.onnxHash == 0 || c.settingsHash == 0) {
            revert Mirror__ZeroHash();
        }
        address verifier = _verifiers[c.verifierCodeHash];
        if (verifier == address(0)) revert Mirror__NoVerifier(c.verifierCodeHash);
        address pointer;
        if (c.kind == IModelRegistry.VerifierKind.Reusable) {
            if (vka.length == 0 || vka.length % 32 != 0 || vka.length > MAX_VKA_BYTES) {
                revert Mirror__BadVka(c.kind, vka.length);
            }
            bytes32 digest = keccak256(vka);
            if (digest != c.vkDigest) revert Mirror__VkaDigestMismatch(c.vkDigest, digest);
            bytes32 registered = IHalo2VerifierReusable(verifier).registerVka(_words(vka));
            if (registered != digest) revert Mirror__VkaDigestMismatch(digest, registered);
            pointer = _writeData(vka);
        } else if (vka.length != 0) {
            revert Mirror__BadVka(c.kind, vka.length);
        }
        _models[modelId] =
            Mirrored({commitment: c, paused: false, vkaPointer: pointer, mirroredAt: uint40(block.timestamp)});
        emit ModelMirrored(modelId, c.verifierCodeHash, c.kind, c.vkDigest);
    }

    /// @inheritdoc IModelMirror
    function setPaused(uint256 modelId, bool paused) external onlyUpdater {
        Mirrored storage m = _existing(modelId);
        m.paused = paused;
        emit ModelPauseSet(modelId, paused);
    }

    /// @inheritdoc IModelMirror
    function proposeUpdater(address proposed) external onlyUpdater {
        pendingUpdater = proposed;
        emit UpdaterProposed(msg.sender, proposed);
    }

    /// @inheritdoc IModelMirror
    function acceptUpdater() external {
        if (msg.sender != pendingUpdater || msg.sender == address(0)) revert Mirror__NotPendingUpdater(msg.sender);
        emit UpdaterChanged(updater, msg.sender);
        updater = msg.sender;
        pendingUpdater = address(0);
    }

    /// @inheritdoc IModelMirror
    function registerVerifier(address verifier) external returns (bytes32 codeHash) {
        if (verifier.code.length == 0) revert Mirror__VerifierHasNoCode(verifier);
        codeHash = verifier.codehash;
        if (_verifiers[codeHash] == address(0)) {
            _verifiers[codeHash] = verifier;
            emit VerifierRegistered(codeHash, verifier);
        }
    }

    /// @inheritdoc IModelMirror
    function verifierOf(bytes32 codeHash) external view returns (address) {
        return _verifiers[codeHash];
    }

    /// @inheritdoc IModelMirror
    function modelOf(uint256 modelId) external view returns (Mirrored memory) {
        return _existing(modelId);
    }

    /// @inheritdoc IModelMirror
    function isMirrored(uint256 modelId) external view returns (bool) {
        return _models[modelId].mirroredAt != 0;
    }

    /// @inheritdoc IModelMirror
    function verifyInference(
        uint256 modelId,
        uint256[] calldata inputCommitments,
        uint256[] calldata outputs,
        bytes calldata proof
    ) external view returns (bool) {
        Mirrored storage m = _existing(modelId);
        if (m.paused) revert Mirror__ModelPaused(modelId);
        ModelCommitment memory c = m.commitment;
        if (inputCommitments.length != c.inputCommitmentCount) {
            revert Mirror__CommitmentCountMismatch(c.inputCommitmentCount, inputCommitments.length);
        }
        if (outputs.length != c.outputCount) revert Mirror__OutputCountMismatch(c.outputCount, outputs.length);
        address verifier = _verifiers[c.verifierCodeHash];
        if (verifier == address(0)) revert Mirror__NoVerifier(c.verifierCodeHash);
        bytes32 codeHash = verifier.codehash;
        if (codeHash != c.verifierCodeHash) revert Mirror__VerifierCodeChanged(verifier, c.verifierCodeHash, codeHash);
        uint256[] memory instances = new uint256[](inputCommitments.length + outputs.length);
        for (uint256 i; i < inputCommitments.length; ++i) {
            instances[i] = inputCommitments[i];
        }
        for (uint256 i; i < outputs.length; ++i) {
            instances[inputCommitments.length + i] = outputs[i];
        }
        for (uint256 i; i < instances.length; ++i) {
            if (instances[i] >= SNARK_SCALAR_FIELD) revert Mirror__InstanceOutOfField(i, instances[i]);
        }
        _verify(modelId, verifier, c, m.vkaPointer, proof, instances);
        return true;
    }

    function _verify(
        uint256 modelId,
        address verifier,
        ModelCommitment memory c,
        address vkaPointer,
        bytes calldata proof,
        uint256[] memory instances
    ) private view {
        bool ok;
        bytes memory ret;
        if (c.kind == IModelRegistry.VerifierKind.Dedicated) {
            (ok, ret) = verifier.staticcall(abi.encodeCall(IHalo2Verifier.verifyProof, (proof, instances)));
            if (!ok || ret.length < 32 || _word(ret, 0) != 1) revert Mirror__InvalidProof(modelId);
        } else {
            bytes32[] memory vka = _loadVka(vkaPointer);
            (ok, ret) = verifier.staticcall(abi.encodeCall(IHalo2VerifierReusable.verifyProof, (proof, instances, vka)));
            // Non-standard return data: words [1, vka_digest, ...]; decode only those two (as JobSettlement does).
            if (!ok || ret.length < 64 || _word(ret, 0) != 1) revert Mirror__InvalidProof(modelId);
            bytes32 reported = bytes32(_word(ret, 1));
            if (reported != c.vkDigest) revert Mirror__VkaDigestMismatch(c.vkDigest, reported);
        }
    }

    function _existing(uint256 modelId) private view returns (Mirrored storage m) {
        m = _models[modelId];
        if (m.mirroredAt == 0) revert Mirror__UnknownModel(modelId);
    }

    function _words(bytes calldata data) private pure returns (bytes32[] memory words) {
        uint256 n = data.length / 32;
        words = new bytes32[](n);
        assembly ("memory-safe") {
            calldatacopy(add(words, 0x20), data.offset, data.length)
        }
    }

    function _loadVka(address pointer) private view returns (bytes32[] memory words) {
        uint256 n = (pointer.code.length - 1) / 32;
        words = new bytes32[](n);
        assembly ("memory-safe") {
            extcodecopy(pointer, add(words, 0x20), 1, mul(n, 32))
        }
    }

    function _word(bytes memory data, uint256 index) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := mload(add(add(data, 0x20), mul(index, 0x20)))
        }
    }

    /// @dev A contract whose runtime code is 0x00 ++ data (uncallable), as ModelRegistry stores VKAs.
    function _writeData(bytes calldata data) private returns (address pointer) {
        bytes memory runtime = abi.encodePacked(hex"00", data);
        bytes memory creation = abi.encodePacked(hex"61", uint16(runtime.length), hex"80600a3d393df3", runtime);
        assembly ("memory-safe") {
            pointer := create(0, add(creation, 0x20), mload(creation))
        }
        if (pointer == address(0)) revert Mirror__BadVka(IModelRegistry.VerifierKind.Reusable, data.length);
    }
}
