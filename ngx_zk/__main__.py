"""``python -m ngx_zk`` runs the CLI."""

from .cli import main

main()
