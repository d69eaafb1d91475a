"""Verified inference on a second chain: a job proven and paid on chain A, its output delivered to a contract on B.

Read in this order: :mod:`.contracts` (chain B's contracts, deployed and found again: the ``ModelMirror``, the
``InferenceReceiver`` and the example consumer ``VerifiedOutputBoard``), :mod:`.mirror` (the updater copies a model's
commitment and its verifier code from A to B), :mod:`.relay` (anyone carries a settled job's proof from A to B).
Payment never leaves A; B trusts only the proof and the mirrored commitment (docs/security.md says what a stale or
malicious mirror can do).
"""
