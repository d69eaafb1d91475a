"""A model's default settlement mode (``model publish --settlement``): written into its manifest, so the registry
entry's artifacts hash pins it; ``prove-job`` takes it when the consumer does not choose."""

from __future__ import annotations

import json

import pytest

from ngx_zk.artifacts import MANIFEST, Circuit
from ngx_zk.catalog import SETTLEMENT_KEY, bind_settlement, binding
from ngx_zk.errors import CircuitError


def test_optimistic_is_written_into_the_manifest_and_changes_the_artifacts_hash(circuit_copy: Circuit) -> None:
    eager = binding(circuit_copy)
    assert eager.settlement == "eager" and SETTLEMENT_KEY not in json.loads((circuit_copy.path / MANIFEST).read_text())
    optimistic = bind_settlement(circuit_copy, "optimistic")
    bound = binding(optimistic)
    assert bound.settlement == "optimistic" and bound.artifacts_hash != eager.artifacts_hash, "the entry pins the mode"
    assert json.loads((circuit_copy.path / MANIFEST).read_text())[SETTLEMENT_KEY] == "optimistic"
    assert optimistic.manifest == circuit_copy.manifest, "the circuit itself is unchanged"
    again = bind_settlement(optimistic, "eager")
    assert binding(again).settlement == "eager" and SETTLEMENT_KEY not in json.loads((again.path / MANIFEST).read_text())


def test_an_unknown_mode_or_a_damaged_key_is_refused_or_read_as_eager(circuit_copy: Circuit) -> None:
    with pytest.raises(CircuitError, match="neither eager nor optimistic"):
        bind_settlement(circuit_copy, "lazy")
    path = circuit_copy.path / MANIFEST
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, SETTLEMENT_KEY: "whenever"}))
    assert binding(Circuit.load(circuit_copy.path)).settlement == "eager", "only the two modes are read"
