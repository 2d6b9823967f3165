"""Talk to the fake SendGrid over plain HTTP from tests: a valid body to vary, and a POST."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

KEY = "test-sendgrid-key"
TESTS_DIR = Path(__file__).resolve().parent


def good_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "personalizations": [{"to": [{"email": "a@example.nl"}]}],
        "from": {"email": "cursus@umoya.example"},
        "subject": "Les 1",
        "content": [
            {"type": "text/plain", "value": "tekst"},
            {"type": "text/html", "value": "<p>tekst</p>"},
        ],
        "custom_args": {"course": "c", "day": "1", "delivery_id": "5"},
        "headers": {"List-Unsubscribe": "<https://x.example/u/t>"},
        "categories": ["nurture"],
    }
    body.update(changes)
    return body


def post(url: str, body: Any, key: str = KEY) -> tuple[int, dict[str, Any] | None, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}/v3/mail/send",
        data=data,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, None, response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), exc.headers


PEOPLE = [
    ("anna@x.nl", "Anna", {"-h0-": "Hallo Anna,", "-h1-": "https://x.example/u/a", "-h10-": "nl"}),
    ("bob@x.nl", "", {"-h0-": "Hallo,", "-h1-": "https://x.example/u/b", "-h10-": "nl"}),
    ("cor@x.nl", "Cor", {"-h0-": "Hallo -h1-,", "-h1-": "https://x.example/u/c", "-h10-": "-h0-"}),
]


def lesson_body() -> dict[str, Any]:
    personalizations: list[dict[str, Any]] = [
        {
            "to": [{"email": email, "name": name}],
            "subject": "Dag 1: -h0-",
            "headers": {"List-Unsubscribe": f"<{subs['-h1-']}>"},
            "custom_args": {"delivery_id": str(n), "subscriber_id": str(10 + n)},
            "substitutions": subs,
        }
        for n, (email, name, subs) in enumerate(PEOPLE)
    ]
    # Bob leans on the top level: no name, subject, headers or custom args of his own.
    personalizations[1] = {"to": [{"email": "bob@x.nl"}], "substitutions": PEOPLE[1][2]}
    return good_body(
        personalizations=personalizations,
        headers={"List-Unsubscribe": "<https://x.example/u/t>", "X-Top": "1"},
        content=[
            {"type": "text/plain", "value": "-h0- Lees: -h1- (-h10-)"},
            {"type": "text/html", "value": '<p>-h0-</p><a href="-h1-">-h10-</a>'},
        ],
    )
