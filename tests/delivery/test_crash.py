"""The crash test: 300 subscribers x 5 lessons through SIGKILLed workers, each sent exactly once.

Everything is real: PostgreSQL, Redis, three `nurture worker` processes (thread pool) sharing
one queue, the fake SendGrid as its own process (10% 429s, 5% 500s, 100 ms latency) posting
signed `processed` events to our web app's /webhooks/sendgrid, and a dispatcher loop handing
out batches of 25. One worker is SIGKILLed three times mid-run, with batches in flight (a
request takes longer than everything else a batch does), and started again. DAY_SECONDS=2
compresses the course to seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faults_support import DAYS, fault_rig
from lessons import delivery_states, enroll
from services import FakeSendGridProcess
from sqlalchemy import func, select
from workers import WorkerProcess

from runtime import Runtime
from store.models import Enrollment, EnrollmentStatus

# PostgreSQL only, as in production: the test's own database and Redis db (nurture_env).
pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

SUBSCRIBERS = 300


@pytest.fixture
def crash_env(
    configure: Any, make_runtime: Any, tmp_path: Path
) -> Iterator[tuple[Runtime, dict[str, str], FakeSendGridProcess]]:
    """This process's runtime, the workers' env and the fake: the test's database and Redis.

    Our web app (for the fake's signed webhook) and the fake SendGrid run for the test, with
    the short timers of every fault test (tests/faults_support.py).
    """
    options = ("--latency-ms=100", "--fail-429=0.10", "--fail-500=0.05", "--seed=7")
    with fault_rig(configure, make_runtime, tmp_path, fake_options=options) as rig:
        yield rig.runtime, rig.env, rig.fake


def test_every_lesson_exactly_once_through_worker_kills(crash_env, tmp_path):
    from tasks.dispatch import dispatch_once

    runtime, env, fake = crash_env
    enroll(runtime, SUBSCRIBERS, runtime.now(), prefix="crash")
    victim = WorkerProcess("victim", env, tmp_path, concurrency=4)
    steady = [WorkerProcess(f"steady{n}", env, tmp_path, concurrency=4) for n in (1, 2)]
    victim.start()
    for worker in steady:
        worker.start()
    stop = threading.Event()
    passes: list[Any] = []
    errors: list[BaseException] = []

    def sent() -> int:
        return delivery_states(runtime).get("sent", 0)

    def dispatcher() -> None:
        while not stop.is_set():
            try:
                passes.append(dispatch_once(runtime))
            except BaseException as exc:  # keep going: the test reports it at the end
                errors.append(exc)
            stop.wait(0.3)

    loop = threading.Thread(target=dispatcher, daemon=True)
    loop.start()
    total = SUBSCRIBERS * DAYS
    started = time.monotonic()
    try:
        for fraction in (0.2, 0.45, 0.7):
            while sent() < total * fraction and time.monotonic() - started < 150:
                time.sleep(0.05)
            # Kill while sends are in flight: some threads are waiting on SendGrid's 202.
            victim.kill()
            time.sleep(1.0)
            victim.start()
        while time.monotonic() - started < 170:
            states = delivery_states(runtime)
            if states.get("sent", 0) == total:
                break
            time.sleep(0.5)
    finally:
        stop.set()
        loop.join(30)
        victim.stop()
        for worker in steady:
            worker.stop()
    elapsed = time.monotonic() - started

    states = delivery_states(runtime)
    stats = fake.stats()
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
    # The evidence path was live: the fake's signed webhooks reached our app and were taken.
    assert stats["webhook"]["delivered"] > 0 and stats["webhook"]["given_up"] == 0
    with runtime.session() as session:
        statuses = dict(
            session.execute(
                select(Enrollment.status, func.count()).group_by(Enrollment.status)
            ).all()
        )
    assert statuses == {EnrollmentStatus.COMPLETED: SUBSCRIBERS}
    assert runtime.settings.day_seconds == 2
