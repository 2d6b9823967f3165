"""CSRF: every admin form needs flask-wtf's token from the visitor's own session; the public
endpoints (signup, JSON API, confirm, RFC 8058 one-click unsubscribe, webhooks, pixel and
clicks) keep working without any cookie and set none."""

from __future__ import annotations

from typing import Any

import pytest
from accounts_support import (
    BROWSER,
    OWNER_EMAIL,
    OWNER_PASSWORD,
    csrf_token,
    csrf_token_of,
    log_in,
    make_owner_and_editor,
)
from sqlalchemy import func, select
from subscribers_support import confirm_path, signup_form, subscriber_by_email
from tracking_support import body_of, make_subscriber, sg_event

from runtime import Runtime
from store.models import AdminAccount, Subscriber, SubscriberStatus, WebhookBatch

NEW_ACCOUNT = {"email": "nieuw@kliniek.example", "role": "editor", "password": "x" * 16}


def accounts(runtime: Runtime) -> int:
    with runtime.session() as session:
        return int(session.scalar(select(func.count()).select_from(AdminAccount)) or 0)


@pytest.fixture
def owner(client: Any, runtime: Runtime) -> Any:
    make_owner_and_editor(runtime)
    assert log_in(client, OWNER_EMAIL, OWNER_PASSWORD).status_code == 302
    return client


def test_the_login_form_needs_its_token(client: Any, runtime: Runtime) -> None:
    make_owner_and_editor(runtime)
    form = {"email": OWNER_EMAIL, "password": OWNER_PASSWORD}
    refused = client.post("/admin/login", data=form, headers=BROWSER)
    assert refused.status_code == 400
    assert "Dit formulier is verlopen" in refused.get_data(as_text=True)
    assert client.get("/admin", headers=BROWSER).status_code == 302  # still not logged in
    assert log_in(client, OWNER_EMAIL, OWNER_PASSWORD).status_code == 302


def test_admin_forms_refuse_a_missing_or_foreign_token(
    owner: Any, app: Any, runtime: Runtime
) -> None:
    before = accounts(runtime)
    assert owner.post("/admin/accounts", data=NEW_ACCOUNT, headers=BROWSER).status_code == 400
    # A token from another visitor's session (what a forged page could fetch) is no good.
    stranger = app.test_client()
    foreign = dict(NEW_ACCOUNT, csrf_token=csrf_token(stranger))
    assert owner.post("/admin/accounts", data=foreign, headers=BROWSER).status_code == 400
    assert owner.post("/admin/logout", headers=BROWSER).status_code == 400
    assert accounts(runtime) == before
    assert owner.get("/admin", headers=BROWSER).status_code == 200  # still logged in
    # With the page's own token each goes through.
    mine = dict(NEW_ACCOUNT, csrf_token=csrf_token(owner, "/admin/accounts"))
    assert owner.post("/admin/accounts", data=mine, headers=BROWSER).status_code == 302
    assert accounts(runtime) == before + 1
    token = {"csrf_token": csrf_token(owner, "/admin")}
    assert owner.post("/admin/logout", data=token, headers=BROWSER).status_code == 302
    assert owner.get("/admin", headers=BROWSER).status_code == 302


def test_the_shared_password_does_not_skip_csrf(client: Any, runtime: Runtime) -> None:
    # Browsers resend a cached Basic password by themselves, so a forged form would carry it.
    from accounts_support import basic

    response = client.post("/admin/accounts", data=NEW_ACCOUNT, headers=basic())
    assert response.status_code == 400
    assert accounts(runtime) == 0


@pytest.mark.usefixtures("signer")
def test_public_endpoints_work_without_cookies(app: Any, runtime: Runtime, signer: Any) -> None:
    client = app.test_client(use_cookies=False)
    answers = []
    form = client.post("/subscribe", data=signup_form("form@example.com"))
    api = client.post("/subscribe", json=signup_form("api@example.com"))
    answers += [form, api]
    subscriber = subscriber_by_email(runtime, "form@example.com")
    assert subscriber is not None and subscriber_by_email(runtime, "api@example.com")
    confirm = client.post(confirm_path(runtime, subscriber.id))
    one_click = client.post(
        f"/unsubscribe/{runtime.tokens.make_unsubscribe(subscriber.id)}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    answers += [confirm, one_click]
    made = make_subscriber(runtime, "lezer@example.com", sent_days=1)
    body = body_of([sg_event("delivered", made, 1, "ev-1")])
    webhook = client.post("/webhooks/sendgrid", data=body, headers=signer.headers(body))
    delivery = made.delivery_ids[1]
    pixel = client.get(f"/o/{runtime.tokens.make_open(delivery)}.gif")
    click = client.get(f"/c/{runtime.tokens.make_click(delivery, 'https://kliniek.example/')}")
    answers += [webhook, pixel, click]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 200, 200, 302]
    assert not [r for r in answers if "Set-Cookie" in r.headers]
    with runtime.session() as session:
        row = session.get(Subscriber, subscriber.id)
        assert row is not None and row.status == SubscriberStatus.UNSUBSCRIBED
        assert session.scalar(select(func.count()).select_from(WebhookBatch)) == 1


def test_on_https_forms_post_from_this_site_only(
    configure: Any, make_runtime: Any, runtime: Runtime
) -> None:
    from web import create_app

    make_owner_and_editor(runtime)
    site = "https://nurture.example"
    app = create_app(runtime=make_runtime(configure(base_url=site)))
    client = app.test_client()
    page = client.get("/admin/login", base_url=site, headers=BROWSER)
    # Admin pages send their address along to this site only, so the check below can work.
    assert page.headers["Referrer-Policy"] == "same-origin"
    token = csrf_token_of(page.get_data(as_text=True))
    form = {"email": OWNER_EMAIL, "password": OWNER_PASSWORD, "csrf_token": token}
    for referer in (None, "https://evil.example/admin/login"):
        headers = dict(BROWSER, Referer=referer) if referer else BROWSER
        refused = client.post("/admin/login", data=form, base_url=site, headers=headers)
        assert refused.status_code == 400, referer
    own = dict(BROWSER, Referer=f"{site}/admin/login")
    assert client.post("/admin/login", data=form, base_url=site, headers=own).status_code == 302
