"""`nurture doctor`: every check ok on a healthy deployment (a real worker, the fake SendGrid, a
local DNS server); each settings or content problem becomes its line with a fix; exit codes."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

import pytest
from doctor_support import NAMES, PING, add_webhook_batch, clean_course, live_runtime, now
from helpers import wait_until
from workers import thread_worker

from course.loader import CONTENT_DIR
from tasks.health import stored_remote_checks
from tasks.heartbeat import last_dispatch_pass


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
