"""The permanent suppression list: keyed HMACs, no addresses, survives forget, CLI, signups.

Addresses that bounced hard, complained or were blocked by hand get no mail ever again, even
after `nurture subscribers forget` erased everything else about the person; a signup for one
gets the answer anyone gets, and no mail. `nurture suppressions list|add|remove` manages the
list and the dashboard shows its size.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import T0
from sqlalchemy import select
from subscribers_support import ADDRESS, queued_confirmations, signup_form, subscriber_by_email
from tracking_support import SendGridSigner, body_of, make_subscriber, sg_event

from cli.main import cli
from runtime import Runtime
from store.clock import FrozenClock
from store.models import (
    AdminAuditEntry,
    ConsentEvent,
    ConsentEventKind,
    Delivery,
    DeliveryState,
    Enrollment,
    EnrollmentStatus,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from subscribers.suppression import address_hash, is_suppressed, lift, suppress
from tracking.ingest import ingest_pending

OTHER = "nieuw@example.com"

# Webhooks in these tests are signed: the settings carry the signer's public key.
pytestmark = pytest.mark.usefixtures("signer")


def invoke(runtime: Runtime, *args: str) -> tuple[int, str, str]:
    """Run `nurture ARGS` on the test's runtime (and so its frozen clock)."""
    result = CliRunner().invoke(cli, list(args), obj={"runtime": runtime})
    return result.exit_code, result.stdout, result.stderr


def entries(runtime: Runtime) -> list[Suppression]:
    with runtime.session() as session:
        return list(session.scalars(select(Suppression)))


def on_list(runtime: Runtime, email: str) -> bool:
    with runtime.session() as session:
        return is_suppressed(session, runtime.settings.secret_keys, email)


def hard_bounce(client: Any, runtime: Runtime, signer: SendGridSigner, made: Any) -> None:
    """Post one signed hard bounce for MADE's first lesson and ingest it."""
    body = body_of([sg_event("bounce", made, 1, "hard-1", type="bounce", email=ADDRESS)])
    headers = signer.headers(body, int(runtime.now().timestamp()))
    assert client.post("/webhooks/sendgrid", data=body, headers=headers).status_code == 200
    assert ingest_pending(runtime) == 1


def signups_alike(client: Any, email: str) -> None:
    """Sign EMAIL and a fresh address up, by form and by JSON: the answers must be equal."""
    for post in (
        lambda address: client.post("/subscribe", data=signup_form(email=address)),
        lambda address: client.post("/subscribe", json={"email": address, "consent": True}),
    ):
        ours, fresh = post(email), post(OTHER)
        assert ours.status_code == fresh.status_code == 200
        assert ours.get_data() == fresh.get_data()


def test_the_key_is_an_hmac_of_the_normalised_address_under_every_key(runtime: Runtime) -> None:
    expected = hmac.new(b"k1", ADDRESS.encode(), hashlib.sha256).hexdigest()
    assert address_hash("k1", f"  {ADDRESS.upper()} ") == expected
    assert address_hash("k2", ADDRESS) != expected
    with runtime.session() as session:
        assert suppress(session, ["old"], ADDRESS, reason="manual", source="cli", now=runtime.now())
    with runtime.session() as session:
        # After a key rotation the entry made with the old key still holds.
        assert is_suppressed(session, ["new", "old"], ADDRESS.title())
        assert not is_suppressed(session, ["new"], ADDRESS)
        assert not suppress(session, ["new", "old"], ADDRESS, reason="x", source="x", now=T0)
        assert lift(session, ["new", "old"], ADDRESS)
    assert entries(runtime) == []


def test_the_list_holds_no_address(runtime: Runtime, clock: FrozenClock) -> None:
    code, out, err = invoke(runtime, "suppressions", "add", ADDRESS, "--note", "op verzoek")
    assert code == 0, err
    assert f"Suppressed {ADDRESS}" in out
    with runtime.session() as session:
        rows = session.execute(select(Suppression.__table__)).all()
    stored = " ".join(str(value) for row in rows for value in row).lower()
    assert "anna" not in stored and "example" not in stored
    [entry] = entries(runtime)
    assert entry.address_hash == address_hash(runtime.settings.secret_key, ADDRESS)
    assert (entry.reason, entry.source, entry.note) == ("manual", "cli", "op verzoek")
    code, out, _ = invoke(runtime, "suppressions", "list")
    assert code == 0
    assert out.splitlines()[0] == "1 suppressed address."
    line = rf"^{entry.address_hash[:12]}\s+manual\s+cli\s+{T0:%Y-%m-%d %H:%M} UTC\s+op verzoek$"
    assert re.search(line, out, re.M)
    assert "anna" not in out.lower() and entry.address_hash not in out


def test_the_list_survives_forget_and_a_new_signup_gets_no_mail(
    client, runtime: Runtime, signer: SendGridSigner, redis_url: str, clock: FrozenClock
) -> None:
    made = make_subscriber(runtime, ADDRESS, sent_days=1)
    hard_bounce(client, runtime, signer, made)
    code, _, err = invoke(runtime, "subscribers", "forget", ADDRESS, "--yes")
    assert code == 0, err
    with runtime.session() as session:
        assert session.get(Subscriber, made.subscriber_id).email is None
    assert [(e.reason, e.source) for e in entries(runtime)] == [("bounce", "webhook")]
    clock.advance(days=40)
    signups_alike(client, ADDRESS)
    again = subscriber_by_email(runtime, ADDRESS)
    fresh = subscriber_by_email(runtime, OTHER)
    assert again is not None and again.id != made.subscriber_id and fresh is not None
    # No confirmation goes to the bounced address; the fresh address gets its one.
    assert queued_confirmations(runtime, redis_url) == [fresh.id]


def test_a_suppressed_address_that_signs_up_gets_the_normal_answer_and_no_mail(
    client, runtime: Runtime, redis_url: str, clock: FrozenClock
) -> None:
    assert invoke(runtime, "suppressions", "add", ADDRESS.upper())[0] == 0
    signups_alike(client, ADDRESS)
    fresh = subscriber_by_email(runtime, OTHER)
    assert fresh is not None
    assert queued_confirmations(runtime, redis_url) == [fresh.id]


def test_manual_add_stops_all_mail_and_remove_lets_them_opt_in_again(
    client, runtime: Runtime, redis_url: str, clock: FrozenClock
) -> None:
    made = make_subscriber(runtime, ADDRESS, sent_days=1, queued_day=2)
    code, out, err = invoke(runtime, "suppressions", "add", ADDRESS, "--note", "klacht per mail")
    assert code == 0, err
    assert out == (
        f"Suppressed {ADDRESS}: it gets no mail from now on; "
        f"subscriber #{made.subscriber_id} gets no more mail.\n"
    )
    with runtime.session() as session:
        subscriber = session.get(Subscriber, made.subscriber_id)
        assert (subscriber.status, subscriber.suppression_reason) == ("suppressed", "manual")
        assert session.get(Enrollment, made.enrollment_id).status == EnrollmentStatus.CANCELLED
        assert session.get(Delivery, made.delivery_ids[2]).state == DeliveryState.SKIPPED
        consent = session.scalars(
            select(ConsentEvent).where(ConsentEvent.kind == ConsentEventKind.SUPPRESSION)
        ).all()
        assert [(c.subscriber_id, c.source, c.detail) for c in consent] == [
            (made.subscriber_id, "cli", "manual")
        ]
    code, out, _ = invoke(runtime, "suppressions", "add", ADDRESS)
    assert code == 0 and "already on the suppression list" in out
    assert len(entries(runtime)) == 1

    code, out, err = invoke(runtime, "suppressions", "remove", ADDRESS)
    assert code == 0, err
    assert out == f"Lifted {ADDRESS}: it may sign up again and get mail once confirmed.\n"
    assert entries(runtime) == [] and not on_list(runtime, ADDRESS)
    with runtime.session() as session:
        subscriber = session.get(Subscriber, made.subscriber_id)
        # Still no mail until a new, confirmed signup.
        assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
        actions = session.scalars(select(AdminAuditEntry.action).order_by(AdminAuditEntry.id))
        assert list(actions) == ["suppression.add", "suppression.remove"]
        targets = session.scalars(select(AdminAuditEntry.target)).all()
        assert all(ADDRESS not in (target or "") for target in targets)
    code, out, _ = invoke(runtime, "suppressions", "remove", ADDRESS)
    assert code == 0 and out == f"{ADDRESS} was not on the suppression list; nothing changed.\n"
    clock.advance(minutes=1)
    assert client.post("/subscribe", data=signup_form()).status_code == 200
    assert queued_confirmations(runtime, redis_url) == [made.subscriber_id]


@pytest.mark.parametrize("command", ["add", "remove"])
def test_a_bad_address_exits_2_with_one_line(runtime: Runtime, command: str) -> None:
    code, out, err = invoke(runtime, "suppressions", command, "geen-adres")
    assert code == 2 and out == ""
    assert err.startswith("nurture: 'geen-adres' is not a valid email address")
    assert len(err.strip().splitlines()) == 1
    assert entries(runtime) == []


def test_the_dashboard_shows_the_size_of_the_list(client, runtime: Runtime) -> None:
    for address in (ADDRESS, OTHER):
        assert invoke(runtime, "suppressions", "add", address)[0] == 0
    password = runtime.settings.admin_password
    token = base64.b64encode(f"beheer:{password}".encode()).decode()
    response = client.get("/admin", headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 200
    assert re.search(r'id="suppressed"[^>]*>2<', response.get_data(as_text=True))
