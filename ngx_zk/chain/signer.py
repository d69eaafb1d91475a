"""Signing keys: from an encrypted keystore or an environment variable, never a CLI argument.

The key stays inside :class:`Signer`; its repr shows only the address, and no code path logs it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32, HexStr

from ..config import Secret, Settings
from ..errors import SignerError
from ..files import write_private


@dataclass(frozen=True)
class Signer:
    address: str
    _account: LocalAccount = field(repr=False)

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        return bytes(self._account.sign_transaction(tx).raw_transaction)

    def sign_typed_data(self, full_message: dict[str, Any]) -> Any:
        return self._account.sign_typed_data(full_message=full_message)

    def sign_message_hash(self, digest: bytes) -> Any:
        return self._account.unsafe_sign_hash(Hash32(digest))

    def sign_text(self, text: str) -> Any:
        """An EIP-191 signature of ``text`` (authenticates data-plane requests)."""
        return self._account.sign_message(encode_defunct(text=text))

    def encryption_key_material(self) -> bytes:
        """Seed for this account's X25519 key (see :mod:`ngx_zk.crypto`); never leaves the process."""
        return bytes(self._account.key)


def recover_text_signer(text: str, signature: str) -> str | None:
    """The address whose EIP-191 signature of ``text`` this is (:meth:`Signer.sign_text`); None if malformed."""
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=signature))
    except Exception:  # any malformed signature is simply not a signature
        return None


def from_settings(settings: Settings, keystore: Path | None = None) -> Signer:
    """The signer configured by ``--keystore`` / NGX_ZK_KEYSTORE (+ password) or NGX_ZK_PRIVATE_KEY."""
    path = keystore or settings.keystore
    if path is not None:
        if not path.is_file():  # say so before asking for its password
            raise SignerError(f"keystore not found: {path}", "check the --keystore / NGX_ZK_KEYSTORE path")
        if settings.keystore_password is None:
            raise SignerError(
                f"keystore {path} needs a password",
                "set NGX_ZK_KEYSTORE_PASSWORD or NGX_ZK_KEYSTORE_PASSWORD_FILE",
            )
        return from_keystore(path, settings.keystore_password)
    if settings.private_key is not None:
        return from_key(settings.private_key)
    raise SignerError(
        "no signing key configured",
        "pass --keystore FILE (with NGX_ZK_KEYSTORE_PASSWORD[_FILE]) or set NGX_ZK_PRIVATE_KEY",
    )


def from_key(key: Secret) -> Signer:
    try:
        account: LocalAccount = Account.from_key(key.reveal())
    except (ValueError, TypeError):
        raise SignerError("NGX_ZK_PRIVATE_KEY is not a valid private key", "expected 32 bytes as hex") from None
    return Signer(account.address, account)


def from_keystore(path: Path, password: Secret) -> Signer:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SignerError(f"keystore not found: {path}") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        raise SignerError(f"{path} is not a JSON keystore") from None
    try:
        key = Account.decrypt(data, password.reveal())
    except (ValueError, KeyError, TypeError, AttributeError):  # a wrong password, or JSON that is not a keystore
        raise SignerError(
            f"cannot open keystore {path}: wrong password or corrupt file",
            "check NGX_ZK_KEYSTORE_PASSWORD (or the file NGX_ZK_KEYSTORE_PASSWORD_FILE names) against this keystore",
        ) from None
    account: LocalAccount = Account.from_key(key)
    return Signer(account.address, account)


def write_keystore(path: Path, key: Secret, password: Secret, *, fast_kdf: bool = False) -> str:
    """Encrypt ``key`` into a keystore file readable by its owner only; returns the address.

    ``fast_kdf`` uses PBKDF2 with few iterations: only for throw-away dev-chain accounts.
    """
    kwargs: dict[str, Any] = {"kdf": "pbkdf2", "iterations": 1 << 12} if fast_kdf else {}
    data = Account.encrypt(HexStr(key.reveal()), password.reveal(), **kwargs)
    write_private(path, json.dumps(data).encode())
    return str(Account.from_key(key.reveal()).address)
