// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {Vm} from "./utils/Test.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {ProviderStaking} from "../src/ProviderStaking.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";

/// Random sequences of market actions for forge's invariant fuzzer. Every action may revert; the
/// invariants below must hold after each one.
contract MarketHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    JobMarket internal market;
    address internal consumer;
    address internal provider;
    address internal provider2;
    uint256 internal modelId;
    uint256[] internal commitments;
    bytes internal proof;
    uint256[] internal instances;
    mapping(uint256 jobId => uint256) public settledTimes;
    uint256 public settlements;

    constructor(
        JobMarket market_,
        address consumer_,
        address provider_,
        uint256 modelId_,
        bytes memory proof_,
        uint256[] memory instances_
    ) {
        (market, consumer, provider, modelId, proof, instances) =
        (market_, consumer_, provider_, modelId_, proof_, instances_);
        commitments.push(instances_[0]);
    }

    function setSecondProvider(address provider2_) external {
        provider2 = provider2_;
    }

    function post(uint96 price) external {
        price = uint96(0.1 ether + price % 500 ether);
        vm.prank(consumer);
        market.postJob(modelId, commitments, price, 1 hours, 30 minutes, 0);
    }

    /// A reverse Dutch auction (issue #16): the claim locks a price between `low` and `low + span`.
    function postAuction(uint96 low, uint96 span, uint32 ramp) external {
        IJobMarket.JobTerms memory t;
        t.modelId = modelId;
        t.minPrice = uint96(0.1 ether + low % 200 ether);
        t.maxPrice = t.minPrice + 1 + span % 300 ether;
        t.rampLength = 1 + ramp % 1 hours;
        (t.claimWindow, t.proveWindow) = (1 hours, 30 minutes);
        vm.prank(consumer);
        market.postJobWithTerms(t, commitments);
    }

    function claim(uint256 seed) external {
        vm.prank(seed % 2 == 0 ? provider : provider2); // the second one can finish jobs the first one missed
        try market.claimJob(_job(seed)) {} catch {}
    }

    function submit(uint256 seed) external {
        uint256 jobId = _job(seed);
        vm.prank(market.getJob(jobId).provider);
        try market.submitResult(jobId, proof, instances) {
            settledTimes[jobId] += 1;
            settlements += 1;
        } catch {}
    }

    function cancel(uint256 seed) external {
        vm.prank(consumer);
        try market.cancelJob(_job(seed)) {} catch {}
    }

    function decline(uint256 seed) external {
        vm.prank(market.getJob(_job(seed)).provider);
        try market.declineJob(_job(seed), IJobMarket.DeclineReason(seed % 3)) {} catch {}
    }

    function expire(uint256 seed, uint32 dt) external {
        vm.warp(block.timestamp + dt % 2 hours);
        try market.expireJob(_job(seed)) {} catch {}
    }

    function withdraw(bool asProvider) external {
        vm.prank(asProvider ? provider : consumer);
        try market.withdraw() {} catch {}
    }

    function _job(uint256 seed) private view returns (uint256) {
        uint256 n = market.jobCount();
        return n == 0 ? 0 : 1 + seed % n;
    }
}

contract InvariantsTest is Base {
    MarketHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new MarketHandler(market, consumer, provider, dedicatedModel, proof, instances);
        _registerAndStake(provider2, STAKE);
        handler.setSecondProvider(provider2);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// Escrowed + credited tokens always equal what the market holds (nothing created or lost).
    function invariant_MarketSolvent() public view {
        assertEq(token.balanceOf(address(market)), market.totalLiabilities(), "balance == escrow + credits");
    }

    /// Collateral never exceeds stake.
    function invariant_CollateralWithinStake() public view {
        assertLe(staking.getProvider(provider).locked, staking.stakedOf(provider), "locked <= staked");
        assertLe(staking.getProvider(provider2).locked, staking.stakedOf(provider2), "locked <= staked (2)");
    }

    /// A job is paid at most once, and only Settled jobs were paid.
    function invariant_PaidAtMostOnce() public view {
        uint256 n = market.jobCount();
        for (uint256 id = 1; id <= n; ++id) {
            uint256 times = handler.settledTimes(id);
            assertLe(times, 1, "paid twice");
            if (times == 1) assertTrue(market.getJob(id).status == IJobMarket.JobStatus.Settled, "paid => Settled");
        }
    }

    /// Total supply only shrinks (slash burns), never grows.
    function invariant_SupplyNeverGrows() public view {
        assertLe(token.totalSupply(), token.TOTAL_SUPPLY(), "supply");
    }
}
