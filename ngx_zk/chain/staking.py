"""Providers: stake, profile (encryption key, endpoint) and reputation (NRS and the recorded facts)."""

from __future__ import annotations

from eth_utils.address import to_checksum_address

from .contracts import Contracts, decode_struct
from .signer import Signer
from .tx import Mined
from .types import (
    ProviderProfile,
    ProviderRegistered,
)


class Providers(Contracts):
    """``ProviderStaking`` and ``Reputation``: who may claim, with what collateral, and how they did."""

    def provider(self, address: str) -> ProviderProfile:
        who = to_checksum_address(address)
        p = decode_struct(self.staking, "getProvider", self.chain.call(self.staking.functions.getProvider(who)))
        return ProviderProfile(
            who,
            int(p["staked"]),
            int(p["locked"]),
            int(p["unbonding"]),
            int(p["unbonding_release_at"]),
            int(p["registered_at"]),
            bool(p["registered"]),
            bytes(p["encryption_pub_key"]),
            str(p["endpoint_uri"]),
        )

    def register_provider(self, signer: Signer, pubkey: bytes, endpoint: str) -> Mined:
        return self.chain.send(self.staking.functions.register(pubkey, endpoint), signer, what="register provider")

    def update_provider(self, signer: Signer, pubkey: bytes, endpoint: str) -> Mined:
        return self.chain.send(self.staking.functions.updateProfile(pubkey, endpoint), signer, what="update provider profile")

    def stake(self, signer: Signer, amount: int) -> Mined:
        self.ensure_allowance(signer, self.staking.address, amount)
        return self.chain.send(self.staking.functions.stake(amount), signer, what="stake")

    def request_unstake(self, signer: Signer, amount: int) -> Mined:
        return self.chain.send(self.staking.functions.requestUnstake(amount), signer, what="request unstake")

    def withdraw_stake(self, signer: Signer) -> Mined:
        return self.chain.send(self.staking.functions.withdraw(), signer, what="withdraw stake")

    def min_stake(self) -> int:
        return int(self.chain.call(self.config.functions.minStake()))

    def collateral_for(self, price: int, nrs: int) -> int:
        return int(self.chain.call(self.config.functions.collateralFor(price, nrs)))

    def free_stake(self, address: str) -> int:
        return int(self.chain.call(self.staking.functions.freeStake(to_checksum_address(address))))

    def providers(self) -> list[str]:
        """Every address that registered as a provider."""
        seen = self.logs(ProviderRegistered, self.deployment.block)
        return list(dict.fromkeys(e.event.provider for e in seen))

    # --- reputation ----------------------------------------------------------------------------
    def nrs(self, address: str) -> tuple[int, tuple[int, int, int, int]]:
        who = to_checksum_address(address)
        return int(self.chain.call(self.reputation.functions.nrs(who))), tuple(
            self.chain.call(self.reputation.functions.components(who))
        )

    def facts(self, address: str) -> dict[str, int]:
        """The provider's recorded facts (completed, missed, declines, ratings, ...), keyed by ABI name."""
        raw = self.chain.call(self.reputation.functions.factsOf(to_checksum_address(address)))
        return {k: int(v) for k, v in decode_struct(self.reputation, "factsOf", raw).items()}

    def consumer_facts(self, address: str) -> dict[str, int]:
        """The consumer's record: jobs settled and cancelled, inputs withheld or invalid, jobs left unclaimed."""
        raw = self.chain.call(self.reputation.functions.consumerFactsOf(to_checksum_address(address)))
        return {k: int(v) for k, v in decode_struct(self.reputation, "consumerFactsOf", raw).items()}

    def consumer_score(self, address: str) -> int:
        """0-100: how reliably this consumer hands providers a valid input (100 for one who harmed no one)."""
        return int(self.chain.call(self.reputation.functions.consumerScore(to_checksum_address(address))))

    def free_declines_left(self, address: str) -> int:
        return int(self.chain.call(self.reputation.functions.freeDeclinesLeft(to_checksum_address(address))))
