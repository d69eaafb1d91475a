// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Test} from "./Test.sol";
import {NGXToken} from "../../src/token/NGXToken.sol";
import {TeamVesting} from "../../src/token/TeamVesting.sol";
import {ProtocolConfig} from "../../src/ProtocolConfig.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {ProviderStaking} from "../../src/ProviderStaking.sol";
import {Reputation} from "../../src/Reputation.sol";
import {RewardsPool} from "../../src/RewardsPool.sol";
import {JobMarket} from "../../src/JobMarket.sol";
import {JobSettlement} from "../../src/JobSettlement.sol";
import {IJobSettlement} from "../../src/interfaces/IJobSettlement.sol";
import {IJobMarket} from "../../src/interfaces/IJobMarket.sol";
import {IModelRegistry} from "../../src/interfaces/IModelRegistry.sol";
import {Halo2Verifier} from "../../src/generated/Halo2Verifier.sol";
import {Halo2VerifierReusable} from "../../src/generated/Halo2VerifierReusable.sol";

/// @notice Deploys the whole protocol with the real EZKL verifiers and loads the committed proof fixture.
abstract contract Base is Test {
    uint256 internal constant PRICE = 100 ether;
    uint256 internal constant STAKE = 2_000 ether;
    uint256 internal constant REWARD = 10 ether;
    uint256 internal constant EPOCH = 30 days;
    uint256 internal constant REWARD_CAP = 1_000 ether;
    bytes32 internal constant ARTIFACTS_HASH = keccak256("manifest.json");
    uint32 internal constant CLAIM_WINDOW = 1 hours;
    uint32 internal constant PROVE_WINDOW = 30 minutes;
    uint16 internal constant ROYALTY_BPS = 500;

    address internal treasury = makeAddr("treasury");
    address internal guardian = makeAddr("guardian");
    address internal ecosystem = makeAddr("ecosystem");
    address internal team = makeAddr("team");
    address internal consumer = makeAddr("consumer");
    address internal provider = makeAddr("provider");
    address internal provider2 = makeAddr("provider2");
    address internal modelOwner = makeAddr("modelOwner");
    address internal stranger = makeAddr("stranger");

    NGXToken internal token;
    TeamVesting internal vesting;
    ProtocolConfig internal config;
    ModelRegistry internal registry;
    ProviderStaking internal staking;
    Reputation internal reputation;
    RewardsPool internal rewards;
    JobMarket internal market;
    JobSettlement internal module;
    /// @dev The market at its IJobSettlement face (the module's functions, reached through the market).
    IJobSettlement internal settlement;
    IERC20 internal payToken;

    Halo2Verifier internal dedicatedVerifier;
    Halo2VerifierReusable internal reusableVerifier;
    uint256 internal dedicatedModel;
    uint256 internal reusableModel;

    // fixture: a real EZKL proof of the tiny 4->2 linear model (instances: [commitment, out0, out1])
    bytes internal proof;
    uint256[] internal instances;
    bytes internal vka;
    bytes32 internal vkaDigest;
    bytes32 internal onnxHash;
    bytes32 internal settingsHash;
    bytes32 internal vkHash;

    function setUp() public virtual {
        _loadFixture();
        _deploy(IERC20(address(0)));
    }

    function _loadFixture() internal {
        string memory json = vm.readFile("test/fixtures/tiny_linear.json");
        proof = vm.parseJsonBytes(json, ".proof");
        string[] memory raw = vm.parseJsonStringArray(json, ".instances");
        delete instances;
        for (uint256 i; i < raw.length; ++i) {
            instances.push(vm.parseUint(raw[i]));
        }
        vka = vm.parseJsonBytes(json, ".vka");
        vkaDigest = vm.parseJsonBytes32(json, ".vka_digest");
        onnxHash = vm.parseJsonBytes32(json, ".onnx_sha256");
        settingsHash = vm.parseJsonBytes32(json, ".settings_sha256");
        vkHash = vm.parseJsonBytes32(json, ".vk_sha256");
    }

    /// @param paymentToken The market's payment token; zero means NGX.
    function _deploy(IERC20 paymentToken) internal {
        rewards = new RewardsPool(REWARD, EPOCH, REWARD_CAP);
        vesting = new TeamVesting(team, uint64(block.timestamp), uint64(4 * 365 days));
        token = new NGXToken(treasury, address(rewards), ecosystem, address(vesting));
        config = new ProtocolConfig(address(this), treasury, guardian, address(this));
        registry = new ModelRegistry(config);
        staking = new ProviderStaking(token, config);
        reputation = new Reputation(staking, config);
        payToken = address(paymentToken) == address(0) ? IERC20(address(token)) : paymentToken;
        module = new JobSettlement(payToken, config, registry, staking, reputation, rewards);
        market = new JobMarket(payToken, config, registry, staking, reputation, rewards, address(module));
        settlement = IJobSettlement(address(market));
        staking.bindMarket(address(market));
        reputation.bindMarket(address(market));
        rewards.initialize(address(token), address(market));

        dedicatedVerifier = new Halo2Verifier();
        reusableVerifier = new Halo2VerifierReusable();
        config.setVerifierCodeAllowed(address(dedicatedVerifier).codehash, true);
        config.setVerifierCodeAllowed(address(reusableVerifier).codehash, true);
        vm.prank(modelOwner);
        dedicatedModel = registry.registerModel(_spec(address(dedicatedVerifier), IModelRegistry.VerifierKind.Dedicated), "");
        vm.prank(modelOwner);
        reusableModel = registry.registerModel(_spec(address(reusableVerifier), IModelRegistry.VerifierKind.Reusable), vka);

        _fund(consumer, 10_000 ether);
        _fund(provider, 10_000 ether);
        _fund(provider2, 10_000 ether);
        _registerAndStake(provider, STAKE);
    }

    function _spec(address verifier, IModelRegistry.VerifierKind kind)
        internal
        view
        returns (IModelRegistry.ModelSpec memory)
    {
        return IModelRegistry.ModelSpec({
            onnxHash: onnxHash,
            settingsHash: settingsHash,
            vkDigest: kind == IModelRegistry.VerifierKind.Reusable ? vkaDigest : vkHash,
            verifier: verifier,
            kind: kind,
            inputCommitmentCount: 1,
            outputCount: 2,
            royaltyBps: ROYALTY_BPS,
            insecureTestSrs: true,
            metadataURI: "ipfs://tiny-linear",
            artifactsHash: ARTIFACTS_HASH
        });
    }

    function _fund(address who, uint256 amount) internal {
        vm.prank(treasury);
        token.transfer(who, amount);
        if (address(payToken) != address(token)) {
            (bool ok,) = address(payToken).call(abi.encodeWithSignature("mint(address,uint256)", who, amount));
            require(ok, "mint failed");
        }
        vm.prank(who);
        payToken.approve(address(market), type(uint256).max);
        vm.prank(who);
        token.approve(address(staking), type(uint256).max);
    }

    function _registerAndStake(address who, uint256 amount) internal {
        vm.startPrank(who);
        staking.register(hex"04aa", "https://provider.example");
        staking.stake(amount);
        vm.stopPrank();
    }

    function _commitments() internal view returns (uint256[] memory c) {
        c = new uint256[](1);
        c[0] = instances[0];
    }

    function _post(uint256 modelId) internal returns (uint256 jobId) {
        vm.prank(consumer);
        jobId = market.postJob(modelId, _commitments(), PRICE, CLAIM_WINDOW, PROVE_WINDOW, 0);
    }

    function _postAndClaim(uint256 modelId) internal returns (uint256 jobId) {
        jobId = _post(modelId);
        vm.prank(provider);
        market.claimJob(jobId);
    }

    function _submit(uint256 jobId) internal {
        vm.prank(provider);
        market.submitResult(jobId, proof, instances);
    }

    function _outputs() internal view returns (uint256[] memory o) {
        o = new uint256[](instances.length - 1);
        for (uint256 i = 1; i < instances.length; ++i) {
            o[i - 1] = instances[i];
        }
    }

    /// The consumer's EIP-2612 permit of `value` to the market.
    function _permitOf(uint256 key, uint256 value) internal view returns (IJobMarket.Permit memory p) {
        address owner = vm.addr(key);
        p.value = value;
        p.deadline = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                owner,
                address(market),
                value,
                token.nonces(owner),
                p.deadline
            )
        );
        (p.v, p.r, p.s) = vm.sign(key, keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash)));
    }
}
