"""PostgreSQL restarted mid-run: an immediate stop for seconds, then a start; each lesson once.

300 subscribers x 5 lessons through two `nurture worker` processes, a dispatcher loop and the
fake SendGrid posting signed events to our web app (see tests/faults_support.py), all on a
PostgreSQL cluster of the test's own. While requests are in flight (the fake holds its
answers for that moment) it is stopped in "immediate" mode (every backend aborted, as in a
crash), kept down for six seconds and started again. SendGrid accepts those requests with
nobody able to commit them: the rows stay 'sending' and are settled by the webhook's evidence
once the database is back, so the grace period here outlasts the fake's retries of the
webhook POSTs that failed during the outage.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from faults_support import (
    DAYS,
    DispatcherLoop,
    assert_every_lesson_once,
    fault_rig,
    sent_count,
    wait_all_sent,
)
from helpers import wait_until
from lessons import enroll
from services import PrivatePostgres

from store.migrate import upgrade

pytestmark = [pytest.mark.slow]

SUBSCRIBERS = 300
# Longer than the sender's retries of a record (0.2, 1 and 3 s apart), so they all fail.
DOWN_SECONDS = 6.0


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    try:
        cluster.start()
        upgrade(cluster.url)
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def database_url(private_postgres: PrivatePostgres) -> str:
    """Point the test's settings (and so the workers' and the web app's) at the private cluster."""
    return private_postgres.url


def test_every_lesson_exactly_once_through_a_postgres_restart(
    private_postgres, configure, make_runtime, tmp_path
):
    total = SUBSCRIBERS * DAYS
    # The fake retries a refused webhook POST after 0.2, 0.5, 1, 2, 4 and 8 s; evidence of a
    # send whose commit failed during the outage must land before its claim may be resent.
    with fault_rig(
        configure, make_runtime, tmp_path, send_batch_size=10, evidence_grace_seconds=20
    ) as rig:
        runtime = rig.runtime
        assert runtime.settings.database_url == private_postgres.url
        enroll(runtime, SUBSCRIBERS, runtime.now(), prefix="pgrestart")
        rig.start_workers(2, concurrency=2)
        started = time.monotonic()
        with DispatcherLoop(runtime) as loop:
            assert wait_until(lambda: sent_count(runtime) >= total * 0.3, timeout=90)
            # SendGrid holds its answers, so requests are surely in flight at the stop.
            rig.fake.hold()
            assert wait_until(lambda: rig.fake.in_flight() > 0, timeout=10, interval=0.02)
            private_postgres.stop("immediate")
            stopped = time.monotonic()
            rig.fake.hold(False)  # its 202s come back with no database to record them in
            time.sleep(DOWN_SECONDS)  # the outage itself
            private_postgres.start()
            restarted = time.monotonic()
            states = wait_all_sent(runtime, total, timeout=150)
        elapsed = time.monotonic() - started
        stats = rig.fake.stats()
        alive = [worker.alive() for worker in rig.workers]

    print(
        f"\npostgres restart: {elapsed:.1f} s (down {restarted - stopped:.1f} s), states {states}, "
        f"dispatcher errors {len(loop.errors)}, "
        f"settled by evidence {sum(r.sent_by_evidence for r in loop.reports)}, "
        f"requeued without evidence {sum(r.requeued_stale for r in loop.reports)}, "
        f"webhook {stats['webhook']}"
    )
    assert loop.errors_since(stopped), "the dispatcher never noticed the database was gone"
    # SendGrid took mail whose commit failed: those rows were settled by its webhook events.
    assert sum(report.sent_by_evidence for report in loop.reports) > 0
    assert states == {"sent": total}, states
    assert_every_lesson_once(runtime, stats, "pgrestart", SUBSCRIBERS)
    assert alive == [True, True], "a worker died with the database"
    # Passes failed while the database was down or just back, never for good.
    assert loop.errors_since(restarted + 5) == [], loop.errors_since(restarted + 5)
    assert stats["webhook"]["delivered"] > 0 and stats["webhook"]["given_up"] == 0
