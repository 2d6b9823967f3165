"""`nurture doctor`: every check ok on a healthy deployment (a real worker, the fake SendGrid, a
local DNS server); each problem becomes its warning or error line with a fix; exit codes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dns_support import serve_zone
from doctor_support import add_webhook_batch, clean_course, healthy_values
from helpers import wait_until
from tracking_support import make_subscriber
from workers import publishing_app, thread_worker

from config import load_settings
from course.loader import CONTENT_DIR
from runtime import Runtime
from store.clock import FrozenClock
from store.migrate import upgrade
from tasks.health import stored_remote_checks
from tasks.heartbeat import last_dispatch_pass, record_dispatch_pass

NAMES = [
    "secrets",
    "BASE_URL",
    "admin password",
    "webhook key",
    "mail sender",
    "course content",
    "database schema",
    "Redis",
    "beat (dispatcher)",
    "queue depth",
    "webhook events",
    "workers",
    "SendGrid API key",
    "SPF of kliniek.test",
    "DKIM of kliniek.test",
    "DMARC of kliniek.test",
]
PING = ("--ping-timeout", "0.5")


@pytest.fixture
def dns_server() -> Iterator[str]:
    with serve_zone() as address:
        yield address


@pytest.fixture
def healthy(
    nurture_env: dict[str, str],
    fake_sendgrid: Any,
    dns_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """Set up a healthy public deployment's settings (SendGrid: the fake, DNS: the local one)."""
    values = healthy_values(dns_server, clean_course(tmp_path))
    for name, value in values.items():
        monkeypatch.setenv(f"NURTURE_{name}", value)
    return values


@pytest.fixture
def doctor(runner: Callable[..., Any]) -> Callable[..., tuple[int, dict[str, str], str]]:
    """Return run(*args): (exit code, {check name: its line}, the summary line)."""

    def run(*args: str) -> tuple[int, dict[str, str], str]:
        result = runner("doctor", *args)
        lines = result.stdout.splitlines()
        assert lines, result.output
        by_name = {}
        for line in lines[:-1]:
            status, rest = line.split(maxsplit=1)
            assert status in {"ok", "warning", "error"}, line
            by_name[rest.split(":", 1)[0]] = line
        return result.exit_code, by_name, lines[-1]

    return run


def live_runtime(make_runtime: Callable[..., Runtime], **clock: Any) -> Runtime:
    """A runtime on the environment's settings (and the system clock unless CLOCK says)."""
    runtime = make_runtime(load_settings())
    if "at" in clock:
        runtime.clock = FrozenClock(clock["at"])
    return runtime


def now() -> datetime:
    return datetime.now(UTC)


def test_every_check_is_ok_on_a_healthy_deployment(healthy, doctor, make_runtime) -> None:
    runtime = live_runtime(make_runtime)
    add_webhook_batch(runtime, now() - timedelta(minutes=5))
    with thread_worker(runtime) as worker:
        # What beat sends every interval, run by the worker: it stamps the dispatcher's pass.
        worker.app.send_task("tasks.dispatch.dispatch_due")
        assert wait_until(lambda: last_dispatch_pass(runtime) is not None, timeout=15)
        code, lines, summary = doctor(*PING)
    assert list(lines) == NAMES
    assert [line for line in lines.values() if not line.startswith("ok ")] == []
    assert summary == f"0 errors, 0 warnings, {len(NAMES)} ok"
    assert code == 0
    assert "1 worker answered" in lines["workers"]
    assert "with the Mail Send permission" in lines["SendGrid API key"]
    # The slow checks are kept for the dashboard, which never runs them itself.
    stored = stored_remote_checks(runtime)
    assert stored is not None
    assert [check.key for check in stored.checks] == ["workers", "sendgrid", "spf", "dkim", "dmarc"]


@pytest.mark.parametrize(
    ("changes", "name", "status", "words"),
    [
        ({"SECRET_KEY": "changethis"}, "secrets", "error", "NURTURE_SECRET_KEY: is a placeholder"),
        ({"ADMIN_PASSWORD": "kort"}, "secrets", "error", "shorter than 12 characters"),
        ({"WEBHOOK_INSECURE_DEV": "true"}, "secrets", "error", "accepts unsigned events"),
        ({"BASE_URL": "http://nurture.test"}, "BASE_URL", "error", "is plain http"),
        ({"SENDGRID_WEBHOOK_PUBLIC_KEY": ""}, "webhook key", "error", "is not set"),
        ({"SENDGRID_WEBHOOK_PUBLIC_KEY": "bm90LWEta2V5"}, "webhook key", "error", "not a valid"),
        ({"FROM_EMAIL": "cursus@umoya.example"}, "mail sender", "error", "the example address"),
        ({"CONTENT_DIR": str(CONTENT_DIR)}, "course content", "error", "course.toml:16"),
        ({"REDIS_URL": "redis://127.0.0.1:1/0"}, "Redis", "error", "unreachable"),
        ({"ADMIN_PASSWORD": ""}, "admin password", "warning", "/admin is off"),
        ({"BASE_URL": "http://127.0.0.1:8000"}, "BASE_URL", "warning", "this machine only"),
        ({"MAIL_BACKEND": "outbox"}, "mail sender", "warning", "nobody receives it"),
    ],
)
def test_each_settings_problem_is_its_line_with_a_fix(
    healthy, doctor, monkeypatch, changes, name, status, words
) -> None:
    for variable, value in changes.items():
        monkeypatch.setenv(f"NURTURE_{variable}", value)
    code, lines, summary = doctor("--offline")
    line = lines[name]
    assert line.startswith(f"{status} "), line
    assert words in line
    assert "(fix: " in line
    assert code == (1 if status == "error" else 0), summary


def test_a_loopback_base_url_warns_about_secrets_that_would_be_refused(
    healthy, doctor, monkeypatch
) -> None:
    monkeypatch.setenv("NURTURE_BASE_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("NURTURE_SECRET_KEY", "dev-secret")
    code, lines, _ = doctor("--offline")
    assert lines["secrets"].startswith("warning ")
    assert "refused once NURTURE_BASE_URL is public" in lines["secrets"]
    assert code == 0


def test_markers_left_after_replacing_the_examples_are_a_warning(
    healthy, doctor, monkeypatch, tmp_path
) -> None:
    content = clean_course(tmp_path / "markers", keep_markers=True)
    monkeypatch.setenv("NURTURE_CONTENT_DIR", str(content))
    code, lines, _ = doctor("--offline")
    assert lines["course content"].startswith("warning ")
    assert "VERVANG DIT markers at course.toml:12, course.toml:19" in lines["course content"]
    assert code == 0


def test_every_live_course_is_checked_for_example_content(
    healthy, doctor, monkeypatch, tmp_path
) -> None:
    content = clean_course(tmp_path / "two")
    # A second course folder, copied from the shipped one: its examples are still in it.
    shutil.copytree(CONTENT_DIR / "rugpijn-en-training", content / "tweede-cursus")
    monkeypatch.setenv("NURTURE_CONTENT_DIR", str(content))
    code, lines, _ = doctor("--offline")
    assert lines["course content"].startswith("error ")
    assert "tweede-cursus still has example content at course.toml:16" in lines["course content"]
    assert code == 1
    shutil.rmtree(content / "tweede-cursus")
    shutil.copytree(content / "rugpijn-en-training", content / "tweede-cursus")
    code, lines, _ = doctor("--offline")
    assert lines["course content"].startswith("ok ")
    assert "rugpijn-en-training, tweede-cursus have no example content" in lines["course content"]
    assert code == 0


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


def test_a_setting_that_does_not_parse_is_an_error_line(healthy, runner, monkeypatch) -> None:
    monkeypatch.setenv("NURTURE_DNS_SERVER", "dns.example")
    result = runner("doctor", "--offline")
    assert result.exit_code == 1
    assert result.stdout.startswith("error   settings: NURTURE_DNS_SERVER: expected a DNS server")


def test_json_output_lists_every_check(healthy, runner) -> None:
    result = runner("doctor", "--offline", "--json")
    checks = json.loads(result.stdout)
    assert [check["name"] for check in checks] == NAMES[:11]
    assert {check["status"] for check in checks} <= {"ok", "warning"}
    assert all(set(check) == {"key", "name", "status", "message", "fix"} for check in checks)
    assert result.exit_code == 0


def test_the_course_content_check_reads_the_live_version_in_the_database(
    healthy, doctor, make_runtime
) -> None:
    from courses_support import REAL_DETAILS, SLUG, import_shipped

    from config import load_settings
    from course.drafts import update_settings
    from subscribers.studio import publish

    runtime = make_runtime(load_settings())
    import_shipped(runtime)  # the folder is clean; the live version still has the examples
    _, lines, _ = doctor("--offline")
    assert lines["course content"].startswith("error ")
    assert f"{SLUG} still has example content at course.toml:" in lines["course content"]
    with runtime.session() as session:
        update_settings(session, SLUG, REAL_DETAILS, author="test", now=runtime.now())
    publish(runtime, SLUG, author="test")
    _, lines, _ = doctor("--offline")
    assert lines["course content"].startswith("ok ")
