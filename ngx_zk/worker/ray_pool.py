"""The worker's proofs on a Ray cluster: a provider's proving fleet (``ngx-zk worker --ray ADDRESS``).

The worker stays the one process that holds the key, talks to the chain and keeps the journal; only
proofs leave it, as Ray tasks. EZKL cannot split one proof across machines, so parallelism is per
job: each proof asks for one GPU (``num_gpus=1``) where the cluster has GPUs, or ``cpus_per_proof``
cores, and Ray's scheduler keeps one proof per such slot on each node.

What reaches a node:

* the circuit's files, its SRS and its proving key, **once per node**: each is put in Ray's object
  store once and passed by reference, keyed by its sha256 (the manifest's pins; the proving key's
  hash is taken when the pool starts). A task fetches a file only when the node's content-addressed
  cache lacks it, and checks the bytes against the hash before using them. The cache is private
  (a folder this user owns, mode 0700; a shared or foreign one is never used, a temp folder of the
  process's own is) and every cached file is checked against its hash before each proof (re-hashed
  whenever its inode, size or times changed since its last check), so a file planted or damaged there
  is fetched again, never proved with (issue #23, item 9);
* the salted input of the job at hand, and settings with every secret removed. Never the key, the
  keystore or its password, nor the RPC or websocket URLs (which often carry an API key): nodes run
  untrusted ONNX and never talk to the chain.

A task that dies with its node (raylet or worker process killed) is not retried by Ray
(``max_retries=0``): its future raises :class:`ProverLost`, and the worker's lifecycle decides,
knowing the job's deadline, whether to prove again elsewhere or give the job back before it is slashed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from .. import keys, srs
from ..artifacts import Circuit, sha256_file
from ..config import DEFAULT_RPC_URL, Settings
from ..errors import ArtifactMismatchError, NgxZkError
from ..inputs import InputData
from ..prover import without_secrets
from .observe import Metrics, null_log, write_fleet
from .provers import ProofRun, ProverLost, prove_input

Log = Callable[..., None]
START_TIMEOUT_S = 120.0
FAULT_DELAY_ENV = "NGX_ZK_FAULT_PROVE_DELAY_FILE"
"""FAULT INJECTION (tests only), read in the node's environment: while the file it names exists, each
proof on that node first writes its node id to ``FILE.started`` and sleeps the seconds the file holds
(so a test can make one node slow, and knows when to kill it mid-proof)."""


@dataclasses.dataclass(frozen=True)
class Blob:
    """One artifact in the object store: its sha256 and a reference (kept in a list: Ray resolves
    only top-level task arguments, so the node decides whether to fetch it)."""

    sha256: str
    ref: list[Any]


@dataclasses.dataclass(frozen=True)
class Shipment:
    """What a node needs to prove one circuit: its manifest and every file as a :class:`Blob`."""

    circuit: Circuit  # the driver's paths; the node rebuilds its own under its cache
    blobs: Mapping[str, Blob]  # role -> blob: settings, compiled, vk, circuit_onnx, srs, pk


def node_settings(settings: Settings) -> Settings:
    """The settings a node may see: no private key, keystore or password, no RPC or websocket URL (an
    API key often rides in one; a node proves, it never talks to the chain), no fault of the driver's."""
    return dataclasses.replace(
        settings,
        private_key=None,
        keystore=None,
        keystore_password=None,
        fault_crash_at=None,
        rpc_urls=(DEFAULT_RPC_URL,),
        rpc_from_env=False,
        ws_url=None,
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_checked: dict[Path, tuple[int, ...]] = {}
"""On a node: cached file -> its (device, inode, size, mtime, ctime) when its hash last matched (a write,
a replacement or a touch changes one of them; ctime cannot be set back by a user)."""
_own_root: Path | None = None
"""On a node: this process's private temp cache, used when the shared one is not private."""


def _private_dir(path: Path) -> bool:
    """``path`` is a real folder this user owns, closed to everyone else (tightened to 0700 if it was open)."""
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return False
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return True


def _node_root(node_cache: str, node_id: str) -> Path:
    """This node's cache: ``node_cache/<node id>`` when both are private to this user; else (a folder another
    user made or linked at the predictable path, to plant files there) a temp folder of this process's own."""
    global _own_root
    base = Path(node_cache)
    root = base / node_id[:16]
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        if _private_dir(base):
            root.mkdir(mode=0o700, exist_ok=True)
            if _private_dir(root):
                return root
    except OSError:
        pass
    if _own_root is None:
        _own_root = Path(tempfile.mkdtemp(prefix="ngx-zk-fleet-"))  # 0700, unpredictable
    return _own_root


def _intact(path: Path, sha256: str) -> bool:
    """Is ``path`` a regular file with this sha256? Hashed again whenever it changed since it last matched."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    seen = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if _checked.get(path) == seen:
        return True
    if sha256_file(path) != sha256:
        return False
    _checked[path] = seen
    return True


def _materialize(root: Path, shipment: Shipment, settings: Settings) -> tuple[Circuit, Settings, list[str], list[str]]:
    """On the node: every file of ``shipment`` in the node's content-addressed cache (fetched and
    checked if missing or not matching its hash), laid out as a circuit folder and a key/SRS cache.
    Returns the node's circuit, its settings, the roles it had to fetch and, of those, the ones whose
    cached file was there but wrong (planted or damaged)."""
    import ray

    cas = root / "cas"
    cas.mkdir(mode=0o700, parents=True, exist_ok=True)
    fetched: list[str] = []
    replaced: list[str] = []
    for role, blob in shipment.blobs.items():
        path = cas / blob.sha256
        if _intact(path, blob.sha256):
            continue
        if os.path.lexists(path):
            replaced.append(role)
        data: bytes = ray.get(blob.ref[0])
        digest = _sha256(data)
        if digest != blob.sha256:
            raise ArtifactMismatchError(f"{role} received from the worker", path, blob.sha256, digest)
        tmp = path.with_name(f".{blob.sha256}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
        _checked.pop(path, None)
        fetched.append(role)
    m = shipment.circuit.manifest
    node = dataclasses.replace(
        settings, home=root, cache_dir=root / "cache", circuits_dir=root / "circuits", state_override=root / "state"
    )
    local = Circuit(path=root / "circuits" / f"{m.name}-{m.compiled_sha256[:16]}", manifest=m)
    srs_file = node.srs_dir / ("public" if m.srs.kind == "public" else "test") / f"kzg{m.srs.logrows}.srs"
    pk_file = keys.key_dir(node, m.name, m.compiled_sha256, m.srs.sha256) / keys.PK
    places = {
        "settings": local.settings,
        "compiled": local.compiled,
        "vk": local.vk,
        "circuit_onnx": local.circuit_onnx,
        "srs": srs_file,
        "pk": pk_file,
    }
    for role, place in places.items():
        target = cas / shipment.blobs[role].sha256
        if place.is_symlink() and place.resolve() == target:
            continue
        place.parent.mkdir(parents=True, exist_ok=True)
        tmp = place.with_name(f".{place.name}.{os.getpid()}.lnk")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target)
        os.replace(tmp, place)
    return local, node, fetched, replaced


def _prove_on_node(shipment: Shipment, settings: Settings, salted: InputData, node_cache: str, threads: int) -> dict[str, Any]:
    """The Ray task: materialize the circuit (first time on this node), prove, hand back the proof file's bytes."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    os.environ.setdefault("RAYON_NUM_THREADS", str(threads))  # before EZKL's first proof in this process
    root = _node_root(node_cache, node_id)
    circuit, node, fetched, replaced = _materialize(root, shipment, settings)
    fault = Path(os.environ.get(FAULT_DELAY_ENV) or "/nonexistent")
    if fault.is_file():
        fault.with_name(fault.name + ".started").write_text(node_id)
        time.sleep(float(fault.read_text() or 0))
    out = root / "proofs" / f"{os.getpid()}-{time.monotonic_ns()}.json"
    try:
        run = prove_input(circuit, node, salted, out)
        body = out.read_bytes()
    finally:
        out.unlink(missing_ok=True)
    return {"node": node_id, "fetched": fetched, "replaced": replaced, "run": run, "proof": body}


def _probe(names: Sequence[str]) -> dict[str, Any]:
    """What a node's task sees: its node id and which of ``names`` are set in its environment (tests, status)."""
    import ray

    return {"node": ray.get_runtime_context().get_node_id(), "env": sorted(n for n in names if n in os.environ)}


def _connect(address: str) -> bool:
    """Join the cluster at ``address`` (``auto``: the local one, started if none runs). True if this
    process started it (and so stops it on close)."""
    import ray

    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": "WARNING", "configure_logging": False}
    with without_secrets():  # a cluster started from here inherits this environment
        if address != "auto":
            with _one_gcs_try():
                ray.init(address=address, **options)
            return False
        try:
            ray.init(address="auto", **options)
            return False
        except ConnectionError:
            ray.init(include_dashboard=False, **options)
            return True


GCS_TRIES_ENV = "RAY_gcs_server_port_wait_time_s"
"""Ray's own knob for how many times (about a second apart) ``ray.init`` tries a head's GCS."""


@contextlib.contextmanager
def _one_gcs_try() -> Iterator[None]:
    """Let ``ray.init(address=...)`` try the GCS once (about 40 s) instead of 20 times: an address where
    something answers but no Ray head does (another gRPC or HTTP/2 server) otherwise holds the worker
    for some 14 minutes. A value the user set is kept."""
    if GCS_TRIES_ENV in os.environ:
        yield
        return
    os.environ[GCS_TRIES_ENV] = "1"
    try:
        yield
    finally:
        os.environ.pop(GCS_TRIES_ENV, None)


class RayProverPool:
    """:class:`~ngx_zk.worker.provers.ProverPool`'s interface on a Ray cluster.

    ``submit`` returns a Future of the :class:`ProofRun` (its ``node`` says where it ran). Metrics:
    ``ngx_worker_proofs_total{node}``, ``ngx_worker_node_failures_total{node}``,
    ``ngx_worker_artifact_fetches_total{node}`` and the gauges ``ngx_worker_proof_queue`` (submitted,
    not finished) and ``ngx_worker_fleet_nodes`` (alive nodes)."""

    def __init__(
        self,
        address: str,
        circuits: Sequence[Circuit],
        settings: Settings,
        *,
        cpus_per_proof: int = 1,
        node_cache: Path | None = None,
        metrics: Metrics | None = None,
        log: Log = null_log,
        snapshot: Path | None = None,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise NgxZkError("--ray needs the ray package", "install it: pip install 'ngx-zk[fleet]'") from None
        self._ray = ray
        try:
            self._started_cluster = _connect(address)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise NgxZkError(
                f"cannot join the Ray cluster at {address}: {first} (something answers there, but not as a Ray head)"
                if address != "auto"
                else f"cannot join or start a local Ray cluster: {first}",
                "pass the address `ray start --head` printed (HEAD:6379), or pass --ray auto",
            ) from None
        self.settings = node_settings(settings)
        self.metrics, self.log, self.snapshot = metrics or Metrics(), log, snapshot
        self.node_cache = str(node_cache or Path(tempfile.gettempdir()) / "ngx-zk-fleet")
        gpus = ray.cluster_resources().get("GPU", 0)  # type: ignore[no-untyped-call]
        self.threads_per_proof = max(1, cpus_per_proof)
        self._options: dict[str, Any] = {
            "num_cpus": 1 if gpus else self.threads_per_proof,
            "num_gpus": 1 if gpus else 0,
            "max_retries": 0,
            "retry_exceptions": False,
            "scheduling_strategy": "SPREAD",
        }  # one proof per slot, across the nodes
        self._task = ray.remote(_prove_on_node)
        self._shipments = {c.circuit_onnx: self._ship(c, settings) for c in circuits}
        self._lock = threading.Lock()
        self._running: dict[Any, Future[ProofRun]] = {}
        self._placed: dict[Any, str] = {}  # task -> the node it was sent to
        self._last_sent: dict[str, float] = {}  # node -> when it last got a proof (monotonic)
        self._closed = False
        self.slots = self._slots()
        log(
            "fleet.joined",
            address=address,
            nodes=len(self.nodes()),
            slots=self.slots,
            gpu=bool(gpus),
            started_cluster=self._started_cluster,
        )

    def _ship(self, circuit: Circuit, settings: Settings) -> Shipment:
        """Put each of the circuit's files in the object store once (checked against the manifest first)."""
        circuit.check()
        m = circuit.manifest
        srs_path = srs.locate(settings, m.srs)
        pk = keys.proving_key(settings, circuit, srs_path)
        files = {
            "settings": (circuit.settings, m.settings_sha256),
            "compiled": (circuit.compiled, m.compiled_sha256),
            "vk": (circuit.vk, m.vk_sha256),
            "circuit_onnx": (circuit.circuit_onnx, m.circuit_onnx_sha256),
            "srs": (srs_path, m.srs.sha256),
            "pk": (pk, sha256_file(pk)),
        }
        return Shipment(
            circuit, {role: Blob(digest, [self._ray.put(path.read_bytes())]) for role, (path, digest) in files.items()}
        )

    def nodes(self) -> list[dict[str, Any]]:
        return [n for n in self._ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]

    def _slots(self) -> int:
        resource, per = ("GPU", 1) if self._options["num_gpus"] else ("CPU", self.threads_per_proof)
        return max(1, sum(int(n.get("Resources", {}).get(resource, 0) // per) for n in self.nodes()))

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Block until a node answers a task (workers started, ngx_zk importable there)."""
        probe = self._ray.remote(_probe).options(num_cpus=0)
        try:
            self._ray.get(probe.remote([]), timeout=timeout_s)
        except Exception as exc:
            raise NgxZkError(
                f"the Ray cluster ran no task within {timeout_s:.0f}s: {type(exc).__name__}",
                "check `ray status`, and that every node has ngx-zk installed",
            ) from None
        self.metrics.set("ngx_worker_fleet_nodes", len(self.nodes()))
        self._write_snapshot()

    def _write_snapshot(self) -> None:
        """The fleet's figures beside the journal, for ``provider status`` (best effort: never fails a proof)."""
        if self.snapshot is not None:
            with contextlib.suppress(OSError):
                write_fleet(self.snapshot, self.metrics)

    def probe(self, names: Sequence[str] = ()) -> list[dict[str, Any]]:
        """One probe task per alive node (pinned to it): its id and which of ``names`` its environment holds."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        probe = self._ray.remote(_probe)
        refs = [
            probe.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(
                list(names)
            )
            for n in self.nodes()
        ]
        return list(self._ray.get(refs, timeout=START_TIMEOUT_S))

    def submit(self, circuit: Circuit, salted: InputData, out: Path) -> Future[ProofRun]:
        future: Future[ProofRun] = Future()
        future.set_running_or_notify_cancel()
        shipment = self._shipments.get(circuit.circuit_onnx)
        if shipment is None:  # not served at start: ship it now
            shipment = self._shipments[circuit.circuit_onnx] = self._ship(circuit, self.settings)
        with self._lock:
            node = self._pick_node()
            options = dict(self._options)
            if node is not None:
                from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

                options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=True)
            ref = self._task.options(**options).remote(shipment, self.settings, salted, self.node_cache, self.threads_per_proof)
            if node is not None:
                self._placed[ref], self._last_sent[node] = node, time.monotonic()
            self._running[ref] = future
            self.metrics.set("ngx_worker_proof_queue", len(self._running))
        self.metrics.set("ngx_worker_fleet_nodes", len(self.nodes()))
        ref.future().add_done_callback(lambda done: self._finished(ref, done, out))
        return future

    def _pick_node(self) -> str | None:
        """The alive node with the fewest proofs in flight, the one idle longest among equals (so the
        fleet's nodes take turns, as Ray's own SPREAD does only best effort). Soft: Ray runs the task
        elsewhere if that node cannot. Called with the lock held."""
        alive = [str(n["NodeID"]) for n in self.nodes() if n.get("NodeID")]
        if not alive:
            return None
        load = {node: 0 for node in alive}
        for node in self._placed.values():
            if node in load:
                load[node] += 1
        return min(alive, key=lambda node: (load[node], self._last_sent.get(node, 0.0)))

    def _finished(self, ref: Any, done: Future[Any], out: Path) -> None:
        with self._lock:
            self._placed.pop(ref, None)
            future = self._running.pop(ref, None)
            self.metrics.set("ngx_worker_proof_queue", len(self._running))
        if future is None:
            return
        try:
            result = done.result()
        except BaseException as exc:
            future.set_exception(self._translate(exc))
            self._write_snapshot()
            return
        try:
            node = str(result["node"])
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f".{out.name}.tmp")
            tmp.write_bytes(result["proof"])
            os.replace(tmp, out)
            run: ProofRun = result["run"]
            run = dataclasses.replace(run, path=out, proof=dataclasses.replace(run.proof, path=out), node=node)
        except Exception as exc:
            future.set_exception(exc)
            return
        self.metrics.inc("ngx_worker_proofs_total", node=node[:12])
        if result["fetched"]:
            self.metrics.inc("ngx_worker_artifact_fetches_total", len(result["fetched"]), node=node[:12])
            self.log("fleet.fetched", node=node[:12], artifacts=result["fetched"])
        if result.get("replaced"):
            self.log("fleet.cache_replaced", level="warning", node=node[:12], artifacts=result["replaced"])
        self._write_snapshot()
        future.set_result(run)

    def _translate(self, exc: BaseException) -> BaseException:
        """An error of the proof itself (bad input, EZKL failure) as raised on the node; the loss of the
        node or its worker process as :class:`ProverLost`."""
        from ray import exceptions as rex

        if isinstance(exc, rex.RayTaskError):
            cause = exc.cause
            if isinstance(cause, Exception) and not isinstance(cause, rex.RayError):
                return cause
            return NgxZkError(f"proof failed on the cluster: {type(cause).__name__}: {str(cause).strip().splitlines()[-1][:300]}")
        if isinstance(exc, rex.TaskCancelledError):
            return ProverLost("cancelled", "the proof was cancelled (the worker is stopping)")
        node = ""
        with contextlib.suppress(Exception):
            node = str(getattr(exc, "node_id", "") or "")
        self.metrics.inc("ngx_worker_node_failures_total", node=node[:12] or "unknown")
        self.log("fleet.node_lost", level="warning", node=node[:12], error=f"{type(exc).__name__}: {str(exc)[:200]}")
        return ProverLost(node or "unknown", f"{type(exc).__name__}: {str(exc)[:200]}")

    def close(self, *, wait: bool) -> None:
        """``wait``: let submitted proofs finish; otherwise cancel them. Leaves the cluster (stops it if we started it)."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            refs = list(self._running)
        if wait:
            with contextlib.suppress(Exception):
                self._ray.wait(refs, num_returns=len(refs), timeout=START_TIMEOUT_S)
        else:
            for ref in refs:
                with contextlib.suppress(Exception):
                    self._ray.cancel(ref, force=True)
        self._ray.shutdown()
