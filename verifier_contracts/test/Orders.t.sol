// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Base} from "./utils/Base.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {JobMarket} from "../src/JobMarket.sol";

/// Gasless job orders (EIP-712): a consumer with NGX and no ETH signs an order, a provider fills it in one
/// transaction (post for the consumer + claim for itself). Each attack shows its revert and that nothing moved.
contract OrdersTest is Base {
    uint256 internal constant SIGNER_KEY = 0xA11CE5;
    uint256 internal constant ATTACKER_KEY = 0xBADBAD;
    /// secp256k1 group order: (r, N - s, v ^ 1) is the malleable twin of a signature (r, s, v).
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256 internal constant FUNDS = 1_000 ether;

    // The type strings, written out here independently of the contract.
    bytes internal constant JOB_TERMS_TYPE =
        "JobTerms(uint256 modelId,uint96 minPrice,uint96 maxPrice,uint32 rampDelay,uint32 rampLength,uint32 claimWindow,uint32 proveWindow,uint8 minReputation,address deliverer,uint32 callbackGasLimit,uint8 settlement)";
    bytes internal constant ORDER_TYPE =
        "Order(address consumer,JobTerms terms,uint256[] inputCommitments,address provider,uint256 nonce,uint40 signedAt,uint40 deadline)";
    bytes internal constant DOMAIN_TYPE =
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";

    address internal signer;

    struct Snapshot {
        uint256 signerTokens;
        uint256 marketTokens;
        uint256 providerTokens;
        uint256 stakingTokens;
        uint256 liabilities;
        uint256 jobs;
        uint256 allowance;
        uint256 permitNonce;
        uint256 locked;
    }

    function setUp() public override {
        super.setUp();
        signer = vm.addr(SIGNER_KEY);
        vm.label(signer, "signer");
        vm.prank(treasury);
        token.transfer(signer, FUNDS); // NGX only: no ETH, no approval, and it never sends a transaction
        vm.warp(block.timestamp + 2 days); // room for signing times in the past
    }

    // ------------------------------------------------------------ helpers

    function _terms() internal view returns (IJobMarket.JobTerms memory) {
        return IJobMarket.JobTerms({
            modelId: dedicatedModel,
            minPrice: uint96(PRICE),
            maxPrice: uint96(PRICE),
            rampDelay: 0,
            rampLength: 0,
            claimWindow: CLAIM_WINDOW,
            proveWindow: PROVE_WINDOW,
            minReputation: 0,
            deliverer: address(0),
            callbackGasLimit: 0,
            settlement: 0
        });
    }

    function _order(uint256 nonce) internal view returns (IJobMarket.Order memory) {
        return IJobMarket.Order({
            consumer: signer,
            terms: _terms(),
            provider: address(0),
            nonce: nonce,
            signedAt: uint40(block.timestamp),
            deadline: uint40(block.timestamp + 1 hours)
        });
    }

    function _auctionOrder(uint256 nonce, uint96 low, uint96 high, uint32 delay, uint32 ramp)
        internal
        view
        returns (IJobMarket.Order memory o)
    {
        o = _order(nonce);
        (o.terms.minPrice, o.terms.maxPrice, o.terms.rampDelay, o.terms.rampLength) = (low, high, delay, ramp);
    }

    function _domain(uint256 chainId, address verifyingContract) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256(DOMAIN_TYPE),
                keccak256(bytes("NeuroGrid JobMarket")),
                keccak256(bytes("1")),
                chainId,
                verifyingContract
            )
        );
    }

    function _termsHash(IJobMarket.JobTerms memory t) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256(JOB_TERMS_TYPE),
                t.modelId,
                t.minPrice,
                t.maxPrice,
                t.rampDelay,
                t.rampLength,
                t.claimWindow,
                t.proveWindow,
                t.minReputation,
                t.deliverer,
                t.callbackGasLimit,
                t.settlement
            )
        );
    }

    /// The EIP-712 digest, computed field by field from the type strings (independent of the contract).
    function _digestFor(IJobMarket.Order memory o, uint256[] memory c, uint256 chainId, address verifyingContract)
        internal
        pure
        returns (bytes32)
    {
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(bytes.concat(ORDER_TYPE, JOB_TERMS_TYPE)),
                o.consumer,
                _termsHash(o.terms),
                keccak256(abi.encodePacked(c)),
                o.provider,
                o.nonce,
                o.signedAt,
                o.deadline
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", _domain(chainId, verifyingContract), structHash));
    }

    function _digest(IJobMarket.Order memory o) internal view returns (bytes32) {
        return _digestFor(o, _commitments(), block.chainid, address(market));
    }

    function _signDigest(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _sign(IJobMarket.Order memory o) internal view returns (bytes memory) {
        return _signDigest(SIGNER_KEY, _digest(o));
    }

    function _noPermit() internal pure returns (IJobMarket.Permit memory p) {}

    function _fill(address filler, IJobMarket.Order memory o, bytes memory sig, IJobMarket.Permit memory p)
        internal
        returns (uint256 jobId)
    {
        vm.prank(filler);
        jobId = market.fillOrder(o, _commitments(), sig, p);
    }

    /// A good order with its signature and permit, filled by `provider`.
    function _fillGood(IJobMarket.Order memory o) internal returns (uint256) {
        return _fill(provider, o, _sign(o), _permitOf(SIGNER_KEY, o.terms.maxPrice));
    }

    function _snapshot() internal view returns (Snapshot memory s) {
        s.signerTokens = token.balanceOf(signer);
        s.marketTokens = token.balanceOf(address(market));
        s.providerTokens = token.balanceOf(provider);
        s.stakingTokens = token.balanceOf(address(staking));
        s.liabilities = market.totalLiabilities();
        s.jobs = market.jobCount();
        s.allowance = token.allowance(signer, address(market));
        s.permitNonce = token.nonces(signer);
        s.locked = staking.getProvider(provider).locked;
    }

    function _assertNothingMoved(Snapshot memory a) internal view {
        Snapshot memory b = _snapshot();
        assertEq(b.signerTokens, a.signerTokens, "signer's NGX untouched");
        assertEq(b.marketTokens, a.marketTokens, "market's NGX untouched");
        assertEq(b.providerTokens, a.providerTokens, "provider's NGX untouched");
        assertEq(b.stakingTokens, a.stakingTokens, "staking's NGX untouched");
        assertEq(b.liabilities, a.liabilities, "no escrow");
        assertEq(b.jobs, a.jobs, "no job posted");
        assertEq(b.allowance, a.allowance, "allowance untouched");
        assertEq(b.permitNonce, a.permitNonce, "permit not used");
        assertEq(b.locked, a.locked, "no collateral locked");
    }

    function _assertSolvent() internal view {
        assertEq(token.balanceOf(address(market)), market.totalLiabilities(), "market holds exactly what it owes");
    }

    /// Fills `o` with `sig` (and the signer's permit) as `filler`, expecting `revertData`; nothing may move.
    function _assertFillReverts(
        address filler,
        IJobMarket.Order memory o,
        uint256[] memory c,
        bytes memory sig,
        bytes memory revertData
    ) internal {
        Snapshot memory before = _snapshot();
        IJobMarket.Permit memory p = _permitOf(SIGNER_KEY, o.terms.maxPrice);
        vm.prank(filler);
        vm.expectRevert(revertData);
        market.fillOrder(o, c, sig, p);
        _assertNothingMoved(before);
    }

    function _badSignature() internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IJobMarket.JobMarket__BadOrderSignature.selector);
    }

    // ------------------------------------------------------------ good paths

    function test_FillOrderFixedPriceClaimsAndSettlesWithTheRealProof() public {
        assertEq(signer.balance, 0, "the consumer holds no ETH");
        IJobMarket.Order memory o = _order(1);
        bytes memory sig = _sign(o);
        IJobMarket.Permit memory p = _permitOf(SIGNER_KEY, PRICE);
        uint256 expectedId = market.jobCount() + 1;

        vm.expectEmit(true, true, true, true, address(market));
        emit IJobMarket.JobPosted(
            expectedId, signer, dedicatedModel, _commitments(), PRICE, block.timestamp + CLAIM_WINDOW, PROVE_WINDOW, 0
        );
        vm.expectEmit(true, true, true, true, address(market));
        emit IJobMarket.OrderFilled(expectedId, signer, 1, provider);
        uint256 jobId = _fill(provider, o, sig, p);

        assertEq(jobId, expectedId);
        IJobMarket.Job memory job = market.getJob(jobId);
        assertEq(job.consumer, signer); // the signer is the consumer, not the filler
        assertEq(job.provider, provider);
        assertTrue(job.status == IJobMarket.JobStatus.Claimed, "claimed by the filler");
        assertEq(job.price, PRICE);
        assertEq(job.commitmentsHash, keccak256(abi.encodePacked(_commitments())));
        assertEq(job.collateral, config.collateralFor(PRICE, reputation.nrs(provider)), "collateral as for claimJob");
        assertEq(staking.getProvider(provider).locked, job.collateral, "collateral locked");
        assertEq(token.balanceOf(signer), FUNDS - PRICE, "escrow pulled from the consumer");
        assertEq(token.balanceOf(address(market)), PRICE);
        assertTrue(market.orderNonceUsed(signer, 1));
        assertFalse(market.orderNonceUsed(signer, 2));
        assertEq(token.nonces(signer), 1, "the permit was used");
        assertEq(signer.balance, 0, "still no ETH");
        assertEq(vm.getNonce(signer), 0, "the consumer never sent a transaction");
        _assertSolvent();

        // The input goes over the off-chain data plane; the real EZKL proof settles the job.
        _submit(jobId);
        job = market.getJob(jobId);
        assertTrue(job.status == IJobMarket.JobStatus.Settled, "settled");
        assertEq(market.outputsHashOf(jobId), keccak256(abi.encodePacked(_outputs())));
        assertEq(market.claimable(provider), 92.5 ether, "provider paid as for any job");
        assertEq(market.claimable(modelOwner), 5 ether, "royalty");
        assertEq(reputation.factsOf(provider).completed, 1, "a rewarded completion");
        _assertSolvent();
    }

    function test_FillOrderWithAnExistingAllowance() public {
        vm.prank(signer);
        token.approve(address(market), PRICE); // a consumer that approved once, earlier
        IJobMarket.Order memory o = _order(1);
        uint256 jobId = _fill(provider, o, _sign(o), _noPermit());
        assertEq(market.getJob(jobId).consumer, signer);
        assertEq(token.allowance(signer, address(market)), 0, "allowance spent");
        assertEq(token.balanceOf(signer), FUNDS - PRICE);
    }

    function test_FillOrderNamedProvider() public {
        _registerAndStake(provider2, STAKE);
        IJobMarket.Order memory o = _order(1);
        o.provider = provider2;
        uint256 jobId = _fill(provider2, o, _sign(o), _permitOf(SIGNER_KEY, PRICE));
        assertEq(market.getJob(jobId).provider, provider2);
    }

    function test_FillOrderAuctionLocksPriceOnSignedAtsClock() public {
        uint32 delay = 60;
        uint32 ramp = 600;
        uint256 t0 = block.timestamp;
        IJobMarket.Order memory a = _auctionOrder(1, 10 ether, 70 ether, delay, ramp);
        IJobMarket.Order memory b = _auctionOrder(2, 10 ether, 70 ether, delay, ramp);
        IJobMarket.Order memory c = _auctionOrder(3, 10 ether, 70 ether, delay, ramp);
        (a.deadline, b.deadline, c.deadline) = (uint40(t0 + 2 hours), uint40(t0 + 2 hours), uint40(t0 + 2 hours));
        bytes memory sigA = _sign(a);
        bytes memory sigB = _sign(b);
        bytes memory sigC = _sign(c);
        vm.prank(signer);
        token.approve(address(market), 210 ether); // three orders' maxima; no permits needed

        // Before the ramp starts (signedAt + delay): the minimum.
        vm.warp(t0 + 30);
        vm.expectEmit(true, false, false, true, address(market));
        emit IJobMarket.JobTermsSet(market.jobCount() + 1, 10 ether, t0 + delay, ramp, address(0), 0, 0);
        vm.expectEmit(true, false, false, true, address(market));
        emit IJobMarket.JobPriceLocked(market.jobCount() + 1, 10 ether, 60 ether);
        uint256 jobA = _fill(provider, a, sigA, _noPermit());
        assertEq(market.getJob(jobA).price, 10 ether, "the minimum before the ramp");

        // Half way up the ramp of signedAt's clock (a ramp timed from the fill would still be at the minimum).
        vm.warp(t0 + delay + 300);
        uint256 jobB = _fill(provider, b, sigB, _noPermit());
        assertEq(market.getJob(jobB).price, 40 ether, "10 + 60 * 300 / 600");

        // Past the end of the ramp: the maximum, nothing refunded.
        vm.warp(t0 + delay + ramp + 1);
        uint256 jobC = _fill(provider, c, sigC, _noPermit());
        assertEq(market.getJob(jobC).price, 70 ether, "the maximum after the ramp");

        assertEq(market.claimable(signer), 60 ether + 30 ether + 0, "escrow above each price credited to the consumer");
        assertEq(token.balanceOf(signer), FUNDS - 210 ether, "the three maxima were escrowed");
        assertEq(market.getJob(jobB).flags & market.FLAG_AUCTION(), 0, "price locked");
        assertEq(market.priceAt(jobB, block.timestamp + 1 days), 40 ether, "and stays locked");
        _assertSolvent();
        _submit(jobB);
        assertEq(market.claimable(provider), 40 ether - 1 ether - 2 ether, "pay from the locked price");
        _assertSolvent();
    }

    function test_OrderDigestMatchesIndependentComputation() public {
        assertEq(market.ORDER_TYPEHASH(), keccak256(bytes.concat(ORDER_TYPE, JOB_TERMS_TYPE)), "ORDER_TYPEHASH");
        assertEq(market.JOB_TERMS_TYPEHASH(), keccak256(JOB_TERMS_TYPE), "JOB_TERMS_TYPEHASH");
        IJobMarket.Order memory o = _auctionOrder(42, 10 ether, 70 ether, 7, 600);
        o.provider = provider2;
        o.terms.deliverer = stranger;
        o.terms.callbackGasLimit = 123_456;
        o.terms.minReputation = 33;
        o.signedAt = uint40(block.timestamp - 5);
        assertEq(market.orderDigest(o, _commitments()), _digest(o), "orderDigest");
        uint256[] memory none = new uint256[](0);
        assertEq(market.orderDigest(o, none), _digestFor(o, none, block.chainid, address(market)), "no commitments");
        uint256[] memory three = new uint256[](3);
        (three[0], three[1], three[2]) = (1, 2, 3);
        assertEq(market.orderDigest(o, three), _digestFor(o, three, block.chainid, address(market)), "three");
        vm.chainId(4242);
        assertEq(market.orderDigest(o, _commitments()), _digestFor(o, _commitments(), 4242, address(market)), "chain");
    }

    /// A known answer from Python's eth_account.messages.encode_typed_data (ngx_zk.chain.orders.TYPES) for this
    /// order at chain 31337 and market 0x...bEEF: the contract's code, placed there, computes the same digest.
    function test_OrderDigestKnownAnswerFromEthAccount() public {
        IJobMarket.Order memory o = IJobMarket.Order({
            consumer: address(0xA11cE),
            terms: IJobMarket.JobTerms({
                modelId: 7,
                minPrice: 1 ether,
                maxPrice: 5 ether,
                rampDelay: 60,
                rampLength: 600,
                claimWindow: 3600,
                proveWindow: 1800,
                minReputation: 40,
                deliverer: address(0xdEaD),
                callbackGasLimit: 300_000,
                settlement: 1
            }),
            provider: address(0xB0b),
            nonce: 42,
            signedAt: 1_700_000_000,
            deadline: 1_700_003_600
        });
        uint256[] memory c = new uint256[](3);
        (c[0], c[1], c[2]) = (1, 2, 3);
        bytes32 expected = 0xc0965444899618f7cde241e100e52175ff5e9cdac247164208958674d3d972cf;
        vm.etch(address(0xbEEF), address(market).code);
        vm.chainId(31337);
        assertEq(JobMarket(address(0xbEEF)).orderDigest(o, c), expected, "contract == eth_account");
        assertEq(_digestFor(o, c, 31337, address(0xbEEF)), expected, "test helper == eth_account");
    }

    /// The auction's price is a function of the fill time on signedAt's clock, whenever the order was signed.
    function testFuzz_AuctionOrderLocksPriceAtFillTime(uint256 age, uint256 wait) public {
        uint32 delay = 120;
        uint32 ramp = 1800;
        age = bound(age, 0, 1 days); // how long before "now" the consumer signed
        vm.warp(block.timestamp + 1 days);
        IJobMarket.Order memory o = _auctionOrder(1, 10 ether, 100 ether, delay, ramp);
        o.signedAt = uint40(block.timestamp - age);
        o.deadline = uint40(block.timestamp + 2 hours);
        wait = bound(wait, 0, 2 hours - 1);
        vm.warp(block.timestamp + wait);
        uint256 start = uint256(o.signedAt) + delay;
        uint256 expected = block.timestamp <= start
            ? 10 ether
            : block.timestamp >= start + ramp ? 100 ether : 10 ether + 90 ether * (block.timestamp - start) / ramp;
        uint256 jobId = _fillGood(o);
        assertEq(market.getJob(jobId).price, expected, "the price of the fill time");
        assertEq(market.claimable(signer), 100 ether - expected, "the rest credited back");
        assertEq(token.balanceOf(signer), FUNDS - 100 ether, "the maximum escrowed");
        _assertSolvent();
    }

    /// consumer + market + provider (+ model owner, treasury, staking, rewards pool) hold the same NGX before the
    /// fill and after the fill, the settlement and every withdrawal; the market always holds exactly what it owes.
    function testFuzz_OrderConservesTokensAcrossFillAndSettle(uint96 low, uint96 high, uint256 wait) public {
        low = uint96(bound(low, 0.1 ether, 500 ether));
        high = uint96(bound(high, uint256(low) + 1, 900 ether));
        wait = bound(wait, 0, 30 minutes);
        IJobMarket.Order memory o = _auctionOrder(1, low, high, 60, 600);
        address[7] memory holders =
            [signer, address(market), provider, modelOwner, treasury, address(staking), address(rewards)];
        uint256 total = _sum(holders);

        vm.warp(block.timestamp + wait);
        uint256 jobId = _fillGood(o);
        uint256 price = market.getJob(jobId).price;
        assertEq(_sum(holders), total, "conserved across the fill");
        assertEq(token.balanceOf(address(market)), high, "the maximum escrowed");
        assertEq(market.claimable(signer), high - price, "refund credited");
        _assertSolvent();

        _submit(jobId);
        assertEq(_sum(holders), total, "conserved across the settlement");
        uint256 credits = market.claimable(signer) + market.claimable(provider) + market.claimable(modelOwner)
            + market.claimable(treasury);
        assertEq(credits, high, "every escrowed token credited to someone");
        assertEq(market.claimable(provider) + market.claimable(modelOwner) + market.claimable(treasury), price);
        _assertSolvent();

        for (uint256 i; i < 5; ++i) {
            // skip the market and the treasury (its fee stays credited); the provider's withdraw also draws its reward
            if (i == 1 || i == 4 || market.claimable(holders[i]) == 0) continue;
            vm.prank(holders[i]);
            market.withdraw();
        }
        assertEq(_sum(holders), total, "conserved after withdrawing everything");
        assertEq(token.balanceOf(address(market)), market.claimable(treasury), "only the treasury's fee left");
        _assertSolvent();
    }

    function _sum(address[7] memory holders) internal view returns (uint256 s) {
        for (uint256 i; i < holders.length; ++i) {
            s += token.balanceOf(holders[i]);
        }
    }

    // ------------------------------------------------------------ attacks: signatures

    function test_RevertWhen_OrderSignedBySomeoneElse() public {
        IJobMarket.Order memory o = _order(1); // names the signer as consumer ...
        bytes memory sig = _signDigest(ATTACKER_KEY, _digest(o)); // ... but the attacker signs it
        _assertFillReverts(provider, o, _commitments(), sig, _badSignature());
        o.consumer = vm.addr(ATTACKER_KEY); // naming the attacker as consumer changes the digest as well
        _assertFillReverts(provider, o, _commitments(), sig, _badSignature());
    }

    function test_RevertWhen_OrderSignatureForged() public {
        IJobMarket.Order memory o = _order(1);
        bytes memory good = _sign(o);
        // random bytes of the right length
        _assertFillReverts(
            provider, o, _commitments(), abi.encodePacked(keccak256("r"), keccak256("s"), uint8(27)), _badSignature()
        );
        // wrong lengths: empty, 64 bytes (EIP-2098 short form), 66 bytes
        _assertFillReverts(provider, o, _commitments(), "", _badSignature());
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(SIGNER_KEY, _digest(o));
        bytes32 vs = bytes32(uint256(s) | (uint256(v - 27) << 255));
        _assertFillReverts(provider, o, _commitments(), abi.encodePacked(r, vs), _badSignature());
        _assertFillReverts(provider, o, _commitments(), bytes.concat(good, hex"00"), _badSignature());
        // v other than 27 / 28
        _assertFillReverts(provider, o, _commitments(), abi.encodePacked(r, s, v - 27), _badSignature());
        // the zero signature recovers nobody; an order "signed" by the zero address does not fill
        o.consumer = address(0);
        _assertFillReverts(provider, o, _commitments(), new bytes(65), _badSignature());
    }

    function test_RevertWhen_OrderSignedForAnotherChain() public {
        IJobMarket.Order memory o = _order(1);
        bytes memory otherChain =
            _signDigest(SIGNER_KEY, _digestFor(o, _commitments(), block.chainid + 1, address(market)));
        _assertFillReverts(provider, o, _commitments(), otherChain, _badSignature());
        // A valid signature on this chain does not fill on a fork with another chain id.
        bytes memory here = _sign(o);
        vm.chainId(block.chainid + 1);
        _assertFillReverts(provider, o, _commitments(), here, _badSignature());
    }

    function test_RevertWhen_OrderSignedForAnotherMarket() public {
        JobMarket other = new JobMarket(payToken, config, registry, staking, reputation, rewards, address(module));
        IJobMarket.Order memory o = _order(1);
        bytes32 otherDigest = _digestFor(o, _commitments(), block.chainid, address(other));
        assertEq(other.orderDigest(o, _commitments()), otherDigest, "the other market's digest");
        _assertFillReverts(provider, o, _commitments(), _signDigest(SIGNER_KEY, otherDigest), _badSignature());
    }

    function test_RevertWhen_MalleableHighSCopyOfAValidSignature() public {
        IJobMarket.Order memory o = _order(1);
        bytes32 digest = _digest(o);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(SIGNER_KEY, digest);
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        uint8 flippedV = v == 27 ? 28 : 27;
        assertTrue(ecrecover(digest, flippedV, r, highS) == signer, "ecrecover alone accepts the twin");
        _assertFillReverts(provider, o, _commitments(), abi.encodePacked(r, highS, flippedV), _badSignature());
        _fill(provider, o, abi.encodePacked(r, s, v), _permitOf(SIGNER_KEY, PRICE)); // the original fills
    }

    // ------------------------------------------------------------ attacks: replay, time, provider

    function test_RevertWhen_OrderReplayed() public {
        IJobMarket.Order memory o = _order(1);
        bytes memory sig = _sign(o);
        _fill(provider, o, sig, _permitOf(SIGNER_KEY, PRICE));
        vm.prank(signer);
        token.approve(address(market), type(uint256).max); // even with funds and allowance to spare
        _registerAndStake(provider2, STAKE);
        _assertFillReverts(
            provider,
            o,
            _commitments(),
            sig,
            abi.encodeWithSelector(IJobMarket.JobMarket__OrderNonceUsed.selector, signer, 1)
        );
        _assertFillReverts(
            provider2,
            o,
            _commitments(),
            sig,
            abi.encodeWithSelector(IJobMarket.JobMarket__OrderNonceUsed.selector, signer, 1)
        );
    }

    function test_RevertWhen_OrderCancelled() public {
        IJobMarket.Order memory o = _order(7);
        bytes memory sig = _sign(o);
        vm.expectEmit(true, true, false, true, address(market));
        emit IJobMarket.OrderCancelled(signer, 7);
        vm.prank(signer);
        market.cancelOrder(7);
        assertTrue(market.orderNonceUsed(signer, 7));
        _assertFillReverts(
            provider,
            o,
            _commitments(),
            sig,
            abi.encodeWithSelector(IJobMarket.JobMarket__OrderNonceUsed.selector, signer, 7)
        );
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__OrderNonceUsed.selector, signer, 7));
        market.cancelOrder(7); // a nonce burns once
    }

    function test_CancelOrderOfAFilledNonceReverts() public {
        IJobMarket.Order memory o = _order(3);
        _fillGood(o);
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket__OrderNonceUsed.selector, signer, 3));
        market.cancelOrder(3);
    }

    function test_OthersCannotCancelTheSignersOrder() public {
        IJobMarket.Order memory o = _order(7);
        vm.prank(stranger);
        market.cancelOrder(7); // burns the stranger's own nonce 7 only
        vm.prank(provider);
        market.cancelOrder(7);
        assertFalse(market.orderNonceUsed(signer, 7));
        _fillGood(o);
        assertTrue(market.orderNonceUsed(signer, 7));
    }

    function test_CancelOrderWorksWhilePausedFillDoesNot() public {
        IJobMarket.Order memory o = _order(1);
        bytes memory sig = _sign(o);
        vm.prank(guardian);
        market.pause();
        _assertFillReverts(provider, o, _commitments(), sig, abi.encodeWithSignature("EnforcedPause()"));
        vm.prank(signer);
        market.cancelOrder(1);
        vm.prank(guardian);
        market.unpause();
        _assertFillReverts(
            provider,
            o,
            _commitments(),
            sig,
            abi.encodeWithSelector(IJobMarket.JobMarket__OrderNonceUsed.selector, signer, 1)
        );
    }

    function test_RevertWhen_OrderExpired() public {
        IJobMarket.Order memory o = _order(1);
        bytes memory sig = _sign(o);
        vm.warp(o.deadline); // the deadline is the first second at which the order is over
        _assertFillReverts(
            provider,
            o,
            _commitments(),
            sig,
            abi.encodeWithSelector(IJobMarket.JobMarket__OrderExpired.selector, o.deadline)
        );
        vm.warp(o.deadline - 1);
        _fill(provider, o, sig, _permitOf(SIGNER_KEY, PRICE)); // one second earlier it fills
    }

    function test_RevertWhen_OrderSignedAtInTheFuture() public {
        IJobMarket.Order memory o = _order(1);
        o.signedAt = uint40(block.timestamp + 1);
        bytes memory sig = _sign(o);
        _assertFillReverts(
            provider,
            o,
            _commitments(),
            sig,
            abi.encodeWithSelector(IJobMarket.JobMarket__OrderNotYetValid.selector, o.signedAt)
        );
        vm.warp(o.signedAt);
        _fill(provider, o, sig, _permitOf(SIGNER_KEY, PRICE));
    }

    function test_RevertWhen_FillerIsNotTheNamedProvider() public {
        _registerAndStake(provider2, STAKE);
        IJobMarket.Order memory o = _order(1);
        o.provider = provider2;
        bytes memory sig = _sign(o);
        _assertFillReverts(
            provider,
            o,
            _commitments(),
            sig,
            abi.encodeWithSelector(IJobMarket.JobMarket__OrderForAnotherProvider.selector, provider2)
        );
        // Naming itself instead breaks the signature.
        o.provider = provider;
        _assertFillReverts(provider, o, _commitments(), sig, _badSignature());
    }

    function test_RevertWhen_FillerNotEligible() public {
        IJobMarket.Order memory o = _order(1);
        bytes memory sig = _sign(o);
        uint256 next = market.jobCount() + 1;
        _assertFillReverts(
            stranger,
            o,
            _commitments(),
            sig,
            abi.encodeWithSelector(IJobMarket.JobMarket__ProviderNotRegistered.selector, stranger)
        );
        o.terms.minReputation = 90; // above a new provider's NRS 40
        sig = _sign(o);
        _assertFillReverts(
            provider,
            o,
            _commitments(),
            sig,
            abi.encodeWithSelector(IJobMarket.JobMarket__ReputationTooLow.selector, provider, 40, 90)
        );
        assertEq(market.jobCount(), next - 1);
    }

    function test_RevertWhen_ConsumerFillsItsOwnOrder() public {
        vm.prank(treasury);
        token.transfer(signer, STAKE);
        vm.prank(signer);
        token.approve(address(staking), type(uint256).max);
        _registerAndStake(signer, STAKE); // even as a registered provider
        IJobMarket.Order memory o = _order(1);
        _assertFillReverts(
            signer,
            o,
            _commitments(),
            _sign(o),
            abi.encodeWithSelector(IJobMarket.JobMarket__ConsumerCannotClaim.selector, market.jobCount() + 1)
        );
        assertFalse(market.orderNonceUsed(signer, 1));
    }

    function test_RevertWhen_OrderDelivererIsTheConsumer() public {
        IJobMarket.Order memory o = _order(1);
        o.terms.deliverer = signer;
        _assertFillReverts(
            provider,
            o,
            _commitments(),
            _sign(o),
            abi.encodeWithSelector(IJobMarket.JobMarket__InvalidDeliverer.selector, signer)
        );
    }

    // ------------------------------------------------------------ attacks: tampering

    /// Each field changed after signing, with the original signature: the digest changes, the fill reverts.
    function test_RevertWhen_OrderFieldTampered() public {
        _registerAndStake(provider2, STAKE);
        IJobMarket.Order memory good = _order(1);
        good.provider = provider;
        good.deadline = uint40(block.timestamp + 10 minutes);
        bytes memory sig = _sign(good);
        vm.prank(signer);
        token.approve(address(market), type(uint256).max); // funds and allowance are not what stops these
        for (uint256 i; i < 12; ++i) {
            IJobMarket.Order memory o = _order(1);
            (o.provider, o.deadline) = (good.provider, good.deadline);
            address filler = provider;
            if (i == 0) (o.terms.minPrice, o.terms.maxPrice) = (uint96(PRICE / 2), uint96(PRICE / 2)); // cheaper
            if (i == 1) (o.terms.minPrice, o.terms.maxPrice) = (uint96(PRICE * 2), uint96(PRICE * 2)); // more escrow
            if (i == 2) o.terms.modelId = reusableModel; // another model
            if (i == 3) (o.provider, filler) = (provider2, provider2); // another provider
            if (i == 4) o.provider = address(0); // opened to any provider
            if (i == 5) o.deadline = uint40(block.timestamp + 30 days); // a longer life
            if (i == 6) o.nonce = 2; // another nonce (a second fill of the same order)
            if (i == 7) o.signedAt = uint40(block.timestamp - 1 hours); // an earlier clock for an auction
            if (i == 8) o.terms.proveWindow = PROVE_WINDOW + 1 hours; // more time to prove
            if (i == 9) o.terms.deliverer = stranger; // a deliverer the consumer never named
            if (i == 10) o.terms.callbackGasLimit = 1; // a callback
            if (i == 11) o.consumer = consumer; // another payer (who approved the market for everything)
            _assertFillReverts(filler, o, _commitments(), sig, _badSignature());
        }
        // other commitments
        uint256[] memory c = _commitments();
        c[0] = c[0] + 1;
        _assertFillReverts(provider, good, c, sig, _badSignature());
        _fill(provider, good, sig, _noPermit()); // the untouched order still fills
    }

    /// A signed uint96 field sent with dirty high bits (the same low bits the consumer signed) does not fill.
    function test_RevertWhen_OrderCalldataHasDirtyBits() public {
        IJobMarket.Order memory o = _order(1);
        bytes memory sig = _sign(o);
        vm.prank(signer);
        token.approve(address(market), type(uint256).max);
        bytes memory data = abi.encodeCall(IJobMarket.fillOrder, (o, _commitments(), sig, _noPermit()));
        // selector, then the order's 15 words in place: consumer, modelId, minPrice, maxPrice, ...
        uint256 maxPriceWord = 4 + 3 * 32;
        data[maxPriceWord] = 0x01; // the top byte of the uint96 maxPrice word
        Snapshot memory before = _snapshot();
        vm.prank(provider);
        (bool ok,) = address(market).call(data);
        assertFalse(ok);
        _assertNothingMoved(before);
        uint256 signedAtWord = 4 + 13 * 32;
        data[maxPriceWord] = 0x00;
        data[signedAtWord] = 0x01;
        vm.prank(provider);
        (ok,) = address(market).call(data);
        assertFalse(ok);
        _assertNothingMoved(before);
        data[signedAtWord] = 0x00;
        vm.prank(provider);
        (ok,) = address(market).call(data);
        assertTrue(ok, "the clean calldata fills");
    }

    // ------------------------------------------------------------ attacks: funds

    function test_FillOrderSurvivesAFrontRunPermit() public {
        IJobMarket.Order memory o = _order(1);
        bytes memory sig = _sign(o);
        IJobMarket.Permit memory p = _permitOf(SIGNER_KEY, PRICE);
        // A front-runner copies the permit from the mempool and submits it first.
        vm.prank(stranger);
        token.permit(signer, address(market), PRICE, p.deadline, p.v, p.r, p.s);
        assertEq(token.allowance(signer, address(market)), PRICE);
        uint256 jobId = _fill(provider, o, sig, p); // the permit fails inside, the allowance is used
        assertEq(market.getJob(jobId).consumer, signer);
        assertEq(token.balanceOf(signer), FUNDS - PRICE);
        assertEq(token.allowance(signer, address(market)), 0);
    }

    /// One standing permit carried by several unfilled orders pays for all of them, whichever fills first: the first
    /// fill runs it (setting the allowance to its value), the others find the allowance enough and skip it.
    function test_StandingPermitCoversConcurrentOrdersInAnyOrder() public {
        IJobMarket.Permit memory p = _permitOf(SIGNER_KEY, 3 * PRICE);
        IJobMarket.Order memory a = _order(1);
        IJobMarket.Order memory b = _order(2);
        IJobMarket.Order memory c = _order(3);
        (bytes memory sigA, bytes memory sigB, bytes memory sigC) = (_sign(a), _sign(b), _sign(c));
        _fill(provider, b, sigB, p);
        assertEq(token.allowance(signer, address(market)), 2 * PRICE);
        _fill(provider, c, sigC, p); // the permit's nonce is spent: the allowance pays
        _fill(provider, a, sigA, p);
        assertEq(token.balanceOf(signer), FUNDS - 3 * PRICE);
        assertEq(token.allowance(signer, address(market)), 0);
    }

    function test_RevertWhen_NoPermitAndNoAllowance() public {
        IJobMarket.Order memory o = _order(1);
        bytes memory sig = _sign(o);
        bytes memory insufficient =
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(market), 0, PRICE);
        Snapshot memory before = _snapshot();
        vm.prank(provider);
        vm.expectRevert(insufficient);
        market.fillOrder(o, _commitments(), sig, _noPermit());
        _assertNothingMoved(before);
        assertFalse(market.orderNonceUsed(signer, 1)); // the nonce is still usable

        // A permit by someone else (or for another value) is ignored and changes nothing either.
        IJobMarket.Permit memory forged = _permitOf(ATTACKER_KEY, PRICE);
        vm.prank(provider);
        vm.expectRevert(insufficient);
        market.fillOrder(o, _commitments(), sig, forged);
        IJobMarket.Permit memory tooSmall = _permitOf(SIGNER_KEY, PRICE - 1);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(market), PRICE - 1, PRICE)
        );
        market.fillOrder(o, _commitments(), sig, tooSmall);
        _assertNothingMoved(before);
    }

    function test_RevertWhen_ConsumerLacksTheFunds() public {
        IJobMarket.Order memory o = _order(1);
        (o.terms.minPrice, o.terms.maxPrice) = (uint96(FUNDS + 1), uint96(FUNDS + 1));
        bytes memory sig = _sign(o);
        Snapshot memory before = _snapshot();
        IJobMarket.Permit memory p = _permitOf(SIGNER_KEY, FUNDS + 1);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, signer, FUNDS, FUNDS + 1)
        );
        market.fillOrder(o, _commitments(), sig, p);
        _assertNothingMoved(before);
    }
}
