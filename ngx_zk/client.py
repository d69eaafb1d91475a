"""The library API for consumers, providers and auditors: ``ngx_zk.Client``. The CLI is a skin over it.

::

    import ngx_zk as ngx

    client = ngx.Client(account="consumer")                 # or a keystore / NGX_ZK_PRIVATE_KEY
    result = client.run_job("mlp", "models/mlp/input.json", price="10", timeout_s=180)
    print(result.job_id, result.outputs)                    # outputs verified against the proof on chain

One place resolves the chain (:func:`connect`): an explicit ``rpc_url``, else ``NGX_ZK_RPC_URL``, else
the running local devnet, else the default URL; and checks that the deployment recorded for that
chain has code there (a restarted devnet without ``deploy`` is named, not a web3 traceback).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Settings, load_settings, with_overrides
from .errors import DeploymentError, InputError

if TYPE_CHECKING:
    from .artifacts import Circuit
    from .auditor import Verdict
    from .chain.market import Marketplace
    from .chain.signer import Signer
    from .chain.tx import Chain
    from .consumer import Consumer, JobRecord, JobResult

WEI = 10**18


def resolve_chain(settings: Settings | None = None, rpc_url: str | None = None) -> Chain:
    """The chain every command talks to (see the module docstring for the resolution order); no
    deployment needed (``ngx-zk deploy`` starts from here)."""
    from .chain import devnet
    from .chain.tx import Chain

    settings = with_overrides(settings or load_settings(), rpc_url=rpc_url)
    urls = settings.rpc_urls
    if not settings.rpc_from_env:
        running = devnet.url(settings)
        urls = (running,) if running else urls
    chain = Chain(urls)
    chain.max_fee_per_gas, chain.max_priority_fee_per_gas = settings.max_fee_per_gas, settings.max_priority_fee_per_gas
    return chain


def connect(settings: Settings | None = None, rpc_url: str | None = None, *, chain: Chain | None = None) -> Marketplace:
    """The marketplace on the configured chain (``chain`` if already resolved), its recorded deployment
    checked to have code there."""
    from .chain import deployment
    from .chain.market import Marketplace
    from .chain.types import is_dev_chain

    settings = settings or load_settings()
    chain = chain or resolve_chain(settings, rpc_url)
    deployed = deployment.load(settings, chain.chain_id)
    market_address = deployed.address("JobMarket")
    if not chain.has_code(market_address):
        fresh = " (the devnet was restarted fresh)" if is_dev_chain(chain.chain_id) else ""
        raise DeploymentError(f"no contracts at {market_address} on chain {chain.chain_id}{fresh}", "deploy them: ngx-zk deploy")
    return Marketplace(chain, deployed)


def signer_for(settings: Settings, chain_id: int, *, account: str | None = None, keystore: Path | None = None) -> Signer:
    """The signer every command uses: a dev account by role (dev chain only), else ``keystore`` /
    NGX_ZK_KEYSTORE (+ password) / NGX_ZK_PRIVATE_KEY."""
    from .chain import devnet, signer
    from .chain.types import is_dev_chain
    from .errors import SignerError

    if account:
        if not is_dev_chain(chain_id):
            raise SignerError(
                f"--account {account} names a dev-chain account; this is chain {chain_id}",
                "use --keystore or NGX_ZK_KEYSTORE / NGX_ZK_PRIVATE_KEY on real chains",
            )
        return devnet.dev_signer(settings, account)
    return signer.from_settings(settings, keystore)


def parse_price(price: str | int | Decimal) -> int:
    """An NGX amount (``"12.5"``, ``Decimal``) as base units; an ``int`` is taken as base units already."""
    if isinstance(price, int):
        if price <= 0:
            raise InputError(f"price {price!r} must be positive")
        return price
    from .units import parse_ngx

    return parse_ngx(price, positive=True)


class Client:
    """One account on one chain: post jobs and wait for verified outputs, check providers, audit jobs.

    ``account`` names a dev-chain role (``consumer``, ``provider``, ...); otherwise the signer comes from
    ``keystore`` or the environment (NGX_ZK_KEYSTORE / NGX_ZK_PRIVATE_KEY); failing both, ``dev_account``
    on the local dev chain (the CLI's ``deploy`` documents one). The chain, market and signer are resolved
    on first use, so a Client for auditing needs no key; ``market`` hands it one already connected (the
    explorer's). Every CLI command that talks to the chain gets one (:func:`ngx_zk.cli._common.chain_command`)."""

    def __init__(
        self,
        settings: Settings | None = None,
        rpc_url: str | None = None,
        account: str | None = None,
        keystore: Path | None = None,
        *,
        dev_account: str | None = None,
        market: Marketplace | None = None,
    ) -> None:
        self.settings: Settings = settings or load_settings()
        self.rpc_url, self.account, self.keystore, self.dev_account = rpc_url, account, keystore, dev_account
        self._market = market
        self._chain: Chain | None = market.chain if market is not None else None
        self._signer: Signer | None = None

    def __repr__(self) -> str:
        from .chain.rpc import mask_url  # an API key in the URL stays out of logs and tracebacks

        url = None if self.rpc_url is None else mask_url(self.rpc_url)
        return f"Client(rpc_url={url!r}, account={self.account!r}, keystore={self.keystore!r})"

    @property
    def chain(self) -> Chain:
        """The chain (no deployment needed: ``deploy`` starts from here)."""
        if self._chain is None:
            self._chain = resolve_chain(self.settings, self.rpc_url)
        return self._chain

    @property
    def is_dev(self) -> bool:
        """Whether the chain is the local dev chain (anvil)."""
        from .chain.types import is_dev_chain

        return is_dev_chain(self.chain.chain_id)

    @property
    def market(self) -> Marketplace:
        if self._market is None:
            self._market = connect(self.settings, chain=self.chain)
        return self._market

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            from .errors import SignerError

            account = self.account
            if account is None and not (self.keystore or self.settings.keystore or self.settings.private_key):
                if not (self.dev_account and self.is_dev):
                    raise SignerError("no signing key given", self._signer_hint())
                account = self.dev_account
            self._signer = signer_for(self.settings, self.chain.chain_id, account=account, keystore=self.keystore)
        return self._signer

    def _signer_hint(self) -> str:
        real = "--keystore FILE (password in NGX_ZK_KEYSTORE_PASSWORD[_FILE]), NGX_ZK_KEYSTORE or NGX_ZK_PRIVATE_KEY"
        if self.is_dev:
            return f"on this dev chain pass --account ROLE (consumer, provider, deployer, ...), or {real}"
        return f"pass {real}"

    @property
    def consumer(self) -> Consumer:
        """This account as a consumer (:class:`ngx_zk.consumer.Consumer`): post, order, adopt, wait."""
        from .consumer import Consumer

        return Consumer(self.settings, self.market, self.signer)

    def circuit(self, model: str | Circuit) -> Circuit:
        from .artifacts import Circuit
        from .circuit import load_circuit

        return model if isinstance(model, Circuit) else load_circuit(model, self.settings)

    # --- consumers -----------------------------------------------------------------------------
    def post_job(
        self,
        model: str | Circuit,
        input_file: str | Path,
        *,
        price: str | int | Decimal,
        claim_window: int = 300,
        prove_window: int = 600,
        min_reputation: int = 0,
        provider: str | None = None,
        min_price: str | int | Decimal | None = None,
        ramp: int = 0,
        ramp_delay: int = 0,
        gasless: bool = False,
    ) -> JobRecord:
        """Commit to the input (fresh salt), escrow ``price`` and post the job; the record holds the secrets.

        With ``min_price`` the job is a reverse Dutch auction: the price a claim locks rises from
        ``min_price`` (after ``ramp_delay`` seconds) to ``price`` over ``ramp`` seconds. With ``gasless``
        (and ``provider``) this account sends no transaction: it signs an order and a permit, and the
        provider posts and claims the job in one transaction it pays for."""
        from .inputs import load as load_input

        circuit = self.circuit(model)
        data = load_input(Path(input_file), circuit.manifest)
        low = None if min_price is None else parse_price(min_price)
        if low is not None and not (low < parse_price(price) and ramp > 0):
            raise InputError(f"an auction rises: min_price {min_price} must be below price {price}, with ramp > 0 seconds")
        return self.consumer.post(
            circuit,
            data,
            price=parse_price(price),
            claim_window=claim_window,
            prove_window=prove_window,
            min_reputation=min_reputation,
            offer_to=provider,
            min_price=low,
            ramp=ramp,
            ramp_delay=ramp_delay,
            gasless=gasless,
        )

    def post_batch(
        self,
        model: str | Circuit,
        inputs: str | Path | Sequence[Any],
        *,
        price: str | int | Decimal,
        claim_window: int = 300,
        prove_window: int = 600,
        min_reputation: int = 0,
    ) -> JobRecord:
        """A batch job: ``inputs`` (a JSON Lines file, or a list of ``{"input_data": ...}`` objects) proved by one proof.

        The model's circuit for ``len(inputs)`` inputs is picked among those published on this chain
        (``model build --batch N``); each input gets its own salt and commitment."""
        from .artifacts import Circuit
        from .circuit import batch_job
        from .inputs import read_lines

        objects = read_lines(Path(inputs)) if isinstance(inputs, (str, Path)) else list(inputs)
        name = model.name if isinstance(model, Circuit) else model
        circuit, data = batch_job(name, objects, self.settings, published=set(self.market.deployment.models))
        return self.consumer.post(
            circuit,
            data,
            price=parse_price(price),
            claim_window=claim_window,
            prove_window=prove_window,
            min_reputation=min_reputation,
        )

    def wait(self, record: JobRecord, *, timeout_s: float | None = None, model: str | Circuit | None = None) -> JobResult:
        """Hand the input to the provider that claims the job and wait until a verified output settles it.
        Ctrl-C raises :class:`~ngx_zk.errors.Interrupted` naming the job (it stays on chain: wait again)."""
        return self.consumer.wait(self.circuit(model or record.model), record, timeout_s=timeout_s)

    def run_job(
        self,
        model: str | Circuit,
        input_file: str | Path,
        *,
        price: str | int | Decimal,
        timeout_s: float | None = None,
        **post: Any,
    ) -> JobResult:
        """``post_job`` then ``wait``: a verified output, or an error saying what happened to the job."""
        record = self.post_job(model, input_file, price=price, **post)
        return self.wait(record, timeout_s=timeout_s, model=model)

    def deliver(
        self, job_id: int, salted_input: str | Path, model: str | Circuit, *, timeout_s: float | None = None
    ) -> JobResult:
        """As the deliverer a contract consumer named: hand the salted input whose commitments the contract
        posted to whoever claims job ``job_id``, and wait for the verified output (the contract gets it too,
        through its callback)."""
        from .inputs import load as load_input

        circuit = self.circuit(model)
        consumer = self.consumer
        record = consumer.adopt(circuit, job_id, load_input(Path(salted_input), circuit.manifest))
        return consumer.wait(circuit, record, timeout_s=timeout_s)

    def run_batch(
        self,
        model: str | Circuit,
        inputs: str | Path | Sequence[Any],
        *,
        price: str | int | Decimal,
        timeout_s: float | None = None,
        **post: Any,
    ) -> JobResult:
        """``post_batch`` then ``wait``: ``result.by_input`` holds one verified output per input."""
        record = self.post_batch(model, inputs, price=price, **post)
        return self.wait(record, timeout_s=timeout_s)

    # --- providers and auditors -------------------------------------------------------------------
    def reputation(self, address: str | None = None) -> dict[str, Any]:
        """A provider's NRS, its components and recorded facts (this client's account by default)."""
        who = address or self.signer.address
        nrs, (p, r, lon, peer) = self.market.nrs(who)
        return {
            "provider": who,
            "nrs": nrs,
            "performance": p,
            "reliability": r,
            "longevity": lon,
            "peer_rating": peer,
            **self.market.facts(who),
        }

    def consumer_record(self, address: str | None = None) -> dict[str, Any]:
        """A consumer's on-chain record (settled, cancelled, inputs withheld or invalid) and its score."""
        who = address or self.signer.address
        return {"consumer": who, "score": self.market.consumer_score(who), **self.market.consumer_facts(who)}

    def verify_job(self, job_id: int, model: str | Circuit, explorer: str | None = None) -> Verdict:
        """Re-check a settled job from chain data and the local circuit, check by check (``explorer``: a proof
        mirror for an optimistic job whose provider no longer serves its proof)."""
        from .auditor import audit_job

        return audit_job(self.settings, self.market, self.circuit(model), job_id, explorer)


__all__ = ["Client", "connect", "parse_price", "resolve_chain", "signer_for"]
