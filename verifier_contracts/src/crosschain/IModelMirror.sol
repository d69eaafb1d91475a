// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IModelRegistry} from "../interfaces/IModelRegistry.sol";

/// @title IModelMirror
/// @notice On a second chain (B): the model commitments of the market's registry on chain A, a registry of verifiers
///         whose code is the code A pinned, and `verifyInference` (the ERC-7992 shape) that checks a proof exactly as
///         the market on A does. Payment never moves here: this is a read-only trust anchor for contracts on B.
/// @dev Trust: a mirrored entry is written once by the `updater` (a governed role: a timelock in production) and its
///      hashes never change afterwards; the updater can only pause or unpause it. A verifier is accepted only while its
///      EXTCODEHASH equals the entry's pinned code hash, re-checked on every call. What an entry can and cannot do is
///      in docs/security.md ("Verified inference on a second chain").
interface IModelMirror {
    /// @notice One model as registered on chain A: the fields that decide whether a proof is valid.
    struct ModelCommitment {
        bytes32 onnxHash; // sha256 of the ONNX file (informational here)
        bytes32 settingsHash; // sha256 of the EZKL settings.json (informational here)
        bytes32 artifactsHash; // sha256 of the model's manifest.json (informational here)
        bytes32 vkDigest; // Dedicated: sha256(vk) (informational); Reusable: keccak256(vka words), checked
        bytes32 verifierCodeHash; // the verifier's runtime code hash A pinned at registration
        IModelRegistry.VerifierKind kind;
        uint16 inputCommitmentCount; // leading public instances
        uint16 outputCount; // public output instances after the commitments
    }

    /// @notice A mirrored entry and its state on B.
    struct Mirrored {
        ModelCommitment commitment;
        bool paused; // set by the updater (e.g. A's guardian paused the model for a verifier bug)
        address vkaPointer; // Reusable: a code-only contract holding 0x00 ++ the VKA words
        uint40 mirroredAt;
    }

    event ModelMirrored(
        uint256 indexed modelId, bytes32 indexed verifierCodeHash, IModelRegistry.VerifierKind kind, bytes32 vkDigest
    );
    event ModelPauseSet(uint256 indexed modelId, bool paused);
    event VerifierRegistered(bytes32 indexed codeHash, address indexed verifier);
    event UpdaterProposed(address indexed current, address indexed proposed);
    event UpdaterChanged(address indexed previous, address indexed updater);

    error Mirror__NotUpdater(address caller);
    error Mirror__NotPendingUpdater(address caller);
    error Mirror__UnknownModel(uint256 modelId);
    error Mirror__AlreadyMirrored(uint256 modelId);
    error Mirror__ModelPaused(uint256 modelId);
    error Mirror__ZeroHash();
    error Mirror__InvalidInstanceCounts(uint16 inputCommitmentCount, uint16 outputCount);
    error Mirror__BadVka(IModelRegistry.VerifierKind kind, uint256 length);
    error Mirror__VkaDigestMismatch(bytes32 expected, bytes32 actual);
    error Mirror__VerifierHasNoCode(address verifier);
    /// @notice No verifier with the pinned code is registered on this chain: deploy one and `registerVerifier` it.
    error Mirror__NoVerifier(bytes32 codeHash);
    error Mirror__VerifierCodeChanged(address verifier, bytes32 pinned, bytes32 actual);
    error Mirror__CommitmentCountMismatch(uint256 expected, uint256 actual);
    error Mirror__OutputCountMismatch(uint256 expected, uint256 actual);
    error Mirror__InstanceOutOfField(uint256 index, uint256 value);
    error Mirror__InvalidProof(uint256 modelId);

    /// @notice The chain, registry and market this mirror copies (fixed at deployment).
    function sourceChainId() external view returns (uint256);
    function sourceRegistry() external view returns (address);
    function sourceMarket() external view returns (address);
    function updater() external view returns (address);

    /// @notice Updater: mirror model `modelId` of A's registry (write-once). Its pinned verifier code must already
    ///         be registered here (`registerVerifier`); a Reusable model's VKA is registered in that verifier.
    /// @param vka Reusable: the VKA words (`abi.encodePacked(bytes32[])`), keccak256 of which must be `vkDigest`.
    ///        Dedicated: empty.
    function mirrorModel(uint256 modelId, ModelCommitment calldata commitment, bytes calldata vka) external;
    /// @notice Updater: stop (or restart) accepting proofs of a mirrored model.
    function setPaused(uint256 modelId, bool paused) external;
    /// @notice Updater: propose a new updater, which takes over with `acceptUpdater` (two steps: no typo loses it).
    function proposeUpdater(address proposed) external;
    function acceptUpdater() external;

    /// @notice Anyone: register `verifier` for its code hash (the first one per hash stays). Only a verifier whose
    ///         code hash some mirrored entry pins is ever called.
    function registerVerifier(address verifier) external returns (bytes32 codeHash);
    function verifierOf(bytes32 codeHash) external view returns (address);

    function modelOf(uint256 modelId) external view returns (Mirrored memory);
    function isMirrored(uint256 modelId) external view returns (bool);

    /// @notice ERC-7992's `verifyInference`: true when `proof` proves that model `modelId` maps the inputs committed in
    ///         `inputCommitments` to `outputs`. The instances are `inputCommitments ++ outputs`, as the market on A
    ///         builds them. Reverts (with the reason) on an unknown or paused model, a missing or changed verifier,
    ///         wrong instance counts, an out-of-field instance, or an invalid proof; never returns false.
    function verifyInference(
        uint256 modelId,
        uint256[] calldata inputCommitments,
        uint256[] calldata outputs,
        bytes calldata proof
    ) external view returns (bool);
}
