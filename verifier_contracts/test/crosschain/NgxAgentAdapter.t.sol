// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SettlementBase} from "../utils/SettlementBase.sol";
import {IJobSettlement} from "../../src/interfaces/IJobSettlement.sol";
import {NgxAgentAdapter} from "../../src/crosschain/NgxAgentAdapter.sol";

/// @notice The ERC-8004-style views read the market's own state: a settled job is a validation with response 100 and
///         the outputs' hash, tagged by settlement mode; the summary is the provider's NRS and completions.
contract NgxAgentAdapterTest is SettlementBase {
    NgxAgentAdapter internal adapter;

    function setUp() public override {
        super.setUp();
        adapter = new NgxAgentAdapter(market, reputation);
    }

    function test_aSettledEagerJobIsAValidation_anOpenOneHasNoResponse() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        (address validator, uint256 agentId, uint8 response,,, bool has) =
            adapter.getValidationStatus(adapter.requestHashOf(jobId));
        assertFalse(has);
        assertEq(validator, address(0));
        assertEq(response, 0);
        assertEq(agentId, adapter.agentIdOf(provider));
        _submit(jobId);
        bytes32 hash;
        bytes32 tag;
        (validator, agentId, response, hash, tag, has) = adapter.getValidationStatus(bytes32(jobId));
        assertTrue(has);
        assertEq(validator, address(market));
        assertEq(agentId, uint256(uint160(provider)));
        assertEq(response, 100);
        assertEq(hash, keccak256(abi.encodePacked(_outputs())));
        assertEq(hash, market.outputsHashOf(jobId));
        assertEq(tag, adapter.TAG_EAGER());
    }

    function test_anOptimisticJobIsTaggedSo() public {
        uint256 jobId = _claimedAs(consumers[0], dedicatedModel, 1);
        IJobSettlement.Result[] memory rs = _one(_resultOf(jobId, _outputs()));
        _finalize(_submitAs(provider, rs), rs);
        (,,,, bytes32 tag, bool has) = adapter.getValidationStatus(bytes32(jobId));
        assertTrue(has);
        assertEq(tag, adapter.TAG_OPTIMISTIC());
    }

    function test_summaryIsTheProvidersNrsAndCompletions_perClientToo() public {
        _submit(_postAndClaim(dedicatedModel));
        uint256 agentId = adapter.agentIdOf(provider);
        (uint64 count, uint8 score) = adapter.getSummary(agentId, new address[](0), 0, 0);
        assertEq(count, reputation.factsOf(provider).completed);
        assertEq(score, reputation.nrs(provider));
        assertGt(score, 0, "a completion gives a score");
        address[] memory clients = new address[](2);
        (clients[0], clients[1]) = (consumer, stranger);
        (uint64 pairCount,) = adapter.getSummary(agentId, clients, 0, 0);
        assertEq(pairCount, reputation.pairCompletions(provider, consumer));
        vm.expectRevert(abi.encodeWithSelector(NgxAgentAdapter.Adapter__NotAnAgentId.selector, uint256(1) << 160));
        adapter.getSummary(uint256(1) << 160, clients, 0, 0);
    }
}
