"""GET /metrics: a token guards it, and its figures add up whichever process is asked.

The figures are made the way production makes them (the dispatcher, the sender against the
fake SendGrid, the signup, confirm and unsubscribe pages, signed webhook POSTs, the pixel
and its spool) and read back through Prometheus's own parser.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import wait_until
from lessons import COURSE, delivery_states, enroll
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from subscribers_support import ADDRESS, confirm_path, signup_form, subscriber_by_email
from tracking_support import SendGridSigner, body_of, make_subscriber, sg_event
from workers import queue_length

from config import ConfigError, Settings
from delivery.sender import Sender
from runtime import Runtime
from store.clock import FrozenClock
from store.models import Delivery, DeliveryKind, DeliveryState
from tasks.dispatch import dispatch_once
from tracking.hits import drain_hits, queued_hits
from tracking.ingest import ingest_pending
from tracking.spool import spool_dir
from web import create_app

TOKEN = "metrics-token-for-the-tests-0123"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
# Nothing listens here: Redis "down".
REDIS_DOWN = "redis://127.0.0.1:1/0"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: Any, token: str = TOKEN) -> Samples:
    """GET /metrics and parse it as Prometheus does: {(sample, labels): value}."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    samples: Samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """Return one sample's value; a missing sample fails with the names that are there."""
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, f"{key} not in {sorted({k[0] for k in samples})}"
    return samples[key]


@pytest.fixture
def settings(configure: Callable[..., Settings]) -> Settings:
    return configure(metrics_token=TOKEN)


@pytest.fixture
def apps(make_runtime: Callable[..., Runtime]) -> Iterator[Callable[[Settings], Any]]:
    """Return make(settings): an app on a runtime of its own, as another process would have."""
    made: list[Any] = []
    folders: list[Path] = []

    def make(settings: Settings) -> Any:
        folder = spool_dir(settings)
        if folder not in folders:
            shutil.rmtree(folder, ignore_errors=True)
            folders.append(folder)
        app = create_app(runtime=make_runtime(settings))
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["nurture_hits"].spool.stop()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def test_metrics_need_their_token(configure: Callable[..., Settings], apps) -> None:
    unset = apps(configure(metrics_token="")).test_client()
    assert unset.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404

    client = apps(configure(metrics_token=TOKEN)).test_client()
    for headers in (
        {},
        {"Authorization": "Bearer not-the-token-at-all-0123456789"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Basic eDp0ZXN0LWFkbWluLXBhc3N3b3Jk"},  # the admin password
    ):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert b"nurture_" not in refused.data
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    assert answer.headers["Cache-Control"] == "no-store"
    assert b"# TYPE nurture_emails_sent_total counter" in answer.data

    with pytest.raises(ConfigError, match="NURTURE_METRICS_TOKEN"):
        configure(metrics_token="too-short")


def test_lesson_figures_add_up_in_every_process(
    settings: Settings, apps, fake_sendgrid: Any, clock: FrozenClock, redis_url: str
) -> None:
    app = apps(settings)
    runtime: Runtime = app.extensions["nurture"]
    start = clock()
    enroll(runtime, 5, start)
    report = dispatch_once(runtime)  # publishes one send task (one lesson) to Redis
    assert (report.materialised, report.enqueued) == (5, 5)
    first, second, *rest = lesson_ids(runtime)
    sender = Sender(runtime)
    fake_sendgrid.script(500)
    assert sender.deliver(first) == "retry"
    fake_sendgrid.script(400)
    assert sender.deliver(second) == "failed"
    assert set(sender.deliver_many(rest[:2]).values()) == {"sent"}
    clock.advance(hours=2)  # past the retry's backoff
    assert sender.deliver(first) == "sent"  # a second attempt
    enroll(runtime, 2, clock() - timedelta(minutes=10), prefix="later")

    samples = scrape(app.test_client())

    lesson = {"course": COURSE, "lesson": "1"}
    assert value(samples, "nurture_emails_sent_total", **lesson) == 3
    assert value(samples, "nurture_emails_failed", **lesson) == 1
    assert value(samples, "nurture_emails_retried", **lesson) == 1
    states = delivery_states(runtime)
    assert states == {"sent": 3, "failed": 1, "queued": 1}
    for state, count in states.items():
        assert value(samples, "nurture_deliveries", state=state, **lesson) == count
    # The queued lesson has been due since the pass, two hours ago; the late enrollments
    # only ten minutes.
    assert value(samples, "nurture_oldest_due_age_seconds", kind="lesson") == 7200
    assert value(samples, "nurture_oldest_due_age_seconds", kind="confirmation") == 0
    assert value(samples, "nurture_queue_messages", queue="celery") == queue_length(redis_url) == 1
    assert value(samples, "nurture_queue_messages", queue="dispatch") == 0
    assert value(samples, "nurture_dispatcher_last_pass_timestamp_seconds") == start.timestamp()
    assert value(samples, "nurture_dispatcher_last_pass_rows", step="materialised") == 5
    assert value(samples, "nurture_dispatcher_rows_total", step="enqueued") == 5
    assert value(samples, "nurture_dispatcher_passes_total") == 1
    assert value(samples, "nurture_dispatcher_last_pass_duration_seconds") == pytest.approx(
        report.seconds
    )
    assert value(samples, "nurture_metrics_source_up", source="database") == 1
    assert value(samples, "nurture_metrics_source_up", source="redis") == 1

    # Another web process (its own runtime, pools and registry) reads the same numbers.
    elsewhere = scrape(apps(settings).test_client())
    duration = ("nurture_metrics_scrape_duration_seconds", ())
    assert {k: v for k, v in elsewhere.items() if k != duration} == {
        k: v for k, v in samples.items() if k != duration
    }

    [queued] = lesson_ids(runtime, DeliveryState.QUEUED)
    assert sender.deliver(queued) == "sent"
    # Now the oldest due lesson is that of the late enrollments, not yet made into rows.
    client = app.test_client()
    assert value(scrape(client), "nurture_oldest_due_age_seconds", kind="lesson") == 600
    dispatch_once(runtime)  # the late ones become deliveries
    after = scrape(client)
    assert value(after, "nurture_emails_sent_total", **lesson) == 4
    assert value(after, "nurture_deliveries", state="queued", **lesson) == 2
    assert value(after, "nurture_dispatcher_passes_total") == 2
    assert value(after, "nurture_dispatcher_rows_total", step="materialised") == 7
    assert value(after, "nurture_dispatcher_last_pass_rows", step="materialised") == 2


def confirmation_states(runtime: Runtime) -> dict[str, int]:
    """Return how many confirmation deliveries are in each state."""
    query = (
        select(Delivery.state, func.count())
        .where(Delivery.kind == DeliveryKind.CONFIRMATION)
        .group_by(Delivery.state)
    )
    with runtime.session() as session:
        return {state: int(count) for state, count in session.execute(query)}


def lesson_ids(runtime: Runtime, state: str | None = None) -> list[int]:
    """Return the ids of lesson deliveries (in STATE), oldest first."""
    query = select(Delivery.id).where(Delivery.kind == DeliveryKind.LESSON)
    if state is not None:
        query = query.where(Delivery.state == state)
    with runtime.session() as session:
        return list(session.scalars(query.order_by(Delivery.id)))


@pytest.fixture
def signer() -> SendGridSigner:
    return SendGridSigner()


def test_subscriber_webhook_and_hit_figures(
    configure: Callable[..., Settings], signer: SendGridSigner, apps, clock: FrozenClock
) -> None:
    settings = configure(metrics_token=TOKEN, sendgrid_webhook_public_key=signer.public_key)
    app = apps(settings)
    runtime: Runtime = app.extensions["nurture"]
    client = app.test_client()
    for form in (signup_form(), signup_form(email="bram@example.com"), signup_form()):
        assert client.post("/subscribe", data=form).status_code == 200
    anna = subscriber_by_email(runtime, ADDRESS)
    assert anna is not None
    assert client.post(confirm_path(runtime, anna.id)).status_code == 200
    unsubscribe = f"/unsubscribe/{runtime.tokens.make_unsubscribe(anna.id)}"
    assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200

    made = make_subscriber(runtime, "reader@example.com", sent_days=1)
    now = int(clock().timestamp())
    fresh = [
        sg_event("processed", made, 1, "ev-1", timestamp=now - 30),
        sg_event("delivered", made, 1, "ev-2", timestamp=now - 30),
    ]
    late = [sg_event("open", made, 1, "ev-3", timestamp=now - 600)]
    for events in (fresh, late, fresh):  # the third is SendGrid retrying the first
        body = body_of(events)
        posted = client.post("/webhooks/sendgrid", data=body, headers=signer.headers(body, now))
        assert posted.status_code == 200
    clock.advance(seconds=5)
    token = runtime.tokens.make_open(made.delivery_ids[1])
    for agent in (BROWSER_UA, f"{BROWSER_UA} Thunderbird"):  # two readers: two hits
        assert client.get(f"/o/{token}.gif", headers={"User-Agent": agent}).status_code == 200
    app.extensions["nurture_hits"].spool.ship()  # as its timer does every second
    assert wait_until(lambda: queued_hits(runtime) == 2, timeout=5)  # the timer may be at it

    waiting = scrape(client)
    assert value(waiting, "nurture_signups_total") == 2
    assert value(waiting, "nurture_repeat_signups_total") == 1
    assert value(waiting, "nurture_confirmations_total") == 1
    assert value(waiting, "nurture_unsubscribes_total") == 1
    confirmations = confirmation_states(runtime)
    assert confirmations.get("queued")  # Bram's, at least, waits for a worker
    for state, count in confirmations.items():
        labels = {"course": COURSE, "lesson": "confirmation", "state": state}
        assert value(waiting, "nurture_deliveries", **labels) == count
    assert value(waiting, "nurture_oldest_due_age_seconds", kind="confirmation") == 5
    assert value(waiting, "nurture_webhook_batches_received_total") == 2
    assert value(waiting, "nurture_webhook_batches_pending") == 2
    assert value(waiting, "nurture_webhook_oldest_pending_batch_age_seconds") == 5
    assert value(waiting, "nurture_webhook_events_total", kind="delivered") == 0
    assert value(waiting, "nurture_tracking_hits_shipped_total") == 2
    assert value(waiting, "nurture_tracking_hits_waiting") == 2
    assert value(waiting, "nurture_tracking_hits_stored_total", kind="open") == 0

    assert ingest_pending(runtime) == 2
    assert drain_hits(runtime) == 2
    done = scrape(client)
    assert value(done, "nurture_webhook_batches_pending") == 0
    assert value(done, "nurture_webhook_oldest_pending_batch_age_seconds") == 0
    for kind, count in {"processed": 1, "delivered": 1, "open": 1, "bounce": 0}.items():
        assert value(done, "nurture_webhook_events_total", kind=kind) == count
    # Ingested five seconds after the POSTs: lags of 35, 35 and 605 seconds.
    lag = "nurture_webhook_ingest_lag_seconds"
    assert value(done, f"{lag}_bucket", le="15.0") == 0
    assert value(done, f"{lag}_bucket", le="60.0") == 2
    assert value(done, f"{lag}_bucket", le="300.0") == 2
    assert value(done, f"{lag}_bucket", le="900.0") == 3
    assert value(done, f"{lag}_bucket", le="+Inf") == 3
    assert value(done, f"{lag}_count") == 3
    assert value(done, f"{lag}_sum") == 35 + 35 + 605
    assert value(done, "nurture_tracking_hits_stored_total", kind="open") == 2
    assert value(done, "nurture_tracking_hits_stored_total", kind="click") == 0
    assert value(done, "nurture_tracking_hits_waiting") == 0
    # A hit queued twice (a drainer died after storing it, say) counts once.
    app.extensions["nurture_hits"].push(
        [b'["open",%d,"replayed",%d,"ua",""]' % (made.delivery_ids[1], now)] * 2
    )
    drain_hits(runtime)
    assert value(scrape(client), "nurture_tracking_hits_stored_total", kind="open") == 3


def test_with_redis_down_the_database_figures_remain(
    configure: Callable[..., Settings], apps
) -> None:
    app = apps(configure(metrics_token=TOKEN, redis_url=REDIS_DOWN))
    samples = scrape(app.test_client())
    assert value(samples, "nurture_metrics_source_up", source="database") == 1
    assert value(samples, "nurture_metrics_source_up", source="redis") == 0
    assert value(samples, "nurture_signups_total") == 0
    assert not any(name.startswith("nurture_queue_") for name, _ in samples)
