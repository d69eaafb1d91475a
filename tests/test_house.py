"""The house rules of the package, read from its source (its modules are parsed, not imported): the import graph has no cycles
and keeps DESIGN.md's layering, and the shared words (job statuses, event fields, the dev chain) are
spelled in ``ngx_zk/chain/`` only, where the chain's answers are decoded.

Each test lists ``file:line`` of what breaks a rule. tests/test_startup.py already checks that web3 stays
inside ``ngx_zk/chain/`` and that the CLI starts without it; these do not repeat that.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ngx_zk.chain.abi import abi
from ngx_zk.chain.types import JobStatus, ModelStatus

from .paths import REPO

PACKAGE = REPO / "ngx_zk"
DECODING = {"ngx_zk/chain/types.py", "ngx_zk/chain/events.py"}
"""Where the words are defined and the chain's answers decoded: the only modules allowed to spell them."""
RPC_DECODING = DECODING | {"ngx_zk/chain/history.py", "ngx_zk/chain/tx.py", "ngx_zk/chain/contracts.py"}
"""Modules that read web3's raw logs and receipts (``blockNumber``, ``transactionHash``) to build typed records."""
PIPELINE = ("ngx_zk.export", "ngx_zk.circuit", "ngx_zk.prover")
STATUS_WORDS = {s.value for s in JobStatus if s is not JobStatus.NONE} | {ModelStatus.ACTIVE.value, ModelStatus.DEPRECATED.value}
LOG_META_KEYS = {"blockNumber", "transactionHash", "logIndex"}


@dataclass(frozen=True)
class Import:
    source: str
    """The importing module, dotted."""
    target: str
    """The imported module (an ngx_zk name resolved to the module it names; others as written)."""
    where: str
    """``file:line``."""


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def rel(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


@functools.cache
def imports() -> tuple[Import, ...]:
    """Every import statement of the package: top level, function-local and under TYPE_CHECKING alike."""
    known = modules()
    found: list[Import] = []
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"{rel(path)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                found += [Import(name, _resolve(a.name, known), where) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:  # `from . import x` imports the submodule x when there is one
                    sub = f"{base}.{alias.name}"
                    found.append(Import(name, sub if sub in known else _resolve(base, known), where))
    return tuple(found)


def _resolve(module: str, known: dict[str, Path]) -> str:
    return module if module in known or not module.startswith("ngx_zk") else module.rpartition(".")[0]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a module importing itself), by Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, ()):
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for imp in imports():
        if imp.target in graph:
            graph[imp.source].add(imp.target)
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


# --- the import graph --------------------------------------------------------------------------------
def test_the_scan_sees_the_whole_package_and_its_lazy_imports() -> None:
    """The rules below would pass vacuously on a scan that missed modules or function-local imports."""
    graph = package_graph()
    assert len(graph) > 60 and "ngx_zk.chain.types" in graph and "ngx_zk.worker.lifecycle" in graph
    lazy = [i for i in imports() if i.source == "ngx_zk.chain.devnet" and i.target == "ngx_zk.chain.market"]
    assert len(lazy) >= 2, "devnet's function-local and TYPE_CHECKING imports of the market are edges too"


def test_the_import_graph_has_no_cycles() -> None:
    graph = package_graph()
    found = cycles(graph)
    detail = [
        f"{' <-> '.join(c)}: " + ", ".join(f"{i.where} -> {i.target}" for i in imports() if i.source in c and i.target in c)
        for c in found
    ]
    assert found == [], "import cycles (move the shared part into a lower module):\n" + "\n".join(detail)


def test_no_two_rooms_import_each_other() -> None:
    """A room is a subpackage or a top-level module of the package. Modules inside a room may lean on each other,
    but between rooms the arrows run one way: the anomaly detector reads the explorer's index, so the explorer
    serves the detector it is handed by the CLI and imports none of it."""

    def room(name: str) -> str:
        return ".".join(name.split(".")[:2])

    rooms: dict[str, set[str]] = {}
    for name, targets in package_graph().items():
        rooms.setdefault(room(name), set()).update(room(t) for t in targets if room(t) != room(name))
    found = cycles(rooms)
    detail = [
        f"{' <-> '.join(c)}: "
        + ", ".join(
            f"{i.where} -> {i.target}"
            for i in imports()
            if room(i.source) in c and room(i.target) in c and room(i.source) != room(i.target)
        )
        for c in found
    ]
    assert found == [], "rooms importing each other (hand the part over from the room above):\n" + "\n".join(detail)


def test_cycle_finder_finds_a_cycle_hidden_two_steps_away() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]] and cycles({"a": {"b"}, "b": set()}) == []


def test_the_chain_package_never_reaches_ezkl_and_the_pipeline_never_reaches_the_chain() -> None:
    """DESIGN.md section 2: the chain package never imports ezkl (not even through another module), and the
    pipeline modules (export, circuit, prover) never import the chain package (hence never web3)."""
    graph = package_graph()
    ezkl_users = {i.source for i in imports() if i.target.split(".")[0] == "ezkl"}
    assert ezkl_users, "the scan finds the module that wraps ezkl"
    for name in graph:
        if name.startswith("ngx_zk.chain"):
            assert not reachable(graph, name) & ezkl_users, f"{name} reaches ezkl through {reachable(graph, name) & ezkl_users}"
    for name in PIPELINE:
        chain = sorted(m for m in reachable(graph, name) if m.startswith("ngx_zk.chain"))
        assert chain == [], f"{name} imports the chain package: {chain}"


def test_only_the_cli_imports_click() -> None:
    hits = [i.where for i in imports() if i.target.split(".")[0] == "click" and not i.source.startswith("ngx_zk.cli")]
    assert hits == []


def test_the_vocabulary_module_needs_no_web3() -> None:
    """``chain/types.py`` and the decoding in ``chain/events.py`` are the words every room shares, even rooms
    without the chain stack: they import no web3 and nothing of the package that would."""
    graph = package_graph()
    for name in ("ngx_zk.chain.types", "ngx_zk.chain.events"):
        heavy = [i.where for i in imports() if i.source in reachable(graph, name) and i.target.split(".")[0] == "web3"]
        assert heavy == [], f"{name} reaches web3: {heavy}"


# --- the shared words --------------------------------------------------------------------------------
def event_field_names() -> set[str]:
    """The camelCase argument names of every event the contracts emit (a snake_case record field elsewhere)."""
    names: set[str] = set()
    for path in (PACKAGE / "chain" / "artifacts").glob("*.json"):
        for entry in abi(path.stem):
            if entry.get("type") == "event":
                names |= {str(i["name"]) for i in entry["inputs"] if re.search(r"[a-z][A-Z]", str(i["name"]))}
    return names


def _strings(node: ast.AST) -> Iterator[ast.Constant]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            yield sub


def status_literals(path: Path) -> list[str]:
    """Job and model statuses spelled as strings: ``"Settled"`` alone, or quoted inside SQL (``'Settled'``)."""
    hits = []
    for const in _strings(ast.parse(path.read_text(), str(path))):
        value = str(const.value)
        if value in STATUS_WORDS or any(f"'{w}'" in value for w in STATUS_WORDS):
            hits.append(f"{rel(path)}:{const.lineno} {value[:60]!r}")
    return hits


def event_key_reads(path: Path, fields: set[str], meta: bool) -> list[str]:
    """Event fields read by their ABI name: ``x["jobId"]``, ``x.get("jobId")``, ``logs(..., jobId=...)``,
    and (with ``meta``) a raw log's ``x["blockNumber"]``."""
    keys = fields | (LOG_META_KEYS if meta else set())
    hits = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
            first = node.args[0]
            key = first.value if isinstance(first, ast.Constant) else None
        elif isinstance(node, ast.Call):
            key = next((k.arg for k in node.keywords if k.arg in fields), None)
        if isinstance(key, str) and key in keys:
            hits.append(f"{rel(path)}:{node.lineno} {key}")
    return hits


def raw_event_calls(path: Path) -> list[str]:
    """An event named by string (``chain.events_in(receipt, c, "JobPosted")``, or a revived dict reader
    ``market.events("JobPosted", ...)``): untyped dicts, outside the chain package."""
    hits = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("events", "events_in")
            and any(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)
        ):
            hits.append(f"{rel(path)}:{node.lineno} {node.func.attr}(...)")
    return hits


def house_files(exempt: set[str]) -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if rel(p) not in exempt]


EXPLORER_ROWS = {"ngx_zk/explorer/indexer.py", "ngx_zk/explorer/views.py"}
"""The explorer indexes every event of every contract, typed record or not, as rows keyed by the ABI's own
names (its API and pages show them so); these two modules write and read those rows, the explorer's own
decoding boundary. Statuses and dev-chain checks are scanned there like anywhere else."""


def test_no_job_status_is_spelled_as_a_string_outside_the_vocabulary() -> None:
    """``JobStatus.SETTLED``, not ``"Settled"``: a renamed or added status then breaks loudly, in one place."""
    hits = [h for p in house_files(DECODING) for h in status_literals(p)]
    assert hits == [], "use JobStatus / ModelStatus from ngx_zk.chain.types:\n" + "\n".join(hits)


def test_no_event_field_is_read_by_its_abi_name_outside_the_decoding() -> None:
    """Events reach the rooms as records (``event.job_id``, ``logged.meta.block_number``), decoded in
    ``chain/events.py``; only the modules that decode web3's raw logs and receipts read ``blockNumber``."""
    fields = event_field_names()
    assert {"jobId", "inputCommitments", "proveDeadline", "missedBy"} <= fields, "the scan reads the ABIs"
    hits = [h for p in house_files(DECODING | EXPLORER_ROWS) for h in event_key_reads(p, fields, meta=rel(p) not in RPC_DECODING)]
    hits += [h for p in house_files(set()) if not rel(p).startswith("ngx_zk/chain/") for h in raw_event_calls(p)]
    assert hits == [], "read the typed records of ngx_zk.chain.types (Marketplace.logs):\n" + "\n".join(hits)


def test_the_chain_clients_offer_no_untyped_event_reader() -> None:
    """Events are read as records (``Marketplace.logs(JobSettled, ...)``, ``Marketplace.emitted``); the old
    ``Marketplace.events("JobSettled", ...)``, which answered ABI-named dicts, is gone and stays gone."""
    readers = [
        f"{rel(path)}:{node.lineno} {cls.name}.{node.name}"
        for path in sorted((PACKAGE / "chain").glob("*.py"))
        for cls in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(cls, ast.ClassDef)
        for node in cls.body
        if isinstance(node, ast.FunctionDef) and node.name == "events"
    ]
    assert readers == [], "read events through Marketplace.logs / emitted:\n" + "\n".join(readers)


def test_the_scans_catch_what_they_forbid(tmp_path: Path) -> None:
    """Each scan flags a sample of what it forbids (a scan that cannot fail guards nothing)."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "if job['status'] == 'Settled' or rows == \"SELECT * FROM jobs WHERE status = 'Open'\":\n"
        "    x = event['jobId'] + e.get('proveDeadline') + log['blockNumber']\n"
        "    chain.events_in(receipt, market, 'JobPosted')\n"
        "    market.events('JobPosted', 0, jobId=1)\n"
    )
    assert len(status_literals(sample)) == 2
    keys = sorted(h.split()[-1] for h in event_key_reads(sample, event_field_names(), meta=True))
    assert keys == ["blockNumber", "jobId", "jobId", "proveDeadline"]
    assert len(raw_event_calls(sample)) == 2


def _names_the_dev_chain(node: ast.expr) -> bool:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    return name == "DEV_CHAIN_ID" or (isinstance(node, ast.Constant) and node.value == 31337)


def test_one_answer_to_is_this_the_dev_chain() -> None:
    """anvil's chain id is compared in one function, ``chain.types.is_dev_chain``: not re-derived per room."""
    hits = [
        f"{rel(path)}:{node.lineno}"
        for path in house_files(DECODING)
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Compare) and any(_names_the_dev_chain(n) for n in [node.left, *node.comparators])
    ]
    assert hits == [], "call ngx_zk.chain.types.is_dev_chain (or Marketplace.dev_chain):\n" + "\n".join(hits)


# --- the rooms' sizes --------------------------------------------------------------------------------
BIG_MODULE_LINES = 600
BIG_MODULES_ALLOWED = 2
BIG_CLASS_LINES = 300


def module_lines() -> dict[str, int]:
    """Lines of every module of the package, by path."""
    return {rel(p): len(p.read_text().splitlines()) for p in sorted(PACKAGE.rglob("*.py"))}


def class_lines(path: Path) -> list[tuple[str, int]]:
    """``(file:line Name, lines)`` of every class in ``path``, nested ones too, measured by its AST node."""
    return [
        (f"{rel(path)}:{node.lineno} {node.name}", (node.end_lineno or node.lineno) - node.lineno + 1)
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.ClassDef)
    ]


def test_at_most_two_big_modules_and_no_big_class() -> None:
    """Issue 22: a room answers one question. At most two modules over 600 lines, no class over 300."""
    big = sorted(((n, f) for f, n in module_lines().items() if n > BIG_MODULE_LINES), reverse=True)
    long = sorted(((n, c) for p in sorted(PACKAGE.rglob("*.py")) for c, n in class_lines(p) if n > BIG_CLASS_LINES), reverse=True)
    assert len(big) <= BIG_MODULES_ALLOWED and long == [], (
        f"modules over {BIG_MODULE_LINES} lines (at most {BIG_MODULES_ALLOWED} allowed): "
        + ", ".join(f"{f} {n}" for n, f in big)
        + f"; classes over {BIG_CLASS_LINES} lines: "
        + (", ".join(f"{c} {n}" for n, c in long) or "none")
    )


def test_the_size_scan_measures_a_class_from_its_first_to_its_last_line(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\n\n\nclass Big:\n" + "    x = 1\n" * 300 + "\n\nclass Small:\n    class Inner:\n        pass\n")
    sizes = {name.split()[-1]: n for name, n in class_lines(sample)}
    assert sizes == {"Big": 301, "Small": 3, "Inner": 2}
    assert sum(1 for n in sizes.values() if n > BIG_CLASS_LINES) == 1
