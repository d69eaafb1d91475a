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
MARK = re.compile(r"<!-- test: (?P<what>run|public-l2|skip: (?P<why>.+?)) -->\s*$")
BLOCK_TIMEOUT_S = 300


@dataclass(frozen=True)
class Block:
    line: int
    lang: str
    body: str
    run: bool
    why: str | None
    public_l2: bool = False
    """Marked ``<!-- test: public-l2 -->``: run by tests/test_public_l2_readme.py against a non-dev node, not here."""

    def commands(self) -> str:
        """The script: a console block's ``$ `` lines, or a bash/sh block as it stands."""
        return "\n".join(self.steps()) if self.lang == "console" else "\n".join(ln.strip() for ln in self.body.splitlines())

    def steps(self) -> list[str]:
        """A console block's commands, one per ``$ `` line (a line ending in ``\\`` goes on to the next lines)."""
        return [command for command, _ in self.transcript()]

    def transcript(self) -> list[tuple[str, list[str]]]:
        """A console block's ``(command, the output lines shown under it)``, in order."""
        found: list[tuple[str, list[str]]] = []
        going_on = False
        for ln in (raw.strip() for raw in self.body.splitlines()):
            if going_on:
                command, shown = found[-1]
                found[-1] = (command + " " + ln.removesuffix("\\").strip(), shown)
            elif ln.startswith("$ "):
                found.append((ln[2:].removesuffix("\\").strip(), []))
            elif ln and found:
                found[-1][1].append(ln)
            going_on = (going_on or ln.startswith("$ ")) and ln.endswith("\\")
        return found

    def shown(self) -> list[str]:
        """The output lines a console block shows."""
        return [ln for _, shown in self.transcript() for ln in shown] if self.lang == "console" else []


def blocks(text: str) -> list[Block]:
    found = []
    for fence in FENCE.finditer(text):
        if fence["lang"] not in SHELLS:
            continue
        line = text.count("\n", 0, fence.start()) + 1
        above = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = MARK.search(above)
        what = mark["what"] if mark else None
        found.append(Block(line, fence["lang"], fence["body"], what == "run", mark and mark["why"], what == "public-l2"))
    return found


def readme_blocks() -> list[Block]:
    return blocks((REPO / "README.md").read_text())


def test_every_shell_block_says_whether_it_runs() -> None:
    text = (REPO / "README.md").read_text()
    unmarked = [b.line for b in blocks(text) if not b.run and not b.why and not b.public_l2]
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
    (l2,) = blocks("<!-- test: public-l2 -->\n```console\n$ deploy \\\n    --team 0x1 \\\n    --x\nok\n$ b\nError: no\n```\n")
    assert l2.public_l2 and not l2.run and l2.why is None
    assert l2.transcript() == [("deploy --team 0x1 --x", ["ok"]), ("b", ["Error: no"])]
    assert l2.commands() == "deploy --team 0x1 --x\nb" and l2.shown() == ["ok", "Error: no"]


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
