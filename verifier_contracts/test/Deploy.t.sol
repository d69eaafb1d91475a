// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "./utils/Test.sol";
import {Deploy} from "../script/Deploy.s.sol";

contract DeployScriptTest is Test {
    function test_DeployScriptWiresEverything() public {
        Deploy.Deployment memory d = new Deploy().run();
        assertEq(d.staking.market(), address(d.market));
        assertEq(d.reputation.market(), address(d.market));
        assertEq(d.rewards.market(), address(d.market));
        assertEq(d.config.owner(), address(d.timelock));
        assertTrue(d.timelock.hasRole(d.timelock.PROPOSER_ROLE(), address(d.governor)), "governor proposes");
        assertEq(d.token.balanceOf(address(d.rewards)), d.token.TOTAL_SUPPLY() * 40 / 100);
        assertTrue(d.config.isVerifierCodeAllowed(address(d.reusableVerifier).codehash), "reusable verifier allow-listed");
        assertEq(d.governor.proposalThreshold(), 10_000 ether);
        assertEq(d.rewards.providerCapPerEpoch(), 1_000 ether);
    }
}
