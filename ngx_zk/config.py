"""Typed settings. This is the only module that reads the environment.

=====================  ==========================================  ===========================
variable               meaning                                     default
=====================  ==========================================  ===========================
NGX_ZK_HOME            where circuits and local state live         current directory
NGX_ZK_CIRCUITS_DIR    built circuits (settings, vk, manifest)     $NGX_ZK_HOME/circuits
NGX_ZK_CACHE_DIR       proving keys and test SRS files (large)     the platform user cache
NGX_ZK_MAX_LOGROWS     refuse circuits above 2^this many rows      20
NGX_ZK_RPC_URL         the chain's JSON-RPC endpoint(s), comma-    http://127.0.0.1:8545
                       separated for failover
NGX_ZK_WS_URL          the node's WebSocket, for new-block         the RPC URL as ws(s)://;
                       notifications ("off": poll only)            polling if it does not answer
NGX_ZK_MAX_FEE_GWEI    never offer a higher maxFeePerGas; while    unset (replacements of a
                       the base fee is above it, send nothing      stuck transaction: <= 4x)
NGX_ZK_MAX_PRIORITY_FEE_GWEI   never offer a higher tip           unset (the node's suggestion)
NGX_ZK_PRIVATE_KEY     signing key (hex); prefer a keystore        unset
NGX_ZK_KEYSTORE        encrypted JSON keystore file                unset
NGX_ZK_KEYSTORE_PASSWORD / NGX_ZK_KEYSTORE_PASSWORD_FILE          unset
NGX_ZK_STATE_DIR       consumer job records, worker journal        $NGX_ZK_HOME/state
NGX_ZK_BUILD_MEMORY_MB memory limit of `model build` (a child)      16384
NGX_ZK_BUILD_TIMEOUT_S time limit of `model build`                  3600
NGX_ZK_DEBUG           1: a failure the CLI did not expect shows   unset (one line and a
                       its Python traceback                        hint, no traceback)
NGX_ZK_FAULT_CRASH_AT  FAULT INJECTION for tests: the worker exits  unset
                       abruptly at this step (see worker.crash_point)
=====================  ==========================================  ===========================

Secrets are held in :class:`Secret`, whose ``repr`` and ``str`` never show the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs

from . import defaults
from .errors import ConfigError


class Secret:
    """A secret string that does not print itself (not in logs, tracebacks or reprs)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


DEFAULT_RPC_URL = "http://127.0.0.1:8545"


SECRET_ENV_VARS = ("NGX_ZK_PRIVATE_KEY", "NGX_ZK_KEYSTORE_PASSWORD", "NGX_ZK_KEYSTORE_PASSWORD_FILE")
"""Environment variables that hold (or point at) a secret: never passed on to child processes."""


def drop_secrets_from_environ() -> None:
    """Remove the secret variables from this process's environment (after the signer is loaded from them)."""
    for name in SECRET_ENV_VARS:
        os.environ.pop(name, None)


@dataclass(frozen=True)
class Settings:
    home: Path
    circuits_dir: Path
    cache_dir: Path
    max_logrows: int
    rpc_urls: tuple[str, ...] = (DEFAULT_RPC_URL,)
    private_key: Secret | None = None
    keystore: Path | None = None
    keystore_password: Secret | None = None
    state_override: Path | None = None
    build_memory_mb: int = 16384
    build_timeout_s: int = 3600
    fault_crash_at: str | None = None
    ws_url: str | None = None
    rpc_from_env: bool = False
    """NGX_ZK_RPC_URL was set: it beats a running local devnet (an explicit --rpc-url beats both)."""
    max_fee_per_gas: int | None = None
    """NGX_ZK_MAX_FEE_GWEI in wei: the cap on every transaction's maxFeePerGas (None: no cap)."""
    max_priority_fee_per_gas: int | None = None
    """NGX_ZK_MAX_PRIORITY_FEE_GWEI in wei: the cap on every transaction's tip."""

    @property
    def rpc_url(self) -> str:
        return self.rpc_urls[0]

    @property
    def deployments_dir(self) -> Path:
        return self.home / "deployments"

    @property
    def devnet_dir(self) -> Path:
        return self.home / "devnet"

    @property
    def state_dir(self) -> Path:
        """Per-user local state: the consumer's job records and the worker's journal."""
        return self.state_override or self.home / "state"

    @property
    def srs_dir(self) -> Path:
        return self.cache_dir / "srs"

    @property
    def keys_dir(self) -> Path:
        return self.cache_dir / "keys"


def cache_unwritable(settings: Settings, exc: OSError) -> ConfigError:
    """The error for a cache folder (NGX_ZK_CACHE_DIR) that cannot hold the SRS or the keys."""
    where = f" {exc.filename}" if exc.filename else ""
    return ConfigError(
        f"cannot write the cache NGX_ZK_CACHE_DIR={str(settings.cache_dir)!r} ({exc.strerror or exc}{where})",
        "point NGX_ZK_CACHE_DIR at a writable folder, or remove what is in the way",
    )


def debug_enabled(env: Mapping[str, str] | None = None) -> bool:
    """NGX_ZK_DEBUG is set (and not 0): show the traceback of an unexpected failure."""
    return (os.environ if env is None else env).get("NGX_ZK_DEBUG", "") not in ("", "0")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (``os.environ`` unless ``env`` is given)."""
    env = os.environ if env is None else env
    home = Path(env.get("NGX_ZK_HOME") or Path.cwd())
    if home.exists() and not home.is_dir():
        raise ConfigError(
            f"NGX_ZK_HOME={str(home)!r} is not a folder", "point NGX_ZK_HOME at a folder (it is created if missing)"
        )
    circuits_dir = Path(env.get("NGX_ZK_CIRCUITS_DIR") or home / "circuits")
    if circuits_dir.exists() and not circuits_dir.is_dir():
        raise ConfigError(
            f"NGX_ZK_CIRCUITS_DIR={str(circuits_dir)!r} is not a folder",
            "point NGX_ZK_CIRCUITS_DIR at a folder (it is created if missing), or unset it for $NGX_ZK_HOME/circuits",
        )
    cache_dir = Path(env.get("NGX_ZK_CACHE_DIR") or platformdirs.user_cache_dir("ngx-zk"))
    if cache_dir.exists() and not cache_dir.is_dir():
        raise ConfigError(
            f"the cache NGX_ZK_CACHE_DIR={str(cache_dir)!r} is not a folder",
            "point NGX_ZK_CACHE_DIR at a folder (it is created if missing), or unset it for the platform cache",
        )
    return Settings(
        home=home,
        circuits_dir=circuits_dir,
        cache_dir=cache_dir,
        max_logrows=_int(env, "NGX_ZK_MAX_LOGROWS", defaults.MAX_LOGROWS, low=1, high=26),
        rpc_urls=_urls(env.get("NGX_ZK_RPC_URL") or DEFAULT_RPC_URL),
        private_key=Secret(env["NGX_ZK_PRIVATE_KEY"]) if env.get("NGX_ZK_PRIVATE_KEY") else None,
        keystore=Path(env["NGX_ZK_KEYSTORE"]) if env.get("NGX_ZK_KEYSTORE") else None,
        keystore_password=_password(env),
        state_override=Path(env["NGX_ZK_STATE_DIR"]) if env.get("NGX_ZK_STATE_DIR") else None,
        build_memory_mb=_int(env, "NGX_ZK_BUILD_MEMORY_MB", 16384, low=256, high=1 << 22),
        build_timeout_s=_int(env, "NGX_ZK_BUILD_TIMEOUT_S", 3600, low=10, high=7 * 24 * 3600),
        fault_crash_at=env.get("NGX_ZK_FAULT_CRASH_AT") or None,
        ws_url=_ws_url(env.get("NGX_ZK_WS_URL")),
        rpc_from_env=bool(env.get("NGX_ZK_RPC_URL")),
        max_fee_per_gas=_gwei(env, "NGX_ZK_MAX_FEE_GWEI"),
        max_priority_fee_per_gas=_gwei(env, "NGX_ZK_MAX_PRIORITY_FEE_GWEI"),
    )


def _gwei(env: Mapping[str, str], name: str) -> int | None:
    """A fee cap in gwei (``"30"``, ``"0.05"``) as wei; None when unset."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1e12:
        raise ConfigError(f"{name}={raw!r} is not a positive number of gwei", f"set it to e.g. {name}=50, or unset it")
    return max(1, round(value * 10**9))


def _ws_url(value: str | None) -> str | None:
    if not value:
        return None
    if value != "off" and not value.startswith(("ws://", "wss://")):
        raise ConfigError(f"NGX_ZK_WS_URL {value!r} is not a ws(s):// URL", "set it to e.g. ws://127.0.0.1:8545, or to off")
    return value


def with_overrides(settings: Settings, *, rpc_url: str | None = None) -> Settings:
    """Settings with command-line overrides applied (an option beats the environment)."""
    return replace(settings, rpc_urls=_urls(rpc_url), rpc_from_env=True) if rpc_url else settings


def _urls(raw: str) -> tuple[str, ...]:
    urls = tuple(u.strip() for u in raw.split(",") if u.strip())
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"RPC URL {url!r} is not an http(s) URL", "set NGX_ZK_RPC_URL (or --rpc-url) to e.g. http://127.0.0.1:8545"
            )
    return urls or (DEFAULT_RPC_URL,)


def _password(env: Mapping[str, str]) -> Secret | None:
    if env.get("NGX_ZK_KEYSTORE_PASSWORD"):
        return Secret(env["NGX_ZK_KEYSTORE_PASSWORD"])
    path = env.get("NGX_ZK_KEYSTORE_PASSWORD_FILE")
    if path:
        try:
            return Secret(Path(path).read_text().strip())
        except OSError as exc:
            raise ConfigError(
                f"cannot read NGX_ZK_KEYSTORE_PASSWORD_FILE {path}: {exc.strerror}",
                "point NGX_ZK_KEYSTORE_PASSWORD_FILE at a readable file holding the password",
            ) from None
    return None


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
