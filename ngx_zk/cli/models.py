"""Model distribution commands: `model publish` (registry entry and verifier), `model bundle` (pack a circuit
for others) and `model pull ID` (install one by id)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import console
from ..defaults import SAMPLE_PROVE_TIMEOUT_S
from ..errors import ChainError
from ._common import Client, chain_command, check_output_file, emit, json_option, settings_from

if TYPE_CHECKING:
    from ..publish import PublishResult
    from ..pull import PulledModel

NOT_ALLOWED = (
    "verifier code {code} is not on governance's allow-list: jobs on this model settle and pay, but earn no "
    "NGX rewards or NRS until governance allow-lists that code hash (ProtocolConfig.setVerifierCodeAllowed)"
)


def report_publish(published: PublishResult) -> None:
    """The loud part of publishing, on stderr: allowances used, copies by others, allow-list state."""
    for warning in published.warnings:
        console.warn(warning)
    for other in published.others:
        console.warn(
            f"model {other['model_id']} (owner {other['owner']}, royalty {other['royalty_bps']} bps) carries the same "
            "artifacts: tell your users which id is yours"
        )
    if published.allow_listed_now:
        console.stderr().print(f"allow-listed verifier code {published.verifier_code_hash} (dev chain, you are its curator)")
    elif not published.verifier_allowed:
        console.warn(NOT_ALLOWED.format(code=published.verifier_code_hash))


@click.command("bundle")
@click.argument("name")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The tar.gz to write.")
@json_option
@click.pass_context
def model_bundle(ctx: click.Context, name: str, out: Path, as_json: bool) -> None:
    """Pack a built circuit (manifest, settings, compiled circuit, vk, circuit ONNX; no proving key) as a tar.gz.

    Bundle after `model publish`, which binds the publisher into manifest.json (the registry pins
    that file's hash), then host the file at the --bundle-uri you published with (http(s) on a public
    host); others install it with `ngx-zk model pull ID`, which checks every file against the entry.

    \b
    Example:
      ngx-zk model publish mlp --account deployer --bundle-uri https://example.org/mlp.tar.gz
      ngx-zk model bundle mlp --out mlp.tar.gz
    """
    from ..bundle import make_bundle
    from ..catalog import binding
    from ..circuit import load_circuit

    check_output_file(out)
    circuit = load_circuit(name, settings_from(ctx))
    if binding(circuit).publisher is None:
        console.warn(
            f"circuit {circuit.name!r} binds no publisher yet: `model publish` writes it into manifest.json, so a bundle "
            "made now will not match the entry; bundle it again after publishing"
        )
    info = make_bundle(circuit, out)
    emit(
        as_json,
        {"name": info.name, "path": str(info.path), "sha256": info.sha256, "size": info.size, "files": list(info.files)},
        f"bundled {info.name} -> {info.path} ({info.size:,} bytes, sha256 {info.sha256})",
    )


@click.command("pull")
@click.argument("model_id", type=click.IntRange(1, None), metavar="ID")
@click.option(
    "--bundle",
    "bundle_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A bundle file you already have (default: fetch the URI the registry entry names).",
)
@click.option(
    "--accept-copy",
    is_flag=True,
    help="Use this id although its manifest binds no publisher and other registrants carry the same artifacts.",
)
@click.option("--replace", is_flag=True, help="Replace a different local circuit of the same name.")
@click.option(
    "--srs",
    "srs_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The public KZG ceremony SRS file the model needs, if not cached yet (kzg<k>.srs).",
)
@json_option
@chain_command(signer=False)
def model_pull(
    access: Client,
    model_id: int,
    bundle_file: Path | None,
    accept_copy: bool,
    replace: bool,
    srs_file: Path | None,
    as_json: bool,
) -> None:
    """Install registry model ID on this chain: fetch its bundle, check it, record the id.

    The bundle comes from the entry's URI (http(s) to a public host only, no redirects, bounded) or
    --bundle. Every hash is checked against the entry (artifacts hash = sha256 of manifest.json, ONNX,
    settings, vk digest, instance counts, SRS flag), the entry's registrant must be the publisher the
    manifest binds (else ID is an impostor: refused, naming the publisher's entries), and the verifier
    is re-rendered from the key and compared by code hash. Other entries of the model are reported;
    impostors by id and registrant. Nothing is installed unless every check passes.

    \b
    Example:
      ngx-zk model pull 7
      ngx-zk model pull 7 --bundle mlp.tar.gz --json
    """
    from ..pull import pull_model

    settings, market = access.settings, access.market
    with console.progress(f"pulling model {model_id}", quiet=as_json) as step:
        pulled = pull_model(
            settings,
            market,
            model_id,
            bundle=bundle_file,
            accept_copy=accept_copy,
            replace=replace,
            srs_file=srs_file,
            progress=step,
        )
    _report_pull(pulled)
    data: dict[str, Any] = pulled.to_json()
    emit(
        as_json,
        data,
        f"pulled model {pulled.model_id} on chain {pulled.chain_id} as {pulled.name!r} -> {pulled.path} "
        f"(owner {pulled.owner}, royalty {pulled.royalty_bps} bps, verifier code {pulled.verifier_code_hash})",
    )


def _report_pull(pulled: PulledModel) -> None:
    from ..chain.types import ModelStatus

    if pulled.status is not ModelStatus.ACTIVE:
        console.warn(f"model {pulled.model_id} is {pulled.status.lower()}: consumers and workers refuse it for new jobs")
    if not pulled.verifier_allowed:
        console.warn(NOT_ALLOWED.format(code=pulled.verifier_code_hash))
    from ..catalog import Relation

    said = {
        Relation.IMPOSTOR: f"is an impostor: it replays the registration of publisher {pulled.publisher}",
        Relation.PUBLISHER: "is another entry of the same publisher",
        Relation.UNBOUND: "carries the same artifacts (its manifest binds no publisher)",
        Relation.OTHER_BUILD: "is another build of the same ONNX and settings",
    }
    for copy in pulled.copies:
        console.warn(f"{copy} {said[copy.relation]}; this circuit now resolves to model {pulled.model_id} only")
    if pulled.previous_id is not None:
        console.warn(
            f"{pulled.name!r} was recorded as model {pulled.previous_id} on this chain; it is now model {pulled.model_id}"
        )


@click.command("publish")
@click.argument("name")
@click.option(
    "--verifier",
    "kind",
    type=click.Choice(["auto", "dedicated", "reusable"]),
    default="auto",
    show_default=True,
    help="auto: a dedicated verifier if it fits EIP-170, else the shared reusable verifier.",
)
@click.option(
    "--royalty-bps", type=click.IntRange(0, 2000), default=0, show_default=True, help="Royalty per job to the model owner."
)
@click.option(
    "--bundle-uri",
    "--metadata-uri",
    "bundle_uri",
    default="",
    help="Where `ngx-zk model pull` fetches the model's bundle (https:// on a public host; see `ngx-zk model bundle`).",
)
@click.option(
    "--allow-unsalted",
    is_flag=True,
    help="Publish even though inputs are unsalted (a guessable input can be confirmed from its commitment).",
)
@click.option(
    "--allow-private-output",
    is_flag=True,
    help="Publish even though the output is not in the proof (a provider may return any output).",
)
@click.option(
    "--sample",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Input to prove for the settlement dry run (default: the input the build calibrated on, sample.json).",
)
@click.option(
    "--prove-timeout",
    type=click.FloatRange(1, 86_400),
    default=SAMPLE_PROVE_TIMEOUT_S,
    show_default=True,
    help="Seconds the sample proof may take before publish stops it.",
)
@click.option(
    "--settlement",
    type=click.Choice(["eager", "optimistic"]),
    default=None,
    help="The model's default settlement for jobs that do not choose (written into manifest.json, so the entry pins it): "
    "eager verifies each proof on chain; optimistic finalizes results after a challenge window.  [default: eager]",
)
@json_option
@chain_command(signer=True)
def model_publish(
    access: Client,
    name: str,
    kind: str,
    royalty_bps: int,
    bundle_uri: str,
    allow_unsalted: bool,
    allow_private_output: bool,
    sample: Path | None,
    prove_timeout: float,
    settlement: str | None,
    as_json: bool,
) -> None:
    """Publish a built circuit: deploy its verifier (or register its VKA), then its registry entry.

    The signer is bound into manifest.json as the model's publisher (refused if it binds another), and
    the entry pins the verifier's code hash and the circuit's artifacts hash (sha256 of
    manifest.json); the model id is recorded for this chain, and consumers and workers find the model
    by that id only. A replay of the registration from another address is an impostor that pull,
    consumers and workers refuse. Make the bundle (`model bundle`) after publishing. Refused: a test-SRS circuit on any chain but the local devnet; unsalted inputs and
    private outputs unless --allow-unsalted / --allow-private-output. A verifier earns rewards and
    NRS only once governance allow-lists its code hash (done here on the devnet by its curator).
    Before anything is deployed, a sample input is proved and its settlement dry-run: by default the
    input the build calibrated on; --sample FILE for another (a model whose ops fail on it, say).
    With --settlement optimistic the model's jobs settle optimistically unless the consumer chooses
    (`prove-job --settlement`): results finalize after a challenge window, at a fraction of the gas.

    \b
    Example:
      ngx-zk model publish mlp --account deployer --royalty-bps 100 --bundle-uri https://example.org/mlp.tar.gz
      ngx-zk model bundle mlp --out mlp.tar.gz
      NGX_ZK_KEYSTORE=owner.json ngx-zk model publish mlp --rpc-url https://rollup.example
      ngx-zk model publish layernorm --account deployer --sample models/layernorm/input.json
      ngx-zk model publish mlp --account deployer --settlement optimistic
    """
    from ..circuit import load_circuit
    from ..inputs import load as load_input
    from ..publish import publish, publish_warnings

    settings = access.settings
    circuit = load_circuit(name, settings)
    sample_data = load_input(sample, circuit.manifest) if sample is not None else None
    publish_warnings(
        circuit, allow_unsalted=allow_unsalted, allow_private_output=allow_private_output
    )  # refuse before any chain work
    market, signer = access.market, access.signer
    with console.progress(f"publishing {name}", quiet=as_json) as step:
        published = publish(
            settings,
            market,
            signer,
            circuit,
            kind=kind,
            royalty_bps=royalty_bps,
            metadata_uri=bundle_uri,
            allow_unsalted=allow_unsalted,
            allow_private_output=allow_private_output,
            sample=sample_data,
            prove_timeout_s=prove_timeout,
            progress=step,
            settlement=settlement,
        )
    if published.already_published and bundle_uri and bundle_uri != published.metadata_uri:
        raise ChainError(
            f"model {published.model_id} is already published with bundle URI {published.metadata_uri!r}, "
            f"not {bundle_uri!r}; the registry keeps an entry's URI for good",
            "host the bundle at the published URI, or publish a rebuilt circuit under another --name",
        )
    data = {**published.__dict__, "kind": published.kind.name.lower(), "chain_id": market.chain.chain_id}
    report_publish(published)  # on stderr, with --json too: what an allowance gives up must not go unseen
    emit(
        as_json,
        data,
        f"{'already published' if published.already_published else 'published'} {name} as model "
        f"{published.model_id} on chain {market.chain.chain_id} ({data['kind']} verifier {published.verifier}, "
        f"code hash {published.verifier_code_hash}; {published.settlement} settlement by default)",
    )
