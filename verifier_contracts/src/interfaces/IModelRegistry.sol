// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IModelRegistry
/// @notice Pins what a model is (ONNX, settings, verification key) and which verifier checks its proofs.
/// @dev A model id is a `uint256` counter starting at 1 (0 means "no model"). JobMarket looks the verifier
///      up here; a job's submitter never chooses it. Registration is permissionless: anyone may register any
///      contract with code as a verifier. What a verifier is worth is decided elsewhere: its runtime code hash,
///      pinned here at registration, must be on ProtocolConfig's allow-list for the model's jobs to earn
///      rewards and reputation, and clients re-render the verifier before trusting a model.
interface IModelRegistry {
    /// @notice How a model's proofs are checked.
    /// @dev Dedicated: a per-model EZKL `Halo2Verifier`; `vkDigest` is informational (sha256 of the vk file).
    ///      Reusable: the shared EZKL reusable verifier plus this model's VKA, stored by the registry and
    ///      pinned by `vkDigest = keccak256(vka words)`; JobMarket checks the digest the verifier reports.
    enum VerifierKind {
        Dedicated,
        Reusable
    }

    /// @notice Lifecycle of a model entry. New jobs need Active; a Paused model also refuses proofs.
    enum ModelStatus {
        None,
        Active,
        Deprecated,
        Paused
    }

    /// @notice What an owner supplies to register a model.
    struct ModelSpec {
        bytes32 onnxHash; // sha256 of the ONNX file
        bytes32 settingsHash; // sha256 of the EZKL settings.json
        bytes32 vkDigest; // sha256(vk) for Dedicated; keccak256(vka words) for Reusable
        address verifier; // dedicated verifier, or the shared reusable verifier
        VerifierKind kind;
        uint16 inputCommitmentCount; // leading public instances: one Poseidon hash per input tensor
        uint16 outputCount; // public output instances after the commitments
        uint16 royaltyBps; // share of each job price credited to the model owner (max 2000)
        bool insecureTestSrs; // true when keys came from `ezkl.gen_srs` (dev chains only)
        string metadataURI;
        bytes32 artifactsHash; // sha256 of the model's manifest.json (non-zero)
    }

    /// @notice A registered model.
    struct Model {
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
        address vkaPointer; // Reusable only: a code-only contract holding the VKA words (0x00-prefixed)
        string metadataURI;
        bytes32 verifierCodeHash; // verifier.codehash at registration, pinned forever
        bytes32 artifactsHash; // sha256 of the model's manifest.json
        uint40 lastUnpausedAt; // last `unpauseModel` time (0 if never paused)
    }

    /// @notice The fields JobMarket needs to post and settle a job, in one cheap call.
    struct Verification {
        address verifier;
        VerifierKind kind;
        ModelStatus status;
        uint16 inputCommitmentCount;
        uint16 outputCount;
        uint16 royaltyBps;
        address owner;
        bytes32 vkDigest;
        address vkaPointer;
        bytes32 verifierCodeHash;
        uint40 lastUnpausedAt;
    }

    event ModelRegistered(
        uint256 indexed modelId,
        address indexed owner,
        address indexed verifier,
        VerifierKind kind,
        bytes32 onnxHash,
        bytes32 settingsHash,
        bytes32 vkDigest,
        bool insecureTestSrs
    );
    event ModelDeprecated(uint256 indexed modelId);
    event ModelPaused(uint256 indexed modelId, address indexed guardian);
    event ModelUnpaused(uint256 indexed modelId, address indexed guardian);

    error ModelRegistry__UnknownModel(uint256 modelId);
    error ModelRegistry__NotModelOwner(uint256 modelId, address caller);
    error ModelRegistry__NotGuardian(address caller);
    error ModelRegistry__VerifierHasNoCode(address verifier);
    error ModelRegistry__RoyaltyTooHigh(uint16 royaltyBps, uint16 max);
    error ModelRegistry__InvalidInstanceCounts(uint16 inputCommitmentCount, uint16 outputCount);
    error ModelRegistry__ZeroHash();
    /// @notice Dedicated models take no VKA; Reusable models need a non-empty one (whole 32-byte words).
    error ModelRegistry__BadVka(VerifierKind kind, uint256 length);
    /// @notice The supplied digest is not keccak256 of the supplied VKA, or the verifier reported another.
    error ModelRegistry__VkaDigestMismatch(bytes32 expected, bytes32 actual);
    error ModelRegistry__InvalidStatus(uint256 modelId, ModelStatus status);
    /// @notice A VKA longer than `max` bytes cannot be stored as one data contract (EIP-170: 0x00 ++ vka).
    error ModelRegistry__VkaTooLarge(uint256 length, uint256 max);
    /// @notice The verifier is a KZG binding of `points` G1 points (it answers `points()`): a model of it must
    ///         post exactly `expected = 2 * points` input commitments (x and y of each point).
    error ModelRegistry__CommitmentCountMismatch(uint16 inputCommitmentCount, uint256 expected);

    /// @notice Register a model; the caller becomes its owner. Pins `spec.verifier.codehash`.
    /// @dev Reverts ModelRegistry__ZeroHash for a zero onnx/settings/vk/artifacts hash, and
    ///      ModelRegistry__VkaTooLarge for a VKA over `MAX_VKA_BYTES` (never stored truncated).
    /// @param spec The model's pinned hashes, verifier and instance layout.
    /// @param vka For Reusable: the VKA words as bytes (`abi.encodePacked(bytes32[])`), registered in the
    ///        reusable verifier by this call. For Dedicated: empty.
    /// @return modelId The new model's id (1, 2, ...).
    function registerModel(ModelSpec calldata spec, bytes calldata vka) external returns (uint256 modelId);

    /// @notice Owner retires a model: no new jobs; jobs already posted can still settle.
    function deprecateModel(uint256 modelId) external;
    /// @notice Guardian stops a model (e.g. a verifier bug): no new jobs and no proofs accepted.
    function pauseModel(uint256 modelId) external;
    /// @notice Guardian restores a paused model to Active and records the time in `lastUnpausedAt`
    ///         (JobMarket does not slash a provider whose prove window overlapped the pause).
    function unpauseModel(uint256 modelId) external;

    function getModel(uint256 modelId) external view returns (Model memory);
    function verificationOf(uint256 modelId) external view returns (Verification memory);
    /// @notice `verificationOf` for settlement: the same fields, except that `vkDigest` and `vkaPointer` are
    ///         only read (and non-zero) for Reusable models, which are the only ones JobMarket checks them for.
    function settlementOf(uint256 modelId) external view returns (Verification memory);
    /// @notice What `postJob` checks, from one storage slot: the model's status and its input commitment count.
    function postingOf(uint256 modelId) external view returns (ModelStatus status, uint256 inputCommitmentCount);
    /// @notice A model's last `unpauseModel` time (0 if never; one storage read; 0 for an unknown id). JobMarket
    ///         gives a claim a whole prove window after it.
    function lastUnpausedAtOf(uint256 modelId) external view returns (uint256);
    /// @notice Just the status of a model (one storage read; None for an unknown id).
    function modelStatus(uint256 modelId) external view returns (ModelStatus);
    /// @notice The VKA words of a Reusable model (empty for Dedicated).
    function vkaOf(uint256 modelId) external view returns (bytes32[] memory);
    /// @notice Number of registered models (ids run 1..modelCount).
    function modelCount() external view returns (uint256);
}
