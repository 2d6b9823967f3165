"""The rig the fault tests run a whole course on: workers, dispatcher loop, fake SendGrid, webhook.

As in the crash test (tests/delivery/test_crash.py): our web app takes the fake SendGrid's
signed `processed` events, `nurture worker` processes send, a thread runs dispatcher passes
(tasks.dispatch.dispatch_once) every few hundred milliseconds, and the fake process counts
what it accepted per (address, course, day). Days are compressed to seconds and the claim
and evidence timers shortened, so a course of five lessons runs in seconds.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_sendgrid import generate_webhook_keypair
from lessons import delivery_states
from services import FakeSendGridProcess, served
from sqlalchemy import func, select
from workers import WorkerProcess, publishing_app

from runtime import Runtime
from store.models import Enrollment, EnrollmentStatus

API_KEY = "fault-test-key"
DAYS = 5
# What every fault test runs on, besides its own changes (see the module docstring).
RIG_SETTINGS: dict[str, object] = {
    "mail_backend": "sendgrid",
    "sendgrid_api_key": API_KEY,
    "sendgrid_timeout": 5,
    "secret_key": "fault-test-secret-key-not-for-production",
    "admin_password": "fault-test-admin-password",
    "day_seconds": 2,
    "dispatch_interval_seconds": 1,
    "claim_timeout_seconds": 5,
    "evidence_grace_seconds": 3,
    "retry_backoff_base_seconds": 0.2,
    "retry_backoff_max_seconds": 2,
    "worker_concurrency": 4,
    "send_batch_size": 25,
}


@dataclass
class Rig:
    """The running pieces of one fault test."""

    runtime: Runtime  # this process's: the dispatcher loop's and the test's own reads
    env: dict[str, str]  # every NURTURE_* setting, as `nurture worker` reads it
    fake: FakeSendGridProcess
    log_dir: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    def start_workers(self, count: int, concurrency: int) -> None:
        """Start COUNT `nurture worker` processes of CONCURRENCY threads each."""
        for n in range(count):
            worker = WorkerProcess(f"worker{n}", self.env, self.log_dir, concurrency=concurrency)
            worker.start()
            self.workers.append(worker)


@contextmanager
def fault_rig(
    configure: Callable[..., Any],
    make_runtime: Callable[..., Runtime],
    tmp_path: Path,
    *,
    fake_options: tuple[str, ...] = ("--latency-ms=100",),
    **settings: object,
) -> Iterator[Rig]:
    """Run our web app (for the webhook) and the fake SendGrid; stop them and the workers after."""
    private_key, public_key = generate_webhook_keypair()
    web_settings = configure(
        **{**RIG_SETTINGS, **settings, "sendgrid_webhook_public_key": public_key}
    )
    from web import create_app

    rig: Rig | None = None
    with served(create_app(runtime=make_runtime(web_settings))) as web_url:
        fake = FakeSendGridProcess(
            tmp_path,
            API_KEY,
            webhook_url=f"{web_url}/webhooks/sendgrid",
            private_key=private_key,
            options=fake_options,
        )
        try:
            runtime = make_runtime(configure(sendgrid_host=fake.url))
            rig = Rig(runtime, dict(os.environ), fake, tmp_path)
            with publishing_app(runtime):
                yield rig
        finally:
            for worker in rig.workers if rig else []:
                worker.stop()
            fake.stop()


class DispatcherLoop:
    """Dispatcher passes in a thread, as beat would start them; errors are kept, not raised."""

    def __init__(self, runtime: Runtime, interval: float = 0.3) -> None:
        """Prepare passes on RUNTIME every INTERVAL seconds."""
        self.runtime = runtime
        self.interval = interval
        self.reports: list[Any] = []
        self.errors: list[tuple[float, BaseException]] = []  # (monotonic time, error)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from tasks.dispatch import dispatch_once

        while not self._stop.is_set():
            try:
                self.reports.append(dispatch_once(self.runtime))
            except BaseException as exc:  # keep going: the test judges them at the end
                self.errors.append((time.monotonic(), exc))
            self._stop.wait(self.interval)

    def __enter__(self) -> DispatcherLoop:
        """Start the passes."""
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        """Stop after the pass under way."""
        self._stop.set()
        self._thread.join(60)

    def errors_since(self, moment: float) -> list[BaseException]:
        """Return the errors of passes that failed after MOMENT (monotonic)."""
        return [error for at, error in self.errors if at > moment]


def sent_count(runtime: Runtime) -> int:
    """Return how many deliveries are sent, or -1 while the database does not answer."""
    try:
        return delivery_states(runtime).get("sent", 0)
    except Exception:
        return -1


def wait_all_sent(runtime: Runtime, total: int, timeout: float) -> dict[str, int]:
    """Wait until TOTAL deliveries are sent (or TIMEOUT seconds pass); return the states."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and sent_count(runtime) != total:
        time.sleep(0.2)
    return delivery_states(runtime)


def assert_every_lesson_once(
    runtime: Runtime, stats: dict[str, Any], prefix: str, subscribers: int
) -> None:
    """Assert the fake took each lesson of each subscriber exactly once, none missing or extra."""
    accepted = {(row["email"], row["day"]): row["count"] for row in stats["counts"]}
    expected = {
        (f"{prefix}{n}@example.org", str(day))
        for n in range(subscribers)
        for day in range(1, DAYS + 1)
    }
    missing = expected - set(accepted)
    assert not missing, f"{len(missing)} lessons never accepted, e.g. {sorted(missing)[:3]}"
    assert set(accepted) == expected, "lessons accepted that nobody was due"
    doubled = {key: count for key, count in accepted.items() if count != 1}
    assert stats["duplicates"] == 0 and not doubled, f"sent more than once: {doubled}"
    assert stats["recipients"] == subscribers * DAYS
    with runtime.session() as session:
        statuses = dict(
            session.execute(
                select(Enrollment.status, func.count()).group_by(Enrollment.status)
            ).all()
        )
    assert statuses == {EnrollmentStatus.COMPLETED: subscribers}
