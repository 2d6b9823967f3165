"""`nurture doctor` on the services: the database schema, Redis, the beat, the queue, the webhook,
the workers, SendGrid's key and the sender domain's DNS records, each a line with its fix."""

from __future__ import annotations

from datetime import timedelta

import pytest
from doctor_support import PING, add_webhook_batch, live_runtime, now
from tracking_support import make_subscriber
from workers import publishing_app

from store.migrate import upgrade
from tasks.heartbeat import record_dispatch_pass


@pytest.mark.parametrize(
    ("revision", "words"),
    [("b3c1d2e4f5a6", "at b3c1d2e4f5a6; the migrations' head is"), (None, "never migrated")],
)
def test_a_database_behind_the_migrations_is_an_error(
    healthy, doctor, monkeypatch, tmp_path, revision, words
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    if revision:
        upgrade(url, revision)
    monkeypatch.setenv("NURTURE_DATABASE_URL", url)
    code, lines, _ = doctor("--offline")
    assert lines["database schema"].startswith("error ")
    assert words in lines["database schema"]
    assert "nurture db upgrade" in lines["database schema"]
    assert lines["webhook events"].startswith("warning ")
    assert code == 1


def test_redis_down_is_one_error_and_what_needs_it_is_not_checked(
    healthy, doctor, monkeypatch
) -> None:
    monkeypatch.setenv("NURTURE_REDIS_URL", "redis://127.0.0.1:1/0")
    code, lines, _ = doctor(*PING)
    assert lines["Redis"].startswith("error ")
    assert "not checked: Redis is unreachable" in lines["beat (dispatcher)"]
    assert "not checked: Redis is unreachable" in lines["queue depth"]
    assert "not pinged" in lines["workers"]
    assert lines["SendGrid API key"].startswith("ok ")
    assert code == 1


def test_a_dispatcher_that_has_not_run_lately_is_a_warning(healthy, doctor, make_runtime) -> None:
    code, lines, _ = doctor("--offline")
    assert "no dispatcher pass recorded" in lines["beat (dispatcher)"]
    assert lines["beat (dispatcher)"].startswith("warning ")
    # A pass an hour ago, with one expected every minute.
    record_dispatch_pass(live_runtime(make_runtime, at=now() - timedelta(hours=1)))
    code, lines, _ = doctor("--offline")
    assert lines["beat (dispatcher)"].startswith("warning ")
    assert "last pass 60 min ago; one every 60 s is expected" in lines["beat (dispatcher)"]
    assert "nurture beat" in lines["beat (dispatcher)"]
    record_dispatch_pass(live_runtime(make_runtime))
    code, lines, _ = doctor("--offline")
    assert lines["beat (dispatcher)"].startswith("ok ")
    assert code == 0


def test_dispatcher_passes_piling_up_in_the_queue_are_a_warning(
    healthy, doctor, make_runtime
) -> None:
    runtime = live_runtime(make_runtime)
    with publishing_app(runtime) as app:
        for _ in range(11):  # beat's messages, with no worker taking them
            app.send_task("tasks.dispatch.dispatch_due")
    code, lines, _ = doctor("--offline")
    assert lines["queue depth"].startswith("warning ")
    assert "0 send batches and 11 dispatcher passes waiting" in lines["queue depth"]
    assert code == 0


def test_webhook_silence_while_mail_goes_out_is_a_warning(healthy, doctor, make_runtime) -> None:
    runtime = live_runtime(make_runtime)
    code, lines, _ = doctor("--offline")
    assert "no webhook event received yet" in lines["webhook events"]
    assert "https://nurture.test/webhooks/sendgrid" in lines["webhook events"]
    add_webhook_batch(runtime, now() - timedelta(days=3))
    code, lines, _ = doctor("--offline")
    assert lines["webhook events"].startswith("ok ")
    assert "newest event 3 days ago; no mail sent since" in lines["webhook events"]
    make_subscriber(runtime, "anna@example.com", created_at=now() - timedelta(hours=2))
    code, lines, _ = doctor("--offline")
    assert lines["webhook events"].startswith("warning ")
    assert "but mail was sent within the last day" in lines["webhook events"]
    assert code == 0


def test_no_worker_answering_is_an_error(healthy, doctor) -> None:
    code, lines, summary = doctor("--ping-timeout", "0.3")
    assert lines["workers"].startswith("error ")
    assert "no worker answered a ping within 0.3 s" in lines["workers"]
    assert "nurture worker" in lines["workers"]
    assert code == 1
    assert summary.startswith("1 error, ")


@pytest.mark.parametrize(
    ("problem", "words"),
    [("wrong key", "refused: SendGrid 401"), ("no mail.send", "without the Mail Send permission")],
)
def test_a_sendgrid_key_that_cannot_send_is_an_error(
    healthy, doctor, fake_sendgrid, monkeypatch, problem, words
) -> None:
    if problem == "wrong key":
        monkeypatch.setenv("NURTURE_SENDGRID_API_KEY", "SG.revoked")
    else:
        fake_sendgrid.scopes.remove("mail.send")
    code, lines, _ = doctor("--ping-timeout", "0.3")
    assert lines["SendGrid API key"].startswith("error ")
    assert words in lines["SendGrid API key"]
    assert "NURTURE_SENDGRID_API_KEY" in lines["SendGrid API key"]
    assert code == 1


def test_the_sender_domains_dns_problems_are_lines(healthy, doctor, monkeypatch) -> None:
    monkeypatch.setenv("NURTURE_FROM_EMAIL", "cursus@nodmarc.test")
    code, lines, _ = doctor("--ping-timeout", "0.3")
    assert lines["SPF of nodmarc.test"].startswith("ok ")
    assert lines["DKIM of nodmarc.test"].startswith("ok ")
    assert lines["DMARC of nodmarc.test"].startswith("error ")
    assert '_dmarc.nodmarc.test: "v=DMARC1' in lines["DMARC of nodmarc.test"]
    assert code == 1
