// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IProtocolConfig} from "./interfaces/IProtocolConfig.sol";
import {IHalo2VerifierReusable} from "./interfaces/IHalo2Verifier.sol";

/// @title ModelRegistry
/// @notice Registry of models and the verifier that checks their proofs.
/// @dev For Reusable models the VKA is stored as the code of a small data contract (read back with
///      EXTCODECOPY, far cheaper than storage), registered in the shared reusable verifier by this
///      contract, and pinned by its keccak256 digest. JobMarket checks that the verifier reports that digest.
contract ModelRegistry is IModelRegistry {
    uint16 public constant MAX_ROYALTY_BPS = 2_000;

    IProtocolConfig private immutable _config;
    uint256 private _modelCount;
    mapping(uint256 modelId => Model) private _models;

    constructor(IProtocolConfig config_) {
        _config = config_;
    }

    /// @inheritdoc IModelRegistry
    function registerModel(ModelSpec calldata spec, bytes calldata vka) external returns (uint256 modelId) {
        if (spec.verifier.code.length == 0) revert ModelRegistry__VerifierHasNoCode(spec.verifier);
        if (spec.royaltyBps > MAX_ROYALTY_BPS) revert ModelRegistry__RoyaltyTooHigh(spec.royaltyBps, MAX_ROYALTY_BPS);
        if (spec.inputCommitmentCount == 0) {
            revert ModelRegistry__InvalidInstanceCounts(spec.inputCommitmentCount, spec.outputCount);
        }
        if (spec.onnxHash == 0 || spec.settingsHash == 0 || spec.vkDigest == 0) revert ModelRegistry__ZeroHash();

        address pointer;
        if (spec.kind == VerifierKind.Reusable) {
            if (vka.length == 0 || vka.length % 32 != 0) revert ModelRegistry__BadVka(spec.kind, vka.length);
            bytes32 digest = keccak256(vka);
            if (digest != spec.vkDigest) revert ModelRegistry__VkaDigestMismatch(spec.vkDigest, digest);
            bytes32[] memory words = _toWords(vka);
            // Registering is permissionless and idempotent in the verifier; doing it here means a model
            // owner needs a single transaction, and the verifier must agree on the digest.
            bytes32 registered = IHalo2VerifierReusable(spec.verifier).registerVka(words);
            if (registered != digest) revert ModelRegistry__VkaDigestMismatch(digest, registered);
            pointer = _writeData(vka);
        } else if (vka.length != 0) {
            revert ModelRegistry__BadVka(spec.kind, vka.length);
        }

        modelId = ++_modelCount;
        _models[modelId] = Model({
            onnxHash: spec.onnxHash,
            settingsHash: spec.settingsHash,
            vkDigest: spec.vkDigest,
            verifier: spec.verifier,
            kind: spec.kind,
            inputCommitmentCount: spec.inputCommitmentCount,
            outputCount: spec.outputCount,
            royaltyBps: spec.royaltyBps,
            status: ModelStatus.Active,
            insecureTestSrs: spec.insecureTestSrs,
            owner: msg.sender,
            vkaPointer: pointer,
            metadataURI: spec.metadataURI
        });
        emit ModelRegistered(
            modelId,
            msg.sender,
            spec.verifier,
            spec.kind,
            spec.onnxHash,
            spec.settingsHash,
            spec.vkDigest,
            spec.insecureTestSrs
        );
    }

    /// @inheritdoc IModelRegistry
    function deprecateModel(uint256 modelId) external {
        Model storage model = _existing(modelId);
        if (msg.sender != model.owner) revert ModelRegistry__NotModelOwner(modelId, msg.sender);
        if (model.status == ModelStatus.Deprecated) revert ModelRegistry__InvalidStatus(modelId, model.status);
        model.status = ModelStatus.Deprecated;
        emit ModelDeprecated(modelId);
    }

    /// @inheritdoc IModelRegistry
    function pauseModel(uint256 modelId) external {
        Model storage model = _existingAsGuardian(modelId);
        if (model.status != ModelStatus.Active) revert ModelRegistry__InvalidStatus(modelId, model.status);
        model.status = ModelStatus.Paused;
        emit ModelPaused(modelId, msg.sender);
    }

    /// @inheritdoc IModelRegistry
    function unpauseModel(uint256 modelId) external {
        Model storage model = _existingAsGuardian(modelId);
        if (model.status != ModelStatus.Paused) revert ModelRegistry__InvalidStatus(modelId, model.status);
        model.status = ModelStatus.Active;
        emit ModelUnpaused(modelId, msg.sender);
    }

    /// @inheritdoc IModelRegistry
    function getModel(uint256 modelId) external view returns (Model memory) {
        return _existing(modelId);
    }

    /// @inheritdoc IModelRegistry
    function verificationOf(uint256 modelId) external view returns (Verification memory v) {
        Model storage model = _existing(modelId);
        v = Verification({
            verifier: model.verifier,
            kind: model.kind,
            status: model.status,
            inputCommitmentCount: model.inputCommitmentCount,
            outputCount: model.outputCount,
            royaltyBps: model.royaltyBps,
            owner: model.owner,
            vkDigest: model.vkDigest,
            vkaPointer: model.vkaPointer
        });
    }

    /// @inheritdoc IModelRegistry
    function vkaOf(uint256 modelId) external view returns (bytes32[] memory words) {
        address pointer = _existing(modelId).vkaPointer;
        if (pointer == address(0)) return words;
        uint256 n = (pointer.code.length - 1) / 32;
        words = new bytes32[](n);
        assembly ("memory-safe") {
            extcodecopy(pointer, add(words, 0x20), 1, mul(n, 32))
        }
    }

    /// @inheritdoc IModelRegistry
    function modelCount() external view returns (uint256) {
        return _modelCount;
    }

    function _existing(uint256 modelId) private view returns (Model storage model) {
        model = _models[modelId];
        if (model.status == ModelStatus.None) revert ModelRegistry__UnknownModel(modelId);
    }

    function _existingAsGuardian(uint256 modelId) private view returns (Model storage) {
        if (msg.sender != _config.guardian()) revert ModelRegistry__NotGuardian(msg.sender);
        return _existing(modelId);
    }

    function _toWords(bytes calldata data) private pure returns (bytes32[] memory words) {
        uint256 n = data.length / 32;
        words = new bytes32[](n);
        assembly ("memory-safe") {
            calldatacopy(add(words, 0x20), data.offset, data.length)
        }
    }

    /// @dev Deploys a contract whose runtime code is 0x00 ++ data (the STOP prefix makes it uncallable).
    ///      Creation code: PUSH2 size, DUP1, PUSH1 0x0a, RETURNDATASIZE, CODECOPY, RETURNDATASIZE, RETURN.
    function _writeData(bytes calldata data) private returns (address pointer) {
        bytes memory runtime = abi.encodePacked(hex"00", data);
        bytes memory creation = abi.encodePacked(hex"61", uint16(runtime.length), hex"80600a3d393df3", runtime);
        assembly ("memory-safe") {
            pointer := create(0, add(creation, 0x20), mload(creation))
        }
        if (pointer == address(0)) revert ModelRegistry__BadVka(VerifierKind.Reusable, data.length);
    }
}
