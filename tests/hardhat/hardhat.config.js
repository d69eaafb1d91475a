// Hardhat's node (EDR) as a second EVM for tests/test_public_network_hardhat.py: the dev chain's id and
// accounts (anvil's default mnemonic), the EVM version the contracts are built for. Its cache goes to
// HARDHAT_TMP (the test's temporary folder), never into the tree.
const tmp = process.env.HARDHAT_TMP || require("os").tmpdir();

module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "cancun",
      accounts: {
        mnemonic: "test test test test test test test test test test test junk",
        count: 10,
        accountsBalance: "10000000000000000000000",
      },
    },
  },
  paths: { cache: `${tmp}/cache`, artifacts: `${tmp}/artifacts`, sources: `${tmp}/contracts` },
};
