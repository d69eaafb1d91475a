"""The README stays true to the code where a user looks things up."""

from __future__ import annotations

import re

from ngx_zk import config

from .paths import REPO


def test_the_readme_configuration_table_lists_every_variable_ngx_zk_reads() -> None:
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Configuration") :]
    table = table[: table.index("\n## ")]
    read = set(re.findall(r"\bNGX_ZK_[A-Z_]+", config.__doc__ or ""))
    listed = set(re.findall(r"\bNGX_ZK_[A-Z_]+", table.replace("[_FILE]", " NGX_ZK_KEYSTORE_PASSWORD_FILE")))
    missing = {name for name in read - listed if not name.startswith("NGX_ZK_FAULT_")}  # fault injection: tests only
    assert not missing, f"README's configuration table lacks {sorted(missing)}"
