// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./utils/Base.sol";
import {Vm} from "./utils/Test.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {IRewardsPool} from "../src/interfaces/IRewardsPool.sol";
import {IReputation} from "../src/interfaces/IReputation.sol";
import {AlwaysTrueVerifierFake} from "./fakes/VerifierFakes.sol";

/// Random sequences by an attacking coalition (consumer C, provider P, model owner O) next to an honest
/// consumer and an honest provider. The coalition may register models on the real EZKL verifier (allow-
/// listed; the fixture proof settles their fixture-commitment jobs) or on an always-true fake (not allow-
/// listed), post, claim, deliver, decline with any reason, submit, expire, cancel, rate, deprecate, withdraw.
/// The honest provider claims only jobs it can prove and proves them at once; the honest consumer posts.
/// Issue #23 adds fresh sybil consumers replaying the public proof on fresh models, deliveries after the input
/// deadline, and one-second guardian pauses (market and model) between any two steps; items 5 and 6 add the
/// coalition provider griefing the honest consumer with InputInvalid declines after it delivered, and sybil
/// consumers laundering a score with self-dealt jobs on the coalition's own (not allow-listed) verifier.
contract CoalitionHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant MAX_MODELS = 12;

    JobMarket internal market;
    ModelRegistry internal registry;
    IERC20 internal token;
    IRewardsPool internal rewards;
    IReputation internal reputation;
    address public immutable c; // coalition consumer
    address public immutable p; // coalition provider
    address public immutable o; // coalition model owner
    address public immutable honestConsumer;
    address public immutable honestProvider;
    address internal realVerifier;
    address internal fakeVerifier;
    IModelRegistry.ModelSpec internal spec;
    bytes internal proof;
    uint256[] internal instances;

    uint256[] public models;
    mapping(uint256 modelId => bool) public isFake;
    mapping(uint256 jobId => uint256) public commitmentOf;
    /// Prices of jobs posted by the honest consumer that settled.
    uint256 public honestSettledPrice;
    /// What the coalition earned (pay, royalty, reward) at the settlement of the honest consumer's jobs:
    /// the only NGX it may end up with beyond its start.
    uint256 public honestEarned;
    uint256 public washSettlements;
    /// Settlements of the fixture statement (real verifier code, fixture commitment) that earned a reward or NRS:
    /// one statement, so at most one, whoever posts it on whichever model id.
    uint256 public rewardedFixtureSettlements;
    /// Deliveries that landed at or after their job's input deadline (must stay zero).
    uint256 public lateDeliveries;
    address internal guardian;
    uint256 internal sybils;
    /// The most the honest consumer's score may have been charged (milli): 1000 per InputMissing decline (the
    /// chain checked it: nothing delivered by the deadline), and per InputInvalid decline (no evidence) what the
    /// decliner's own paid history was worth then, min(1000, weightMilli * 1000 / DECLINER_FULL_WEIGHT).
    uint256 public honestHarmBound;
    /// Sybil consumers whose only settled jobs are self-dealt on the coalition's own verifier.
    address[] public launderers;

    constructor(
        JobMarket market_,
        ModelRegistry registry_,
        address[5] memory actors,
        address realVerifier_,
        IModelRegistry.ModelSpec memory spec_,
        bytes memory proof_,
        uint256[] memory instances_,
        uint256 honestModel,
        address guardian_
    ) {
        (market, registry) = (market_, registry_);
        (IERC20 token_,,,, IReputation reputation_, IRewardsPool rewards_) = market_.wiring();
        (token, rewards, reputation) = (token_, rewards_, reputation_);
        (c, p, o, honestConsumer, honestProvider) = (actors[0], actors[1], actors[2], actors[3], actors[4]);
        realVerifier = realVerifier_;
        fakeVerifier = address(new AlwaysTrueVerifierFake());
        spec = spec_;
        (proof, instances) = (proof_, instances_);
        models.push(honestModel);
        guardian = guardian_;
    }

    // ------------------------------------------------------------ coalition

    function registerModel(bool fake) external {
        if (models.length >= MAX_MODELS) return;
        IModelRegistry.ModelSpec memory s = spec;
        s.verifier = fake ? fakeVerifier : realVerifier;
        s.royaltyBps = 2_000;
        vm.prank(o);
        uint256 id = registry.registerModel(s, "");
        models.push(id);
        isFake[id] = fake;
    }

    function deprecate(uint256 seed) external {
        vm.prank(o);
        try registry.deprecateModel(_model(seed)) {} catch {}
    }

    function postCoalition(uint256 seed, uint96 price) external {
        _post(c, seed, price);
    }

    function claimCoalition(uint256 seed) external {
        vm.prank(p);
        try market.claimJob(_job(seed)) {} catch {}
    }

    function deliver(uint256 seed) external {
        vm.prank(c);
        try market.deliverInput(_job(seed), hex"c0ffee") {} catch {}
    }

    function decline(uint256 seed, uint8 reason) external {
        _declineCharged(_job(seed), IJobMarket.DeclineReason(reason % 3));
    }

    /// Item 5: the coalition provider claims an honest job, the honest consumer delivers its input on chain, and
    /// the provider declines it InputInvalid (free while it has free declines).
    function griefHonest(uint256 seed) external {
        uint256 jobId = _job(seed);
        if (jobId == 0 || market.getJob(jobId).consumer != honestConsumer) return;
        vm.prank(p);
        try market.claimJob(jobId) {}
        catch {
            return;
        }
        vm.prank(honestConsumer);
        market.deliverInput(jobId, hex"c0ffee");
        _declineCharged(jobId, IJobMarket.DeclineReason.InputInvalid);
    }

    /// Item 6: a fresh sybil consumer (funded by the coalition consumer) settles a self-dealt job with the
    /// coalition provider on the coalition's own always-true verifier, which is not allow-listed.
    function launder(uint256 seed, uint96 price) external {
        uint256 modelId;
        for (uint256 i; i < models.length && modelId == 0; ++i) {
            if (isFake[models[i]]) modelId = models[i];
        }
        if (modelId == 0) {
            if (models.length >= MAX_MODELS) return;
            this.registerModel(true);
            modelId = models[models.length - 1];
        }
        address sybil = address(uint160(uint256(keccak256(abi.encode("launderer", ++sybils)))));
        uint256 amount = 0.1 ether + price % 10 ether;
        if (token.balanceOf(c) < amount) return;
        vm.prank(c);
        if (!token.transfer(sybil, amount)) return;
        vm.prank(sybil);
        token.approve(address(market), amount);
        uint256[] memory cs = new uint256[](1);
        cs[0] = 1 + seed % 1_000_000;
        vm.prank(sybil);
        uint256 jobId = market.postJob(modelId, cs, amount, 1 hours, 30 minutes, 0);
        commitmentOf[jobId] = cs[0];
        launderers.push(sybil);
        vm.prank(p);
        try market.claimJob(jobId) {
            _submitAs(p, jobId);
        } catch {}
        vm.prank(sybil);
        try market.withdraw() {} catch {}
        vm.prank(sybil);
        token.transfer(c, token.balanceOf(sybil));
    }

    function launderersCount() external view returns (uint256) {
        return launderers.length;
    }

    /// The coalition provider declines `jobId`; a decline of an honest job raises the bound by what it may weigh.
    function _declineCharged(uint256 jobId, IJobMarket.DeclineReason reason) private {
        uint256 history = reputation.factsOf(p).weightMilli;
        bool honest = jobId != 0 && market.getJob(jobId).consumer == honestConsumer;
        vm.prank(p);
        try market.declineJob(jobId, reason) {
            if (!honest) return;
            if (reason == IJobMarket.DeclineReason.InputMissing) honestHarmBound += 1_000;
            if (reason == IJobMarket.DeclineReason.InputInvalid) {
                honestHarmBound += history >= 10_000 ? 1_000 : history / 10;
            }
        } catch {}
    }

    function submitCoalition(uint256 seed) external {
        _submitAs(p, _job(seed));
    }

    /// A whole self-dealing round on a fresh model of the real verifier: first-time commitment, valid proof,
    /// so the job is rewarded. Wash trading must still not pay.
    function washCycle(uint96 price) external {
        if (models.length >= MAX_MODELS) return;
        this.registerModel(false);
        uint256[] memory cs = new uint256[](1);
        cs[0] = instances[0];
        vm.prank(c);
        uint256 jobId =
            market.postJob(models[models.length - 1], cs, 0.1 ether + price % 200 ether, 1 hours, 30 minutes, 0);
        commitmentOf[jobId] = cs[0];
        vm.prank(p);
        market.claimJob(jobId);
        _submitAs(p, jobId);
        washSettlements += 1;
    }

    /// A fresh sybil consumer (funded by the coalition consumer, so its NGX stays the coalition's) replays the
    /// public fixture proof on a fresh model of the real verifier, settled by the coalition provider.
    function sybilReplay(uint96 price) external {
        if (models.length >= MAX_MODELS) return;
        address sybil = address(uint160(uint256(keccak256(abi.encode("sybil", ++sybils)))));
        uint256 amount = 0.1 ether + price % 200 ether;
        if (token.balanceOf(c) < amount) return;
        vm.prank(c);
        if (!token.transfer(sybil, amount)) return;
        vm.prank(sybil);
        token.approve(address(market), amount);
        this.registerModel(false);
        uint256[] memory cs = new uint256[](1);
        cs[0] = instances[0];
        vm.prank(sybil);
        uint256 jobId = market.postJob(models[models.length - 1], cs, amount, 1 hours, 30 minutes, 0);
        commitmentOf[jobId] = cs[0];
        vm.prank(p);
        try market.claimJob(jobId) {}
        catch {
            return;
        }
        _submitAs(p, jobId);
        vm.prank(sybil);
        try market.withdraw() {} catch {}
        vm.prank(sybil);
        token.transfer(c, token.balanceOf(sybil));
    }

    /// The coalition consumer tries a delivery after the input deadline (to make a free decline costly).
    function deliverLate(uint256 seed, uint32 dt) external {
        uint256 n = market.jobCount();
        uint256 jobId;
        for (uint256 i; i < n && jobId == 0; ++i) {
            uint256 id = 1 + (seed + i) % n;
            IJobMarket.Job memory job = market.getJob(id);
            if (job.consumer == c && job.status == IJobMarket.JobStatus.Claimed) jobId = id;
        }
        if (jobId == 0) {
            _post(c, seed, uint96(seed));
            jobId = market.jobCount();
            vm.prank(p);
            try market.claimJob(jobId) {}
            catch {
                return;
            }
        }
        uint256 deadline = market.inputDeadline(jobId);
        if (block.timestamp < deadline) vm.warp(deadline + dt % 10 minutes);
        vm.prank(c);
        try market.deliverInput(jobId, hex"6a756e6b") {
            lateDeliveries += 1;
        } catch {}
    }

    /// A one-second guardian pause of the market or of a model.
    function pauseBlip(uint256 seed, bool wholeMarket) external {
        vm.startPrank(guardian);
        if (wholeMarket) {
            try market.pause() {
                vm.warp(block.timestamp + 1);
                market.unpause();
            } catch {}
        } else {
            uint256 modelId = _model(seed);
            try registry.pauseModel(modelId) {
                vm.warp(block.timestamp + 1);
                registry.unpauseModel(modelId);
            } catch {}
        }
        vm.stopPrank();
    }

    function rate(uint256 seed, uint8 rating) external {
        vm.prank(c);
        try market.rateJob(_job(seed), uint8(1 + rating % 5)) {} catch {}
    }

    function cancel(uint256 seed, bool honest) external {
        vm.prank(honest ? honestConsumer : c);
        try market.cancelJob(_job(seed)) {} catch {}
    }

    function expire(uint256 seed, uint32 dt) external {
        vm.warp(block.timestamp + dt % 2 hours);
        try market.expireJob(_job(seed)) {} catch {}
    }

    function withdraw(uint256 who) external {
        address[5] memory all = [c, p, o, honestConsumer, honestProvider];
        vm.prank(all[who % 5]);
        try market.withdraw() {} catch {}
    }

    // ------------------------------------------------------------ honest parties

    function postHonest(uint256 seed, uint96 price) external {
        _post(honestConsumer, seed, price);
    }

    /// The honest provider claims only a job it can prove, and proves it right away.
    function claimAndProveHonest(uint256 seed) external {
        uint256 jobId = _job(seed);
        if (jobId == 0) return;
        IJobMarket.Job memory job = market.getJob(jobId);
        if (!isFake[job.modelId] && commitmentOf[jobId] != instances[0]) return;
        vm.prank(honestProvider);
        try market.claimJob(jobId) {}
        catch {
            return;
        }
        _submitAs(honestProvider, jobId);
    }

    // ------------------------------------------------------------ internals

    function _submitAs(address who, uint256 jobId) private {
        IJobMarket.Job memory job = market.getJob(jobId);
        uint256 before = _coalitionLiquid();
        vm.prank(who);
        try market.submitResult(jobId, proof, _instancesFor(jobId)) {
            bool fixture = !isFake[job.modelId] && commitmentOf[jobId] == instances[0];
            if (fixture && market.getJob(jobId).flags & 1 == 0) rewardedFixtureSettlements += 1;
            if (job.consumer == honestConsumer) {
                honestSettledPrice += job.price;
                honestEarned += _coalitionLiquid() - before;
            }
        } catch {}
    }

    /// Wallets, market credits and owed rewards of the coalition (what a settlement can change).
    function _coalitionLiquid() private view returns (uint256) {
        return token.balanceOf(c) + token.balanceOf(p) + token.balanceOf(o) + market.claimable(c) + market.claimable(p)
            + market.claimable(o) + rewards.owedTo(c) + rewards.owedTo(p) + rewards.owedTo(o);
    }

    function _post(address who, uint256 seed, uint96 price) private {
        uint256 modelId = _model(seed);
        // Mostly the fixture commitment (provable on the real verifier); sometimes a fresh one.
        uint256 commitment = seed % 3 == 0 ? 1 + (seed >> 8) % 1_000_000 : instances[0];
        uint256[] memory cs = new uint256[](1);
        cs[0] = commitment;
        vm.prank(who);
        try market.postJob(modelId, cs, 0.1 ether + price % 200 ether, 1 hours, 30 minutes, 0) returns (uint256 id) {
            commitmentOf[id] = commitment;
        } catch {}
    }

    function _instancesFor(uint256 jobId) private view returns (uint256[] memory inst) {
        inst = instances;
        inst[0] = commitmentOf[jobId];
    }

    function _model(uint256 seed) private view returns (uint256) {
        return models[seed % models.length];
    }

    function _job(uint256 seed) private view returns (uint256) {
        uint256 n = market.jobCount();
        return n == 0 ? 0 : 1 + seed % n;
    }

    function modelCount() external view returns (uint256) {
        return models.length;
    }
}

contract CoalitionInvariantsTest is Base {
    CoalitionHandler internal handler;
    address internal coalitionConsumer = makeAddr("coalitionConsumer");
    address internal coalitionProvider = makeAddr("coalitionProvider");
    address internal coalitionOwner = makeAddr("coalitionOwner");
    uint256 internal coalitionStart;
    uint256 internal honestProviderStart;
    uint256 internal honestConsumerStart;

    function setUp() public override {
        super.setUp();
        _fund(coalitionConsumer, 20_000 ether);
        _fund(coalitionProvider, 20_000 ether);
        _registerAndStake(coalitionProvider, 10_000 ether);
        _fund(provider2, 90_000 ether);
        _registerAndStake(provider2, 100_000 ether);
        handler = new CoalitionHandler(
            market,
            registry,
            [coalitionConsumer, coalitionProvider, coalitionOwner, consumer, provider2],
            address(dedicatedVerifier),
            _spec(address(dedicatedVerifier), IModelRegistry.VerifierKind.Dedicated),
            proof,
            instances,
            dedicatedModel,
            guardian
        );
        coalitionStart = _coalitionValue();
        honestProviderStart = _value(provider2);
        honestConsumerStart = _value(consumer);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function _value(address who) internal view returns (uint256) {
        return token.balanceOf(who) + market.claimable(who) + rewards.owedTo(who) + staking.stakedOf(who)
            + staking.getProvider(who).unbonding + _liveEscrow(who);
    }

    function _liveEscrow(address who) internal view returns (uint256 sum) {
        uint256 n = market.jobCount();
        for (uint256 id = 1; id <= n; ++id) {
            IJobMarket.Job memory job = market.getJob(id);
            if (job.consumer != who) continue;
            if (job.status == IJobMarket.JobStatus.Open || job.status == IJobMarket.JobStatus.Claimed) {
                sum += job.price;
            }
        }
    }

    function _coalitionValue() internal view returns (uint256) {
        return _value(coalitionConsumer) + _value(coalitionProvider) + _value(coalitionOwner);
    }

    /// The coalition never ends with more NGX than it started with plus what it earned settling the honest
    /// consumer's jobs (pay, royalty, reward); and even that is less than those jobs' prices.
    function invariant_CoalitionGainsNothingUnearned() public view {
        assertLe(_coalitionValue(), coalitionStart + handler.honestEarned(), "coalition profit");
        assertLe(handler.honestEarned(), handler.honestSettledPrice(), "earned more than the honest jobs paid");
    }

    /// The honest provider never loses NGX (no slash, no costly decline forced on it).
    function invariant_HonestProviderLosesNothing() public view {
        assertLe(honestProviderStart, _value(provider2), "honest provider lost NGX");
    }

    /// The honest consumer only ever pays for jobs that settled with a proof.
    function invariant_HonestConsumerPaysOnlyForResults() public view {
        assertEq(_value(consumer) + handler.honestSettledPrice(), honestConsumerStart, "honest consumer");
    }

    /// One statement earns once: the public fixture proof, replayed by sybils on fresh model ids, earns nothing
    /// after its first settlement (issue #23, item 3), and posting it first marks nothing (item 7).
    function invariant_OneStatementEarnsOnce() public view {
        assertLe(handler.rewardedFixtureSettlements(), 1, "a replayed statement earned");
    }

    /// A delivery never lands at or after its job's input deadline (issue #23, item 4).
    function invariant_NoLateDelivery() public view {
        assertEq(handler.lateDeliveries(), 0, "late delivery accepted");
    }

    /// Items 5 and 6: a decline without evidence the chain checks weighs on the honest consumer only as much as
    /// the decliner's own paid history; the coalition's free declines alone move no score.
    function invariant_EvidenceFreeDeclinesWeighByHistory() public view {
        assertLe(reputation.consumerFactsOf(consumer).harmMilli, handler.honestHarmBound(), "uncharged harm");
    }

    /// Item 6: self-dealt jobs on one's own verifier settle and show in the facts, but buy no score.
    function invariant_UnrewardedJobsBuyNoScore() public view {
        uint256 n = handler.launderersCount();
        for (uint256 i; i < n; ++i) {
            assertEq(reputation.consumerFactsOf(handler.launderers(i)).settledWeightMilli, 0, "laundered score");
        }
    }

    function invariant_MarketSolvent() public view {
        assertEq(IERC20(address(token)).balanceOf(address(market)), market.totalLiabilities(), "solvent");
    }
}
