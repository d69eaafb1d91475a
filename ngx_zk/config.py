"""Typed settings. This is the only module that reads the environment.

=====================  ==========================================  ===========================
variable               meaning                                     default
=====================  ==========================================  ===========================
NGX_ZK_HOME            where circuits and local state live         current directory
NGX_ZK_CIRCUITS_DIR    built circuits (settings, vk, manifest)     $NGX_ZK_HOME/circuits
NGX_ZK_CACHE_DIR       proving keys and test SRS files (large)     the platform user cache
NGX_ZK_MAX_LOGROWS     refuse circuits above 2^this many rows      20
=====================  ==========================================  ===========================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from . import defaults
from .errors import ConfigError


@dataclass(frozen=True)
class Settings:
    home: Path
    circuits_dir: Path
    cache_dir: Path
    max_logrows: int

    @property
    def srs_dir(self) -> Path:
        return self.cache_dir / "srs"

    @property
    def keys_dir(self) -> Path:
        return self.cache_dir / "keys"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (``os.environ`` unless ``env`` is given)."""
    env = os.environ if env is None else env
    home = Path(env.get("NGX_ZK_HOME") or Path.cwd())
    return Settings(
        home=home,
        circuits_dir=Path(env.get("NGX_ZK_CIRCUITS_DIR") or home / "circuits"),
        cache_dir=Path(env.get("NGX_ZK_CACHE_DIR") or platformdirs.user_cache_dir("ngx-zk")),
        max_logrows=_int(env, "NGX_ZK_MAX_LOGROWS", defaults.MAX_LOGROWS, low=1, high=26),
    )


def _int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer", f"set {name} to a number from {low} to {high}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range", f"set {name} to a number from {low} to {high}")
    return value
