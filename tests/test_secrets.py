"""Private keys and passwords never appear in output, logs, errors, reprs or --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

import ngx_zk as ngx
from ngx_zk.chain import devnet, signer
from ngx_zk.config import Secret
from ngx_zk.errors import SignerError

from .chain_fixtures import Net, ngx_zk
from .paths import MODELS


def provider_key() -> str:
    Account.enable_unaudited_hdwallet_features()
    index = devnet.ROLES.index("provider")
    return str(Account.from_mnemonic(devnet.DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").key.hex())


def leaks(key: str, *texts: str) -> bool:
    bare = key.removeprefix("0x").lower()
    return any(bare in t.lower() for t in texts)


def test_settings_and_signer_reprs_hide_the_key(tmp_path: Path) -> None:
    key = provider_key()
    settings = ngx.load_settings({"NGX_ZK_HOME": str(tmp_path), "NGX_ZK_PRIVATE_KEY": key, "NGX_ZK_KEYSTORE_PASSWORD": "hunter2"})
    s = signer.from_settings(settings)
    assert not leaks(key, repr(settings), str(settings), repr(s), str(s))
    assert "hunter2" not in repr(settings)


def test_bad_key_and_bad_password_errors_do_not_echo_them(tmp_path: Path) -> None:
    with pytest.raises(SignerError) as bad_key:
        signer.from_key(Secret("0x1234not-a-key"))
    assert "1234not" not in str(bad_key.value)
    store = tmp_path / "k.json"
    signer.write_keystore(store, Secret(provider_key()), Secret("right password"), fast_kdf=True)
    assert store.stat().st_mode & 0o077 == 0
    with pytest.raises(SignerError) as wrong:
        signer.from_keystore(store, Secret("Tr0ub4dor&3"))
    assert "Tr0ub4dor" not in str(wrong.value) and not leaks(provider_key(), str(wrong.value))


@pytest.mark.chain
def test_cli_output_and_errors_never_show_the_key(chain_snapshot: Net, tmp_path: Path) -> None:
    key = provider_key()
    runs = [
        ngx_zk(chain_snapshot, tmp_path, "provider", "status", "--json", NGX_ZK_PRIVATE_KEY=key),
        ngx_zk(chain_snapshot, tmp_path, "withdraw", "--json", NGX_ZK_PRIVATE_KEY=key),  # nothing to withdraw: an error
        ngx_zk(chain_snapshot, tmp_path, "provider", "register", "--json", NGX_ZK_PRIVATE_KEY=key),  # already registered
        ngx_zk(
            chain_snapshot,
            tmp_path,
            "prove-job",
            "mlp",
            "--input",
            str(tmp_path / "missing.json"),
            "--json",
            NGX_ZK_PRIVATE_KEY=key,
        ),
        ngx_zk(chain_snapshot, tmp_path, "provider", "status", NGX_ZK_PRIVATE_KEY="0x" + "zz" * 32),  # malformed key
    ]
    assert json.loads(runs[0].stdout)["provider"] == devnet.dev_address("provider")
    assert [r.returncode for r in runs] == [0, 1, 1, 1, 1]
    for run in runs:
        assert not leaks(key, run.stdout, run.stderr)
        assert "zz" * 32 not in run.stdout + run.stderr
        assert "Traceback" not in run.stderr
    assert "is already registered as a provider" in runs[2].stderr  # the revert, told as what it means
    assert MODELS.exists()
