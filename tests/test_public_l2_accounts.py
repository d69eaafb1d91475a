"""The accounts of a public-chain deployment (``ngx-zk account``) and the README runner's rules; no chain needed.

The whole flow on a non-dev node is tests/test_public_l2_readme.py (slow tier); these are the refusals a
reader meets before any chain work, and the rules that runner applies to the README's console blocks.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

from click.testing import CliRunner
from eth_account import Account

from ngx_zk.cli import main

from .test_public_l2_readme import script, shows
from .test_readme_blocks import blocks

PASSWORD = "a long enough password"


def run(tmp_path: Path, *args: str, password: str | None = PASSWORD) -> tuple[int, str]:
    env = {"NGX_ZK_HOME": str(tmp_path), "NGX_ZK_KEYSTORE_PASSWORD": password, "NGX_ZK_KEYSTORE_PASSWORD_FILE": None}
    done = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return done.exit_code, done.output


def test_account_new_writes_an_encrypted_keystore_and_prints_only_its_address(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "provider.json"
    code, out = run(tmp_path, "account", "new", str(path), "--json")
    assert code == 0, out
    data = json.loads(out)
    keystore = json.loads(path.read_text())
    key = Account.decrypt(keystore, PASSWORD)
    assert Account.from_key(key).address == data["address"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keystore["crypto"]["kdf"] == "scrypt", "a real account gets the slow KDF, not the dev accounts' PBKDF2"
    assert key.hex().removeprefix("0x") not in out
    code, out = run(tmp_path, "account", "address", str(path))
    assert code == 0 and out.strip() == data["address"]


def test_account_new_refuses_to_overwrite_a_weak_password_or_none(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text("{}")
    code, out = run(tmp_path, "account", "new", str(path))
    assert code == 2 and "already exists" in out and path.read_text() == "{}"
    code, out = run(tmp_path, "account", "new", str(tmp_path / "short.json"), password="hunter2")
    assert code == 1 and "shorter than 12 characters" in out and not (tmp_path / "short.json").exists()
    code, out = run(tmp_path, "account", "new", str(tmp_path / "none.json"), password=None)
    assert code == 1 and "NGX_ZK_KEYSTORE_PASSWORD_FILE" in out and not (tmp_path / "none.json").exists()


def test_account_address_refuses_a_file_that_is_no_keystore(tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text('{"address": "not hex"}')
    code, out = run(tmp_path, "account", "address", str(junk))
    assert code == 1 and "not a JSON keystore with an address" in out


def test_deploy_refuses_a_role_that_is_no_address_before_any_chain_work(tmp_path: Path) -> None:
    code, out = run(tmp_path, "deploy", "--rpc-url", "http://127.0.0.1:9", "--treasury", "0x1234", password=None)
    assert code == 2 and "'0x1234' is not an Ethereum address" in out


def test_the_runner_expects_a_shown_error_to_fail_and_checks_what_is_shown(tmp_path: Path) -> None:
    def outcome(body: str) -> int:
        (block,) = blocks(f"<!-- test: public-l2 -->\n```console\n{body}```\n")
        return subprocess.run(["bash", "-c", script(block, tmp_path)], check=False).returncode

    assert outcome("$ true\n$ false\nError: no ... here\n$ true\n") == 0
    assert outcome("$ false\n$ true\n") == 90, "a command with no Error: shown must succeed"
    assert outcome("$ true\nError: no\n") == 90, "a command shown failing must fail"
    assert shows("Error: no ... here", "Error: no   model\n here (hint)")
    assert not shows("Error: no ... here", "Error: here no")
