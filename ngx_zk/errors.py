"""The one exception tree of ngx-zk.

Every error a user can cause or meet derives from :class:`NgxZkError`; the CLI turns it into a
one-line message and a non-zero exit, never a traceback. Each message says what is wrong and what
to do, and the values it was built from are kept as attributes for programs::

    NgxZkError
    ├── ConfigError                  a setting or environment variable is invalid
    ├── ModelError                   the ONNX model cannot be used
    │   ├── ModelNotFoundError
    │   ├── InvalidModelError        not ONNX, external data, too large, unsupported operator
    ├── CircuitError                 building or loading a circuit failed
    │   ├── CircuitNotBuiltError
    │   ├── LogrowsCapError
    │   ├── ArtifactMismatchError    a file does not match the hash pinned in the manifest
    │   └── SrsError                 SRS missing, wrong hash or wrong size
    ├── InputError                   an input file is malformed, has wrong shape, NaN/Inf, ...
    ├── ProofError
    │   ├── ProvingError
    │   └── InvalidProofError        the proof does not verify for this circuit
    └── ChainError                   talking to the chain failed
        ├── RpcError                 node unreachable, timeouts, HTTP errors
        ├── WrongChainError          the node serves another chain than expected
        ├── DeploymentError          no contracts deployed / deployments file missing
        ├── SignerError              no key configured, bad keystore or password
        ├── TransactionError         a transaction failed or was dropped
        └── ContractRevert           a contract reverted: ``name`` and ``args`` of its custom error
    Interrupted                      Ctrl-C: what was done so far and how to resume

Each class carries ``code``, a stable short string per family that ``--json`` error objects carry
(``{"error": ..., "hint": ..., "code": ...}``): scripts branch on it, never on the message.
"""

from __future__ import annotations

from pathlib import Path


class NgxZkError(Exception):
    """Root of all ngx-zk errors. ``hint`` says what the user can do about it."""

    code: str = "error"
    """The family, for programs (``--json`` error objects); subclasses inherit their family's."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(NgxZkError):
    """A setting or environment variable has an invalid value."""

    code: str = "config"


class ModelError(NgxZkError):
    """The model cannot be used."""

    code: str = "model"


class ModelNotFoundError(ModelError):
    code: str = "not_found"

    def __init__(self, path: Path | str) -> None:
        super().__init__(
            f"model not found: {path}",
            "pass a model folder holding network.onnx, an .onnx file, or the name of a built circuit",
        )
        self.path = path


class InvalidModelError(ModelError):
    def __init__(self, path: Path | str, reason: str, hint: str | None = None) -> None:
        super().__init__(f"{path}: {reason}", hint)
        self.path = path
        self.reason = reason


class CircuitError(NgxZkError):
    """Building or loading a circuit failed."""

    code: str = "circuit"


class CircuitNotBuiltError(CircuitError):
    code: str = "not_found"

    def __init__(self, name: str, where: Path) -> None:
        super().__init__(
            f"no circuit named {name!r} in {where}",
            f"build it first: ngx-zk model build models/{name}",
        )
        self.name = name
        self.where = where


class LogrowsCapError(CircuitError):
    def __init__(self, logrows: int, cap: int, why: str = "") -> None:
        super().__init__(
            f"the circuit needs 2^{logrows} rows{f' ({why})' if why else ''}, above the cap of 2^{cap}",
            f"use a smaller model, or raise the cap with --max-logrows {logrows} / NGX_ZK_MAX_LOGROWS={logrows}",
        )
        self.logrows = logrows
        self.cap = cap


class ArtifactMismatchError(CircuitError):
    def __init__(self, artifact: str, path: Path, expected: str, actual: str) -> None:
        super().__init__(
            f"{artifact} at {path} does not match the manifest (sha256 {actual[:12]}..., manifest says {expected[:12]}...)",
            "the circuit folder was modified or mixed with another build; rebuild it with ngx-zk model build",
        )
        self.artifact = artifact
        self.path = path
        self.expected = expected
        self.actual = actual


class SrsError(CircuitError):
    """The structured reference string is missing, corrupt or of the wrong size."""


class InputError(NgxZkError):
    """An input file cannot be used with this model."""

    code: str = "input"


class ProofError(NgxZkError):
    """Proving or verifying failed."""

    code: str = "proof"


class ProvingError(ProofError):
    """EZKL could not produce a witness or a proof."""


class InvalidProofError(ProofError):
    """The proof does not verify against the circuit's verification key."""

    code: str = "invalid_proof"


class ChainError(NgxZkError):
    """Talking to the chain failed."""

    code: str = "chain"


class RpcError(ChainError):
    """The node could not be reached or answered with an error."""

    code: str = "rpc"


class WrongChainError(ChainError):
    code: str = "wrong_chain"

    def __init__(self, expected: int, actual: int, url: str) -> None:
        super().__init__(
            f"{url} serves chain id {actual}, expected {expected}",
            "point --rpc-url / NGX_ZK_RPC_URL at the right chain",
        )
        self.expected = expected
        self.actual = actual


class DeploymentError(ChainError):
    """Contracts are not deployed on this chain, or the deployments file is broken."""

    code: str = "deployment"


class SignerError(ChainError):
    """No signing key is configured, or the keystore cannot be opened."""

    code: str = "signer"


class TransactionError(ChainError):
    """A transaction was not mined or failed without a decodable reason."""

    code: str = "transaction"


class ContractRevert(ChainError):
    """A contract call reverted with a custom error, decoded from its selector with the ABI."""

    code: str = "revert"

    def __init__(self, name: str, args: dict[str, object], hint: str | None = None) -> None:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in args.items())
        super().__init__(f"the contract refused: {name}({shown})", hint)
        self.name = name
        self.args_by_name = args


class Interrupted(NgxZkError):
    """The user pressed Ctrl-C; the message says what was done so far, the hint how to resume."""

    code: str = "interrupted"

    def __init__(self, message: str, hint: str | None = None, **details: object) -> None:
        super().__init__(message, hint)
        self.details = details
        """Values a program needs to resume (a job id), carried into the --json error object."""


def _short(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)
