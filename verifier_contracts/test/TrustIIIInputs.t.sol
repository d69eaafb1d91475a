// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";

/// Trust III (issue #23), item 1: junk inputs. The chain cannot judge an input (the payload is ciphertext to the
/// provider), so the rule is symmetric: an input decline (InputInvalid, InputMissing) that slashes the provider S
/// cuts the consumer's refund by min(S, price), burned (never paid to the provider, who would then gain from
/// lying, nor to the treasury). A free decline and an `Other` decline cut nothing. A junk griefer loses what it
/// makes the provider lose; a lying provider loses what it makes the honest consumer lose. The two attack tests
/// failed on the code before this rule (the griefer lost nothing, the honest consumer was refunded in full).
contract TrustIIIInputsTest is Base {
    function _value(address who) internal view returns (uint256) {
        return token.balanceOf(who) + market.claimable(who) + staking.stakedOf(who);
    }

    function _freshConsumer(uint256 i) internal returns (address who) {
        who = makeAddr(string(abi.encodePacked("junk", bytes1(uint8(65 + i)))));
        _fund(who, 1_000 ether);
    }

    function _postClaimAs(address who) internal returns (uint256 jobId) {
        vm.prank(who);
        jobId = market.postJob(dedicatedModel, _commitments(), PRICE, CLAIM_WINDOW, PROVE_WINDOW, 0);
        vm.prank(provider);
        market.claimJob(jobId);
    }

    function _decline(uint256 jobId, IJobMarket.DeclineReason reason) internal {
        vm.prank(provider);
        market.declineJob(jobId, reason);
    }

    /// The provider spends its free allowance (3 Other-free input declines on its own junk-free jobs).
    function _spendFreeDeclines() internal {
        for (uint256 i; i < 3; ++i) {
            uint256 jobId = _postClaimAs(_freshConsumer(20 + i));
            _decline(jobId, IJobMarket.DeclineReason.InputInvalid);
        }
        assertEq(reputation.freeDeclinesLeft(provider), 0);
    }

    /// Item 1: ten fresh consumers post 100-NGX jobs and deliver junk on chain; the provider declines each
    /// InputInvalid (3 free, then 10 % of its 150-NGX collateral). Before: the provider lost 105 NGX, each griefer
    /// only gas. Now each costly decline cuts the griefer's refund by the provider's slash, burned: the coalition
    /// of griefers loses exactly what the provider loses, and nobody gains it.
    function test_Attack1_JunkInputsCostTheGriefersWhatTheProviderLoses() public {
        uint256 providerBefore = _value(provider);
        uint256 supplyBefore = token.totalSupply();
        uint256 griefersLost;
        for (uint256 i; i < 10; ++i) {
            address sybil = _freshConsumer(i);
            uint256 jobId = _postClaimAs(sybil);
            vm.prank(sybil);
            market.deliverInput(jobId, hex"6a756e6b");
            uint256 providerMid = _value(provider);
            _decline(jobId, IJobMarket.DeclineReason.InputInvalid);
            uint256 providerLost = providerMid - _value(provider);
            uint256 sybilLost = 1_000 ether - _value(sybil);
            assertLe(providerLost, sybilLost, "each junk job costs the griefer at least the provider's loss");
            assertEq(sybilLost, i < 3 ? 0 : 15 ether, "a free decline cuts nothing, a costly one the slash");
            griefersLost += sybilLost;
        }
        uint256 lost = providerBefore - _value(provider);
        assertEq(lost, 105 ether, "7 costly declines of 15 NGX each");
        assertEq(griefersLost, lost, "the griefers lose what the provider loses");
        // The slashes' burn share (52.5) and the refund cuts (105) are burned; the treasury's share is the rest.
        assertEq(supplyBefore - token.totalSupply(), 52.5 ether + 105 ether, "the cuts are burned, paid to no one");
        assertEq(token.balanceOf(address(market)), market.totalLiabilities(), "the market holds what it owes");
    }

    /// Item 1, the other side: a provider past its free allowance claims an honest consumer's job, receives a valid
    /// input on chain and declines it InputInvalid anyway. It loses exactly what the honest consumer loses.
    function test_Attack1_LyingProviderLosesWhatTheHonestConsumerLoses() public {
        _spendFreeDeclines();
        (uint256 consumerBefore, uint256 providerBefore) = (_value(consumer), _value(provider));
        uint256 jobId = _postClaimAs(consumer);
        vm.prank(consumer);
        market.deliverInput(jobId, hex"76616c6964");
        // JobDeclined carries the refund actually paid (85) and the cut burned by the input rule (15).
        _expectDeclined(jobId, PRICE - 15 ether, IJobMarket.DeclineReason.InputInvalid, false, 15 ether, 15 ether);
        _decline(jobId, IJobMarket.DeclineReason.InputInvalid);
        uint256 consumerLost = consumerBefore - _value(consumer);
        uint256 providerLost = providerBefore - _value(provider);
        assertEq(consumerLost, 15 ether, "the honest consumer loses the slash's worth of its escrow");
        assertLe(consumerLost, providerLost, "the liar loses at least as much");
    }

    /// The withholding variant: nothing delivered, the input deadline passes, the costly InputMissing decline cuts
    /// the consumer's refund by the slash too.
    function test_Attack1_WithheldInputCostsTheConsumerTheSlash() public {
        _spendFreeDeclines();
        address sybil = _freshConsumer(9);
        uint256 jobId = _postClaimAs(sybil);
        vm.warp(market.inputDeadline(jobId));
        uint256 providerBefore = _value(provider);
        _decline(jobId, IJobMarket.DeclineReason.InputMissing);
        assertEq(providerBefore - _value(provider), 15 ether);
        assertEq(1_000 ether - _value(sybil), 15 ether, "the withholder loses what the provider loses");
    }

    /// A free input decline cuts nothing and costs the provider no NRS (free declines are not failures); an
    /// `Other` decline is the provider's own choice and cuts nothing either.
    function test_FreeAndOtherDeclinesCutNothing() public {
        uint256 nrsBefore = reputation.nrs(provider);
        uint256 consumerBefore = _value(consumer);
        uint256 jobId = _postClaimAs(consumer);
        _decline(jobId, IJobMarket.DeclineReason.InputInvalid);
        assertEq(_value(consumer), consumerBefore, "free: refunded in full");
        assertEq(reputation.nrs(provider), nrsBefore, "a free input decline costs no NRS");

        consumerBefore = _value(consumer);
        jobId = _postClaimAs(consumer);
        uint256 providerBefore = _value(provider);
        _expectDeclined(jobId, PRICE, IJobMarket.DeclineReason.Other, false, 15 ether, 0);
        _decline(jobId, IJobMarket.DeclineReason.Other);
        assertEq(providerBefore - _value(provider), 15 ether, "Other is always costly");
        assertEq(_value(consumer), consumerBefore, "and the consumer is refunded in full");
    }

    /// S can exceed the price (collateral tiers up to 300 %, decline slash up to 50 %: S up to 1.5 x price): the cut
    /// is min(S, price), so the refund is zero and the provider still loses S.
    function test_TheCutIsAtMostThePrice() public {
        config.setCollateralTiers(80, 50, 30_000, 30_000, 30_000);
        config.setDeclineSlashBps(5_000);
        address sybil = _freshConsumer(8);
        _spendFreeDeclines();
        uint256 jobId = _postClaimAs(sybil);
        uint256 providerBefore = _value(provider);
        _decline(jobId, IJobMarket.DeclineReason.InputInvalid);
        assertEq(providerBefore - _value(provider), 150 ether, "S = 50 % of 300 NGX of collateral");
        assertEq(1_000 ether - _value(sybil), PRICE, "the cut stops at the price");
        assertEq(token.balanceOf(address(market)), market.totalLiabilities());
    }

    /// fuzz: for any price and any allowed tiers and decline slash, a costly input decline costs the consumer
    /// min(S, price) and the provider S, and the escrow is accounted for.
    function testFuzz_InputDeclineCutIsMinOfSlashAndPrice(uint96 price, uint16 tierBps, uint16 slashBps) public {
        price = uint96(bound(price, 0.1 ether, 500 ether));
        tierBps = uint16(bound(tierBps, 1_000, 30_000));
        slashBps = uint16(bound(slashBps, 100, 5_000));
        config.setCollateralTiers(80, 50, tierBps, tierBps, tierBps);
        config.setDeclineSlashBps(slashBps);
        _spendFreeDeclines();
        address sybil = _freshConsumer(7);
        vm.prank(sybil);
        uint256 jobId = market.postJob(dedicatedModel, _commitments(), price, CLAIM_WINDOW, PROVE_WINDOW, 0);
        vm.prank(provider);
        market.claimJob(jobId);
        uint256 s = uint256(market.getJob(jobId).collateral) * slashBps / 10_000;
        uint256 providerBefore = _value(provider);
        _decline(jobId, IJobMarket.DeclineReason.InputInvalid);
        assertEq(providerBefore - _value(provider), s);
        assertEq(1_000 ether - _value(sybil), s < price ? s : price);
        assertEq(token.balanceOf(address(market)), market.totalLiabilities());
    }

    function _expectDeclined(
        uint256 jobId,
        uint256 refund,
        IJobMarket.DeclineReason reason,
        bool free,
        uint256 slashed,
        uint256 burned
    ) internal {
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.JobDeclined(jobId, provider, refund, uint8(reason), free, slashed, burned);
    }
}
