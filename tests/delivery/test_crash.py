"""The crash test: 300 subscribers x 5 lessons through SIGKILLed workers, each sent exactly once.

Everything is real: PostgreSQL, Redis, two `celery worker` processes (thread pool), the fake
SendGrid as its own process (10% 429s, 5% 500s, 20 ms latency) posting signed `processed`
events to our web app's /webhooks/sendgrid, and a dispatcher loop. One worker is SIGKILLed
three times mid-run and started again. DAY_SECONDS=2 compresses the course to seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from fake_sendgrid import generate_webhook_keypair
from lessons import delivery_states, enroll
from sqlalchemy import create_engine, func, select, text
from werkzeug.serving import make_server
from workers import PROJECT_ROOT, WorkerProcess, flush_redis, point_celery_at_settings

from config import get_settings, reset_settings_cache
from store.clock import set_clock, utcnow
from store.db import dispose_engines, session_scope
from store.migrate import upgrade
from store.models import Enrollment, EnrollmentStatus

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SUBSCRIBERS = 300
DAYS = 5
CRASH_REDIS_URL = os.environ.get("NURTURE_TEST_CRASH_REDIS_URL", "redis://127.0.0.1:6379/5")
ADMIN_POSTGRES_URL = os.environ.get(
    "NURTURE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# A database of its own: other suites TRUNCATE the shared test database between tests.
CRASH_DATABASE = "nurture_crash_test"
API_KEY = "crash-test-key"


def _crash_database_url() -> str:
    admin = create_engine(ADMIN_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {CRASH_DATABASE} WITH (FORCE)"))
            connection.execute(text(f"CREATE DATABASE {CRASH_DATABASE}"))
    except Exception as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    finally:
        admin.dispose()
    return ADMIN_POSTGRES_URL.rsplit("/", 1)[0] + f"/{CRASH_DATABASE}"


def _start_fake(tmp_path: Path, webhook_url: str, private_key: Any) -> tuple[Any, str]:
    pem = tmp_path / "webhook-key.pem"
    pem.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    process = subprocess.Popen(
        [
            sys.executable,
            str(PROJECT_ROOT / "tests" / "fake_sendgrid.py"),
            "--port=0",
            f"--api-key={API_KEY}",
            "--latency-ms=20",
            "--fail-429=0.10",
            "--fail-500=0.05",
            "--seed=7",
            f"--webhook-url={webhook_url}",
            f"--webhook-private-key-pem={pem}",
        ],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "fake.log").open("wb"),
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on" in line, line
    return process, line.rsplit(" ", 1)[1].strip()


@pytest.fixture
def crash_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Settings for this process and the workers: own database, own Redis db, short timers."""
    for name in list(os.environ):
        if name.startswith("NURTURE_") and not name.startswith("NURTURE_TEST_"):
            monkeypatch.delenv(name)
    database_url = _crash_database_url()
    upgrade(database_url)
    flush_redis(CRASH_REDIS_URL)
    private_key, public_key = generate_webhook_keypair()
    values = {
        "ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": CRASH_REDIS_URL,
        "BASE_URL": "http://nurture.test",
        "SECRET_KEY": "crash-test-secret-key",
        "ADMIN_PASSWORD": "crash-test-admin-password",
        "MAIL_BACKEND": "sendgrid",
        "SENDGRID_API_KEY": API_KEY,
        "SENDGRID_TIMEOUT": "5",
        "SENDGRID_WEBHOOK_PUBLIC_KEY": public_key,
        "DAY_SECONDS": "2",
        "DISPATCH_INTERVAL_SECONDS": "1",
        "CLAIM_TIMEOUT_SECONDS": "5",
        "EVIDENCE_GRACE_SECONDS": "3",
        "RETRY_BACKOFF_BASE_SECONDS": "0.2",
        "RETRY_BACKOFF_MAX_SECONDS": "2",
        "WORKER_CONCURRENCY": "16",
        "OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    for name, value in values.items():
        monkeypatch.setenv(f"NURTURE_{name}", value)
    monkeypatch.chdir(tmp_path)
    reset_settings_cache()
    dispose_engines()
    set_clock(None)

    from web import create_app

    server = make_server("127.0.0.1", 0, create_app(), threaded=True)
    web_thread = threading.Thread(target=server.serve_forever, daemon=True)
    web_thread.start()
    webhook_url = f"http://127.0.0.1:{server.server_port}/webhooks/sendgrid"
    fake, fake_url = _start_fake(tmp_path, webhook_url, private_key)
    monkeypatch.setenv("NURTURE_SENDGRID_HOST", fake_url)
    reset_settings_cache()
    # The Celery app was configured at import, before these settings: publish to our Redis db.
    point_celery_at_settings()
    env = {key: value for key, value in os.environ.items()}
    env["NURTURE_SENDGRID_HOST"] = fake_url
    env["FAKE_URL"] = fake_url
    try:
        yield env
    finally:
        fake.terminate()
        fake.wait(timeout=10)
        server.shutdown()
        dispose_engines()
        reset_settings_cache()
        flush_redis(CRASH_REDIS_URL)


def _fake_stats(fake_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{fake_url}/_stats", timeout=10) as response:
        return json.loads(response.read())


def _sent() -> int:
    return delivery_states().get("sent", 0)


def test_every_lesson_exactly_once_through_worker_kills(crash_env, tmp_path):
    from tasks.dispatch import run_dispatch_pass

    enroll(SUBSCRIBERS, utcnow(), prefix="crash")
    victim = WorkerProcess("victim", crash_env, tmp_path)
    steady = WorkerProcess("steady", crash_env, tmp_path)
    victim.start()
    steady.start()
    stop = threading.Event()
    passes: list[Any] = []
    errors: list[BaseException] = []

    def dispatcher() -> None:
        while not stop.is_set():
            try:
                passes.append(run_dispatch_pass())
            except BaseException as exc:  # keep going: the test reports it at the end
                errors.append(exc)
            stop.wait(0.3)

    loop = threading.Thread(target=dispatcher, daemon=True)
    loop.start()
    total = SUBSCRIBERS * DAYS
    started = time.monotonic()
    try:
        for fraction in (0.2, 0.45, 0.7):
            while _sent() < total * fraction and time.monotonic() - started < 150:
                time.sleep(0.05)
            # Kill while sends are in flight: some threads are waiting on SendGrid's 202.
            victim.kill()
            time.sleep(1.0)
            victim.start()
        while time.monotonic() - started < 170:
            states = delivery_states()
            if states.get("sent", 0) == total:
                break
            time.sleep(0.5)
    finally:
        stop.set()
        loop.join(30)
        victim.stop()
        steady.stop()
    elapsed = time.monotonic() - started

    states = delivery_states()
    stats = _fake_stats(crash_env["FAKE_URL"])
    by_evidence = sum(report.sent_by_evidence for report in passes)
    requeued = sum(report.requeued_stale for report in passes)
    print(
        f"\ncrash test: {elapsed:.1f} s, kills {victim.kills}, states {states}, "
        f"fake requests {stats['requests']} refused {stats['refused']}, "
        f"settled by evidence {by_evidence}, requeued without evidence {requeued}"
    )
    assert errors == []
    assert victim.kills == 3
    assert states == {"sent": total}, states
    accepted = {(row["email"], row["day"]): row["count"] for row in stats["counts"]}
    expected = {
        (f"crash{n}@example.org", str(day)) for n in range(SUBSCRIBERS) for day in range(1, 6)
    }
    assert set(accepted) == expected, "missing or unexpected lessons"
    assert stats["duplicates"] == 0
    assert all(count == 1 for count in accepted.values())
    assert stats["recipients"] == total
    assert sum(stats["refused"].values()) > 0  # the failures really happened
    with session_scope() as session:
        statuses = dict(
            session.execute(
                select(Enrollment.status, func.count()).group_by(Enrollment.status)
            ).all()
        )
    assert statuses == {EnrollmentStatus.COMPLETED: SUBSCRIBERS}
    assert get_settings().day_seconds == 2
