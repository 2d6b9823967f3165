"""The admin audit log: viewing a subscriber, each CSV export and `forget` are logged with time
and actor, and /admin/audit shows them (Dutch, never cached)."""

from __future__ import annotations

import base64
import getpass
from datetime import timedelta
from typing import Any

import pytest
from helpers import T0
from sqlalchemy import select
from tracking_support import make_subscriber

from runtime import Runtime
from store.clock import FrozenClock
from store.models import AdminAuditEntry
from subscribers.audit import admin_actor, record_admin_action

PASSWORD = "test-admin-password"
CLINIC_IP = "192.0.2.44"


def auth(user: str = "beheer") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def get(client: Any, path: str, user: str = "beheer") -> Any:
    return client.get(path, headers=auth(user), environ_base={"REMOTE_ADDR": CLINIC_IP})


def entries(runtime: Runtime) -> list[AdminAuditEntry]:
    with runtime.session() as session:
        return list(session.scalars(select(AdminAuditEntry).order_by(AdminAuditEntry.id)))


@pytest.fixture
def client(app: Any, clock: FrozenClock) -> Any:
    clock.set(T0 + timedelta(days=3))
    return app.test_client()


def test_viewing_a_subscriber_is_logged_with_time_and_actor(client, runtime: Runtime) -> None:
    made = make_subscriber(runtime, "anna@example.com", sent_days=1)
    assert (
        get(client, f"/admin/subscribers/{made.subscriber_id}", user="marieke").status_code == 200
    )
    [entry] = entries(runtime)
    assert (entry.action, entry.target) == ("subscriber.view", f"subscriber:{made.subscriber_id}")
    assert entry.occurred_at.replace(tzinfo=None) == (T0 + timedelta(days=3)).replace(tzinfo=None)
    # Who: the Basic user name and a short HMAC of the IP; never the IP itself.
    assert entry.actor == admin_actor(runtime.settings.secret_key, CLINIC_IP, "marieke")
    assert entry.actor.startswith("marieke@") and CLINIC_IP not in entry.actor
    # Without a user name the actor is "beheer"; no address is written anywhere.
    get(client, f"/admin/subscribers/{made.subscriber_id}", user="")
    assert entries(runtime)[-1].actor.startswith("beheer@")
    assert all("anna@" not in f"{e.target} {e.detail}" for e in entries(runtime))


def test_each_csv_export_is_logged(client, runtime: Runtime) -> None:
    make_subscriber(runtime, "bert@example.com", sent_days=1)
    for path in ("/admin/export/subscribers.csv", "/admin/export/events.csv"):
        response = get(client, path)
        assert response.status_code == 200
        response.get_data()
    get(client, "/admin/export/subscribers.csv").get_data()
    assert [e.action for e in entries(runtime)] == [
        "export.subscribers",
        "export.events",
        "export.subscribers",
    ]


def test_a_refused_login_logs_nothing(client, runtime: Runtime) -> None:
    made = make_subscriber(runtime, "carl@example.com", sent_days=1)
    response = client.get(f"/admin/subscribers/{made.subscriber_id}")
    assert response.status_code == 401
    assert entries(runtime) == []


def test_forget_is_logged_with_the_os_user_and_no_address(runner, runtime: Runtime) -> None:
    made = make_subscriber(runtime, "dora@example.com", sent_days=1)
    result = runner("subscribers", "forget", "dora@example.com", "--yes")
    assert result.exit_code == 0, result.output
    [entry] = entries(runtime)
    assert entry.action == "subscriber.forget"
    assert entry.target == f"subscriber:{made.subscriber_id}"
    assert entry.actor == f"cli:{getpass.getuser()}"
    assert "dora" not in f"{entry.target} {entry.detail}"


def test_a_failed_forget_logs_nothing(runner, runtime: Runtime) -> None:
    result = runner("subscribers", "forget", "nobody@example.com", "--yes")
    assert result.exit_code != 0
    assert entries(runtime) == []


def test_the_audit_page_lists_the_latest_entries(client, runtime: Runtime) -> None:
    made = make_subscriber(runtime, "eva@example.com", sent_days=1)
    with runtime.session() as session:
        record_admin_action(
            session,
            actor="cli:beheerder",
            action="suppression.add",
            target="adres 1a2b3c",
            detail="handmatig\r\nvervalste regel",
            now=T0,
        )
    get(client, f"/admin/subscribers/{made.subscriber_id}")
    response = get(client, "/admin/audit")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "Logboek" in page
    assert "Inschrijver bekeken" in page and "Adres geblokkeerd" in page
    assert f"Inschrijver #{made.subscriber_id}" in page
    assert "handmatigvervalste regel" in page  # control characters cannot forge a line
    # The newest first.
    assert page.index("Inschrijver bekeken") < page.index("Adres geblokkeerd")
    # Linked from every admin page, and behind the password like the rest.
    assert 'href="/admin/audit"' in get(client, "/admin/subscribers").get_data(as_text=True)
    assert client.get("/admin/audit").status_code == 401
