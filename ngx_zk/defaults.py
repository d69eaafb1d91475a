"""Shared constants, one place for each, with what it means."""

from __future__ import annotations

EZKL_VERSION = "23.0.5"
"""The EZKL release ngx-zk is built and tested against (pinned in pyproject.toml)."""

MAX_LOGROWS = 20
"""Largest circuit (2^logrows rows) a build accepts unless the cap is raised."""

MAX_ONNX_BYTES = 64 * 1024 * 1024
"""ONNX files above this size are refused before parsing (protobuf bombs)."""

MAX_TENSOR_ELEMENTS = 16 * 1024 * 1024
"""Any tensor in the graph (declared or inferred) above this many elements is refused."""

MAX_GRAPH_NODES = 5_000
"""Graphs with more nodes are refused: EZKL would need circuits far above the logrows cap."""

SALT_BITS_TARGET = 128
"""Entropy a salted commitment adds, so a low-entropy input cannot be recovered from its hash."""

KZG_SALT_BITS_TARGET = 256
"""Salt of a ``polycommit`` input. Its KZG commitment is unblinded and linear in the values, so a
search over a b-bit salt splits into two halves that meet in the middle (2^(b/2) work per guessed
input): 256 bits keep that at 2^128 (docs/security.md)."""

SALT_ELEMENT_BITS = 16
"""Bits one salt element carries. EZKL range-checks inputs, so every tuner candidate keeps a range
of at least 2^(SALT_ELEMENT_BITS + 2); 16 bits also stay exact through EZKL's f32 input path."""

LOOKUP_SAFETY_MARGIN = 2.0
"""Calibration head-room on lookup ranges: inputs may exceed the calibration data by this factor."""

ACCURACY_TOLERANCE = 0.01
"""Max absolute error, relative to the output's range (at least 1), a tuned circuit may add."""

DEFAULT_VISIBILITY = "hashed/fixed/public"
"""input/params/output visibility: input committed by Poseidon, weights in the circuit, output public."""

BN254_SCALAR_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617
"""Every public instance is an element of this field."""
