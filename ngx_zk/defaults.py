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

KZG_SALT_BITS_TARGET = 1536
"""Salt of a ``polycommit`` input (96 slots of 16 bits). Its column is unblinded, so two things leak
linear facts about it: the commitment (a group element, linear in the values: a search over a b-bit
salt meets in the middle at 2^(b/2) per guessed input) and the proof's evaluations of the column
polynomial (each a ~254-bit linear equation over the field in the values and the salt). The salt
must leave each guessed input with many salts explaining all of it: 1,536 bits keep the evaluations
within 2^-128 of uniform for up to 5 openings of the column (leftover hash lemma, heuristic in the
challenge) and the commitment search far above 2^128 (docs/security.md)."""

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

SAMPLE_PROVE_TIMEOUT_S = 900.0
"""How long ``model publish`` lets its sample proof run before it stops it (EZKL can hang on some inputs)."""
