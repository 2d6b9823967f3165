"""NURTURE_LOG_FORMAT=json: one JSON object a line, with ids and without personal data.

The lines come from the real places that log: the sender after SendGrid refuses a mail (in
this process, and in a `nurture worker` process of its own), the signup page, and a database
error's traceback. Text, the default, leaves logging as it was.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import wait_until
from lessons import delivery_states, enroll
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from subscribers_support import ADDRESS, signup_form
from workers import PROJECT_ROOT, publishing_app

from config import Settings
from config.logs import WARNINGS_ONLY, JsonFormatter, configure_logging, json_handler, redact
from delivery.sender import Sender
from runtime import Runtime
from store.models import Delivery, Subscriber
from tasks.dispatch import dispatch_once
from web import create_app

VISITOR_IP = "203.0.113.45"
VISITOR_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"
NAME = "Annabel"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger back as it was: JSON mode changes this process's logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in WARNINGS_ONLY}
    yield
    if json_handler() is not None:
        logging.captureWarnings(False)
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, quiet_level in quiet.items():
        logging.getLogger(name).setLevel(quiet_level)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Parse every line of TEXT as a JSON object (failing on any line that is not one)."""
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all(isinstance(line, dict) for line in lines)
    return lines


def assert_no_personal_data(text: str, *values: str) -> None:
    for value in values:
        assert value not in text
        assert value.lower() not in text.lower()


def test_text_is_the_default_and_changes_nothing(settings: Settings, runtime: Runtime) -> None:
    root = logging.getLogger()

    def state() -> tuple[Any, ...]:
        return (*root.handlers, root.level, *(logging.getLogger(n).level for n in WARNINGS_ONLY))

    before = state()
    assert settings.log_format == "text"
    create_app(runtime=runtime)
    configure_logging(settings)
    assert state() == before
    assert json_handler() is None


def test_json_mode_is_applied_once_and_undone_by_text(
    configure: Callable[..., Settings], restore_logging: None
) -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    json_settings = configure(log_format="json")
    configure_logging(json_settings)
    configure_logging(json_settings)  # every app factory call applies it again
    assert len(root.handlers) == len(before) + 1
    assert root.getEffectiveLevel() == logging.INFO
    configure_logging(configure(log_format="text"))
    assert root.handlers == before


def test_a_refused_send_logs_its_ids_and_no_address(
    configure: Callable[..., Settings],
    make_runtime: Callable[..., Runtime],
    fake_sendgrid: Any,
    capfd: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    app = create_app(runtime=make_runtime(configure(log_format="json")))
    runtime: Runtime = app.extensions["nurture"]
    [subscriber_id] = enroll(runtime, 1, runtime.now(), prefix="anna.jansen")
    dispatch_once(runtime)
    with runtime.session() as session:
        delivery_id = session.scalar(select(Delivery.id))
        address, name = session.execute(select(Subscriber.email, Subscriber.first_name)).one()
    capfd.readouterr()
    fake_sendgrid.script(400)
    assert Sender(runtime).deliver(delivery_id) == "failed"

    err = capfd.readouterr().err
    [line] = [line for line in json_lines(err) if line.get("delivery_id") == delivery_id]
    assert line["subscriber_id"] == subscriber_id
    assert (line["level"], line["logger"]) == ("ERROR", "delivery.sender")
    assert "failed permanently" in line["message"]
    assert datetime.fromisoformat(line["time"]).tzinfo == UTC
    assert_no_personal_data(err, address, name)


def test_a_signup_logs_its_ids_and_nothing_the_visitor_typed(
    configure: Callable[..., Settings],
    make_runtime: Callable[..., Runtime],
    capfd: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    app = create_app(runtime=make_runtime(configure(log_format="json")))
    runtime: Runtime = app.extensions["nurture"]
    capfd.readouterr()
    response = app.test_client().post(
        "/subscribe",
        data=signup_form(email=ADDRESS, name=NAME),
        headers={"User-Agent": VISITOR_UA},
        environ_base={"REMOTE_ADDR": VISITOR_IP},
    )
    assert response.status_code == 200

    err = capfd.readouterr().err
    [line] = [line for line in json_lines(err) if line["logger"] == "subscribers.signup"]
    with runtime.session() as session:
        subscriber_id, delivery_id = session.execute(
            select(Delivery.subscriber_id, Delivery.id)
        ).one()
    assert (line["subscriber_id"], line["delivery_id"]) == (subscriber_id, delivery_id)
    assert line["level"] == "INFO"
    assert_no_personal_data(err, ADDRESS, NAME, VISITOR_IP, VISITOR_UA)


def test_a_database_error_traceback_keeps_the_address_out(
    configure: Callable[..., Settings],
    make_runtime: Callable[..., Runtime],
    capfd: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    settings = configure(log_format="json")
    configure_logging(settings)
    runtime = make_runtime(settings)
    enroll(runtime, 1, runtime.now(), prefix="anna.jansen")
    capfd.readouterr()
    try:
        # The same address again: the unique index refuses it, and the driver's message
        # (PostgreSQL's DETAIL) and SQLAlchemy's (the parameters) would quote the row.
        enroll(runtime, 1, runtime.now(), prefix="anna.jansen")
    except IntegrityError:
        logging.getLogger("store.test").exception("could not add a subscriber")
    else:
        pytest.fail("the same address was stored twice")
    err = capfd.readouterr().err
    [line] = json_lines(err)
    assert "IntegrityError" in line["exception"]
    assert_no_personal_data(err, "anna.jansen0@example.org", "Lezer 0")


def test_the_formatter_masks_addresses_and_keeps_ids() -> None:
    record = logging.makeLogRecord(
        {
            "name": "delivery.sender",
            "levelname": "WARNING",
            "msg": "SendGrid 400: %s is not a valid address\nsecond line",
            "args": ('"Anna" <anna+nieuws@example.co.uk>',),
            "delivery_id": 7,
            "subscriber_id": 3,
        }
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert (
        entry["message"] == 'SendGrid 400: "Anna" <[address]> is not a valid address\nsecond line'
    )
    assert (entry["delivery_id"], entry["subscriber_id"]) == (7, 3)
    assert redact("no address here: 10 @ 12") == "no address here: 10 @ 12"


def test_a_worker_process_logs_json_only(
    nurture_env: dict[str, str],
    runtime: Runtime,
    fake_sendgrid: Any,
    tmp_path: Path,
) -> None:
    [subscriber_id] = enroll(runtime, 1, datetime.now(UTC), prefix="anna.jansen")
    fake_sendgrid.script(400)
    env = dict(os.environ, NURTURE_LOG_FORMAT="json")
    stderr_path = tmp_path / "worker.stderr"
    with stderr_path.open("wb") as stderr:
        worker = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker", "--concurrency=2", "--without-gossip"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,  # Celery prints its shutdown notice there, as text
            stderr=stderr,
        )
    try:
        with publishing_app(runtime):
            dispatch_once(runtime)
        assert wait_until(lambda: delivery_states(runtime) == {"failed": 1}, timeout=60)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    err = stderr_path.read_text()
    lines = json_lines(err)
    assert any("ready" in line["message"] for line in lines)  # Celery's own lines too
    [failed] = [line for line in lines if line.get("subscriber_id") == subscriber_id]
    assert (failed["logger"], failed["level"]) == ("delivery.sender", "ERROR")
    assert_no_personal_data(err, "anna.jansen0@example.org", "Lezer 0")
