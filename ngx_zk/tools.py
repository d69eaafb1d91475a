"""Locating the pinned npm tools (anvil, solcjs) that `make setup` installs into node_modules/."""

from __future__ import annotations

import shutil
from pathlib import Path

from .errors import NgxZkError

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def node_tool(name: str, *extra_roots: Path) -> Path:
    """``node_modules/.bin/<name>`` under the project (or given roots), else ``name`` on PATH."""
    for root in (*extra_roots, PROJECT_ROOT, Path.cwd()):
        candidate = root / "node_modules" / ".bin" / name
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise NgxZkError(f"{name} not found", "run `make setup` (installs the pinned npm toolchain)")
