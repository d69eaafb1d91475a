"""``ngx-zk explorer``: index the market's events and serve the JSON API and the web pages."""

from __future__ import annotations

import signal
import threading
from typing import Any

import click

from ._common import settings_from


@click.command("explorer")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for every interface).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port to listen on (0: any free port)."
)
@click.option(
    "--db",
    "db_url",
    metavar="PATH|URL",
    help="SQLite file (a path or sqlite:///path), or postgresql://user@host/dbname. "
    "Default: $NGX_ZK_HOME/explorer/<chain id>.sqlite.",
)
@click.option(
    "--rpc-url",
    "--rpc",
    "rpc_url",
    metavar="URL[,URL...]",
    help="JSON-RPC URL(s). Default: NGX_ZK_RPC_URL, else the running devnet, else http://127.0.0.1:8545.",
)
@click.option(
    "--confirmations",
    type=click.IntRange(0, 1000),
    help="Index a block once this many sit on top (default: 0 on the devnet, 12 elsewhere).",
)
@click.option(
    "--poll",
    "poll_s",
    type=click.FloatRange(0.05, 600),
    default=1.0,
    show_default=True,
    help="Seconds between looks for new blocks.",
)
@click.option(
    "--no-index", is_flag=True, help="Serve what the database holds; do not follow the chain (no live figures, no re-verify)."
)
def explorer_cmd(
    host: str, port: int, db_url: str | None, rpc_url: str | None, confirmations: int | None, poll_s: float, no_index: bool
) -> None:
    """Index the market's events and serve the JSON API and the web pages.

    The indexer resumes where it stopped, rewinds on a reorg, and indexes only confirmed blocks;
    the API lives under /api/v1/ (described at /api/v1/openapi.json).

    \b
    Example:
      ngx-zk explorer --port 8080                       # then open http://127.0.0.1:8080
      ngx-zk explorer --db postgresql://explorer@localhost/ngx
    """
    from ..anomaly.sources import score_index
    from ..explorer.db import Database
    from ..explorer.server import Explorer, ExplorerServer

    def anomalies(db: Database) -> dict[str, Any]:  # the anomalies page's report: the explorer imports no detector
        return score_index(db).to_json()

    settings = settings_from(click.get_current_context())
    if no_index:
        if db_url is None:
            raise click.UsageError("--no-index needs --db (which database to serve)")
        app = Explorer(Database(db_url), detector=anomalies)
        server = ExplorerServer(app, host, port, poll_s=poll_s)
    else:
        from ..client import connect, resolve_chain
        from ..explorer.indexer import Indexer

        chain = resolve_chain(settings, rpc_url)
        market = connect(settings, chain=chain)
        db = Database(db_url or str(settings.home / "explorer" / f"{chain.chain_id}.sqlite"))
        indexer = Indexer(chain, market.deployment, db, confirmations=confirmations)
        app = Explorer(db, indexer, market, settings, detector=anomalies)
        server = ExplorerServer(app, host, port, poll_s=poll_s)  # binds now: a busy port fails before indexing
        first = indexer.sync()
        app.head = first.head
        click.echo(
            f"indexed chain {chain.chain_id} to block {first.indexed_to} (head {first.head}) into {db.describe()}", err=True
        )
    server.start()
    stop = threading.Event()
    # Ctrl-C and a service manager's stop end it the same clean way. SIGINT gets its handler explicitly: a
    # process started in the background by a shell without job control inherits SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"explorer at {server.url}/ (API {server.url}/api/v1/openapi.json); Ctrl-C stops it")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        app.db.close()
