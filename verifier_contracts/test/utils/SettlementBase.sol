// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {JobWords} from "./JobWords.sol";
import {Base} from "./Base.sol";
import {IJobMarket} from "../../src/interfaces/IJobMarket.sol";
import {IJobSettlement} from "../../src/interfaces/IJobSettlement.sol";

/// @notice Helpers for the settlement tests (issue #24): four consumers, optimistic jobs, batches, challenges.
abstract contract SettlementBase is Base {
    uint256 internal constant BOND = 10 ether; // ProtocolConfig's default challengeBond
    uint256 internal constant WINDOW = 1 hours; // default challenge and answer windows
    /// Enough stake for 16 claims at the lowest NRS tier (150 % collateral).
    uint256 internal constant TOTAL_STAKE = 8_000 ether;

    address[4] internal consumers;
    address internal challenger = makeAddr("challenger");

    /// What a settlement leaves behind for the parties (credits, rewards, reputation, stake).
    struct Money {
        uint256 provider;
        uint256 owner;
        uint256 treasury;
        uint256[4] consumers;
        uint256 owed;
        uint256 completed;
        uint256 weight;
        uint256 windowUsed;
        uint256 locked;
        uint256 staked;
        uint256[4] settled;
        uint256[4] settledWeight;
        uint256[4] pairs;
    }

    function setUp() public virtual override {
        super.setUp();
        for (uint256 i; i < 4; ++i) {
            consumers[i] = makeAddr(string(abi.encodePacked("consumer", bytes1(uint8(48 + i)))));
            _fund(consumers[i], 10_000 ether);
        }
        _fund(challenger, 10_000 ether);
        vm.prank(provider);
        staking.stake(TOTAL_STAKE - STAKE);
        _fund(stranger, 10_000 ether);
    }

    function _termsOf(uint256 modelId, uint8 mode) internal pure returns (IJobMarket.JobTerms memory) {
        return IJobMarket.JobTerms({
            modelId: modelId,
            minPrice: uint96(PRICE),
            maxPrice: uint96(PRICE),
            rampDelay: 0,
            rampLength: 0,
            claimWindow: CLAIM_WINDOW,
            proveWindow: PROVE_WINDOW,
            minReputation: 0,
            deliverer: address(0),
            callbackGasLimit: 0,
            settlement: mode
        });
    }

    function _postTermsAs(address who, IJobMarket.JobTerms memory t, uint256 commitment)
        internal
        returns (uint256 jobId)
    {
        uint256[] memory c = new uint256[](1);
        c[0] = commitment;
        vm.prank(who);
        jobId = market.postJobWithTerms(t, c);
    }

    /// An optimistic (mode 1) or eager (mode 0) job of `who` with the fixture's commitment, claimed by `provider`.
    function _claimedAs(address who, uint256 modelId, uint8 mode) internal returns (uint256 jobId) {
        jobId = _postTermsAs(who, _termsOf(modelId, mode), instances[0]);
        vm.prank(provider);
        market.claimJob(jobId);
    }

    function _resultOf(uint256 jobId, uint256[] memory outputs) internal view returns (IJobSettlement.Result memory) {
        return IJobSettlement.Result({jobId: jobId, outputs: outputs, proofHash: keccak256(proof)});
    }

    function _wrongOutputs() internal pure returns (uint256[] memory o) {
        o = new uint256[](2);
        (o[0], o[1]) = (1, 2);
    }

    function _submitAs(address who, IJobSettlement.Result[] memory rs) internal returns (uint256 batchId) {
        vm.prank(who);
        batchId = settlement.submitResults(rs);
    }

    function _one(IJobSettlement.Result memory r) internal pure returns (IJobSettlement.Result[] memory rs) {
        rs = new IJobSettlement.Result[](1);
        rs[0] = r;
    }

    function _challengeAs(address who, uint256 batchId, IJobSettlement.Result[] memory rs, uint256 index) internal {
        vm.prank(who);
        payToken.approve(address(market), type(uint256).max);
        vm.prank(who);
        settlement.challenge(batchId, rs, JobWords.read(address(market), rs), index);
    }

    function _finalize(uint256 batchId, IJobSettlement.Result[] memory rs) internal returns (uint256 settled) {
        vm.warp(settlement.batchOf(batchId).challengeDeadline);
        settled = settlement.finalizeBatch(batchId, rs, JobWords.read(address(market), rs));
    }

    function _money() internal view returns (Money memory m) {
        m.provider = market.claimable(provider);
        m.owner = market.claimable(modelOwner);
        m.treasury = market.claimable(treasury);
        m.owed = rewards.owedTo(provider);
        m.completed = reputation.factsOf(provider).completed;
        m.weight = reputation.factsOf(provider).weightMilli;
        m.windowUsed = reputation.factsOf(provider).windowUsedBpsSum;
        m.locked = staking.getProvider(provider).locked;
        m.staked = staking.getProvider(provider).staked;
        for (uint256 i; i < 4; ++i) {
            m.consumers[i] = market.claimable(consumers[i]);
            m.settled[i] = reputation.consumerFactsOf(consumers[i]).settled;
            m.settledWeight[i] = reputation.consumerFactsOf(consumers[i]).settledWeightMilli;
            m.pairs[i] = reputation.pairCompletions(provider, consumers[i]);
        }
    }

    function _assertSameMoney(Money memory a, Money memory b) internal pure {
        assertEq(a.provider, b.provider, "provider pay");
        assertEq(a.owner, b.owner, "royalties");
        assertEq(a.treasury, b.treasury, "fees");
        assertEq(a.owed, b.owed, "rewards owed");
        assertEq(a.completed, b.completed, "completions");
        assertEq(a.weight, b.weight, "NRS weight");
        assertEq(a.windowUsed, b.windowUsed, "NRS window used");
        assertEq(a.locked, b.locked, "collateral locked");
        assertEq(a.staked, b.staked, "stake");
        for (uint256 i; i < 4; ++i) {
            assertEq(a.consumers[i], b.consumers[i], "consumer credit");
            assertEq(a.settled[i], b.settled[i], "consumer settled count");
            assertEq(a.settledWeight[i], b.settledWeight[i], "consumer settled weight");
            assertEq(a.pairs[i], b.pairs[i], "pair completions");
        }
    }

    /// One call as its own transaction would be charged before refunds: 21,000 + calldata (4 per zero byte, 16 per
    /// other byte) + the call's execution with every protocol contract's storage and account cold (`vm.cool`). The
    /// gas profiles' one way of measuring (SettlementGasProfileTest, OrderGasProfileTest).
    function _txGas(address from, address to, bytes memory data) internal returns (uint256 gasUsed) {
        address[11] memory touched = [
            address(market),
            address(module),
            market.orderModule(),
            address(token),
            address(config),
            address(registry),
            address(staking),
            address(reputation),
            address(rewards),
            address(dedicatedVerifier),
            from
        ];
        for (uint256 i; i < touched.length; ++i) {
            vm.cool(touched[i]);
        }
        vm.prank(from);
        uint256 left = gasleft();
        (bool ok, bytes memory ret) = to.call(data);
        gasUsed = left - gasleft();
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        gasUsed += 21_000;
        for (uint256 i; i < data.length; ++i) {
            gasUsed += data[i] == 0 ? 4 : 16;
        }
    }

    /// @dev The two gas profiles' start (SettlementGasProfile, OrderGasProfile): a 300-byte payload of non-zero bytes
    ///      for the measured deliverInput, and a steady state: one eager settlement (of the other verifier kind, so
    ///      the measured eager statement is fresh) and one finalized optimistic batch leave the parties' credits and
    ///      the pools non-zero.
    function _gasProfileSetUp() internal returns (bytes memory payload) {
        payload = new bytes(300);
        for (uint256 i; i < payload.length; ++i) {
            payload[i] = bytes1(uint8(i % 255 + 1));
        }
        uint256 id = _claimedAs(consumers[0], reusableModel, 0);
        _submit(id);
        id = _postTermsAs(consumers[1], _termsOf(dedicatedModel, 1), 7);
        vm.prank(provider);
        market.claimJob(id);
        IJobSettlement.Result[] memory rs = _one(_resultOf(id, _outputs()));
        _finalize(_submitAs(provider, rs), rs);
        vm.warp(block.timestamp + 1);
    }

    function _assertSolvent() internal view {
        assertGt(payToken.balanceOf(address(market)) + 1, market.totalLiabilities(), "market solvent");
    }
}
