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
    /// @notice Largest VKA in bytes: the data contract's runtime (0x00 ++ vka) must fit EIP-170's 24,576.
    uint256 public constant MAX_VKA_BYTES = 24_575;
    /// @dev `points()` of PolycommitBinding (a KZG binding's number of G1 points).
    bytes4 private constant POINTS_SELECTOR = bytes4(keccak256("points()"));

    /// @dev Storage layout of a model: `Model` reordered so the fields JobMarket reads share slots.
    struct Entry {
        bytes32 onnxHash;
        bytes32 settingsHash;
        bytes32 vkDigest;
        address verifier;
        VerifierKind kind;
        uint16 inputCommitmentCount;
        uint16 outputCount;
        uint16 royaltyBps;
        ModelStatus status;
        bool insecureTestSrs;
        address owner;
        uint40 lastUnpausedAt;
        address vkaPointer;
        bytes32 verifierCodeHash;
        bytes32 artifactsHash;
        string metadataURI;
    }

    IProtocolConfig private immutable _config;
    uint256 private _modelCount;
    mapping(uint256 modelId => Entry) private _models;

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
        if (spec.onnxHash == 0 || spec.settingsHash == 0 || spec.vkDigest == 0 || spec.artifactsHash == 0) {
            revert ModelRegistry__ZeroHash();
        }
        _checkBindingCount(spec.verifier, spec.inputCommitmentCount);

        address pointer;
        if (spec.kind == VerifierKind.Reusable) {
            if (vka.length > MAX_VKA_BYTES) revert ModelRegistry__VkaTooLarge(vka.length, MAX_VKA_BYTES);
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
        _models[modelId] = Entry({
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
            lastUnpausedAt: 0,
            vkaPointer: pointer,
            verifierCodeHash: spec.verifier.codehash,
            artifactsHash: spec.artifactsHash,
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
        Entry storage model = _existing(modelId);
        if (msg.sender != model.owner) revert ModelRegistry__NotModelOwner(modelId, msg.sender);
        if (model.status == ModelStatus.Deprecated) revert ModelRegistry__InvalidStatus(modelId, model.status);
        model.status = ModelStatus.Deprecated;
        emit ModelDeprecated(modelId);
    }

    /// @inheritdoc IModelRegistry
    function pauseModel(uint256 modelId) external {
        Entry storage model = _existingAsGuardian(modelId);
        if (model.status != ModelStatus.Active) revert ModelRegistry__InvalidStatus(modelId, model.status);
        model.status = ModelStatus.Paused;
        emit ModelPaused(modelId, msg.sender);
    }

    /// @inheritdoc IModelRegistry
    function unpauseModel(uint256 modelId) external {
        Entry storage model = _existingAsGuardian(modelId);
        if (model.status != ModelStatus.Paused) revert ModelRegistry__InvalidStatus(modelId, model.status);
        model.status = ModelStatus.Active;
        model.lastUnpausedAt = uint40(block.timestamp);
        emit ModelUnpaused(modelId, msg.sender);
    }

    /// @inheritdoc IModelRegistry
    function getModel(uint256 modelId) external view returns (Model memory) {
        Entry storage e = _existing(modelId);
        return Model({
            onnxHash: e.onnxHash,
            settingsHash: e.settingsHash,
            vkDigest: e.vkDigest,
            verifier: e.verifier,
            kind: e.kind,
            inputCommitmentCount: e.inputCommitmentCount,
            outputCount: e.outputCount,
            royaltyBps: e.royaltyBps,
            status: e.status,
            insecureTestSrs: e.insecureTestSrs,
            owner: e.owner,
            vkaPointer: e.vkaPointer,
            metadataURI: e.metadataURI,
            verifierCodeHash: e.verifierCodeHash,
            artifactsHash: e.artifactsHash,
            lastUnpausedAt: e.lastUnpausedAt
        });
    }

    /// @inheritdoc IModelRegistry
    function verificationOf(uint256 modelId) external view returns (Verification memory v) {
        Entry storage model = _existing(modelId);
        v = Verification({
            verifier: model.verifier,
            kind: model.kind,
            status: model.status,
            inputCommitmentCount: model.inputCommitmentCount,
            outputCount: model.outputCount,
            royaltyBps: model.royaltyBps,
            owner: model.owner,
            vkDigest: model.vkDigest,
            vkaPointer: model.vkaPointer,
            verifierCodeHash: model.verifierCodeHash,
            lastUnpausedAt: model.lastUnpausedAt
        });
    }

    /// @inheritdoc IModelRegistry
    function settlementOf(uint256 modelId) external view returns (Verification memory v) {
        Entry storage model = _existing(modelId);
        v.verifier = model.verifier;
        v.kind = model.kind;
        v.status = model.status;
        v.inputCommitmentCount = model.inputCommitmentCount;
        v.outputCount = model.outputCount;
        v.royaltyBps = model.royaltyBps;
        v.owner = model.owner;
        v.lastUnpausedAt = model.lastUnpausedAt;
        v.verifierCodeHash = model.verifierCodeHash;
        if (v.kind == VerifierKind.Reusable) {
            v.vkDigest = model.vkDigest;
            v.vkaPointer = model.vkaPointer;
        }
    }

    /// @inheritdoc IModelRegistry
    function postingOf(uint256 modelId) external view returns (ModelStatus, uint256) {
        Entry storage model = _existing(modelId);
        return (model.status, model.inputCommitmentCount);
    }

    /// @inheritdoc IModelRegistry
    function lastUnpausedAtOf(uint256 modelId) external view returns (uint256) {
        return _models[modelId].lastUnpausedAt;
    }

    /// @inheritdoc IModelRegistry
    function modelStatus(uint256 modelId) external view returns (ModelStatus) {
        return _models[modelId].status;
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

    function _existing(uint256 modelId) private view returns (Entry storage model) {
        model = _models[modelId];
        if (model.status == ModelStatus.None) revert ModelRegistry__UnknownModel(modelId);
    }

    function _existingAsGuardian(uint256 modelId) private view returns (Entry storage) {
        if (msg.sender != _config.guardian()) revert ModelRegistry__NotGuardian(msg.sender);
        return _existing(modelId);
    }

    /// @dev A KZG binding (PolycommitBinding: it answers `points()`) compares the first `2 * points` instances with
    ///      the proof's points, and JobMarket the first `inputCommitmentCount` with the job's commitments; unless the
    ///      two counts agree, part of a point is not posted (a proof for the negated point, another input, settles)
    ///      or an output is taken for a commitment. A verifier without `points()` (a plain EZKL one) reverts here.
    function _checkBindingCount(address verifier, uint16 inputCommitmentCount) private view {
        (bool ok, bytes memory ret) = verifier.staticcall(abi.encodeWithSelector(POINTS_SELECTOR));
        if (!ok || ret.length != 32) return;
        uint256 expected = 2 * abi.decode(ret, (uint256));
        if (inputCommitmentCount != expected) {
            revert ModelRegistry__CommitmentCountMismatch(inputCommitmentCount, expected);
        }
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
