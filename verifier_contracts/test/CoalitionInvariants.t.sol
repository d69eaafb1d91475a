// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {JobWords} from "./utils/JobWords.sol";
import {Base} from "./utils/Base.sol";
import {Vm} from "./utils/Test.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IJobSettlement} from "../src/interfaces/IJobSettlement.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {IRewardsPool} from "../src/interfaces/IRewardsPool.sol";
import {IProviderStaking} from "../src/interfaces/IProviderStaking.sol";
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
/// consumers laundering a score with self-dealt jobs on the coalition's own (not allow-listed) verifier; item 1
/// adds sybil consumers delivering junk to the honest provider (which declines it InputInvalid, as its worker does)
/// and prices the coalition provider's declines of honest jobs (the input rule: a costly input decline cuts the
/// consumer's refund by the slash, burned).
/// Issue #23, item 7: every settlement of the fixture statement (either handler, in order). The statement earns once,
/// at its highest price: a settlement is rewarded exactly when its price is above every earlier rewarded one's, and
/// then earns only the fee of the difference, so all its rewards add up to what its highest price earns.
contract FixtureCredits {
    uint256 public credited; // the highest price rewarded so far
    uint256 public rewarded;
    uint256 public mismatches; // rewarded at a price not above the credit, or unrewarded above it (must stay 0)

    function note(uint256 price, bool wasRewarded) external {
        if (wasRewarded != (price > credited)) mismatches += 1;
        if (wasRewarded) (credited, rewarded) = (price > credited ? price : credited, rewarded + 1);
    }
}

contract CoalitionHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant MAX_MODELS = 12;

    JobMarket internal market;
    ModelRegistry internal registry;
    IERC20 internal token;
    IRewardsPool internal rewards;
    IReputation internal reputation;
    IProviderStaking internal staking;
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
    /// Settlements of the fixture statement (real verifier code, fixture commitment), whoever posts it on whichever
    /// model id: one statement, so it earns once, at its highest price.
    FixtureCredits public fixtureCredits;
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
    /// Item 1: what the input rule cut from the honest consumer's refunds, and what the coalition provider was
    /// slashed in those declines.
    uint256 public honestCut;
    uint256 public slashOnHonest;
    /// Item 1: what the honest provider was slashed declining junk, and what the junk griefers lost doing it.
    uint256 public junkSlashed;
    uint256 public junkCut;
    /// Orders filled by `fillOrderBatch` (issue #24).
    uint256 public ordersFilled;

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
        (IERC20 token_,,, IProviderStaking staking_, IReputation reputation_, IRewardsPool rewards_) = market_.wiring();
        (token, rewards, reputation, staking) = (token_, rewards_, reputation_, staking_);
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

    /// Item 1: a fresh sybil consumer (funded by the coalition consumer) posts a job of the fixture statement, the
    /// honest provider claims it, the sybil delivers junk on chain and the honest provider declines InputInvalid.
    function junkHonest(uint96 price) external {
        address sybil = address(uint160(uint256(keccak256(abi.encode("junk", ++sybils)))));
        uint256 amount = 0.1 ether + price % 200 ether;
        if (token.balanceOf(c) < amount) return;
        vm.prank(c);
        if (!token.transfer(sybil, amount)) return;
        vm.prank(sybil);
        token.approve(address(market), amount);
        uint256[] memory cs = new uint256[](1);
        cs[0] = instances[0];
        vm.prank(sybil);
        uint256 jobId = market.postJob(models[0], cs, amount, 1 hours, 30 minutes, 0);
        commitmentOf[jobId] = cs[0];
        vm.prank(honestProvider);
        try market.claimJob(jobId) {
            vm.prank(sybil);
            market.deliverInput(jobId, hex"6a756e6b");
            uint256 staked = staking.stakedOf(honestProvider);
            vm.prank(honestProvider);
            market.declineJob(jobId, IJobMarket.DeclineReason.InputInvalid);
            junkSlashed += staked - staking.stakedOf(honestProvider);
            junkCut += amount - market.claimable(sybil);
        } catch {
            vm.prank(sybil);
            market.cancelJob(jobId);
        }
        vm.prank(sybil);
        try market.withdraw() {} catch {}
        uint256 left = token.balanceOf(sybil);
        vm.prank(sybil);
        token.transfer(c, left);
    }

    /// Set once by the test's setUp (the fuzzer's calls revert).
    function useFixtureCredits(FixtureCredits ledger) external {
        require(address(fixtureCredits) == address(0), "set once");
        fixtureCredits = ledger;
    }

    function launderersCount() external view returns (uint256) {
        return launderers.length;
    }

    /// The coalition provider declines `jobId`; a decline of an honest job raises the bound by what it may weigh,
    /// and records what the input rule cut from the honest consumer and what the decline cost the provider.
    function _declineCharged(uint256 jobId, IJobMarket.DeclineReason reason) private {
        uint256 history = reputation.factsOf(p).weightMilli;
        bool honest = jobId != 0 && market.getJob(jobId).consumer == honestConsumer;
        (uint256 price, uint256 credit, uint256 staked) =
            (market.getJob(jobId).price, market.claimable(honestConsumer), staking.stakedOf(p));
        vm.prank(p);
        try market.declineJob(jobId, reason) {
            if (!honest) return;
            honestCut += price - (market.claimable(honestConsumer) - credit);
            slashOnHonest += staked - staking.stakedOf(p);
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
        if (job.flags & 32 != 0) return; // optimistic: OptimisticHandler settles those
        if (!isFake[job.modelId] && commitmentOf[jobId] != instances[0]) return;
        vm.prank(honestProvider);
        try market.claimJob(jobId) {}
        catch {
            return;
        }
        _submitAs(honestProvider, jobId);
    }

    // ------------------------------------------------------------ gasless orders in batches (issue #24)

    /// One to three signed orders of the coalition's and the honest consumer's, filled in one `fillOrders` by the
    /// coalition provider, or by the honest one (only orders it can prove, proved at once); sometimes the coalition
    /// consumer front-runs the batch by cancelling its first order (skipped, never the batch).
    function fillOrderBatch(uint256 seed, uint96 price, bool honestFiller) external {
        uint256 n = 1 + seed % 3;
        IJobMarket.Order[] memory orders = new IJobMarket.Order[](n);
        uint256[][] memory cs = new uint256[][](n);
        bytes[] memory sigs = new bytes[](n);
        for (uint256 i; i < n; ++i) {
            (orders[i], cs[i], sigs[i]) = _signedOrder(uint256(keccak256(abi.encode(seed, i))), price, honestFiller);
        }
        if (seed % 5 == 0 && orders[0].consumer == c) {
            vm.prank(c);
            market.cancelOrder(orders[0].nonce);
        }
        address filler = honestFiller ? honestProvider : p;
        vm.prank(filler);
        try market.fillOrders(orders, cs, sigs, new IJobMarket.Permit[](n)) returns (uint256[] memory ids) {
            for (uint256 i; i < n; ++i) {
                if (ids[i] == 0) continue;
                ++ordersFilled;
                commitmentOf[ids[i]] = cs[i][0];
                if (honestFiller) _submitAs(honestProvider, ids[i]);
            }
        } catch {}
    }

    function _signedOrder(uint256 s, uint96 price, bool provable)
        private
        view
        returns (IJobMarket.Order memory order, uint256[] memory cs, bytes memory sig)
    {
        uint256 key = uint256(keccak256(bytes(s % 2 == 0 ? "consumer" : "coalitionConsumer")));
        uint256 modelId = _model(s >> 16);
        cs = new uint256[](1);
        // Mostly the fixture commitment; a fresh one only where nobody needs to prove it.
        cs[0] = s % 3 != 0 || (provable && !isFake[modelId]) ? instances[0] : 1 + (s >> 8) % 1_000_000;
        uint96 pay = uint96(0.1 ether + price % 200 ether);
        order = IJobMarket.Order({
            consumer: vm.addr(key),
            terms: IJobMarket.JobTerms({
                modelId: modelId,
                minPrice: pay,
                maxPrice: pay,
                rampDelay: 0,
                rampLength: 0,
                claimWindow: 1 hours,
                proveWindow: 30 minutes,
                minReputation: 0,
                deliverer: address(0),
                callbackGasLimit: 0,
                settlement: 0
            }),
            provider: address(0),
            nonce: s,
            signedAt: uint40(block.timestamp),
            deadline: uint40(block.timestamp + 1 hours)
        });
        (uint8 v, bytes32 r, bytes32 sv) = vm.sign(key, market.orderDigest(order, cs));
        sig = abi.encodePacked(r, sv, v);
    }

    // ------------------------------------------------------------ internals

    function _submitAs(address who, uint256 jobId) private {
        IJobMarket.Job memory job = market.getJob(jobId);
        uint256 before = _coalitionLiquid();
        vm.prank(who);
        try market.submitResult(jobId, proof, _instancesFor(jobId)) {
            bool fixture = !isFake[job.modelId] && commitmentOf[jobId] == instances[0];
            FixtureCredits ledger = fixtureCredits;
            if (fixture) ledger.note(job.price, market.getJob(jobId).flags & 1 == 0);
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

/// Issue #24: the same coalition and honest parties with optimistic jobs on the real verifier's model. The honest
/// provider submits correct results and answers every challenge at once; an honest watcher challenges every wrong
/// result at once (`ngx-zk watch`); the coalition provider submits correct, wrong-output or wrong-proof-hash results,
/// its consumer (as a challenger) may challenge anything first, it answers or not; anyone upholds or finalizes,
/// with time moved past the windows. Batches of the coalition provider hold jobs of one consumer class only, so
/// what a finalization earns the coalition is attributable.
contract OptimisticHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint8 internal constant CORRECT = 0;
    uint8 internal constant WRONG_OUTPUTS = 1;
    uint8 internal constant WRONG_PROOF = 2;

    JobMarket internal market;
    IJobSettlement internal settlement;
    IERC20 internal token;
    IRewardsPool internal rewards;
    address public immutable c;
    address public immutable p;
    address public immutable o;
    address public immutable honestConsumer;
    address public immutable honestProvider;
    address public immutable watcher;
    uint256 internal modelId;
    bytes internal proof;
    uint256[] internal instances;

    uint256[] public batches;
    mapping(uint256 batchId => uint256[]) internal jobsOf;
    mapping(uint256 jobId => uint8) public kindOf;
    uint256 public honestSettledPrice;
    uint256 public honestEarned;
    FixtureCredits public fixtureCredits;
    uint256 public unansweredHonest; // challenges of the honest provider's results it failed to answer (must be 0)
    /// What the run reached: challenges, answers, upholds and finalized jobs.
    uint256 public challenges;
    uint256 public answers;
    uint256 public upholds;
    uint256 public finalized;

    constructor(
        JobMarket market_,
        address[6] memory actors,
        uint256 modelId_,
        bytes memory proof_,
        uint256[] memory inst
    ) {
        market = market_;
        settlement = IJobSettlement(address(market_));
        (IERC20 token_,,,,, IRewardsPool rewards_) = market_.wiring();
        (token, rewards) = (token_, rewards_);
        (c, p, o, honestConsumer, honestProvider, watcher) =
        (actors[0], actors[1], actors[2], actors[3], actors[4], actors[5]);
        (modelId, proof, instances) = (modelId_, proof_, inst);
    }

    function post(uint96 price, bool honest) external {
        IJobMarket.JobTerms memory t;
        t.modelId = modelId;
        t.minPrice = uint96(0.1 ether + price % 200 ether);
        t.maxPrice = t.minPrice;
        (t.claimWindow, t.proveWindow, t.settlement) = (1 hours, 30 minutes, 1);
        uint256[] memory cs = new uint256[](1);
        cs[0] = instances[0];
        vm.prank(honest ? honestConsumer : c);
        try market.postJobWithTerms(t, cs) {} catch {}
    }

    /// The honest provider claims up to 4 open optimistic jobs and submits their correct results at once.
    function submitHonest(uint256 seed) external {
        uint256[] memory ids = _claimOpen(honestProvider, seed, address(0));
        _submit(honestProvider, ids, 0);
    }

    /// The coalition provider claims up to 4 open optimistic jobs of one consumer class and submits results of
    /// the kinds in `kinds`; its sybil (the coalition consumer) may challenge its wrong ones before the watcher.
    function submitCoalition(uint256 seed, uint256 kinds, bool sybilFirst) external {
        uint256[] memory ids = _claimOpen(p, seed, seed % 2 == 0 ? honestConsumer : c);
        uint256 batchId = _submit(p, ids, kinds);
        if (batchId == 0) return;
        IJobSettlement.Result[] memory rs = _results(batchId);
        for (uint256 i; i < rs.length; ++i) {
            if (kindOf[rs[i].jobId] == CORRECT) continue;
            if (sybilFirst) {
                vm.prank(c);
                try settlement.challenge(batchId, rs, JobWords.read(address(market), rs), i) {
                    challenges += 1;
                } catch {}
            }
            vm.prank(watcher); // the watch: every wrong result is challenged within the window
            try settlement.challenge(batchId, rs, JobWords.read(address(market), rs), i) {
                challenges += 1;
            } catch {}
        }
    }

    /// The coalition consumer challenges any submitted job (a valid one: griefing); the honest provider answers.
    function challengeAny(uint256 seed) external {
        uint256 batchId = _batch(seed);
        if (batchId == 0) return;
        IJobSettlement.Result[] memory rs = _results(batchId);
        uint256 i = (seed >> 8) % rs.length;
        vm.prank(c);
        try settlement.challenge(batchId, rs, JobWords.read(address(market), rs), i) {
            challenges += 1;
        } catch {
            return;
        }
        if (settlement.batchOf(batchId).provider == honestProvider) {
            _answer(honestProvider, rs[i].jobId);
            if (market.getJob(rs[i].jobId).status != IJobMarket.JobStatus.Settled) unansweredHonest += 1;
        }
    }

    /// The coalition provider answers a challenge of one of its correct results (or tries to).
    function answerCoalition(uint256 seed) external {
        uint256 batchId = _batch(seed);
        if (batchId == 0) return;
        uint256[] storage ids = jobsOf[batchId];
        _answer(p, ids[(seed >> 8) % ids.length]);
    }

    function uphold(uint256 seed) external {
        uint256 batchId = _batch(seed);
        if (batchId == 0) return;
        uint256[] storage ids = jobsOf[batchId];
        uint256 jobId = ids[(seed >> 8) % ids.length];
        uint256 deadline = settlement.answerDeadlineOf(jobId);
        if (deadline == 0) return;
        if (block.timestamp < deadline) vm.warp(deadline);
        try settlement.upholdChallenge(jobId) {
            upholds += 1;
        } catch {}
    }

    function finalize(uint256 seed) external {
        uint256 batchId = _batch(seed);
        if (batchId == 0) return;
        IJobSettlement.Batch memory b = settlement.batchOf(batchId);
        if (b.root == 0) return;
        if (block.timestamp < b.challengeDeadline) vm.warp(b.challengeDeadline);
        uint256[] storage ids = jobsOf[batchId];
        bool[] memory was = new bool[](ids.length);
        for (uint256 i; i < ids.length; ++i) {
            was[i] = market.getJob(ids[i]).status == IJobMarket.JobStatus.Submitted;
        }
        uint256 before = _coalitionLiquid();
        try settlement.finalizeBatch(
            batchId, _results(batchId), JobWords.read(address(market), _results(batchId))
        ) returns (
            uint256 settled
        ) {
            finalized += settled;
        } catch {
            return;
        }
        uint256 gained = _coalitionLiquid() - before;
        bool honestJobs;
        for (uint256 i; i < ids.length; ++i) {
            IJobMarket.Job memory job = market.getJob(ids[i]);
            if (!was[i] || job.status != IJobMarket.JobStatus.Settled) continue;
            _settled(ids[i], job);
            honestJobs = honestJobs || job.consumer == honestConsumer;
        }
        if (b.provider == p && honestJobs) honestEarned += gained;
    }

    // ------------------------------------------------------------ internals

    function _answer(address who, uint256 jobId) private {
        IJobMarket.Job memory job = market.getJob(jobId);
        if (job.status != IJobMarket.JobStatus.Challenged || kindOf[jobId] != CORRECT) return;
        IJobSettlement.Challenge memory ch = settlement.challengeOf(jobId);
        uint256 before = _coalitionLiquid();
        vm.prank(who);
        try settlement.answerChallenge(jobId, proof, instances) {
            answers += 1;
            _settled(jobId, job);
            if (who == p && job.consumer == honestConsumer) {
                // the bond moves within the coalition when its own consumer challenged
                uint256 gained = _coalitionLiquid() - before;
                honestEarned += ch.challenger == c ? gained - ch.bond : gained;
            }
        } catch {}
    }

    function _settled(uint256 jobId, IJobMarket.Job memory job) private {
        if (job.consumer == honestConsumer) honestSettledPrice += job.price;
        fixtureCredits.note(job.price, market.getJob(jobId).flags & 1 == 0); // the fixture statement
    }

    /// Set once by the test's setUp (the fuzzer's calls revert).
    function useFixtureCredits(FixtureCredits ledger) external {
        require(address(fixtureCredits) == address(0), "set once");
        fixtureCredits = ledger;
    }

    function _claimOpen(address who, uint256 seed, address only) private returns (uint256[] memory ids) {
        uint256 n = market.jobCount();
        ids = new uint256[](4);
        uint256 k;
        for (uint256 i; i < n && k < 4; ++i) {
            uint256 id = 1 + (seed + i) % n;
            IJobMarket.Job memory job = market.getJob(id);
            if (job.status != IJobMarket.JobStatus.Open || job.flags & 32 == 0 || job.modelId != modelId) continue;
            if (only != address(0) && job.consumer != only) continue;
            vm.prank(who);
            try market.claimJob(id) {
                ids[k++] = id;
            } catch {}
        }
        assembly ("memory-safe") {
            mstore(ids, k)
        }
    }

    function _submit(address who, uint256[] memory ids, uint256 kinds) private returns (uint256 batchId) {
        if (ids.length == 0) return 0;
        for (uint256 i; i < ids.length; ++i) {
            kindOf[ids[i]] = who == honestProvider ? CORRECT : uint8((kinds >> (2 * i)) % 3);
        }
        uint256 next = settlement.batchCount() + 1;
        batches.push(next);
        for (uint256 i; i < ids.length; ++i) {
            jobsOf[next].push(ids[i]);
        }
        vm.prank(who);
        try settlement.submitResults(_results(next)) returns (uint256 id) {
            batchId = id;
        } catch {
            batches.pop();
            delete jobsOf[next];
        }
    }

    function _results(uint256 batchId) private view returns (IJobSettlement.Result[] memory rs) {
        uint256[] storage ids = jobsOf[batchId];
        rs = new IJobSettlement.Result[](ids.length);
        for (uint256 i; i < ids.length; ++i) {
            uint8 kind = kindOf[ids[i]];
            uint256[] memory outputs = new uint256[](instances.length - 1);
            for (uint256 k = 1; k < instances.length; ++k) {
                outputs[k - 1] = kind == WRONG_OUTPUTS ? k : instances[k];
            }
            rs[i] = IJobSettlement.Result({
                jobId: ids[i],
                outputs: outputs,
                proofHash: kind == WRONG_PROOF ? keccak256("a proof it cannot serve") : keccak256(proof)
            });
        }
    }

    function _batch(uint256 seed) private view returns (uint256) {
        return batches.length == 0 ? 0 : batches[seed % batches.length];
    }

    function _coalitionLiquid() private view returns (uint256) {
        return token.balanceOf(c) + token.balanceOf(p) + token.balanceOf(o) + market.claimable(c) + market.claimable(p)
            + market.claimable(o) + rewards.owedTo(c) + rewards.owedTo(p) + rewards.owedTo(o);
    }
}

contract CoalitionInvariantsTest is Base {
    CoalitionHandler internal handler;
    OptimisticHandler internal optimistic;
    address internal watcher = makeAddr("watcher");
    uint256 internal watcherStart;
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
        _fund(watcher, 10_000 ether);
        optimistic = new OptimisticHandler(
            market,
            [coalitionConsumer, coalitionProvider, coalitionOwner, consumer, provider2, watcher],
            dedicatedModel,
            proof,
            instances
        );
        FixtureCredits ledger = new FixtureCredits();
        handler.useFixtureCredits(ledger);
        optimistic.useFixtureCredits(ledger);
        coalitionStart = _coalitionValue();
        watcherStart = _value(watcher);
        honestProviderStart = _value(provider2);
        honestConsumerStart = _value(consumer);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](2);
        (targets[0], targets[1]) = (address(handler), address(optimistic));
    }

    function _honestSettledPrice() internal view returns (uint256) {
        return handler.honestSettledPrice() + optimistic.honestSettledPrice();
    }

    function _honestEarned() internal view returns (uint256) {
        return handler.honestEarned() + optimistic.honestEarned();
    }

    function _value(address who) internal view returns (uint256) {
        return token.balanceOf(who) + market.claimable(who) + rewards.owedTo(who) + staking.stakedOf(who)
            + staking.getProvider(who).unbonding + _liveEscrow(who);
    }

    /// Prices escrowed for `who`'s unfinished jobs (optimistic Submitted and Challenged ones included) and the
    /// bonds of its open challenges.
    function _liveEscrow(address who) internal view returns (uint256 sum) {
        uint256 n = market.jobCount();
        for (uint256 id = 1; id <= n; ++id) {
            IJobMarket.Job memory job = market.getJob(id);
            IJobMarket.JobStatus s = job.status;
            if (s == IJobMarket.JobStatus.Challenged && settlement.challengeOf(id).challenger == who) {
                sum += settlement.challengeOf(id).bond;
            }
            if (job.consumer != who) continue;
            if (
                s == IJobMarket.JobStatus.Open || s == IJobMarket.JobStatus.Claimed
                    || s == IJobMarket.JobStatus.Submitted || s == IJobMarket.JobStatus.Challenged
            ) sum += job.price;
        }
    }

    function _coalitionValue() internal view returns (uint256) {
        return _value(coalitionConsumer) + _value(coalitionProvider) + _value(coalitionOwner);
    }

    /// The coalition never ends with more NGX than it started with plus what it earned settling the honest
    /// consumer's jobs (pay, royalty, reward); and even that is less than those jobs' prices.
    function invariant_CoalitionGainsNothingUnearned() public view {
        assertLe(_coalitionValue(), coalitionStart + _honestEarned(), "coalition profit");
        assertLe(_honestEarned(), _honestSettledPrice(), "earned more than the honest jobs paid");
    }

    /// The honest provider loses NGX only to the costly InputInvalid declines of junk that sybil griefers made it
    /// decline, and each griefer lost at least as much (issue #23, item 1: the input rule burns the slash's worth of
    /// its refund); nothing else is slashed or forced on it.
    function invariant_HonestProviderLosesOnlyWhatGriefersBurn() public view {
        assertLe(honestProviderStart, _value(provider2) + handler.junkSlashed(), "honest provider lost NGX");
        assertLe(handler.junkSlashed(), handler.junkCut(), "a junk griefer paid less than the provider lost");
    }

    /// The honest consumer pays for jobs that settled with a proof, and loses beyond that only the input rule's
    /// cuts of costly input declines of its jobs, each at most what the declining provider lost (issue #23, item 1).
    function invariant_HonestConsumerPaysOnlyForResults() public view {
        uint256 cut = handler.honestCut();
        assertEq(_value(consumer) + _honestSettledPrice() + cut, honestConsumerStart, "honest consumer");
        assertLe(handler.honestCut(), handler.slashOnHonest(), "the input rule cut more than the decliner lost");
    }

    /// One statement earns once, at its highest price: the public fixture proof, replayed by sybils on fresh model
    /// ids, earns nothing unless its price is above every price it was rewarded at before (issue #23, item 3), and
    /// then only the fee of the difference (item 7: a front-runner strips at most the reward its own fee earns;
    /// amounts in TrustIII.t.sol); posting it first marks nothing.
    function invariant_OneStatementEarnsOnce() public view {
        FixtureCredits ledger = handler.fixtureCredits();
        assertEq(ledger.mismatches(), 0, "a replay earned at a price not above the statement's credit");
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

    /// The junk action reaches costly declines (past the honest provider's free allowance), so the item 1 parts of
    /// the invariants are not vacuous.
    function test_JunkHandlerReachesCostlyDeclines() public {
        for (uint256 i; i < 6; ++i) {
            handler.junkHonest(uint96(i * 7 ether));
        }
        assertGt(handler.junkSlashed(), 0, "a costly junk decline");
        invariant_HonestProviderLosesOnlyWhatGriefersBurn();
        invariant_CoalitionGainsNothingUnearned();
    }

    /// Escrowed prices, challenge bonds and credits: the market holds at least what it owes (exactly, here).
    /// The optimistic handler reaches every path (so its invariants are not vacuous): a scripted run.
    function test_OptimisticHandlerReachesEveryPath() public {
        for (uint256 i; i < 6; ++i) {
            optimistic.post(uint96(i * 1 ether), i % 2 == 0);
        }
        optimistic.submitHonest(0); // up to 4 jobs of either consumer
        optimistic.challengeAny(0); // the coalition griefs: the honest provider answers
        assertEq(optimistic.answers(), 1, "honest answer");
        for (uint256 i; i < 4; ++i) {
            optimistic.post(uint96(i * 1 ether), true);
            optimistic.post(uint96(i * 1 ether), false);
        }
        optimistic.submitCoalition(0, 0x1, false); // honest consumer's jobs, the first wrong: the watcher challenges
        optimistic.submitCoalition(1, 0x2, true); // coalition's jobs, the first with a wrong proof hash: sybil first
        assertEq(optimistic.challenges(), 3, "challenges");
        assertEq(optimistic.batches(2), 3, "third batch");
        optimistic.uphold(1); // seed % 3 batches: batch 2, (seed >> 8) % 4: job 0
        optimistic.uphold(2); // batch 3, job 0
        assertEq(optimistic.upholds(), 2, "upholds");
        optimistic.finalize(0);
        optimistic.finalize(1);
        optimistic.finalize(2);
        assertGt(optimistic.finalized(), 0, "finalized");
        invariant_CoalitionGainsNothingUnearned();
        invariant_HonestConsumerPaysOnlyForResults();
        invariant_HonestProviderLosesOnlyWhatGriefersBurn();
        invariant_HonestWatcherLosesNothingAndHonestResultsAreAnswered();
        invariant_MarketSolvent();
    }

    function invariant_MarketSolvent() public view {
        assertLe(market.totalLiabilities(), IERC20(address(token)).balanceOf(address(market)), "solvent");
        assertEq(IERC20(address(token)).balanceOf(address(market)), market.totalLiabilities(), "nothing stuck");
    }

    /// Issue #24: the honest watcher, which challenges only wrong results, never loses NGX (bond back plus reward);
    /// the honest provider answered every challenge of its results.
    function invariant_HonestWatcherLosesNothingAndHonestResultsAreAnswered() public view {
        assertLe(watcherStart, _value(watcher), "honest watcher lost NGX");
        assertEq(optimistic.unansweredHonest(), 0, "an honest result's challenge went unanswered");
    }
}
