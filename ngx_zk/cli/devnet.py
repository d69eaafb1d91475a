"""``ngx-zk devnet up|down|status``: the local anvil chain."""

from __future__ import annotations

import click

from ..errors import ChainError
from ._common import emit, json_option, settings_from


@click.command("up")
@click.option("--port", type=click.IntRange(0, 65535), help="Port to listen on (0: any free port).  [default: 8545]")
@click.option("--fresh", is_flag=True, help="Discard the saved chain state first (and the deployment recorded for it).")
@click.option(
    "--block-time",
    type=click.FloatRange(0, min_open=True, max=3600),
    metavar="SECONDS",
    help="Mine a block every SECONDS (like a public chain: 2 for an L2, 12 for L1).  [default: a block per transaction]",
)
@json_option
@click.pass_context
def devnet_up(ctx: click.Context, port: int | None, fresh: bool, block_time: float | None, as_json: bool) -> None:
    """Start anvil in the background (pinned npm build), with funded dev accounts.

    A devnet that already runs is reported, not restarted: --port, --fresh or another --block-time
    then fail (stop it first with `ngx-zk devnet down`). --fresh moves deployments/31337.json aside
    (to .json.old): the new chain has none of its contracts, so deploy again. --block-time mines on a
    timer, so every transaction waits for the next block, as on a public chain.

    \b
    Example:
      ngx-zk devnet up --port 8545
      ngx-zk devnet up --fresh && ngx-zk deploy
      ngx-zk devnet up --fresh --block-time 2
    """
    from ..chain import devnet

    settings = settings_from(ctx)
    running = devnet.status(settings)
    if running.running:
        running_port = int(running.url.rsplit(":", 1)[1])
        if port is not None and port != running_port:
            raise ChainError(f"a devnet already runs at {running.url}, not on port {port}", "stop it first: ngx-zk devnet down")
        if fresh:
            raise ChainError(
                f"a devnet already runs at {running.url}: --fresh needs it stopped first",
                "ngx-zk devnet down, then ngx-zk devnet up --fresh",
            )
        if block_time is not None and block_time != running.block_time:
            raise ChainError(
                f"a devnet already runs at {running.url} with {_cadence(running.block_time)}, not a block every {block_time:g}s",
                f"stop it first: ngx-zk devnet down, then ngx-zk devnet up --block-time {block_time:g}",
            )
        emit(
            as_json,
            running.__dict__,
            f"devnet already running at {running.url} (chain {running.chain_id}, block {running.block}, "
            f"{_cadence(running.block_time)}, pid {running.pid})",
        )
        return
    st = devnet.up(settings, port=8545 if port is None else port, fresh=fresh, block_time=block_time)
    text = f"devnet running at {st.url} (chain {st.chain_id}, block {st.block}, {_cadence(st.block_time)}, pid {st.pid})"
    if st.discarded_deployment:
        text += (
            f"\nthe old deployment is gone with the old chain: its file was moved to {st.discarded_deployment}; "
            "deploy again: ngx-zk deploy"
        )
    emit(as_json, st.__dict__, text)


def _cadence(block_time: float | None) -> str:
    return "a block per transaction" if block_time is None else f"a block every {block_time:g}s"


@click.command("down")
@json_option
@click.pass_context
def devnet_down(ctx: click.Context, as_json: bool) -> None:
    """Stop the devnet; its state is saved and comes back with the next `up`.

    \b
    Example:
      ngx-zk devnet down
    """
    from ..chain import devnet

    stopped = devnet.down(settings_from(ctx))
    emit(as_json, {"stopped": stopped}, "devnet stopped (state saved)" if stopped else "devnet was not running")


@click.command("status")
@json_option
@click.pass_context
def devnet_status(ctx: click.Context, as_json: bool) -> None:
    """Show whether the devnet runs, its URL, chain id, block and dev accounts (addresses only).

    \b
    Example:
      ngx-zk devnet status --json
    """
    from ..chain import devnet

    st = devnet.status(settings_from(ctx))
    accounts = {role: devnet.dev_address(role) for role in devnet.ROLES}
    text = (
        f"devnet running at {st.url}: chain {st.chain_id}, block {st.block}, {_cadence(st.block_time)}, pid {st.pid}"
        if st.running
        else "devnet not running"
    )
    if st.running:
        text += "\n" + "\n".join(f"  {role:<10} {addr}" for role, addr in accounts.items())
    emit(as_json, {**st.__dict__, "accounts": accounts}, text)
