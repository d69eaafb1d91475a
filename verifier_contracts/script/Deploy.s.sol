// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "../test/utils/Test.sol";
import {NGXToken} from "../src/token/NGXToken.sol";
import {TeamVesting} from "../src/token/TeamVesting.sol";
import {ProtocolConfig} from "../src/ProtocolConfig.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {ProviderStaking} from "../src/ProviderStaking.sol";
import {Reputation} from "../src/Reputation.sol";
import {RewardsPool} from "../src/RewardsPool.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {JobSettlement} from "../src/JobSettlement.sol";
import {NGXGovernor} from "../src/governance/NGXGovernor.sol";
import {NGXTimelock} from "../src/governance/NGXTimelock.sol";
import {Halo2VerifierReusable} from "../src/generated/Halo2VerifierReusable.sol";

/// @notice Reference deployment, in the order the Python side (ngx_zk.chain) follows with web3.
/// @dev `forge script script/Deploy.s.sol --rpc-url $RPC --broadcast --private-key ...`. Addresses for the
///      treasury, guardian, verifier curator, ecosystem and team default to the broadcaster (dev chains only).
contract Deploy {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint256 internal constant INITIAL_REWARD = 10 ether;
    uint256 internal constant EPOCH = 180 days;
    uint256 internal constant REWARD_CAP_PER_EPOCH = 1_000 ether;
    uint256 internal constant PROPOSAL_THRESHOLD = 10_000 ether;

    struct Deployment {
        NGXTimelock timelock;
        NGXGovernor governor;
        ProtocolConfig config;
        RewardsPool rewards;
        TeamVesting vesting;
        NGXToken token;
        ModelRegistry registry;
        ProviderStaking staking;
        Reputation reputation;
        JobSettlement settlement;
        JobMarket market;
        Halo2VerifierReusable reusableVerifier;
    }

    function run() external returns (Deployment memory d) {
        vm.startBroadcast();
        address me = tx.origin; // the broadcaster once broadcasting has started
        address treasury = vm.envOr("NGX_TREASURY", me);
        address guardian = vm.envOr("NGX_GUARDIAN", me);
        address ecosystem = vm.envOr("NGX_ECOSYSTEM", me);
        address team = vm.envOr("NGX_TEAM", me);
        address curator = vm.envOr("NGX_CURATOR", me);

        // 1. governance shell: timelock first (config's owner), governor after the token
        address[] memory none = new address[](0);
        address[] memory anyone = new address[](1); // address(0): anyone may execute a ready operation
        d.timelock = new NGXTimelock(2 days, none, anyone, me);
        d.config = new ProtocolConfig(address(d.timelock), treasury, guardian, curator);
        // 2. token and its initial distribution
        d.rewards = new RewardsPool(INITIAL_REWARD, EPOCH, REWARD_CAP_PER_EPOCH);
        d.vesting = new TeamVesting(team, uint64(block.timestamp), uint64(4 * 365 days));
        d.token = new NGXToken(treasury, address(d.rewards), ecosystem, address(d.vesting));
        d.governor = new NGXGovernor(d.token, d.timelock, 7200, 50400, PROPOSAL_THRESHOLD, 4);
        // 3. protocol
        d.registry = new ModelRegistry(d.config);
        d.staking = new ProviderStaking(d.token, d.config);
        d.reputation = new Reputation(d.staking, d.config);
        d.settlement = new JobSettlement(d.token, d.config, d.registry, d.staking, d.reputation, d.rewards);
        d.market = new JobMarket(d.token, d.config, d.registry, d.staking, d.reputation, d.rewards, address(d.settlement));
        d.reusableVerifier = new Halo2VerifierReusable();
        // The shared EZKL verifier is trusted code: allow-list its runtime (needs the curator = broadcaster).
        if (curator == me) d.config.setVerifierCodeAllowed(address(d.reusableVerifier).codehash, true);
        // 4. wiring (each callable once, by this deployer)
        d.staking.bindMarket(address(d.market));
        d.reputation.bindMarket(address(d.market));
        d.rewards.initialize(address(d.token), address(d.market));
        d.timelock.grantRole(d.timelock.PROPOSER_ROLE(), address(d.governor));
        d.timelock.grantRole(d.timelock.CANCELLER_ROLE(), address(d.governor));
        d.timelock.renounceRole(d.timelock.DEFAULT_ADMIN_ROLE(), me);
        vm.stopBroadcast();
    }
}
