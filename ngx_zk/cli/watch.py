"""``ngx-zk watch``: the watchtower over optimistic settlement (the library is :mod:`ngx_zk.watch`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import console
from ._common import SECONDS, Client, chain_command


@click.command("watch")
@click.option("--once", is_flag=True, help="One pass over the results seen so far, then exit (for cron and tests).")
@click.option(
    "--explorer",
    metavar="URL",
    help="An explorer whose proof mirror (GET /api/jobs/ID/proof) is asked when the provider's endpoint does not serve a proof.",
)
@click.option(
    "--grace",
    "grace_s",
    type=SECONDS,
    default=300,
    show_default=True,
    help="Challenge an unavailable proof once this many seconds of its challenge window are left.",
)
@click.option(
    "--bond-from",
    "bond_from",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keystore of the account that posts challenge bonds (same as --keystore; default NGX_ZK_KEYSTORE / NGX_ZK_PRIVATE_KEY).",
)
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The decisions journal (SQLite).  [default: $NGX_ZK_STATE_DIR/watch.sqlite]",
)
@click.option(
    "--poll", "poll_s", type=click.FloatRange(0.1, 3600), default=2.0, show_default=True, help="Seconds between passes."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per decision on stdout (one per line).")
@chain_command(signer=True)
def watch_cmd(
    client: Client,
    once: bool,
    explorer: str | None,
    grace_s: int,
    bond_from: Path | None,
    journal_path: Path | None,
    poll_s: float,
    as_json: bool,
) -> None:
    """Guard optimistic settlement: check every optimistic result's proof and challenge the bad ones.

    Follows JobSubmitted on the market. For each result it fetches the proof from the provider's
    endpoint (GET /v1/proofs/ID; public http(s) hosts only, no redirects, bounded), then from the
    --explorer mirror, and checks it as an answer to a challenge would be checked on chain: keccak of
    the proof equals the committed proofHash, the instances are the job's input commitments and the
    committed outputs, and the proof verifies against the model's verification key, offline (the
    model's circuit must be installed here: `ngx-zk model pull ID`).

    A result whose proof is invalid or mismatched is challenged at once; one whose proof nobody
    serves is challenged --grace seconds before its challenge window closes. A challenge posts the
    governed bond (NGX, from the signing account: --bond-from/--keystore, or the environment; keys
    never come from options). Once the answer window passed without an answer, the watch upholds
    the challenge: the provider is slashed, the consumer refunded, and the bond comes back with a
    reward. A challenge answered with a valid proof loses the bond to the provider.

    Decisions are journaled (SQLite), so a restart neither re-checks a valid result nor challenges
    twice. Prints a line per decision, or one JSON object per line with --json; Ctrl-C stops.

    \b
    Example:
      ngx-zk watch --once --account consumer2                     # dev chain: one pass
      ngx-zk watch --bond-from watcher.json --explorer https://explorer.example --grace 600
      ngx-zk watch --once --json --account consumer2 | jq -c 'select(.decision=="challenged")'
    """
    from ..watch import Decision, open_watchtower

    if bond_from is not None:
        if client.keystore is not None or client.account is not None:
            raise click.UsageError("give one of --bond-from, --keystore or --account")
        client.keystore = bond_from
    err = console.stderr()

    def report(decision: Decision) -> None:
        if as_json:
            click.echo(json.dumps(decision.to_json()))
        else:
            click.echo(decision.line())

    def progress(text: str) -> None:
        if not as_json:
            err.print(text)

    tower = open_watchtower(
        client.settings,
        client.market,
        client.signer,
        explorer=explorer,
        grace_s=grace_s,
        journal_path=str(journal_path) if journal_path else None,
        report=report,
        progress=progress,
    )
    progress(
        f"watching optimistic results on chain {client.chain.chain_id} as {client.signer.address}"
        + (" (one pass)" if once else "; Ctrl-C stops")
    )
    try:
        tower.run(once=once, poll_s=poll_s)
    except KeyboardInterrupt:
        progress("stopped; the journal keeps every decision and challenge")
    finally:
        tower.journal.close()
