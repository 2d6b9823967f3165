"""Asking SendGrid what the API key may do (GET /v3/scopes), against the fake over real HTTP;
and the fake answers that endpoint as SendGrid does."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest

from providers.sendgrid.account import AccountUnreachable, key_access

KEY = "test-sendgrid-key"


def get_scopes(url: str, authorization: str | None) -> tuple[int, Any]:
    request = urllib.request.Request(f"{url}/v3/scopes")
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_fake_answers_like_sendgrid(fake_sendgrid) -> None:
    status, body = get_scopes(fake_sendgrid.url, f"Bearer {KEY}")
    assert status == 200
    assert "mail.send" in body["scopes"]
    status, body = get_scopes(fake_sendgrid.url, "Bearer wrong")
    assert status == 401
    assert body["errors"][0]["message"] == (
        "The provided authorization grant is invalid, expired, or revoked"
    )
    status, body = get_scopes(fake_sendgrid.url, None)
    assert (status, body["errors"][0]["message"]) == (401, "authorization required")


def test_a_key_allowed_to_send_is_accepted(fake_sendgrid) -> None:
    access = key_access(KEY, fake_sendgrid.url, timeout=5)
    assert access.accepted
    assert access.can_send
    assert access.scopes == tuple(fake_sendgrid.scopes)


def test_a_wrong_key_is_refused_with_sendgrids_words(fake_sendgrid) -> None:
    access = key_access("SG.revoked", fake_sendgrid.url, timeout=5)
    assert not access.accepted
    assert not access.can_send
    assert access.refusal == (
        "SendGrid 401: The provided authorization grant is invalid, expired, or revoked"
    )


def test_a_key_without_mail_send_is_accepted_but_cannot_send(fake_sendgrid) -> None:
    fake_sendgrid.scopes.remove("mail.send")
    access = key_access(KEY, fake_sendgrid.url, timeout=5)
    assert access.accepted
    assert not access.can_send
    assert "mail.send" not in access.scopes


def test_sendgrid_down_is_not_mistaken_for_a_bad_key(fake_sendgrid) -> None:
    fake_sendgrid.go_down(503)
    with pytest.raises(AccountUnreachable, match="SendGrid 503"):
        key_access(KEY, fake_sendgrid.url, timeout=5)


def test_no_server_at_all_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(AccountUnreachable, match="unreachable"):
        key_access(KEY, f"http://127.0.0.1:{port}", timeout=2)
