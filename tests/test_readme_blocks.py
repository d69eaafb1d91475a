"""The README's shell blocks run as written (issue 27: "every command runs as written on a fresh clone").

The rule: every ```bash, ```sh and ```console block in README.md carries a marker on the line above it,
``<!-- test: run -->`` or ``<!-- test: skip: REASON -->``. A block is marked ``run`` when it needs nothing
but this checkout, the pinned toolchain and a local chain; it is skipped, with the reason, when it
installs packages, runs `make demo` or a server that never ends, needs a Ray cluster or a GPU, builds
for minutes, or names the reader's own files, URLs or ids (``my_net.py``, ``https://example.org``,
job 7). A new block without a marker fails :func:`test_every_shell_block_says_whether_it_runs`.

The ``run`` blocks run in README order, each as one ``bash -e`` script, in one fresh folder that is
both the working directory and ``NGX_ZK_HOME`` (with ``models`` linked to the repository's, so the
relative paths hold), with ``.venv/bin`` on ``PATH`` as the README's ``. .venv/bin/activate`` puts it.
A ``console`` block's commands are its ``$ `` lines; the others are the output it shows, and each
``valid: ...`` line among them must appear in what the commands print. The test starts the devnet
(on a free port) before the blocks, so the README's ``ngx-zk devnet up`` finds it running.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import ngx_zk as ngx
from ngx_zk.chain import devnet

from .paths import REPO

SHELLS = ("bash", "sh", "console")
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[a-z]*)\n(?P<body>.*?)^(?P=indent)```$", re.M | re.S)
MARK = re.compile(r"<!-- test: (?P<what>run|skip: (?P<why>.+?)) -->\s*$")
BLOCK_TIMEOUT_S = 300


@dataclass(frozen=True)
class Block:
    line: int
    lang: str
    body: str
    run: bool
    why: str | None

    def commands(self) -> str:
        """The script: a console block's ``$ `` lines, or a bash/sh block as it stands."""
        lines = [ln.strip() for ln in self.body.splitlines()]
        if self.lang == "console":
            return "\n".join(ln[2:] for ln in lines if ln.startswith("$ "))
        return "\n".join(lines)

    def shown(self) -> list[str]:
        """The output lines a console block shows."""
        lines = [ln.strip() for ln in self.body.splitlines()]
        return [ln for ln in lines if ln and not ln.startswith("$ ")] if self.lang == "console" else []


def blocks(text: str) -> list[Block]:
    found = []
    for fence in FENCE.finditer(text):
        if fence["lang"] not in SHELLS:
            continue
        line = text.count("\n", 0, fence.start()) + 1
        above = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = MARK.search(above)
        found.append(Block(line, fence["lang"], fence["body"], bool(mark and mark["what"] == "run"), mark and mark["why"]))
    return found


def readme_blocks() -> list[Block]:
    return blocks((REPO / "README.md").read_text())


def test_every_shell_block_says_whether_it_runs() -> None:
    text = (REPO / "README.md").read_text()
    unmarked = [b.line for b in blocks(text) if not b.run and not b.why]
    assert not unmarked, f"README.md blocks at lines {unmarked} need <!-- test: run --> or <!-- test: skip: WHY --> above them"
    assert sum(b.run for b in blocks(text)) >= 2, "the pipeline and the marketplace walk-through are marked to run"


def test_the_marker_rule_reads_what_it_should() -> None:
    """The parser the README test stands on: markers, indentation, console prompts."""
    text = (
        "<!-- test: run -->\n```console\n$ echo a   # a comment\nshown\n```\n"
        "  <!-- test: skip: needs Ray -->\n  ```bash\n  ray start --head\n  ```\n"
        "```bash\nunmarked\n```\n```python\nprint()\n```\n"
    )
    first, second, third = blocks(text)
    assert first.run and first.commands() == "echo a   # a comment" and first.shown() == ["shown"]
    assert not second.run and second.why == "needs Ray" and second.commands() == "ray start --head"
    assert not third.run and third.why is None


def run_block(block: Block, home: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One block as a ``bash -e`` script; anything it left in the background is stopped with it."""
    proc = subprocess.Popen(
        ["bash", "-e", "-c", block.commands()],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=BLOCK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"README.md block at line {block.line} did not finish within {BLOCK_TIMEOUT_S}s:\n{out}\n{err}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # a `worker ... &` the block started and did not wait for
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.chain
@pytest.mark.slow
def test_the_readme_shell_blocks_run_as_written(tmp_path: Path, cache_dir: Path) -> None:
    home = tmp_path / "reader"
    home.mkdir()
    (home / "models").symlink_to(REPO / "models")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NGX_ZK_", "VIRTUAL_ENV"))}
    env.update(
        NGX_ZK_HOME=str(home),
        NGX_ZK_CACHE_DIR=str(cache_dir),  # the session's test SRS: the same a reader's first build makes
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    settings = ngx.load_settings(env)
    devnet.up(settings, port=0, fresh=True)
    try:
        for block in (b for b in readme_blocks() if b.run):
            done = run_block(block, home, env)
            assert done.returncode == 0, (
                f"README.md block at line {block.line} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
            for line in block.shown():
                if line.startswith("valid:"):
                    assert line in done.stdout, f"README.md line {line!r} (block at line {block.line}) not printed"
    finally:
        devnet.down(settings)
