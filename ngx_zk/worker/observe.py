"""The worker's structured logs (JSON lines) and its Prometheus metrics endpoint."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from ..errors import NgxZkError


class JsonLog:
    """One JSON object per line: ``{"ts", "level", "event", ...fields}``. Never given secrets."""

    def __init__(self, stream: IO[str], *, worker: str) -> None:
        self.stream = stream
        self.worker = worker
        self._lock = threading.Lock()

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None:
        record = {"ts": round(time.time(), 3), "level": level, "event": event, "worker": self.worker, **fields}
        with self._lock:
            self.stream.write(json.dumps(record, default=str) + "\n")
            self.stream.flush()


class Metrics:
    """Counters and gauges, served in the Prometheus text format on ``/metrics``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.gauges: dict[str, float] = {}
        self._server: ThreadingHTTPServer | None = None

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self.counters[key] = self.counters.get(key, 0.0) + amount

    def set(self, name: str, value: float) -> None:
        with self._lock:
            self.gauges[name] = value

    def by_label(self, name: str, label: str) -> dict[str, float]:
        """One counter's values by one label, e.g. ``by_label("ngx_worker_proofs_total", "node")``."""
        with self._lock:
            return {dict(labels).get(label, ""): value for (counter, labels), value in self.counters.items() if counter == name}

    def render(self) -> str:
        lines = []
        with self._lock:
            for (name, labels), value in sorted(self.counters.items()):
                label_text = ",".join(f'{k}="{v}"' for k, v in labels)
                lines.append(f"{name}{{{label_text}}} {value:g}" if label_text else f"{name} {value:g}")
            lines.extend(f"{name} {value:g}" for name, value in sorted(self.gauges.items()))
        return "\n".join(lines) + "\n"

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve /metrics in a background thread; returns the bound port (0 picks a free one)."""
        metrics = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.rstrip("/") != "/metrics":
                    self.send_error(404)
                    return
                body = metrics.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise NgxZkError(f"cannot serve metrics on {host}:{port}: {exc.strerror}", "pick a free --metrics-port") from None
        threading.Thread(target=self._server.serve_forever, daemon=True, name="metrics").start()
        return int(self._server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


FLEET_FILE = "fleet.json"
"""The worker's fleet figures, beside its journal: read by ``provider status``."""


def fleet_snapshot(metrics: Metrics) -> dict[str, Any]:
    """A proving fleet's figures from the worker's metrics: nodes, queue depth, proofs, fetches and failures per node."""
    with metrics._lock:
        gauges = dict(metrics.gauges)
    return {
        "updated": round(time.time(), 3),
        "nodes": int(gauges.get("ngx_worker_fleet_nodes", 0)),
        "queue": int(gauges.get("ngx_worker_proof_queue", 0)),
        "proofs_per_node": metrics.by_label("ngx_worker_proofs_total", "node"),
        "artifact_fetches_per_node": metrics.by_label("ngx_worker_artifact_fetches_total", "node"),
        "node_failures": metrics.by_label("ngx_worker_node_failures_total", "node"),
        "reproofs": sum(metrics.by_label("ngx_worker_reproofs_total", "").values()),
    }


def write_fleet(path: Path, metrics: Metrics) -> None:
    """Write :func:`fleet_snapshot` atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(fleet_snapshot(metrics)))
    os.replace(tmp, path)


def read_fleet(path: Path) -> dict[str, Any] | None:
    """The fleet figures a worker on a Ray cluster last wrote (None without one)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def null_log(event: str, level: str = "info", **fields: Any) -> None:
    logging.getLogger("ngx_zk.worker").debug("%s %s %s", level, event, fields)
