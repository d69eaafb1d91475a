// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IHalo2Verifier
/// @notice ABI of an EZKL 23 dedicated verifier (one contract per circuit, vk baked into the code).
/// @dev Returns true or reverts; it never returns false. JobMarket calls it with a low-level staticcall
///      and treats a revert, short return data or `false` as an invalid proof.
interface IHalo2Verifier {
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external returns (bool);
}

/// @title IHalo2VerifierReusable
/// @notice ABI of the EZKL 23 reusable verifier: one deployment per chain, one VKA (verification key
///         artifact, a bytes32[] of circuit data) per circuit.
/// @dev Pitfalls, all handled by ModelRegistry/JobMarket:
///      - `registerVka` has no access control: anyone can register any VKA, so "registered" means nothing;
///        the registry pins each model's digest = keccak256(abi.encodePacked(vka)).
///      - `verifyProof` does not return standard ABI: the return data is the words
///        `[1, vka_digest, len, rescaled...]` where `len` is not an ABI offset. Decode only the first two
///        words with a low-level call; it reverts on an invalid proof or an unregistered VKA.
interface IHalo2VerifierReusable {
    event VkaRegistered(address indexed from, bytes32 indexed digest, bytes32[] indexed vka);

    function registerVka(bytes32[] memory vka) external returns (bytes32 vkaDigest);

    function verifyProof(bytes calldata proof, uint256[] calldata instances, bytes32[] memory vka)
        external
        returns (bool success, bytes32 vkaDigest, int256[] memory rescaledInstances);
}
