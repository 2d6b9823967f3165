"""Private services a fault test may kill: Redis, PostgreSQL, the fake SendGrid as a process.

Each runs on a free port of its own, so a test can stop and start it without touching the
shared Redis and PostgreSQL that every other test uses. Our web app can be served in a thread
so the fake SendGrid process posts its signed webhooks to it.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from helpers import wait_until
from werkzeug.serving import make_server

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """Return a TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class PrivateRedis:
    """A redis-server of this test's own, on a free port, that the test stops and starts."""

    def __init__(self) -> None:
        """Pick a free port; nothing runs until start()."""
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server, empty and keeping nothing on disk, and wait until it answers."""
        self.process = subprocess.Popen(
            [
                "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        assert wait_until(lambda: _answers(client), timeout=10), "redis-server did not start"
        client.close()

    def stop(self) -> None:
        """Stop the server, losing whatever it held."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL the server: every queued message is gone, clients see dropped connections."""
        assert self.process is not None and self.process.poll() is None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def _postgres_bin(name: str) -> str | None:
    """Return the newest installed PostgreSQL's NAME program (Debian keeps them off PATH)."""
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    return candidates[-1] if candidates else shutil.which(name)


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own (initdb in a temporary folder, trust auth).

    initdb and pg_ctl refuse to run as root, so as root they run as the postgres user, in a
    folder that user owns. Durability is off (fsync): an immediate stop still loses no commit,
    only an operating system crash would.
    """

    def __init__(self) -> None:
        """Create the cluster on a free port; it is not running until start()."""
        initdb = _postgres_bin("initdb")
        self.pg_ctl = _postgres_bin("pg_ctl")
        if initdb is None or self.pg_ctl is None:
            if os.environ.get("CI"):
                raise RuntimeError("CI must run the PostgreSQL fault test, but initdb is missing")
            pytest.skip("PostgreSQL's initdb and pg_ctl are not installed")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="nurture-pg-"))
        self.data = self.root / "data"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    @property
    def url(self) -> str:
        """Return the SQLAlchemy URL of the cluster's postgres database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        subprocess.run(
            [*prefix, *command],
            check=True,
            cwd=self.root,  # the postgres user may not read the test's working folder
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start(self) -> None:
        """Start the server and wait until it takes connections."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            self.pg_ctl or "pg_ctl",
            *("-D", str(self.data), "-o", options, "-l", str(self.root / "server.log")),
            *("-w", "-t", "60", "start"),
        )

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server; "immediate" aborts every backend at once, as a crash would."""
        self._run(self.pg_ctl or "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        """Tell whether the server's postmaster runs."""
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        """Stop the server if it runs and delete the cluster."""
        if self.running():
            with suppress(subprocess.CalledProcessError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class FakeSendGridProcess:
    """tests/fake_sendgrid.py as its own process, optionally posting signed webhooks."""

    def __init__(
        self,
        log_dir: Path,
        api_key: str,
        *,
        webhook_url: str | None = None,
        private_key: ec.EllipticCurvePrivateKey | None = None,
        options: tuple[str, ...] = (),
    ) -> None:
        """Start the fake with OPTIONS (its command-line flags) and read the URL it serves."""
        args = [f"--api-key={api_key}", "--port=0", *options]
        if webhook_url and private_key:
            pem = log_dir / "webhook-key.pem"
            pem.write_bytes(
                private_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            args += [f"--webhook-url={webhook_url}", f"--webhook-private-key-pem={pem}"]
        self.process = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "tests" / "fake_sendgrid.py"), *args],
            stdout=subprocess.PIPE,
            stderr=(log_dir / "fake.log").open("wb"),
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert "listening on" in line, line
        self.url = line.rsplit(" ", 1)[1].strip()

    def stats(self) -> dict[str, Any]:
        """Return the fake's counters (GET /_stats)."""
        with urllib.request.urlopen(f"{self.url}/_stats", timeout=10) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def in_flight(self) -> int:
        """Return how many mail/send requests the fake is answering (or holding) right now."""
        return int(self.stats()["in_flight"])

    def hold(self, held: bool = True) -> None:
        """Keep every mail/send request waiting unanswered (HELD), or answer them again."""
        request = urllib.request.Request(
            f"{self.url}/_hold", data=json.dumps({"hold": held}).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def stop(self) -> None:
        """Stop the process."""
        self.process.terminate()
        self.process.wait(timeout=10)


@contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve the WSGI APP on a free port in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
