// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice FAULT INJECTION ONLY: a "dedicated verifier" that answers `false` instead of reverting.
contract FalseVerifierFake {
    function verifyProof(bytes calldata, uint256[] calldata) external pure returns (bool) {
        return false;
    }
}

/// @notice FAULT INJECTION ONLY: a "reusable verifier" that accepts every VKA and proof but reports a
///         digest of its choosing, to prove JobMarket checks the digest pinned in the registry.
contract WrongDigestReusableVerifierFake {
    bytes32 public reportedDigest;

    function setReportedDigest(bytes32 digest) external {
        reportedDigest = digest;
    }

    function registerVka(bytes32[] memory vka) external pure returns (bytes32) {
        return keccak256(abi.encodePacked(vka));
    }

    function verifyProof(bytes calldata, uint256[] calldata, bytes32[] memory) external view returns (bool, bytes32) {
        return (true, reportedDigest);
    }
}

/// @notice FAULT INJECTION ONLY: a "reusable verifier" whose registerVka reports a different digest.
contract LyingRegistrationVerifierFake {
    function registerVka(bytes32[] memory) external pure returns (bytes32) {
        return bytes32(uint256(1));
    }
}

/// @notice FAULT INJECTION ONLY: a "dedicated verifier" that accepts every proof. Anyone may register it
///         (registration is permissionless); its code hash is not on the allow-list.
contract AlwaysTrueVerifierFake {
    function verifyProof(bytes calldata, uint256[] calldata) external pure returns (bool) {
        return true;
    }
}

/// @notice FAULT INJECTION ONLY: a model owner's "verifier" that it can switch off at will (the shape of an
///         upgradeable proxy): accepts every proof while on, rejects every proof while off.
contract SwitchableVerifierFake {
    bool public on = true;

    function setOn(bool on_) external {
        on = on_;
    }

    function verifyProof(bytes calldata, uint256[] calldata) external view returns (bool) {
        require(on, "switched off");
        return true;
    }
}
