// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHalo2Verifier, IHalo2VerifierReusable} from "./interfaces/IHalo2Verifier.sol";

/// @title PolycommitBinding
/// @notice Verifier wrapper for EZKL circuits whose inputs are KZG-committed (`polycommit` visibility): it
///         binds the proof to the input commitments a job posted, then lets the EZKL verifier judge the proof.
///         Register it in ModelRegistry as the model's verifier (kind Dedicated or Reusable, as `inner` is),
///         with `inputCommitmentCount = 2 * points`: the job's input commitments are the points' coordinates
///         (x0, y0, x1, y1, ...), each the consumer's own `ezkl.kzg_commit` of an input column.
/// @dev With `polycommit` inputs EZKL puts no input commitment among the public instances: the commitment of
///      each input column is a G1 point at the front of the proof (`points` of them, 64 bytes each, x then y,
///      big-endian words), and the verifier's instances are the outputs only. This contract checks that the
///      first `2 * points` instances equal the proof's first `2 * points` words, then calls `inner` with the
///      remaining instances. Why that binds the proof to the posted points: the EZKL verifier absorbs these
///      proof bytes into its Fiat-Shamir transcript and uses them as the input columns' commitments in its
///      opening check, so a proof it accepts shows that the committed columns (whatever a KZG commitment
///      binds: one polynomial per point, under a sound SRS) satisfy the circuit with the outputs. A proof of
///      another input carries another point and fails the equality check; editing the point in a valid proof
///      makes the inner verifier reject it.
///      Failure: a proof not bound to the instances (too short, too few instances, a word that differs)
///      reverts with a custom error in both overloads. Once bound, the Dedicated overload returns false when
///      the inner verifier reverts or answers anything but true; the Reusable overload bubbles the inner
///      revert (or reverts with PolycommitBinding__InnerRejected) and otherwise returns the inner return data
///      verbatim. JobMarket treats a revert and `false` alike: JobMarket__InvalidProof.
///      Stateless and immutable: the code hash JobMarket pins covers `inner` and `points` (immutables are in
///      the runtime code), so each (inner, points) pair is its own deployment and allow-list entry.
contract PolycommitBinding is IHalo2Verifier {
    /// @notice Most input commitments (G1 points) one wrapper binds.
    uint256 public constant MAX_POINTS = 16;

    /// @notice The EZKL verifier: a dedicated one, or the shared reusable one.
    address public immutable inner;
    /// @notice Number of G1 points at the front of the proof (one per `polycommit` input column).
    uint256 public immutable points;

    /// @notice `points` is 0 or above MAX_POINTS.
    error PolycommitBinding__InvalidPoints(uint256 points, uint256 max);
    /// @notice `inner` has no code.
    error PolycommitBinding__InnerHasNoCode(address inner);
    /// @notice The proof is shorter than the `64 * points` bytes of its leading points.
    error PolycommitBinding__ProofTooShort(uint256 length, uint256 required);
    /// @notice Fewer instances than the `2 * points` commitment words.
    error PolycommitBinding__TooFewInstances(uint256 length, uint256 required);
    /// @notice Instance `index` differs from proof word `index` (word 2i is point i's x, 2i + 1 its y).
    error PolycommitBinding__CommitmentMismatch(uint256 index);
    /// @notice The reusable verifier returned without its `[1, vka_digest, ...]` answer.
    error PolycommitBinding__InnerRejected();

    constructor(address inner_, uint256 points_) {
        if (points_ == 0 || points_ > MAX_POINTS) revert PolycommitBinding__InvalidPoints(points_, MAX_POINTS);
        if (inner_.code.length == 0) revert PolycommitBinding__InnerHasNoCode(inner_);
        inner = inner_;
        points = points_;
    }

    /// @notice Dedicated form: checks the binding, then asks `inner` about the proof and the instances after
    ///         the commitment words.
    /// @param instances (x0, y0, ..., x_{points-1}, y_{points-1}) followed by the circuit's instances.
    /// @return True only if `inner` returned a first word of 1; false if it reverted or answered otherwise.
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external view returns (bool) {
        uint256 n = _checkBinding(proof, instances);
        (bool ok, bytes memory ret) =
            inner.staticcall(abi.encodeCall(IHalo2Verifier.verifyProof, (proof, instances[n:])));
        return ok && ret.length >= 32 && abi.decode(ret, (uint256)) == 1;
    }

    /// @notice Reusable form: checks the binding, then forwards to the reusable verifier with the instances
    ///         after the commitment words and the model's VKA.
    /// @dev Returns the inner return data verbatim (non-standard ABI: `[1, vka_digest, len, rescaled...]`, see
    ///      IHalo2VerifierReusable); the declared return values only describe its first words.
    function verifyProof(bytes calldata proof, uint256[] calldata instances, bytes32[] calldata vka)
        external
        view
        returns (bool success, bytes32 vkaDigest)
    {
        uint256 n = _checkBinding(proof, instances);
        (bool ok, bytes memory ret) =
            inner.staticcall(abi.encodeCall(IHalo2VerifierReusable.verifyProof, (proof, instances[n:], vka)));
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        if (ret.length < 64 || abi.decode(ret, (uint256)) != 1) revert PolycommitBinding__InnerRejected();
        assembly ("memory-safe") {
            return(add(ret, 0x20), mload(ret))
        }
    }

    /// @notice Registers a VKA in the reusable `inner` (ModelRegistry calls this on a Reusable model's verifier
    ///         and requires the digest back). Permissionless, as in the reusable verifier itself; reverts when
    ///         `inner` is a dedicated verifier.
    function registerVka(bytes32[] calldata vka) external returns (bytes32 vkaDigest) {
        return IHalo2VerifierReusable(inner).registerVka(vka);
    }

    /// @dev Reverts unless the proof's first `2 * points` big-endian words equal the first `2 * points`
    ///      instances; returns `2 * points`.
    function _checkBinding(bytes calldata proof, uint256[] calldata instances) private view returns (uint256 n) {
        n = 2 * points;
        if (proof.length < 32 * n) revert PolycommitBinding__ProofTooShort(proof.length, 32 * n);
        if (instances.length < n) revert PolycommitBinding__TooFewInstances(instances.length, n);
        for (uint256 i; i < n; ++i) {
            if (uint256(bytes32(proof[32 * i:32 * i + 32])) != instances[i]) {
                revert PolycommitBinding__CommitmentMismatch(i);
            }
        }
    }
}
