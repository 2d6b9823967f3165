"""`nurture db upgrade` then `nurture run` bring web, worker and beat up; /healthz answers 200."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

NURTURE = str(Path(sys.executable).with_name("nurture"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
def test_run_starts_web_worker_and_beat(tmp_path: Path, redis_url: str) -> None:
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("NURTURE_") or key.startswith("NURTURE_TEST_")
    }
    env.update(
        NURTURE_DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}",
        NURTURE_REDIS_URL=redis_url,
        NURTURE_OUTBOX_DIR=str(tmp_path / "outbox"),
        NURTURE_BASE_URL=f"http://127.0.0.1:{port}",
    )
    subprocess.run([NURTURE, "db", "upgrade"], env=env, check=True, cwd=tmp_path)
    process = subprocess.Popen(
        [NURTURE, "run", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        status, body = 0, b""
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
                continue
            if status == 200:
                break
        assert process.poll() is None, "nurture run exited early"
        assert status == 200, body
        assert json.loads(body)["checks"] == {"database": "ok", "redis": "ok"}
        status, page = _get(f"http://127.0.0.1:{port}/")
        assert status == 200
        assert b'name="email"' in page
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert f"Signup page: http://127.0.0.1:{port}/" in output
    for name in ("web", "worker", "beat"):
        assert re.search(rf"{name} started \(pid=\d+\)", output), output[-2000:]
