// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IHalo2Verifier, IHalo2VerifierReusable} from "./interfaces/IHalo2Verifier.sol";

/// @title ParamsBinding
/// @notice Verifier wrapper for EZKL circuits whose weights are private witnesses pinned by a hash (`hashed`
///         param visibility, `ngx-zk model build --weights hashed`): it puts the model's pinned weight hash(es)
///         back into the instances, then lets the EZKL verifier judge the proof. Register it in ModelRegistry as
///         the model's verifier (kind Dedicated or Reusable, as `inner` is), with
///         `inputCommitmentCount = commitments`.
/// @dev EZKL's instances for such a circuit are (input commitments, weight hashes, outputs). JobMarket assembles
///      the instances from the job's commitments and the submitted outputs only, so the weight hashes never come
///      from the provider: this contract inserts its own after the first `commitments` instances. Why that pins
///      the weights: the circuit constrains each weight hash instance to be the Poseidon hash of the weights the
///      witness used, so a proof made with other weights carries other hash values and fails the inner verifier
///      once the pinned ones are put in its place. The verification key holds no weights (they are advice
///      columns), so the public bundle (vk, settings) reveals none.
///      Failure: fewer instances than `commitments` reverts with a custom error in both overloads. The Dedicated
///      overload returns false when the inner verifier reverts or answers anything but true; the Reusable
///      overload bubbles the inner revert (or reverts with ParamsBinding__InnerRejected) and otherwise returns
///      the inner return data verbatim. JobMarket treats a revert and `false` alike: JobMarket__InvalidProof.
///      Stateless and immutable: the code hash JobMarket pins covers `inner`, `commitments` and every weight hash
///      (immutables are in the runtime code), so each model is its own deployment and allow-list entry.
contract ParamsBinding is IHalo2Verifier {
    /// @notice Most weight-hash instances one wrapper holds (EZKL 23 gives one per circuit).
    uint256 public constant MAX_PARAMS = 4;

    /// @notice The EZKL verifier: a dedicated one, or the shared reusable one.
    address public immutable inner;
    /// @notice Number of leading input-commitment instances (the model's `inputCommitmentCount`).
    uint256 public immutable commitments;
    /// @notice Number of weight-hash instances inserted after the commitments.
    uint256 public immutable paramCount;
    uint256 private immutable _p0;
    uint256 private immutable _p1;
    uint256 private immutable _p2;
    uint256 private immutable _p3;

    /// @notice No weight hash, or more than MAX_PARAMS.
    error ParamsBinding__InvalidParamCount(uint256 count, uint256 max);
    /// @notice A weight hash is not a BN254 scalar field element.
    error ParamsBinding__ParamOutOfField(uint256 index);
    /// @notice `inner` has no code.
    error ParamsBinding__InnerHasNoCode(address inner);
    /// @notice Fewer instances than the `commitments` leading words.
    error ParamsBinding__TooFewInstances(uint256 length, uint256 required);
    /// @notice The reusable verifier returned without its `[1, vka_digest, ...]` answer.
    error ParamsBinding__InnerRejected();

    uint256 private constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    constructor(address inner_, uint256 commitments_, uint256[] memory params_) {
        if (params_.length == 0 || params_.length > MAX_PARAMS) {
            revert ParamsBinding__InvalidParamCount(params_.length, MAX_PARAMS);
        }
        if (inner_.code.length == 0) revert ParamsBinding__InnerHasNoCode(inner_);
        uint256[4] memory p;
        for (uint256 i; i < params_.length; ++i) {
            if (params_[i] >= SNARK_SCALAR_FIELD) revert ParamsBinding__ParamOutOfField(i);
            p[i] = params_[i];
        }
        inner = inner_;
        commitments = commitments_;
        paramCount = params_.length;
        (_p0, _p1, _p2, _p3) = (p[0], p[1], p[2], p[3]);
    }

    /// @notice The pinned weight hash(es), in instance order.
    function params() public view returns (uint256[] memory out) {
        out = new uint256[](paramCount);
        uint256[4] memory p = [_p0, _p1, _p2, _p3];
        for (uint256 i; i < out.length; ++i) {
            out[i] = p[i];
        }
    }

    /// @notice Dedicated form: asks `inner` about the proof with the pinned weight hashes inserted.
    /// @param instances The job's input commitments followed by the outputs (what JobMarket assembles).
    /// @return True only if `inner` returned a first word of 1; false if it reverted or answered otherwise.
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external view returns (bool) {
        (bool ok, bytes memory ret) =
            inner.staticcall(abi.encodeCall(IHalo2Verifier.verifyProof, (proof, _withParams(instances))));
        return ok && ret.length >= 32 && abi.decode(ret, (uint256)) == 1;
    }

    /// @notice Reusable form: forwards to the reusable verifier with the pinned weight hashes inserted and the
    ///         model's VKA.
    /// @dev Returns the inner return data verbatim (non-standard ABI: `[1, vka_digest, len, rescaled...]`, see
    ///      IHalo2VerifierReusable); the declared return values only describe its first words.
    function verifyProof(bytes calldata proof, uint256[] calldata instances, bytes32[] calldata vka)
        external
        view
        returns (bool success, bytes32 vkaDigest)
    {
        (bool ok, bytes memory ret) = inner.staticcall(
            abi.encodeCall(IHalo2VerifierReusable.verifyProof, (proof, _withParams(instances), vka))
        );
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        if (ret.length < 64 || abi.decode(ret, (uint256)) != 1) revert ParamsBinding__InnerRejected();
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

    /// @dev instances[:commitments] ++ params ++ instances[commitments:]
    function _withParams(uint256[] calldata instances) private view returns (uint256[] memory all) {
        uint256 n = commitments;
        if (instances.length < n) revert ParamsBinding__TooFewInstances(instances.length, n);
        uint256 k = paramCount;
        all = new uint256[](instances.length + k);
        for (uint256 i; i < n; ++i) {
            all[i] = instances[i];
        }
        uint256[] memory p = params();
        for (uint256 i; i < k; ++i) {
            all[n + i] = p[i];
        }
        for (uint256 i = n; i < instances.length; ++i) {
            all[i + k] = instances[i];
        }
    }
}
