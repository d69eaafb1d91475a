"""The ``ngx-zk`` command line: a thin skin over the library.

Each command parses its options, calls one library function, and prints a line or, with ``--json``,
one JSON object on stdout. Failures are not the command's business: the root group's ``main`` runs
every command under :func:`._errors.run`, which turns any failure into one line on stderr, an exit
status and, with ``--json``, a JSON error object on stdout (see :mod:`._errors`).

Commands are registered here by name (``"module:function"`` plus the one-line help shown in
listings) and imported only when invoked, so ``ngx-zk --help`` starts without loading EZKL,
onnxruntime or web3. They live in :mod:`.pipeline` (local proving), :mod:`.models` (publish, bundle, pull),
:mod:`.devnet`, :mod:`.deploy`, :mod:`.provider`, :mod:`.prove_job` and :mod:`.job` (chain),
:mod:`.worker` and :mod:`.bench`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import click

from .. import __version__


class LazyGroup(click.Group):
    """A group whose commands are imported on first use; listings use the registered one-line help."""

    def __init__(self, *args: object, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy: dict[str, tuple[str, str]] = dict(lazy or {})
        """Command name -> ("module:function" under ngx_zk.cli, one-line help)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, function = self.lazy[cmd_name][0].partition(":")
            command = getattr(importlib.import_module(f"{__name__}.{module}"), function)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module}:{function} is not a click command")
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max((len(name) for name in self.list_commands(ctx)), default=0)
        rows = []
        for name in self.list_commands(ctx):
            loaded = self.commands.get(name)
            if loaded is not None:
                if loaded.hidden:
                    continue
                rows.append((name, loaded.get_short_help_str(limit)))
            else:
                rows.append((name, click.Command(name, help=self.lazy[name][1]).get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class RootGroup(LazyGroup):
    """The ``ngx-zk`` group: its ``main`` owns every command's failure path (:mod:`._errors`)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:  # a caller that handles failures itself
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        from ._errors import run

        argv = list(sys.argv[1:] if args is None else args)
        sys.exit(run(lambda: super(RootGroup, self).main(argv, prog_name, complete_var, standalone_mode=False, **extra), argv))


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(
    "ngx-zk",
    cls=RootGroup,
    context_settings=CONTEXT,
    lazy={
        "bench": (
            "bench:bench_cmd",
            "Measure ngx-zk against bare EZKL: prove time per example model, job latency, gas, throughput.",
        ),
        "commit": ("pipeline:commit_cmd", "Compute the Poseidon commitment a proof on INPUT will carry."),
        "deploy": ("deploy:deploy_cmd", "Deploy and wire all marketplace contracts; write deployments/<chain id>.json."),
        "explorer": ("explorer:explorer_cmd", "Index the market's events and serve the JSON API and the web pages."),
        "jobs": ("job:jobs_cmd", "List the most recent jobs and their state."),
        "prove": ("pipeline:prove_cmd", "Prove the model's output on an input, locally (no chain)."),
        "prove-job": (
            "prove_job:prove_job",
            "Post a job for MODEL on an input, pay into escrow, and get back a verified output.",
        ),
        "relay": (
            "crosschain:relay_cmd",
            "Carry a job settled on chain A to a consumer contract on chain B, which verifies its proof.",
        ),
        "reputation": (
            "provider:reputation_cmd",
            "Show NRS = 0.4 Performance + 0.3 Reliability + 0.2 Longevity + 0.1 Peer rating, per provider.",
        ),
        "verify": ("pipeline:verify_cmd", "Verify a proof offline, or audit a past job from chain data."),
        "withdraw": ("provider:withdraw_cmd", "Withdraw what the market credited you: provider pay, royalties, refunds."),
        "watch": (
            "watch:watch_cmd",
            "Guard optimistic settlement: check every optimistic result's proof and challenge the bad ones.",
        ),
        "worker": ("worker:worker_cmd", "Serve jobs as a provider: claim, prove, submit, get paid."),
    },
)
@click.version_option(__version__, prog_name="ngx-zk")
def main() -> None:
    """ngx-zk: verifiable AI inference for the NeuroGrid GPU marketplace.

    \b
    Local pipeline (no chain):
      ngx-zk model build models/mlp                  # ONNX -> EZKL circuit + keys
      ngx-zk commit models/mlp/input.json --model mlp --out salted.json
      ngx-zk prove --model mlp --input salted.json --out proof.json
      ngx-zk verify proof.json --model mlp
    \b
    Marketplace (see `ngx-zk devnet --help` for a local chain):
      ngx-zk model publish mlp --account deployer    # verifier + registry entry
      ngx-zk worker --model mlp --account provider   # provider: claim, prove, get paid
      ngx-zk prove-job mlp --input models/mlp/input.json --account consumer
      ngx-zk verify --job 1 --model mlp              # auditor

    \b
    Example:
      ngx-zk model build models/mlp --json

    Settings come from NGX_ZK_* environment variables (see the README); keys never come from options.
    """


@main.group(
    "model",
    cls=LazyGroup,
    lazy={
        "build": ("pipeline:model_build", "Compile MODEL (a model folder or an .onnx file) into an EZKL circuit."),
        "bundle": (
            "models:model_bundle",
            "Pack a built circuit (manifest, settings, compiled circuit, vk, circuit ONNX; no proving key) as a tar.gz.",
        ),
        "export": ("pipeline:model_export", "Export a PyTorch model to a model folder that `model build` takes."),
        "install-license": ("licence:model_install_license", "Install a licence for a hashed-weights model (provider side)."),
        "license": ("licence:model_license", "Seal a hashed-weights model's weights to one provider (owner side)."),
        "list": ("pipeline:model_list", "List the built circuits."),
        "publish": (
            "models:model_publish",
            "Publish a built circuit: deploy its verifier (or register its VKA), then its registry entry.",
        ),
        "pull": ("models:model_pull", "Install registry model ID on this chain: fetch its bundle, check it, record the id."),
        "show": ("pipeline:model_show", "Show a built circuit's manifest and check its files against it."),
    },
)
def model_group() -> None:
    """Build, inspect, publish and install model circuits.

    \b
    Example:
      ngx-zk model build models/mlp && ngx-zk model show mlp
    """


@main.group(
    "account",
    cls=LazyGroup,
    lazy={
        "address": (
            "account:account_address",
            "Print the address of keystore PATH (read from the file: no password, no chain), for scripts.",
        ),
        "new": (
            "account:account_new",
            "Make a new account: a random key, encrypted into keystore PATH (mode 0600); print its address.",
        ),
        "show": (
            "account:account_show",
            "Show an account's address, ETH (for gas) and NGX on this chain: ADDRESS, else your own.",
        ),
        "transfer": (
            "account:account_transfer",
            "Send AMOUNT NGX to --to (e.g. from the ecosystem allocation to a provider or a consumer).",
        ),
    },
)
def account_group() -> None:
    """Keystores and NGX of each role on a chain that is not the devnet (where --account ROLE serves).

    \b
    Example:
      ngx-zk account new keys/provider.json && ngx-zk account show --keystore keys/provider.json
    """


@main.group(
    "devnet",
    cls=LazyGroup,
    lazy={
        "down": ("devnet:devnet_down", "Stop the devnet; its state is saved and comes back with the next `up`."),
        "status": (
            "devnet:devnet_status",
            "Show whether the devnet runs, its URL, chain id, block and dev accounts (addresses only).",
        ),
        "up": ("devnet:devnet_up", "Start anvil in the background (pinned npm build), with funded dev accounts."),
    },
)
def devnet_group() -> None:
    """A local anvil chain for development, its state kept across restarts.

    \b
    Example:
      ngx-zk devnet up && ngx-zk deploy && ngx-zk devnet status
    """


@main.group(
    "provider",
    cls=LazyGroup,
    lazy={
        "register": (
            "provider:provider_register",
            "Register as a provider with an X25519 encryption key derived from the signing key.",
        ),
        "stake": ("provider:provider_stake", "Stake AMOUNT NGX (approves the staking contract as needed)."),
        "status": ("provider:provider_status", "Show a provider's stake, locked collateral, unbonding, earnings and NRS."),
        "unstake": (
            "provider:provider_unstake",
            "Request to unstake AMOUNT NGX; withdraw it after the unbonding delay with `provider withdraw`.",
        ),
        "withdraw": ("provider:provider_withdraw", "Withdraw stake whose unbonding delay has passed."),
    },
)
def provider_group() -> None:
    """Register, stake and unstake as a provider.

    \b
    Example:
      ngx-zk provider register --account provider && ngx-zk provider stake 5000 --account provider
    """


@main.group(
    "job",
    cls=LazyGroup,
    lazy={
        "disclose": ("job:job_disclose", "Write a file that shows one inference of your settled job to a third party."),
        "deliver": ("job:job_deliver", "Hand over the input of a job a contract consumer posted, naming you its deliverer."),
        "expire": (
            "job:job_expire",
            "Expire a job past its deadline: refund its consumer, or reopen a missed claim for a second prover.",
        ),
        "show": ("job:job_show", "Show a job's state on chain."),
        "wait": ("job:job_wait", "Wait for one of your jobs to settle, delivering its input once claimed."),
    },
)
def job_group() -> None:
    """Follow a job: show its state, or wait for it (delivering the input once claimed).

    \b
    Example:
      ngx-zk job show 1 && ngx-zk job wait 1 --account consumer
    """


@main.group(
    "crosschain",
    cls=LazyGroup,
    lazy={
        "adapter": (
            "crosschain:adapter_cmd",
            "Deploy the ERC-8004-style NgxAgentAdapter over this chain's market (read-only views of validations and NRS).",
        ),
        "board": (
            "crosschain:board_cmd",
            "Deploy the example consumer contract on chain B and ask it for chain-A jobs' outputs.",
        ),
        "deploy": ("crosschain:deploy_cmd", "Deploy a ModelMirror of chain A's market and its InferenceReceiver on chain B."),
        "mirror": ("crosschain:mirror_cmd", "Mirror a model of chain A on chain B, or bring its pause in step (the updater)."),
    },
)
def crosschain_group() -> None:
    """Verified inference on a second chain: mirror models on chain B, relay settled jobs there (`ngx-zk relay`).

    \b
    Example:
      ngx-zk crosschain deploy --to http://127.0.0.1:9545 --account deployer
      ngx-zk crosschain mirror --model 1 --to http://127.0.0.1:9545 --account deployer
    """


__all__ = ["LazyGroup", "RootGroup", "main"]
