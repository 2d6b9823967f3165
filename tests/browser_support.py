"""Support for the Chromium tests: Debian's browser, a live app server, the screenshot folder."""

from __future__ import annotations

import base64
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

OUTPUT_DIR = Path(__file__).resolve().parent.parent / "test-output"
# `make screenshots` sets this: the studio's tests then refresh the pictures docs/ shows.
DOCS_SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"  # Debian's build: Playwright may not download its own
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def launch_chromium() -> Iterator[Any]:
    """Yield a headless Chromium browser driven by Playwright, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def serve_app(make_app: Callable[[str], Any]) -> Iterator[str]:
    """Serve MAKE_APP(base_url) on a free loopback port in a thread; yield its base URL.

    The app is built only once the port is known, so it can put its own address in links.
    """
    server = make_server("127.0.0.1", 0, None, threaded=True)  # type: ignore[arg-type]
    base_url = f"http://127.0.0.1:{server.server_port}"
    server.app = make_app(base_url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        thread.join(timeout=10)


def screenshot_path(name: str, folder: str = "") -> Path:
    """Return where screenshot NAME goes under test-output/ (FOLDER made if needed)."""
    directory = OUTPUT_DIR / folder
    directory.mkdir(parents=True, exist_ok=True)
    return directory / name


def for_docs(path: Path, name: str) -> None:
    """Copy screenshot PATH to docs/screenshots/NAME when `make screenshots` runs the tests."""
    if os.environ.get("NURTURE_TEST_DOCS_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_SCREENSHOTS / name)


def basic_auth_header(credentials: dict[str, str]) -> dict[str, str]:
    """Return the HTTP Basic header for CREDENTIALS, to send with every request.

    Playwright's http_credentials answer a 401 challenge only; a browser without credentials
    is sent to the login form instead, as people are.
    """
    pair = f"{credentials['username']}:{credentials['password']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
