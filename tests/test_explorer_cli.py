"""``ngx-zk explorer`` refusing a user's mistakes with one line (no traceback), and the pages' number and
label formatting in Debian's headless Chromium. No chain needed: ``--no-index`` serves a database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ngx_zk.explorer.db import Database
from ngx_zk.explorer.server import Explorer, ExplorerServer

CHROMIUM = Path("/usr/bin/chromium")


def explorer(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NGX_ZK_")}
    env["NGX_ZK_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "ngx_zk", "explorer", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_a_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_line_error(explorer("--no-index", "--db", str(tmp_path / "e.sqlite"), "--port", str(port), home=tmp_path))
    assert f"port {port}" in line and "in use" in line and "--port" in line


def test_a_folder_as_db_is_one_clear_line(tmp_path: Path) -> None:
    line = one_line_error(explorer("--no-index", "--db", str(tmp_path), "--port", "0", home=tmp_path))
    assert "is a folder" in line


@pytest.mark.parametrize("url", ["mysql://x/y", "redis://localhost/0", "sqlite://relative.db"])
def test_an_unknown_db_scheme_is_refused_without_creating_a_file(url: str, tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "ngx_zk", "explorer", "--no-index", "--db", url, "--port", "0"],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("NGX_ZK_")}, "NGX_ZK_HOME": str(tmp_path / "home")},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    line = one_line_error(result)
    assert "postgresql://" in line and "sqlite:///" in line
    assert list(cwd.iterdir()) == [], "a file or folder was created for the URL"


@pytest.mark.parametrize("form", ["plain", "sqlite-url"])
def test_sqlite_paths_and_urls_are_accepted(form: str, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "e.sqlite"
    Database(str(path) if form == "plain" else f"sqlite:///{path}").close()
    assert path.is_file()


# --- formatting, in the page's own script -------------------------------------------------------------
@pytest.fixture
def page_url(tmp_path: Path) -> Iterator[str]:
    app = Explorer(Database(str(tmp_path / "e.sqlite")))
    server = ExplorerServer(app, "127.0.0.1", 0)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        app.db.close()


def test_amounts_are_rounded_and_output_hashes_labelled_as_such(page_url: str) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium missing: make system-deps")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(page_url + "/")
            page.wait_for_selector("#app[data-ready]")
            ngx = {
                "1999999999999999999": "2 NGX",  # 1.999999...: rounded up, not cut to 1.9999
                "1234560000000000000": "1.2346 NGX",
                "1234540000000000000": "1.2345 NGX",
                "99999999999999": "0.0001 NGX",
                "49999999999999": "0 NGX",
                "10000000000000000000": "10 NGX",
            }
            for wei, shown in ngx.items():
                assert page.evaluate(f"ngx('{wei}')") == shown, wei
            hashed = page.evaluate("outputsLabel('hashed')")
            assert "hash" in hashed.lower() and "outputs" not in hashed.lower()
            assert page.evaluate("outputsLabel('public')").startswith("Public outputs")
        finally:
            browser.close()
