"""FAKE, tests only: a KZG ceremony SRS that is not one.

The public ceremony files (``kzg<k>.srs``) cannot be downloaded on the test machines, and a circuit built
on a local test SRS is (rightly) refused off the dev chain. To run one whole job on a non-dev chain,
``tests/test_public_l2_readme.py`` puts this folder on ``PYTHONPATH`` and names a *test* SRS file in
``NGX_ZK_TEST_FAKE_CEREMONY_SRS``: every ``ngx-zk`` process it starts then counts that file's sha256 among
EZKL's pinned ceremony hashes (for its size), so ``model build --srs FILE`` marks the circuit ``public``.
Nothing else changes: the chain, the contracts, the proofs and every other check are real. Nothing in
``ngx_zk`` reads this variable; an install without this folder on its path never sees it.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import os
import sys
from types import ModuleType
from typing import Any

FAKE = os.environ.get("NGX_ZK_TEST_FAKE_CEREMONY_SRS")


class _PatchSrs(importlib.abc.MetaPathFinder):
    """Once ``ngx_zk.srs`` is imported (lazily, as the CLI does), wrap its ``pinned_public_hashes``."""

    def find_spec(self, name: str, path: Any, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if name != "ngx_zk.srs":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_patch(module: ModuleType) -> None:
            exec_module(module)
            real = module.pinned_public_hashes
            with open(str(FAKE), "rb") as fh:
                data = fh.read()
            k = data_logrows(str(FAKE))

            def pinned_with_fake() -> dict[int, str]:
                return {**real(), k: hashlib.sha256(data).hexdigest()}

            module.__dict__["pinned_public_hashes"] = pinned_with_fake

        loader.exec_module = exec_and_patch  # type: ignore[method-assign]
        return spec


def data_logrows(path: str) -> int:
    """The k of ``.../kzg<k>.srs`` (the fake is named like the real files)."""
    stem = os.path.basename(path).removesuffix(".srs")
    return int(stem.removeprefix("kzg"))


if FAKE:
    sys.meta_path.insert(0, _PatchSrs())
