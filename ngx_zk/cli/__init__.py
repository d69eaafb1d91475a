"""The ``ngx-zk`` command line: a thin skin over the library.

Each command parses its options, calls one library function, and prints a line or, with ``--json``,
one JSON object on stdout. Library errors (:class:`NgxZkError`) become one-line messages and exit 1.
Commands live in :mod:`.pipeline` (local proving), :mod:`.market` (chain) and :mod:`.worker`.
"""

from __future__ import annotations

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
      ngx-zk model publish mlp                       # verifier + registry entry
      ngx-zk worker --model mlp                      # provider: claim, prove, get paid
      ngx-zk prove-job mlp --input models/mlp/input.json   # consumer
      ngx-zk verify --job 1 --model mlp              # auditor

    \b
    Example:
      ngx-zk model build models/mlp --json

    Settings come from NGX_ZK_* environment variables (see the README); keys never come from options.
    """


from . import bench, market, pipeline, worker  # noqa: E402,F401  (importing registers the commands)

__all__ = ["main"]
