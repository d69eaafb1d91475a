// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IJobMarket} from "../interfaces/IJobMarket.sol";
import {IReputation} from "../interfaces/IReputation.sol";
import {JobTermsLib} from "../types/JobTermsLib.sol";

/// @title NgxAgentAdapter
/// @notice Read-only ERC-8004-style views over the market on chain A, so agents' validation and reputation registries
///         (and contracts) can read NRS and job validations without knowing the market's own ABI.
/// @dev Agents are providers: `agentId = uint256(uint160(provider))` (the market has no identity registry of its own).
///      A validation request is one job: `requestHash = bytes32(jobId)`; the validator is the market, which checked the
///      proof (eager, or an answered challenge) or let the challenge window close unchallenged (optimistic: the tag
///      says which settlement mode the job used). Only a Settled job has a response (100); any other status has none
///      (an expired job's fault is not always the provider's: a missed job shows in `getSummary`'s NRS instead).
contract NgxAgentAdapter {
    bytes32 public constant TAG_EAGER = "ngx.zkml.eager";
    bytes32 public constant TAG_OPTIMISTIC = "ngx.zkml.optimistic";

    IJobMarket public immutable market;
    IReputation public immutable reputation;

    error Adapter__NotAnAgentId(uint256 agentId);

    constructor(IJobMarket market_, IReputation reputation_) {
        market = market_;
        reputation = reputation_;
    }

    /// @notice The agent id of a provider address.
    function agentIdOf(address provider) external pure returns (uint256) {
        return uint256(uint160(provider));
    }

    /// @notice The validation request hash of job `jobId`.
    function requestHashOf(uint256 jobId) external pure returns (bytes32) {
        return bytes32(jobId);
    }

    /// @notice ERC-8004's `getValidationStatus` for job `uint256(requestHash)`.
    /// @return validatorAddress The market (zero while the job has no response).
    /// @return agentId The job's provider as an agent id (zero until claimed).
    /// @return response 100 for a Settled job, else 0 (see `hasResponse`).
    /// @return responseHash The market's hash of the settled outputs (keccak256 of the packed output instances).
    /// @return tag TAG_EAGER or TAG_OPTIMISTIC: how the job settled (zero while the job has no response).
    /// @return hasResponse Whether the job has settled.
    function getValidationStatus(bytes32 requestHash)
        external
        view
        returns (
            address validatorAddress,
            uint256 agentId,
            uint8 response,
            bytes32 responseHash,
            bytes32 tag,
            bool hasResponse
        )
    {
        uint256 jobId = uint256(requestHash);
        IJobMarket.Job memory job = market.getJob(jobId);
        agentId = uint256(uint160(job.provider));
        if (job.status != IJobMarket.JobStatus.Settled) return (address(0), agentId, 0, 0, 0, false);
        validatorAddress = address(market);
        response = 100;
        responseHash = market.outputsHashOf(jobId);
        tag = job.flags & JobTermsLib.FLAG_OPTIMISTIC != 0 ? TAG_OPTIMISTIC : TAG_EAGER;
        hasResponse = true;
    }

    /// @notice ERC-8004's `getSummary` for a provider: `count` its rewarded completions (with every client), or with
    ///         `clientAddresses` only theirs; `averageScore` its NRS (0-100). Tags are not used (pass zero).
    function getSummary(uint256 agentId, address[] calldata clientAddresses, bytes32, bytes32)
        external
        view
        returns (uint64 count, uint8 averageScore)
    {
        if (agentId > type(uint160).max) revert Adapter__NotAnAgentId(agentId);
        // forge-lint: disable-next-line(unsafe-typecast)
        address provider = address(uint160(agentId)); // agentId <= type(uint160).max, checked above
        if (clientAddresses.length == 0) {
            count = reputation.factsOf(provider).completed;
        } else {
            for (uint256 i; i < clientAddresses.length; ++i) {
                count += uint64(reputation.pairCompletions(provider, clientAddresses[i]));
            }
        }
        averageScore = uint8(reputation.nrs(provider));
    }
}
