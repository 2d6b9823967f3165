"""Load generation for bench_pixel.py: a gunicorn server, and wrk with a path-cycling Lua script.

Imported by bench_pixel.py as a sibling module (bench/ is on sys.path when it runs as a script).
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from common import ROOT

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = 32
WRK_THREADS = 2
GUNICORN_WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "1"))
GUNICORN_THREADS = 8


def start_gunicorn(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start gunicorn (gthread workers) on PORT with ENV; return it once /ping answers 200."""
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "-w",
        str(GUNICORN_WORKERS),
        "-k",
        "gthread",
        "--threads",
        str(GUNICORN_THREADS),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "web:create_app()",
    ]
    # Its own session, so that stop_gunicorn() can signal the master and its workers at once.
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def stop_gunicorn(process: subprocess.Popen[bytes]) -> None:
    """Stop the gunicorn PROCESS and its workers, and wait for it to exit."""
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def wrk(url: str, script: Path | None) -> tuple[float, int, int]:
    """Run wrk once; return (requests/s, completed requests, non-2xx responses)."""
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{SECONDS}s"]
    if script:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(output)


def parse_wrk(output: str) -> tuple[float, int, int]:
    """Return (requests/s, completed requests, non-2xx responses) from wrk's OUTPUT."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rate is None or total is None:
        raise SystemExit(f"unexpected wrk output:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return float(rate.group(1)), int(total.group(1)), int(bad.group(1)) if bad else 0


def path_script(paths: list[str], directory: Path, name: str) -> Path:
    """Write a wrk Lua script that cycles through PATHS, one per request.

    Every request has a user agent of its own (the script's name, the wrk thread, a counter):
    one client's repeats within a minute count once, and the bench checks that every
    request it makes is counted. A new script name per run keeps runs apart too.
    """
    script = directory / f"{name}.lua"
    body = ",\n".join(f'"{path}"' for path in paths)
    script.write_text(
        "local threads = 0\n"
        "function setup(thread)\n  threads = threads + 1\n  thread:set('id', threads)\nend\n"
        f"local paths = {{\n{body}\n}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        "  return wrk.format('GET', paths[(i % #paths) + 1], "
        f"{{['User-Agent'] = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0 {name}-' "
        ".. id .. '-' .. i})\nend\n"
    )
    return script
