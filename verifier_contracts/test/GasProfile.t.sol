// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";

/// Steady-state gas profile: the second post/claim/submit of each kind touches warm-ish, non-zero storage
/// the way a live market does. Run with `forge test --match-contract GasProfile -vvvv` to read the trace.
contract GasProfileTest is Base {
    function test_GasSteadyStateDedicated() public {
        _cycle(dedicatedModel);
        _cycle(dedicatedModel);
    }

    function test_GasSteadyStateReusable() public {
        _cycle(reusableModel);
        _cycle(reusableModel);
    }

    function _cycle(uint256 modelId) private {
        uint256 jobId = _postAndClaim(modelId);
        _submit(jobId);
    }
}
