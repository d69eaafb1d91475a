"""Nothing destructive without a word: the checks that stop a command from silently replacing what is
live (a published circuit, a deployment with state on chain), and the backups kept when ``--force``
says to go ahead."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..config import Settings
from ..errors import CircuitError, DeploymentError

if TYPE_CHECKING:
    from ..chain.deployment import Deployment
    from ..chain.tx import Chain


def stamp() -> str:
    """A backup's suffix: the local time, to the second."""
    return time.strftime("%Y%m%dT%H%M%S")


def circuit_name(model_path: str, name: str | None, batch: int) -> str:
    """The circuit name ``model build`` will use (as :func:`ngx_zk.onnx_model.resolve` names it), without loading the model.

    An empty ``--name`` is refused: the build read it as "no name" and replaced the default circuit,
    published or not (an unset shell variable in ``--name "$NAME"``)."""
    if name is not None and not name.strip():
        raise click.BadParameter("the circuit name is empty", param_hint="--name")
    if name is None:
        path = Path(model_path)
        if path.suffix == ".onnx" and path.is_file():
            base = path.stem if path.stem != "network" else path.resolve().parent.name
        else:
            base = path.resolve().name
        base = "".join(c if c.isalnum() or c in "-_" else "_" for c in base).strip("_-") or "model"
        name = f"{base}_b{batch}" if batch > 1 else base
    return name


def guard_published_circuit(settings: Settings, name: str, force: bool) -> Path | None:
    """Refuse to rebuild a circuit whose artifacts a deployments file records as published, unless
    ``force``; then keep a copy of its folder. Returns where the copy went."""
    from ..artifacts import sha256_file

    folder = settings.circuits_dir / name
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return None
    digest = "0x" + sha256_file(manifest)
    published = []
    for path in sorted(settings.deployments_dir.glob("*.json")) if settings.deployments_dir.is_dir() else []:
        try:
            record = json.loads(path.read_text()).get("models", {}).get(name) or {}
        except (OSError, ValueError, AttributeError):
            continue  # a damaged deployments file is reported by the commands that use it
        if record.get("artifacts_hash") == digest:
            published.append(f"model {record.get('model_id')} on chain {path.stem}")
    if not published:
        return None
    if not force:
        raise CircuitError(
            f"circuit {name!r} is published ({', '.join(published)}): a rebuild makes new keys that no longer "
            "match its registry entry, and jobs on it would fail",
            "build it under another name with --name, or pass --force to replace it (its folder is kept)",
        )
    backup = settings.circuits_dir / f".{name}.replaced-{stamp()}"
    shutil.copytree(folder, backup)
    return backup


def guard_live_deployment(settings: Settings, chain: Chain, force: bool) -> Path | None:
    """Refuse to deploy over the recorded deployment of this chain while its market still has code
    there (a new deployment starts empty: published models, registrations and stakes stay with the
    old one), unless ``force``. Any recorded file is copied aside first; returns where it went."""
    from ..chain import deployment

    path = deployment.path_for(settings, chain.chain_id)
    if not path.is_file():
        return None
    try:
        recorded: Deployment | None = deployment.load(settings, chain.chain_id)
    except DeploymentError:
        recorded = None  # unreadable: nothing live to protect, but keep the file
    market = recorded.contracts.get("JobMarket") if recorded is not None else None
    if recorded is not None and market and chain.has_code(market) and not force:
        raise DeploymentError(
            f"chain {chain.chain_id} already has a live deployment (JobMarket {market}, "
            f"{len(recorded.models)} published model(s) recorded in {path}): a new one starts empty and "
            "this machine would forget the old one's models, registrations and stakes",
            "keep using it (nothing to do), or pass --force to deploy anew (the old file is kept)",
        )
    backup = path.with_name(f"{path.name}.replaced-{stamp()}")
    shutil.copy2(path, backup)
    return backup
