// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {JobWords} from "./utils/JobWords.sol";
import {Base} from "./utils/Base.sol";
import {SettlementBase} from "./utils/SettlementBase.sol";
import {console} from "./utils/Test.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IJobSettlement} from "../src/interfaces/IJobSettlement.sol";

/// Steady-state gas profile: the second post/claim/submit touches warm-ish, non-zero storage the way a live
/// market does. Run with `forge test --match-contract GasProfile -vvvv` to read the trace. The fixture has one
/// proof (one commitment), and a second settlement of the same statement (verifier code, VKA, commitments) is
/// a replay (no reward, cheaper), on any model; so the first cycle runs on the other verifier kind and the
/// measured one is a fresh, rewarded job like a live market's.
contract GasProfileTest is Base {
    /// The last call is the verifier alone with submitResult's proof and instances: under `--isolate` each
    /// top-level call is its own transaction, and submitResult's bookkeeping is its gas minus that call's.
    function test_GasSteadyStateDedicated() public {
        _cycle(reusableModel);
        _cycle(dedicatedModel);
        assertTrue(dedicatedVerifier.verifyProof(proof, instances));
    }

    function test_GasSteadyStateReusable() public {
        _cycle(dedicatedModel);
        _cycle(reusableModel);
        // Its return data is not standard ABI (see IHalo2VerifierReusable): a low-level call.
        (bool ok,) = address(reusableVerifier)
            .call(abi.encodeCall(reusableVerifier.verifyProof, (proof, instances, registry.vkaOf(reusableModel))));
        assertTrue(ok);
    }

    /// Regression guard on submitResult's bookkeeping (its gas minus the verifier's with the same proof and
    /// instances), measured inside this test: state the test touched earlier is warm here, so this reads about
    /// 66k where a real transaction spends about 151k (`forge test --isolate --match-contract GasProfile -vvvv`,
    /// see README). Since issue #23 the replay marker is written by the first settlement of a statement (a fresh
    /// slot, ~17k more than the old rewrite) instead of by the post (~22k less there). A storage slot per output
    /// or a token transfer per job would break it.
    function test_GasSubmitBookkeepingBudget() public {
        _cycle(reusableModel);
        uint256 jobId = _postAndClaim(dedicatedModel);
        uint256 left = gasleft();
        dedicatedVerifier.verifyProof(proof, instances);
        uint256 verifierGas = left - gasleft();
        vm.prank(provider);
        left = gasleft();
        market.submitResult(jobId, proof, instances);
        uint256 submitGas = left - gasleft();
        assertLe(submitGas - verifierGas, 70_000, "submitResult bookkeeping (in-test, warm)");
    }

    /// deliverInput with a 300-byte ciphertext (about an X25519/ChaCha20 envelope of a small tensor).
    function test_GasDeliverInput300Bytes() public {
        uint256 jobId = _postAndClaim(dedicatedModel);
        bytes memory payload = new bytes(300);
        for (uint256 i; i < payload.length; ++i) {
            payload[i] = bytes1(uint8(i % 255 + 1));
        }
        vm.prank(consumer);
        market.deliverInput(jobId, payload);
        vm.prank(consumer);
        market.deliverInput(jobId, payload);
    }

    function _cycle(uint256 modelId) private {
        uint256 jobId = _postAndClaim(modelId);
        _submit(jobId);
    }
}

/// Issue #24: settlement gas per job for eager single (`submitResult`), eager batched (`settleResults`) and
/// optimistic batched (`submitResults` + `finalizeBatch`) at N = 1, 4, 16 jobs of 4 consumers (job i: consumer
/// i % 4, one model on the real dedicated EZKL verifier of the fixture), plus the all-in per job of the optimistic
/// path (post + claim + 300-byte deliverInput + submission + finalization). Print with
/// `forge test --match-contract SettlementGasProfile -vv`.
/// Each figure is a transaction's gas as a receipt would show it before refunds: 21,000 + calldata (4 per zero
/// byte, 16 per other byte) + the call's execution with every contract's storage and account cold (`vm.cool`, as
/// at the start of a transaction), measured on a market that already settled jobs of both kinds (non-zero credits:
/// steady state). Refunds (a finished batch's deleted slots) would lower real receipts a little.
/// The fixture has one proof (one input commitment): of N eager jobs only the first is a first-time statement
/// (rewarded); the others are replays (no reward or NRS calls, a replay slot written instead). The optimistic jobs
/// each have their own commitment (no proof is checked unless challenged), so every one is rewarded: the
/// optimistic figures carry the reward and NRS work the eager ones partly skip.
contract SettlementGasProfileTest is SettlementBase {
    struct Figures {
        uint256 eagerSingle; // per job
        uint256 eagerBatched; // per job
        uint256 optimisticSubmit; // per job
        uint256 optimisticFinalize; // per job
        uint256 post; // per job (postJobWithTerms, optimistic)
        uint256 claim; // per job
        uint256 deliver; // per job
    }

    bytes internal payload;

    function setUp() public override {
        super.setUp();
        payload = _gasProfileSetUp();
    }

    function test_SettlementGasN1() public {
        _report(1, _profile(1));
    }

    function test_SettlementGasN4() public {
        Figures memory f = _profile(4);
        _report(4, f);
        assertLe(f.eagerBatched, f.eagerSingle, "eager batched cheaper per job than eager single (N=4)");
    }

    /// The issue's goals at 16 jobs of 4 consumers in one provider transaction. Met: eager batched is cheaper per
    /// job than eager single, and optimistic settlement is far below eager. Not met (measured here when this was
    /// written): optimistic settlement 76,569 per job against the goal's 75k (submitResults 22,401 + finalizeBatch
    /// 54,168; 84,714 before this pass, 88,960 before the first), and all-in 362,389 per job against 250k
    /// (postJobWithTerms 170,236, claimJob 74,585, deliverInput 40,999). The bounds below are regression guards at
    /// those figures plus ~3 %, not the goals. The lean path that meets the all-in goal (signed orders, one
    /// `fillOrders`) is measured in test/OrderGasProfile.t.sol.
    /// This pass took (per job, each measured on the one before): one CompletionsRecorded per batch instead of a
    /// CompletionRecorded per job, -2,260; a finalization that writes no job slot (the entry commits slot 0's fixed
    /// fields too, and the job's bit in a word shared by 255 jobs replaces its status write; slot 0 is not read),
    /// -2,924; JobSettled without the outputs a finalized job's JobSubmitted already logs, -521; the finalization's
    /// job words unpacked and its entries hashed in assembly, -532 and -589; the submission reading each job slot
    /// once, -620; Reputation's and RewardsPool's batched calls reading and writing each packed slot once, -699.
    /// What remains (per job, at N = 16), by EIP-2929/2200 prices:
    /// - 22,100: the replay rule's statement slot (a statement earns once), fresh per first settlement.
    /// - 8,400: cold job slots: submission 0-2 (status and consumer; provider, deadline and flags; model),
    ///   finalization 3 (commitments, for the statement).
    /// - 2,900: the submission's status write (Submitted: no second submission, the challenge's precondition); the
    ///   finalization's bit costs ~100-200 per job once its word is warm (one cold write per word per batch).
    /// - ~6,300: events: JobSubmitted (outputs, proof hash: what a watchtower checks) and JobSettled (the amounts).
    /// - 6,800: Reputation's pair counter and consumer facts, first write per distinct consumer of the batch (two of
    ///   the four consumers are new to this provider here); later jobs of a consumer re-write them warm.
    /// - the rest: 2 x 21,000 and calldata (the results twice, and three job words), the per-batch share (the Batch
    ///   record's two fresh slots and counter, registry and config reads, one credit per account, one collateral
    ///   unlock, RewardsPool's tally, the provider's NRS record, cold accounts) and execution.
    /// A one-slot Batch record (a hash of root, provider, deadline and window; finalize and challenge passing them)
    /// would save about 1.6k more (a fresh slot per batch less, one cold read and one delete less at finalization,
    /// ~350 bytes of calldata more): a change of `batchOf` and of every batch reader, not made here.
    /// The storage writes that remain per optimistic job, and why each stays:
    /// - postJobWithTerms: the job's four slots, all fresh (~88k of the post; `getJob`'s struct, one slot per
    ///   group of fields that later steps read together), the shared counter/liabilities slot (one write), and the
    ///   token's balances and allowance in `transferFrom` (the escrow itself); the post of every 255th job marks a
    ///   new `_finalizedBits` word in use (one fresh slot per 255 jobs, ~87 gas per job).
    /// - claimJob: the status, provider and deadline, and collateral fields of slots 0-2 (each already non-zero:
    ///   2.9k), and the provider's locked collateral in ProviderStaking (what a slash can take).
    /// - deliverInput: FLAG_INPUT_ON_CHAIN in slot 1, first delivery only (what makes an InputMissing decline fail).
    /// - submitResults: the job's status (Submitted: no second submission, the challenge's precondition); per batch,
    ///   the batch counter and the Batch's two slots (root and provider/deadline/count), deleted when it finishes.
    ///   It reads three job slots cold, and commits slot 0's fixed fields and slots 1 and 2 in the job's entry.
    /// - finalizeBatch: the job's bit in `_finalizedBits` (paid exactly once; `getJob` reads Settled) and the
    ///   statement slot of the replay rule (a fresh ~22k slot per first settlement, holding the outputs hash
    ///   `outputsHashOf` reads XOR the job id that points at the statement's credited price); per batch, one credit
    ///   per distinct account (provider, each model owner, treasury), one collateral unlock, the RewardsPool's
    ///   tally and totals once, the provider's Reputation record once, and per job its pair counter and its
    ///   consumer's facts slot (paid cold once per distinct consumer; later jobs of the same consumer re-write those
    ///   warm slots at 100 gas).
    function test_SettlementGasN16() public {
        Figures memory f = _profile(16);
        _report(16, f);
        assertLe(f.eagerBatched, f.eagerSingle, "eager batched cheaper per job than eager single (N=16)");
        assertLe((f.optimisticSubmit + f.optimisticFinalize) * 5, f.eagerBatched, "optimistic <= 1/5 of eager");
        assertLe(f.optimisticSubmit + f.optimisticFinalize, 78_900, "optimistic settlement per job (guard; goal 75k)");
        assertLe(f.deliver, 42_400, "deliverInput (300 B) per job (guard)");
        assertLe(_allIn(f), 373_300, "optimistic all-in per job (guard; goal 250k)");
    }

    function _report(uint256 n, Figures memory f) internal view {
        console.log("N (jobs of 4 consumers)", n);
        console.log("eager single, submitResult per job", f.eagerSingle);
        console.log("eager batched, settleResults per job", f.eagerBatched);
        console.log("optimistic submitResults per job", f.optimisticSubmit);
        console.log("optimistic finalizeBatch per job", f.optimisticFinalize);
        console.log("optimistic settlement per job", f.optimisticSubmit + f.optimisticFinalize);
        console.log("postJobWithTerms per job", f.post);
        console.log("claimJob per job", f.claim);
        console.log("deliverInput (300 B) per job", f.deliver);
        console.log("optimistic all-in per job", _allIn(f));
    }

    function _allIn(Figures memory f) internal pure returns (uint256) {
        return f.post + f.claim + f.deliver + f.optimisticSubmit + f.optimisticFinalize;
    }

    function _profile(uint256 n) internal returns (Figures memory f) {
        uint256 snap = vm.snapshotState();
        // eager single: one submitResult per job
        uint256[] memory ids = _eagerJobs(n);
        for (uint256 i; i < n; ++i) {
            f.eagerSingle += _tx(provider, abi.encodeCall(IJobMarket.submitResult, (ids[i], proof, instances)));
        }
        f.eagerSingle /= n;
        vm.revertToState(snap);

        // eager batched: the same jobs in one settleResults
        ids = _eagerJobs(n);
        bytes[] memory proofs = new bytes[](n);
        uint256[][] memory inst = new uint256[][](n);
        for (uint256 i; i < n; ++i) {
            (proofs[i], inst[i]) = (proof, instances);
        }
        f.eagerBatched = _tx(provider, abi.encodeCall(IJobSettlement.settleResults, (ids, proofs, inst))) / n;
        vm.revertToState(snap);

        // optimistic batched, all in: post, claim, deliver, one submitResults, one finalizeBatch
        IJobSettlement.Result[] memory rs = new IJobSettlement.Result[](n);
        for (uint256 i; i < n; ++i) {
            uint256[] memory c = new uint256[](1);
            c[0] = 1_000 + i;
            address who = consumers[i % 4];
            uint256 id = market.jobCount() + 1;
            f.post += _tx(who, abi.encodeCall(IJobMarket.postJobWithTerms, (_termsOf(dedicatedModel, 1), c)));
            f.claim += _tx(provider, abi.encodeCall(IJobMarket.claimJob, (id)));
            f.deliver += _tx(who, abi.encodeCall(IJobMarket.deliverInput, (id, payload)));
            rs[i] = _resultOf(id, _outputs());
        }
        vm.warp(block.timestamp + 60);
        uint256 batchId = settlement.batchCount() + 1;
        f.optimisticSubmit = _tx(provider, abi.encodeCall(IJobSettlement.submitResults, (rs))) / n;
        vm.warp(settlement.batchOf(batchId).challengeDeadline);
        f.optimisticFinalize = _tx(
            stranger, abi.encodeCall(IJobSettlement.finalizeBatch, (batchId, rs, JobWords.read(address(market), rs)))
        ) / n;
        assertTrue(market.getJob(rs[n - 1].jobId).status == IJobMarket.JobStatus.Settled, "finalized");
        (f.post, f.claim, f.deliver) = (f.post / n, f.claim / n, f.deliver / n);
        vm.revertToState(snap);
    }

    function _eagerJobs(uint256 n) internal returns (uint256[] memory ids) {
        ids = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            ids[i] = _claimedAs(consumers[i % 4], dedicatedModel, 0);
        }
        vm.warp(block.timestamp + 60);
    }

    /// One call to the market as its own transaction would be charged (SettlementBase `_txGas`).
    function _tx(address from, bytes memory data) internal returns (uint256) {
        return _txGas(from, address(market), data);
    }
}
