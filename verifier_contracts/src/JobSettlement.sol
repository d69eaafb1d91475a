// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IJobMarket} from "./interfaces/IJobMarket.sol";
import {IJobSettlement} from "./interfaces/IJobSettlement.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IProtocolConfig} from "./interfaces/IProtocolConfig.sol";
import {IProviderStaking} from "./interfaces/IProviderStaking.sol";
import {IReputation} from "./interfaces/IReputation.sol";
import {IRewardsPool} from "./interfaces/IRewardsPool.sol";
import {IHalo2Verifier, IHalo2VerifierReusable} from "./interfaces/IHalo2Verifier.sol";
import {INgxConsumer} from "./interfaces/INgxConsumer.sol";
import {JobMarketState} from "./JobMarketState.sol";

/// @title JobSettlement
/// @notice Every settlement of the JobMarket (issue #24): `submitResult` (eager, one job), `settleResults` (eager,
///         many jobs), and optimistic settlement (`submitResults`, `challenge`, `answerChallenge`,
///         `upholdChallenge`, `finalizeBatch`). Reached only through the JobMarket, which DELEGATECALLs it: every
///         function here runs in the market's storage and reverts when called on the module itself.
/// @dev A settlement has the effects of issue #11/#16/#23's `submitResult`, whatever the path: the job is paid exactly
///      once (Settled is terminal), royalty and fee are credited, reward and NRS only for allow-listed verifier code
///      and a first-time statement, a reopened job's bounty goes to the provider that finished it, the consumer's
///      callback runs after everything is paid. A batch (`settleResults`, `finalizeBatch`) aggregates what is exact
///      to aggregate: one credit per account, one collateral unlock, one RewardsPool and one Reputation call for the
///      batch's provider (both compute each job's share in order, exactly as one call per job would).
///      Money rules of the optimistic path: a challenger escrows a bond; a valid answer pays it to the provider
///      (covering the answer's gas), an unanswered challenge slashes the provider (burn share burned, the
///      challenger's reward, the rest to the treasury, never to the consumer), refunds the consumer in full and
///      returns the bond. Collateral stays locked until the job is finished.
contract JobSettlement is JobMarketState, IJobSettlement {
    using SafeERC20 for IERC20;

    /// @dev Gas kept back beyond a callback's limit for the call itself and the CallbackResult event.
    uint256 internal constant CALLBACK_OVERHEAD = 10_000;

    /// @dev The part of a job's slot 0 a batch entry commits: consumer (bits 0-159), claimDeadline (160-199) and
    ///      proveWindow (200-231); not minReputation, status or rating.
    uint256 internal constant STATE_WORD_MASK = (1 << 232) - 1;

    /// @dev This module's own address: a call that runs here (not by DELEGATECALL) reverts.
    address private immutable _self;

    /// @dev What a batch settlement accumulates in memory before its aggregated interactions.
    struct Run {
        bool finalizing; // an optimistic finalization: settled jobs get their `_finalizedBits` bit, not a status write
        address provider;
        address treasury;
        uint256 n; // jobs settled so far
        uint256 pay; // the provider's credit (prices' shares and bounties)
        uint256 fee; // the treasury's credit
        uint256 collateral; // to unlock
        uint256 nOwners;
        uint256 nModels;
        uint256 nRewarded;
        address[] owners;
        uint256[] royalties;
        uint256[] modelIds;
        IModelRegistry.Verification[] models;
        uint256[] feeBps;
        bool[] allowed;
        uint256[] rewardFees; // fees of the rewarded jobs, in order
        uint256[] done; // IReputation.recordCompletions' entries, two words per settled job
        Settled[] settled;
    }

    /// @dev One settled job of a Run: what its JobSettled event and callback need after the interactions (its
    ///      Reputation entry is in the run's `done`).
    struct Settled {
        address consumer;
        bool rewarded;
        uint32 callbackGasLimit;
        uint256 jobId;
        uint256 pay;
        uint256 royalty;
        uint256 fee;
        uint256 outputs; // the outputs' calldata offset << 128 | their count (`_outputsAt`)
    }

    constructor(
        IERC20 token_,
        IProtocolConfig config_,
        IModelRegistry registry_,
        IProviderStaking staking_,
        IReputation reputation_,
        IRewardsPool rewards_
    ) JobMarketState(token_, config_, registry_, staking_, reputation_, rewards_) {
        _self = address(this);
    }

    modifier onlyDelegated() {
        _onlyDelegated();
        _;
    }

    // ---------------------------------------------------------------- eager

    /// @notice IJobMarket.submitResult: the assigned provider submits the proof of an Eager job; on success the job
    ///         settles and pays out.
    function submitResult(uint256 jobId, bytes calldata proof, uint256[] calldata instances)
        external
        onlyDelegated
        nonReentrant
        whenNotPaused
    {
        IJobMarket.Job memory job = _jobs[jobId];
        IModelRegistry.Verification memory model = _registry.settlementOf(job.modelId);
        _checkClaimed(jobId, job, model);
        uint256 nIn = _checkInstances(jobId, job, model, instances);
        _verify(jobId, model, proof, instances);
        _settle(jobId, job, model, instances[nIn:], block.timestamp);
    }

    /// @inheritdoc IJobSettlement
    function settleResults(uint256[] calldata jobIds, bytes[] calldata proofs, uint256[][] calldata instances)
        external
        onlyDelegated
        nonReentrant
        whenNotPaused
    {
        uint256 n = jobIds.length;
        if (n == 0 || n > MAX_BATCH || proofs.length != n || instances.length != n) revert JobMarket__InvalidBatchSize(n);
        Run memory run = _newRun(msg.sender, n);
        for (uint256 i; i < n; ++i) {
            _settleEager(run, jobIds[i], proofs[i], instances[i]);
        }
        _finish(run);
    }

    /// @dev One job of `settleResults`: `submitResult`'s checks and verification, then its effects in the run.
    function _settleEager(Run memory run, uint256 jobId, bytes calldata proof, uint256[] calldata instances) private {
        IJobMarket.Job memory job = _jobs[jobId];
        uint256 m = _modelIndex(run, job.modelId);
        IModelRegistry.Verification memory model = run.models[m];
        _checkClaimed(jobId, job, model);
        uint256 nIn = _checkInstances(jobId, job, model, instances);
        _verify(jobId, model, proof, instances);
        uint256[] calldata outputs = instances[nIn:];
        Settled memory s;
        (s.jobId, s.outputs) = (jobId, _outputsRef(outputs));
        _settleInRun(run, s, job, m, _packedHash(outputs), block.timestamp);
    }

    // ---------------------------------------------------------------- optimistic

    /// @inheritdoc IJobSettlement
    function submitResults(Result[] calldata results)
        external
        onlyDelegated
        nonReentrant
        whenNotPaused
        returns (uint256 batchId)
    {
        uint256 n = results.length;
        if (n == 0 || n > MAX_BATCH) revert JobMarket__InvalidBatchSize(n);
        batchId = ++_batchCount;
        bytes32[] memory leaves = new bytes32[](n);
        uint256 cachedModelId;
        IModelRegistry.Verification memory model;
        uint256 unpausedAt; // the model's and the market's last unpause, the later one
        for (uint256 i; i < n; ++i) {
            Result calldata r = results[i];
            IJobMarket.Job storage job = _jobs[r.jobId];
            uint256 modelId = job.modelId;
            if (modelId != cachedModelId || i == 0) {
                model = _registry.settlementOf(modelId);
                cachedModelId = modelId;
                unpausedAt = _lastUnpausedAt;
                if (model.lastUnpausedAt > unpausedAt) unpausedAt = model.lastUnpausedAt;
            }
            leaves[i] = _submitOne(r, job, model, unpausedAt, batchId);
        }
        bytes32 root;
        assembly ("memory-safe") {
            root := keccak256(add(leaves, 0x20), shl(5, n))
        }
        (uint32 window,,,) = _config.optimisticTerms();
        uint256 challengeDeadline = block.timestamp + window;
        _batches[batchId] = Batch({
            root: root,
            provider: msg.sender,
            challengeDeadline: uint40(challengeDeadline),
            count: uint16(n),
            pending: uint16(n),
            challengeWindow: uint24(window)
        });
        emit ResultsSubmitted(batchId, msg.sender, root, challengeDeadline, n);
    }

    /// @dev One result of `submitResults`: `_checkClaimed`'s checks in its order (`unpausedAt`: the later of the
    ///      market's and the model's last unpause, see `_movedDeadline`), then the outputs' checks, the status
    ///      Submitted and the JobSubmitted event. Returns the result's entry. The job's slots 0-2 are each read once
    ///      (as IJobMarket.Job packs them: see `_unpackJobWords`), and slot 0 written once.
    function _submitOne(
        Result calldata r,
        IJobMarket.Job storage job,
        IModelRegistry.Verification memory model,
        uint256 unpausedAt,
        uint256 batchId
    ) private returns (bytes32) {
        uint256 jobId = r.jobId;
        uint256 stateWord;
        uint256 claimWord;
        uint256 termsWord;
        assembly ("memory-safe") {
            stateWord := sload(job.slot)
            claimWord := sload(add(job.slot, 1))
            termsWord := sload(add(job.slot, 2))
        }
        _requireStatus(jobId, IJobMarket.JobStatus(uint8(stateWord >> 240)), IJobMarket.JobStatus.Claimed);
        if (msg.sender != address(uint160(claimWord))) {
            revert IJobMarket.JobMarket__NotAssignedProvider(jobId, msg.sender);
        }
        if (uint8(claimWord >> 200) & FLAG_OPTIMISTIC == 0) revert JobMarket__WrongSettlementMode(jobId);
        uint256 proveDeadline = uint40(claimWord >> 160);
        uint256 moved = unpausedAt + uint32(stateWord >> 200);
        if (moved > proveDeadline) proveDeadline = moved;
        if (block.timestamp >= proveDeadline) revert IJobMarket.JobMarket__ProveWindowClosed(jobId, proveDeadline);
        if (model.status == IModelRegistry.ModelStatus.Paused) {
            revert IJobMarket.JobMarket__ModelPaused(uint64(termsWord >> 192));
        }
        uint256[] calldata outputs = r.outputs;
        if (outputs.length != model.outputCount) {
            revert JobMarket__OutputCountMismatch(jobId, model.outputCount, outputs.length);
        }
        for (uint256 k; k < outputs.length; ++k) {
            if (outputs[k] >= SNARK_SCALAR_FIELD) revert IJobMarket.JobMarket__InstanceOutOfField(k, outputs[k]);
        }
        // Status (bits 240-247) Claimed -> Submitted.
        uint256 submitted = stateWord & ~(uint256(0xff) << 240) | uint256(IJobMarket.JobStatus.Submitted) << 240;
        assembly ("memory-safe") {
            sstore(job.slot, submitted)
        }
        bytes32 proofHash = r.proofHash;
        emit JobSubmitted(jobId, batchId, msg.sender, outputs, proofHash);
        // The entry commits slot 0's fixed fields (consumer, claim deadline, prove window) and slots 1 and 2 as they
        // are now: fixed until the job settles.
        return _entry(
            _hash3(bytes32(jobId), _packedHash(outputs), proofHash), stateWord & STATE_WORD_MASK, claimWord, termsWord
        );
    }

    /// @inheritdoc IJobSettlement
    /// @dev Not stopped by the guardian pause: a challenge protects the consumer, and the answer deadline moves.
    function challenge(uint256 batchId, Result[] calldata batch, uint256[] calldata jobWords, uint256 index)
        external
        onlyDelegated
        nonReentrant
    {
        Batch memory b = _checkedBatch(batchId, batch, jobWords, new bytes32[](batch.length));
        if (block.timestamp >= b.challengeDeadline) revert JobMarket__ChallengeWindowClosed(batchId, b.challengeDeadline);
        if (index >= batch.length) revert JobMarket__InvalidBatchSize(index);
        uint256 jobId = batch[index].jobId;
        if (msg.sender == b.provider) revert JobMarket__ProviderCannotChallenge(jobId);
        IJobMarket.Job storage job = _jobs[jobId];
        _requireStatus(jobId, _statusOf(jobId, job.status), IJobMarket.JobStatus.Submitted);
        (, uint32 answerWindow, uint96 bond,) = _config.optimisticTerms();
        job.status = IJobMarket.JobStatus.Challenged;
        _setFinalized(jobId); // out of the batch: a finalization skips it
        uint256 answerDeadline = block.timestamp + answerWindow;
        _challenges[jobId] = Challenge({
            challenger: msg.sender,
            bond: bond,
            answerDeadline: uint40(answerDeadline),
            submittedAt: b.challengeDeadline - b.challengeWindow,
            leaf: _leaf(batch[index])
        });
        _totalLiabilities += bond;
        emit JobChallenged(jobId, batchId, msg.sender, bond, answerDeadline);
        _token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @inheritdoc IJobSettlement
    function answerChallenge(uint256 jobId, bytes calldata proof, uint256[] calldata instances)
        external
        onlyDelegated
        nonReentrant
        whenNotPaused
    {
        IJobMarket.Job memory job = _jobs[jobId];
        _requireStatus(jobId, job.status, IJobMarket.JobStatus.Challenged);
        if (msg.sender != job.provider) revert IJobMarket.JobMarket__NotAssignedProvider(jobId, msg.sender);
        IModelRegistry.Verification memory model = _registry.settlementOf(job.modelId);
        Challenge memory c = _challenges[jobId];
        uint256 deadline = _answerDeadline(c, model.lastUnpausedAt);
        if (block.timestamp >= deadline) revert JobMarket__AnswerWindowClosed(jobId, deadline);
        if (model.status == IModelRegistry.ModelStatus.Paused) revert IJobMarket.JobMarket__ModelPaused(job.modelId);
        uint256 nIn = _checkInstances(jobId, job, model, instances);
        if (_hash3(bytes32(jobId), _packedHash(instances[nIn:]), keccak256(proof)) != c.leaf) {
            revert JobMarket__AnswerMismatch(jobId);
        }
        _verify(jobId, model, proof, instances);
        delete _challenges[jobId];
        emit ChallengeAnswered(jobId, msg.sender, c.challenger, c.bond);
        _credit(msg.sender, c.bond);
        _settle(jobId, job, model, instances[nIn:], c.submittedAt);
    }

    /// @inheritdoc IJobSettlement
    function upholdChallenge(uint256 jobId) external onlyDelegated nonReentrant whenNotPaused {
        IJobMarket.Job storage job = _jobs[jobId];
        _requireStatus(jobId, job.status, IJobMarket.JobStatus.Challenged);
        IModelRegistry.Verification memory model = _registry.verificationOf(job.modelId);
        if (model.status == IModelRegistry.ModelStatus.Paused) revert IJobMarket.JobMarket__ModelPaused(job.modelId);
        Challenge memory c = _challenges[jobId];
        {
            uint256 deadline = _answerDeadline(c, model.lastUnpausedAt);
            if (block.timestamp < deadline) revert JobMarket__AnswerWindowOpen(jobId, deadline);
        }
        (address consumer, address provider, uint256 price, uint256 collateral) =
            (job.consumer, job.provider, job.price, job.collateral);
        bool atFault = _providerAtFault(model);
        (uint256 slashed, uint256 burned, uint256 reward) = _slashShares(atFault, collateral);
        job.status = IJobMarket.JobStatus.Expired;
        delete _challenges[jobId];
        // The slash's non-burned part comes into this market: the reward and the treasury's share are credits.
        _totalLiabilities += uint144(slashed - burned);
        emit ChallengeUpheld(jobId, provider, c.challenger, slashed, reward, price);
        _refund(consumer, price);
        _credit(c.challenger, c.bond + reward);
        if (slashed - burned != reward) _credit(_config.treasury(), slashed - burned - reward);
        if (job.flags & FLAG_REOPENED != 0) _burnBounty(jobId);
        if (slashed == 0) {
            _staking.unlockCollateral(provider, collateral);
        } else {
            _staking.slash(provider, collateral, slashed, burned, address(this));
        }
        if (atFault) _reputation.recordMiss(provider);
    }

    /// @inheritdoc IJobSettlement
    function finalizeBatch(uint256 batchId, Result[] calldata batch, uint256[] calldata jobWords)
        external
        onlyDelegated
        nonReentrant
        whenNotPaused
        returns (uint256 settled)
    {
        bytes32[] memory hashes = new bytes32[](batch.length);
        Batch memory b = _checkedBatch(batchId, batch, jobWords, hashes);
        if (block.timestamp < b.challengeDeadline) revert JobMarket__ChallengeWindowOpen(batchId, b.challengeDeadline);
        Run memory run = _newRun(b.provider, batch.length);
        run.finalizing = true;
        uint256 pending = _settleBatch(run, batch, jobWords, hashes, b.challengeDeadline - b.challengeWindow);
        settled = run.n;
        if (pending == 0) delete _batches[batchId];
        else if (pending != b.pending) _batches[batchId].pending = uint16(pending);
        emit BatchFinalized(batchId, settled);
        _finish(run);
    }

    /// @dev finalizeBatch's loop: settles every job of the batch not finalized yet (nor challenged out of it) of a
    ///      model not paused; returns how many are left (of a paused model: they wait for its unpause and a later
    ///      finalization). Reads from storage only the job's bit in `_finalizedBits` (one slot per 255 jobs) and its
    ///      slot 3 (commitments); the fields of slots 0-2 come from `jobWords`, which the root authenticates
    ///      (committed at submission, and unchanged since: see `submitResults`). The job's own status slot is not
    ///      written: its bit makes it Settled (`_statusOf`). `hashes[i]` is batch[i]'s outputs hash.
    function _settleBatch(
        Run memory run,
        Result[] calldata batch,
        uint256[] calldata jobWords,
        bytes32[] memory hashes,
        uint256 submittedAt
    ) private returns (uint256 pending) {
        IJobMarket.Job memory head;
        for (uint256 i; i < batch.length; ++i) {
            Result calldata r = batch[i];
            uint256 jobId = r.jobId;
            if (_isFinalized(jobId)) continue;
            _unpackJobWords(head, jobWords, i);
            uint256 m = _modelIndex(run, head.modelId);
            if (run.models[m].status == IModelRegistry.ModelStatus.Paused) {
                ++pending; // waits for the model's unpause and a later finalization
                continue;
            }
            head.commitmentsHash = _jobs[jobId].commitmentsHash;
            _setFinalized(jobId);
            Settled memory s;
            (s.jobId, s.outputs) = (jobId, _outputsRef(r.outputs));
            _settleInRun(run, s, head, m, hashes[i], submittedAt);
        }
    }

    /// @dev Result i's three words in `jobWords` (`_checkedBatch` checked there are 3 per result), as IJobMarket.Job
    ///      packs them (see IJobSettlement's entry), into `head`: slot 0's consumer, claimDeadline and proveWindow
    ///      (`STATE_WORD_MASK`), slot 1's provider, proveDeadline, flags and callbackGasLimit, slot 2's price,
    ///      collateral and modelId. In assembly: each field is masked to its type and stored at its offset in the
    ///      memory struct (one word per field, in declaration order), with no calldata bounds check per word.
    function _unpackJobWords(IJobMarket.Job memory head, uint256[] calldata jobWords, uint256 i) private pure {
        assembly ("memory-safe") {
            let p := add(jobWords.offset, mul(i, 0x60))
            let word := calldataload(p) // slot 0
            let addressMask := sub(shl(160, 1), 1)
            mstore(head, and(word, addressMask)) // consumer
            mstore(add(head, 0x20), and(shr(160, word), 0xffffffffff)) // claimDeadline
            mstore(add(head, 0x40), and(shr(200, word), 0xffffffff)) // proveWindow
            word := calldataload(add(p, 0x20)) // slot 1
            mstore(add(head, 0xc0), and(word, addressMask)) // provider
            mstore(add(head, 0xe0), and(shr(160, word), 0xffffffffff)) // proveDeadline
            mstore(add(head, 0x100), and(shr(200, word), 0xff)) // flags
            mstore(add(head, 0x120), and(shr(208, word), 0xffffffff)) // callbackGasLimit
            word := calldataload(add(p, 0x40)) // slot 2
            let priceMask := sub(shl(96, 1), 1)
            mstore(add(head, 0x140), and(word, priceMask)) // price
            mstore(add(head, 0x160), and(shr(96, word), priceMask)) // collateral
            mstore(add(head, 0x180), shr(192, word)) // modelId
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IJobSettlement
    function batchOf(uint256 batchId) external view onlyDelegated returns (Batch memory) {
        return _batches[batchId];
    }

    /// @inheritdoc IJobSettlement
    function challengeOf(uint256 jobId) external view onlyDelegated returns (Challenge memory) {
        return _challenges[jobId];
    }

    /// @inheritdoc IJobSettlement
    function answerDeadlineOf(uint256 jobId) external view onlyDelegated returns (uint256) {
        Challenge memory c = _challenges[jobId];
        if (c.answerDeadline == 0) return 0;
        return _answerDeadline(c, _registry.lastUnpausedAtOf(_jobs[jobId].modelId));
    }

    /// @inheritdoc IJobSettlement
    function batchCount() external view onlyDelegated returns (uint256) {
        return _batchCount;
    }

    /// @inheritdoc IJobSettlement
    function leafOf(Result calldata result) external view onlyDelegated returns (bytes32) {
        return _leaf(result);
    }

    // ---------------------------------------------------------------- checks

    function _onlyDelegated() private view {
        if (address(this) == _self) revert JobMarket__NotDelegated();
    }

    /// @dev A Claimed Eager job of the caller, before its (moved) prove deadline, of a model not paused (an optimistic
    ///      submission checks the same in `_submitOne`).
    function _checkClaimed(uint256 jobId, IJobMarket.Job memory job, IModelRegistry.Verification memory model)
        private
        view
    {
        _requireStatus(jobId, job.status, IJobMarket.JobStatus.Claimed);
        if (msg.sender != job.provider) revert IJobMarket.JobMarket__NotAssignedProvider(jobId, msg.sender);
        if (job.flags & FLAG_OPTIMISTIC != 0) revert JobMarket__WrongSettlementMode(jobId);
        uint256 proveDeadline = _movedDeadline(job.proveDeadline, job.proveWindow, model.lastUnpausedAt);
        if (block.timestamp >= proveDeadline) revert IJobMarket.JobMarket__ProveWindowClosed(jobId, proveDeadline);
        if (model.status == IModelRegistry.ModelStatus.Paused) revert IJobMarket.JobMarket__ModelPaused(job.modelId);
    }

    /// @dev The proof's judge and public instances: the pinned verifier code, the instance count, the job's input
    ///      commitments first, every output in the field. Returns the number of input commitments.
    function _checkInstances(
        uint256 jobId,
        IJobMarket.Job memory job,
        IModelRegistry.Verification memory model,
        uint256[] calldata instances
    ) private view returns (uint256 nIn) {
        // Provenance: the code that judges this proof is the code pinned when the model was registered.
        bytes32 codeHash = model.verifier.codehash;
        if (codeHash != model.verifierCodeHash) {
            revert IJobMarket.JobMarket__VerifierCodeChanged(model.verifier, model.verifierCodeHash, codeHash);
        }
        nIn = model.inputCommitmentCount;
        if (instances.length != nIn + model.outputCount) {
            revert IJobMarket.JobMarket__InstanceCountMismatch(nIn + model.outputCount, instances.length);
        }
        if (_packedHash(instances[:nIn]) != job.commitmentsHash) revert IJobMarket.JobMarket__CommitmentMismatch(jobId);
        for (uint256 i = nIn; i < instances.length; ++i) {
            if (instances[i] >= SNARK_SCALAR_FIELD) revert IJobMarket.JobMarket__InstanceOutOfField(i, instances[i]);
        }
    }

    /// @dev The stored batch, after checking that `batch` and `jobWords` hash to its root; `hashes[i]` is set to
    ///      batch[i]'s outputs hash (`hashes` has batch.length entries).
    function _checkedBatch(
        uint256 batchId,
        Result[] calldata batch,
        uint256[] calldata jobWords,
        bytes32[] memory hashes
    ) private view returns (Batch memory b) {
        b = _batches[batchId];
        if (b.root == 0) revert JobMarket__UnknownBatch(batchId);
        uint256 n = batch.length;
        if (jobWords.length != 3 * n) revert JobMarket__BatchMismatch(batchId);
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            Result calldata r = batch[i];
            bytes32 h = _packedHash(r.outputs);
            hashes[i] = h;
            (uint256 jobId, bytes32 proofHash) = (r.jobId, r.proofHash);
            bytes32 e;
            // entry = keccak256(leaf, stateWord, claimWord, termsWord), leaf = keccak256(jobId, h, proofHash), in
            // scratch memory past the free pointer; result i's three words are at jobWords[3i..3i+2] (length
            // checked above).
            assembly ("memory-safe") {
                let m := mload(0x40)
                mstore(m, jobId)
                mstore(add(m, 0x20), h)
                mstore(add(m, 0x40), proofHash)
                mstore(m, keccak256(m, 0x60))
                calldatacopy(add(m, 0x20), add(jobWords.offset, mul(i, 0x60)), 0x60)
                e := keccak256(m, 0x80)
            }
            leaves[i] = e;
        }
        bytes32 root;
        assembly ("memory-safe") {
            root := keccak256(add(leaves, 0x20), shl(5, n))
        }
        if (root != b.root) revert JobMarket__BatchMismatch(batchId);
    }

    /// @dev A batch entry: keccak256(abi.encode(leaf, stateWord, claimWord, termsWord)), hashed in scratch memory.
    function _entry(bytes32 leaf, uint256 stateWord, uint256 claimWord, uint256 termsWord)
        private
        pure
        returns (bytes32 h)
    {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, leaf)
            mstore(add(m, 0x20), stateWord)
            mstore(add(m, 0x40), claimWord)
            mstore(add(m, 0x60), termsWord)
            h := keccak256(m, 0x80)
        }
    }

    function _leaf(Result calldata r) private pure returns (bytes32) {
        return _hash3(bytes32(r.jobId), _packedHash(r.outputs), r.proofHash);
    }

    /// @dev A challenge's answer deadline, moved by a guardian unpause (market or model) during its window.
    function _answerDeadline(Challenge memory c, uint256 modelUnpausedAt) private view returns (uint256) {
        (, uint32 answerWindow,,) = _config.optimisticTerms();
        return _movedDeadline(c.answerDeadline, answerWindow, modelUnpausedAt);
    }

    /// @dev An upheld challenge's slash (zero when the provider is not at fault), its burned part, and the
    ///      challenger's reward: challengerRewardBps of the slash, at most what is left after the burn.
    function _slashShares(bool atFault, uint256 collateral)
        private
        view
        returns (uint256 slashed, uint256 burned, uint256 reward)
    {
        if (!atFault) return (0, 0, 0);
        (uint16 slashBps, uint16 burnBps,) = _config.slashTerms();
        (,,, uint16 rewardBps) = _config.optimisticTerms();
        slashed = collateral * slashBps / BPS;
        burned = slashed * burnBps / BPS;
        reward = slashed * rewardBps / BPS;
        if (reward > slashed - burned) reward = slashed - burned;
    }

    /// @dev Reverts with JobMarket__InvalidProof unless the model's verifier accepts the proof. The verifier
    ///      is called with staticcall: it cannot change state or re-enter anything that writes. The caller has
    ///      checked the verifier's code hash against the pinned one, which also proves it has code.
    function _verify(
        uint256 jobId,
        IModelRegistry.Verification memory model,
        bytes calldata proof,
        uint256[] calldata instances
    ) private view {
        address verifier = model.verifier;
        bool ok;
        bytes memory ret;
        if (model.kind == IModelRegistry.VerifierKind.Dedicated) {
            (ok, ret) = verifier.staticcall(abi.encodeCall(IHalo2Verifier.verifyProof, (proof, instances)));
            if (!ok || ret.length < 32 || _word(ret, 0) != 1) revert IJobMarket.JobMarket__InvalidProof(jobId);
        } else {
            bytes32[] memory vka = _loadVka(model.vkaPointer);
            (ok, ret) = verifier.staticcall(abi.encodeCall(IHalo2VerifierReusable.verifyProof, (proof, instances, vka)));
            // Non-standard return data: words [1, vka_digest, ...]; decode only those two.
            if (!ok || ret.length < 64 || _word(ret, 0) != 1) revert IJobMarket.JobMarket__InvalidProof(jobId);
            bytes32 reported = bytes32(_word(ret, 1));
            if (reported != model.vkDigest) revert IJobMarket.JobMarket__VkaDigestMismatch(model.vkDigest, reported);
        }
    }

    function _loadVka(address pointer) private view returns (bytes32[] memory words) {
        uint256 n = (pointer.code.length - 1) / 32;
        words = new bytes32[](n);
        assembly ("memory-safe") {
            extcodecopy(pointer, add(words, 0x20), 1, mul(n, 32))
        }
    }

    function _word(bytes memory data, uint256 index) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := mload(add(add(data, 0x20), mul(index, 0x20)))
        }
    }

    // ---------------------------------------------------------------- one job

    /// @dev Effects and interactions of one valid result (the caller is its provider): the job is paid exactly once
    ///      (Settled is terminal). Reward and NRS credit only for allow-listed verifier code and a first-time
    ///      statement. Only the outputs' hash is stored; the outputs are in JobSettled. `submittedAt`: when the
    ///      result reached the chain (the NRS completion time).
    function _settle(
        uint256 jobId,
        IJobMarket.Job memory job,
        IModelRegistry.Verification memory model,
        uint256[] calldata outputs,
        uint256 submittedAt
    ) private {
        // The price above the statement's credit (issue #23, item 7) and its fee, which earns reward and NRS weight.
        uint256[2] memory credit;
        uint256[3] memory split; // the provider's pay (price share plus any bounty), the royalty, the fee
        {
            (bool allowed, uint256 feeBps, address treasury) = _config.settlementTerms(model.verifierCodeHash);
            credit[0] = _recordOutputs(
                jobId, _statementOf(model, job.commitmentsHash), _packedHash(outputs), allowed ? job.price : 0
            );
            credit[1] = credit[0] * feeBps / BPS;
            _jobs[jobId].status = IJobMarket.JobStatus.Settled;
            if (credit[0] == 0) _jobs[jobId].flags = job.flags | FLAG_NO_REWARD;
            split[2] = job.price * feeBps / BPS;
            split[1] = job.price * model.royaltyBps / BPS;
            split[0] = job.price - split[2] - split[1];
            _credit(msg.sender, split[0]);
            _credit(model.owner, split[1]);
            _credit(treasury, split[2]);
        }
        if (job.flags & FLAG_REOPENED != 0) split[0] += _payBounty(jobId, msg.sender);

        // Interactions with trusted protocol contracts.
        _staking.unlockCollateral(msg.sender, job.collateral);
        uint256 reward;
        if (credit[0] != 0) {
            uint256 elapsed = submittedAt + job.proveWindow - job.proveDeadline;
            _reputation.recordCompletion(msg.sender, job.consumer, elapsed, job.proveWindow, credit[1]);
            reward = _rewards.reward(msg.sender, credit[1]);
        } else {
            _reputation.recordConsumerSettled(job.consumer);
        }
        emit IJobMarket.JobSettled(jobId, msg.sender, outputs, split[0], split[1], split[2], reward);
        if (job.callbackGasLimit != 0) _callback(jobId, job.consumer, job.callbackGasLimit, outputs);
    }

    /// @dev A reopened job's bounty goes to the provider that finished it.
    function _payBounty(uint256 jobId, address provider) private returns (uint256 bounty) {
        bounty = _reopenings[jobId].bounty;
        _reopenings[jobId].bounty = 0;
        _credit(provider, bounty);
    }

    /// @dev Stores a settled job's outputs hash (the first settlement of a statement owns its slot; a later one keeps
    ///      its hash under its job id) and returns the part of `price` above what the statement was already credited
    ///      at, raising that credit (issue #23, item 7: a statement earns once, at the highest price paid for it). A
    ///      replay at a price not above the credit gets zero: no reward, NRS or rating. `price` is zero for verifier
    ///      code that is not allow-listed (it earns nothing and credits nothing).
    ///      The first settlement writes one slot (its hash XOR its job id: the job id is the pointer to its price,
    ///      the credit until a later settlement raises `_statementCredit`). A later settlement of the same outputs
    ///      finds the first job as `slot ^ hash`; other outputs for one statement (an unsound circuit) earn nothing.
    function _recordOutputs(uint256 jobId, bytes32 statement, bytes32 hash, uint256 price)
        private
        returns (uint256 credit)
    {
        bytes32 slot = _settledStatements[statement];
        if (slot == 0) {
            _settledStatements[statement] = hash ^ bytes32(jobId);
            return price;
        }
        _replayOutputsHash[jobId] = hash;
        if (price == 0) return 0;
        uint256 credited = _statementCredit[statement];
        if (credited == 0) {
            uint256 first = uint256(slot ^ hash);
            if (first == 0 || first > _jobCount) return 0;
            IJobMarket.Job storage firstJob = _jobs[first];
            if (firstJob.flags & FLAG_NO_REWARD == 0) credited = firstJob.price;
        }
        if (price <= credited) return 0;
        _statementCredit[statement] = price;
        return price - credited;
    }

    /// @dev Calls the consumer's `onInferenceResult` after everything is settled and paid, with exactly
    ///      `gasLimit` gas and no return data copied (a returndata bomb costs the callee, not the settlement).
    ///      A revert or out-of-gas only shows in CallbackResult. The market is still inside the settlement, so
    ///      every nonReentrant function reverts for the callee. The transaction must carry enough gas for the
    ///      full limit (EIP-150 forwards at most 63/64 of what is left): a provider cannot starve the callback.
    function _callback(uint256 jobId, address consumer, uint256 gasLimit, uint256[] memory outputs) private {
        bytes memory data = abi.encodeCall(INgxConsumer.onInferenceResult, (jobId, outputs));
        uint256 needed = gasLimit + gasLimit / 63 + CALLBACK_OVERHEAD;
        if (gasleft() < needed) revert IJobMarket.JobMarket__CallbackGasTooLow(needed, gasleft());
        bool ok;
        assembly ("memory-safe") {
            ok := call(gasLimit, consumer, 0, add(data, 0x20), mload(data), 0, 0)
        }
        emit IJobMarket.CallbackResult(jobId, consumer, ok);
    }

    // ---------------------------------------------------------------- many jobs

    /// @dev The struct arrays (`models`, `settled`) are arrays of n null pointers, not n zeroed structs:
    ///      each element is assigned a struct before it is read (`models[m]` for m < nModels, `settled[i]`
    ///      for i < n), so allocating and zeroing n structs of each kind would be wasted gas.
    function _newRun(address provider, uint256 n) private pure returns (Run memory run) {
        run.provider = provider;
        run.owners = new address[](n);
        run.royalties = new uint256[](n);
        run.modelIds = new uint256[](n);
        run.feeBps = new uint256[](n);
        run.allowed = new bool[](n);
        run.rewardFees = new uint256[](n);
        run.done = new uint256[](2 * n);
        (run.models, run.settled) = _pointerArrays(n);
    }

    /// @dev Two arrays of n memory pointers, all zero (see `_newRun`).
    function _pointerArrays(uint256 n)
        private
        pure
        returns (IModelRegistry.Verification[] memory models, Settled[] memory settled)
    {
        uint256[] memory a = new uint256[](n);
        uint256[] memory b = new uint256[](n);
        assembly ("memory-safe") {
            models := a
            settled := b
        }
    }

    /// @dev The index of `modelId` in the run's model cache (its Verification and settlement terms read once).
    function _modelIndex(Run memory run, uint256 modelId) private view returns (uint256 m) {
        for (; m < run.nModels; ++m) {
            if (run.modelIds[m] == modelId) return m;
        }
        IModelRegistry.Verification memory model = _registry.settlementOf(modelId);
        (bool allowed, uint256 feeBps, address treasury) = _config.settlementTerms(model.verifierCodeHash);
        (run.modelIds[m], run.models[m], run.allowed[m], run.feeBps[m], run.treasury) =
            (modelId, model, allowed, feeBps, treasury);
        run.nModels = m + 1;
    }

    /// @dev `_settle`'s effects for one job of a run (the interactions wait for `_finish`): `s` is the job's new
    ///      Settled entry with its jobId and outputs set; `job` holds the fields read here (a finalization reads only
    ///      those).
    function _settleInRun(
        Run memory run,
        Settled memory s,
        IJobMarket.Job memory job,
        uint256 m,
        bytes32 outputsHash,
        uint256 submittedAt
    ) private {
        IModelRegistry.Verification memory model = run.models[m];
        uint256 feeBps = run.feeBps[m];
        uint256 credit = _markSettled(s.jobId, job, model, outputsHash, run.allowed[m], !run.finalizing);
        unchecked {
            run.settled[run.n++] = s; // at most MAX_BATCH
        }
        uint256 price = job.price;
        // No overflow: a price is below 2^96 and the basis points at most BPS; a run sums at most MAX_BATCH jobs.
        unchecked {
            s.fee = price * feeBps / BPS;
            s.royalty = price * model.royaltyBps / BPS;
        }
        s.pay = price - s.fee - s.royalty;
        if (job.flags & FLAG_REOPENED != 0) {
            uint256 jobId = s.jobId;
            uint256 bounty = _reopenings[jobId].bounty;
            _reopenings[jobId].bounty = 0;
            s.pay += bounty;
        }
        unchecked {
            run.pay += s.pay;
            run.fee += s.fee;
            run.collateral += job.collateral;
        }
        _addRoyalty(run, model.owner, s.royalty);
        (s.consumer, s.callbackGasLimit) = (job.consumer, job.callbackGasLimit);
        uint256 elapsed = submittedAt + job.proveWindow - job.proveDeadline;
        if (elapsed > type(uint32).max) elapsed = type(uint32).max;
        // Its IReputation.recordCompletions entry (two words; see there).
        uint256 entry = uint256(uint160(job.consumer)) | elapsed << 160 | uint256(job.proveWindow) << 192;
        if (credit != 0) {
            unchecked {
                credit = credit * feeBps / BPS;
                run.rewardFees[run.nRewarded++] = credit; // at most MAX_BATCH
            }
            s.rewarded = true;
            entry |= 1 << 255;
        }
        uint256[] memory done = run.done;
        unchecked {
            uint256 i = 2 * (run.n - 1); // this job's index in the run (set above)
            (done[i], done[i + 1]) = (entry, credit);
        }
    }

    /// @dev The replay rule's record of a settled job's outputs, and its status Settled (`writeStatus`; a
    ///      finalization sets the job's bit instead) with FLAG_NO_REWARD when it earns nothing. Returns the price above
    ///      the statement's credit (issue #23, item 7), zero for verifier code that is not allow-listed.
    function _markSettled(
        uint256 jobId,
        IJobMarket.Job memory job,
        IModelRegistry.Verification memory model,
        bytes32 outputsHash,
        bool allowed,
        bool writeStatus
    ) private returns (uint256 credit) {
        credit = _recordOutputs(jobId, _statementOf(model, job.commitmentsHash), outputsHash, allowed ? job.price : 0);
        IJobMarket.Job storage stored = _jobs[jobId];
        if (writeStatus) stored.status = IJobMarket.JobStatus.Settled;
        if (credit == 0) stored.flags = job.flags | FLAG_NO_REWARD;
    }

    /// @dev A calldata array as one word (its offset << 128 | its length), kept in memory until `_outputsAt`.
    function _outputsRef(uint256[] calldata outputs) private pure returns (uint256 ref) {
        assembly ("memory-safe") {
            ref := or(shl(128, outputs.offset), outputs.length)
        }
    }

    /// @dev The calldata array `_outputsRef` made into a word (calldata of this same call).
    function _outputsAt(uint256 ref) private pure returns (uint256[] calldata outputs) {
        assembly ("memory-safe") {
            outputs.offset := shr(128, ref)
            outputs.length := and(ref, 0xffffffffffffffffffffffffffffffff)
        }
    }

    /// @dev No overflow: a run has at most MAX_BATCH owners and royalties of prices below 2^96.
    function _addRoyalty(Run memory run, address owner, uint256 royalty) private pure {
        unchecked {
            uint256 k;
            uint256 nOwners = run.nOwners;
            address[] memory owners = run.owners;
            while (k < nOwners && owners[k] != owner) ++k;
            if (k == nOwners) {
                owners[k] = owner;
                run.nOwners = nOwners + 1;
            }
            run.royalties[k] += royalty;
        }
    }

    /// @dev A run's aggregated credits and interactions, then each job's JobSettled and callback.
    function _finish(Run memory run) private {
        uint256 n = run.n;
        if (n == 0) return;
        address provider = run.provider;
        _credit(provider, run.pay);
        for (uint256 k; k < run.nOwners; ++k) {
            _credit(run.owners[k], run.royalties[k]);
        }
        _credit(run.treasury, run.fee);

        // Interactions with trusted protocol contracts.
        _staking.unlockCollateral(provider, run.collateral);
        Settled[] memory settled = run.settled;
        uint256[] memory done = run.done;
        uint256[] memory fees = run.rewardFees;
        uint256 nRewarded = run.nRewarded;
        assembly ("memory-safe") {
            mstore(settled, n)
            mstore(done, shl(1, n))
            mstore(fees, nRewarded)
        }
        _reputation.recordCompletions(provider, done);
        uint256[] memory rewards = nRewarded == 0 ? fees : _rewards.rewardMany(provider, fees);
        uint256 r;
        for (uint256 i; i < n; ++i) {
            Settled memory s = settled[i];
            uint256 reward;
            if (s.rewarded) {
                reward = rewards[r];
                unchecked {
                    ++r; // at most n
                }
            }
            // A finalization logs no outputs: they are in the job's JobSubmitted, which its entry committed.
            uint256[] calldata outputs = run.finalizing ? _outputsAt(0) : _outputsAt(s.outputs);
            emit IJobMarket.JobSettled(s.jobId, provider, outputs, s.pay, s.royalty, s.fee, reward);
        }
        for (uint256 i; i < n; ++i) {
            Settled memory s = settled[i];
            if (s.callbackGasLimit != 0) _callback(s.jobId, s.consumer, s.callbackGasLimit, _outputsAt(s.outputs));
        }
    }
}
