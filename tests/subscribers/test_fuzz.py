"""Hypothesis throws 2,000+ hostile signups at POST /subscribe: no 5xx, nothing invalid stored,
no header injection in the confirmation email, and exactly one confirmation per new person."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from subscribers_support import all_subscribers, queued_confirmations

from config import Settings
from emails.render import Recipient
from runtime import Runtime
from store.models import Subscriber
from subscribers.validation import NAME_MAX_CHARS, clean_name, normalise_email
from web import create_app

EXAMPLES = 2000
BIG = 100_000

EDGE_ADDRESSES = [
    "anna@example.com",
    "Anna@Example.COM",
    "  anna@example.com  ",
    "anna@example.com\r\nBcc: victim@example.org",
    "anna@example.com\nSubject: gewonnen",
    "anna@example.com%0d%0aBcc:x@example.org",
    "Anna <anna@example.com>",
    '"anna jansen"@example.com',
    "anna@[192.0.2.1]",
    "anna@localhost",
    "anna@nurture.test",
    "anna@example",
    "anna..jansen@example.com",
    ".anna@example.com",
    "anna.@example.com",
    "anna@-example.com",
    "anna@exämple.nl",
    "jörg@example.de",
    "x" * 64 + "@example.com",
    "x" * 65 + "@example.com",
    "a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 50 + ".nl",
    "a" * BIG + "@example.com",
    "anna@example.com\x00",
    "anna\u200b@example.com",
    "@example.com",
    "anna@",
    "",
    " ",
    "anna@@example.com",
    "anna+cursus@example.com",
    "ANNA+CURSUS@EXAMPLE.COM",
]
EDGE_NAMES = [
    "Anna",
    "Zoë",
    "José María",
    "Ἀθηνᾶ",
    "𝔄𝔫𝔫𝔞",
    "王小明",
    "\u202egnaW",
    "Anna\r\nBcc: victim@example.org",
    "Robert'); DROP TABLE subscribers;--",
    '=HYPERLINK("http://evil.example")',
    "<script>alert(1)</script>",
    "\x00\x01\x1b[31m",
    "\ud800",
    "  ",
    "a" * 101,
    "n" * BIG,
]

text_any = st.text(max_size=80)
big_text = st.text(min_size=1, max_size=8).map(lambda s: (s * (BIG // len(s) + 1))[:BIG])
emails = st.one_of(
    st.sampled_from(EDGE_ADDRESSES),
    st.emails().map(str),
    text_any,
    st.builds(lambda a, b: f"{a}@{b}", text_any, text_any),
    big_text,
    st.none(),
)
names = st.one_of(st.sampled_from(EDGE_NAMES), text_any, big_text, st.none())
consents = st.one_of(
    st.sampled_from(["on", "off", "", "true", "1", "0", "ja", "nee"]), st.booleans(), st.none()
)
honeypots = st.one_of(st.none(), st.just(""), st.just(" "), text_any)
json_oddities = st.one_of(
    st.integers(), st.floats(allow_nan=False), st.lists(st.integers(), max_size=3), st.none()
)
encodings = st.sampled_from(
    [
        "form",
        "form",
        "json",
        "json",
        "multipart",
        "form-accept-json",
        "json-odd-types",
        "text/plain",
        "garbage-json",
        "no-body",
        "xml",
    ]
)


def _fields(email: Any, name: Any, consent: Any, website: Any) -> dict[str, Any]:
    values = {"email": email, "name": name, "consent": consent, "website": website}
    return {key: value for key, value in values.items() if value is not None}


def _as_form(fields: dict[str, Any]) -> dict[str, str]:
    form = {}
    for key, value in fields.items():
        if value is True:
            form[key] = "on"
        elif value is not False:
            form[key] = str(value).encode("utf-8", "replace").decode("utf-8")
    return form


def _post(client: Any, encoding: str, fields: dict[str, Any], odd: Any) -> Any:
    if encoding in ("form", "multipart", "form-accept-json"):
        return client.post(
            "/subscribe",
            data=_as_form(fields),
            content_type="multipart/form-data"
            if encoding == "multipart"
            else "application/x-www-form-urlencoded",
            headers={"Accept": "application/json"} if encoding == "form-accept-json" else {},
        )
    if encoding in ("json", "json-odd-types"):
        if encoding == "json-odd-types":
            fields = {**fields, "email": odd} if fields.get("name") else {**fields, "name": odd}
        body = json.dumps(fields)  # lone surrogates survive as \\ud800 escapes
        return client.post("/subscribe", data=body, content_type="application/json")
    if encoding == "garbage-json":
        return client.post(
            "/subscribe",
            data=str(fields)[:500].encode("utf-8", "replace"),
            content_type="application/json",
        )
    if encoding == "no-body":
        return client.post("/subscribe")
    content_type = "text/plain" if encoding == "text/plain" else "application/xml"
    return client.post("/subscribe", data=json.dumps(fields), content_type=content_type)


def _count(runtime: Runtime) -> int:
    with runtime.session() as session:
        return int(session.scalar(select(func.count()).select_from(Subscriber)) or 0)


def _assert_clean_header(value: str) -> None:
    assert "\r" not in value and "\n" not in value, repr(value)
    assert not any(unicodedata.category(char) == "Cc" for char in value), repr(value)


@pytest.mark.slow
def test_hostile_signups_never_break_anything(
    settings: Settings, runtime: Runtime, redis_url: str
) -> None:
    if not settings.is_sqlite:
        pytest.skip("the fuzz runs on SQLite; the flows run on PostgreSQL too")
    client = create_app(runtime=runtime, RATELIMIT_ENABLED=False).test_client()
    seen: list[int] = []

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(emails, names, consents, honeypots, encodings, json_oddities)
    def submit(email: Any, name: Any, consent: Any, website: Any, encoding: str, odd: Any) -> None:
        before = _count(runtime)
        response = _post(client, encoding, _fields(email, name, consent, website), odd)
        seen.append(response.status_code)
        assert response.status_code < 500, response.get_data(as_text=True)[:300]
        if response.status_code != 200:
            assert _count(runtime) == before

    submit()
    assert len(seen) >= EXAMPLES
    assert {200, 400, 422, 415} <= set(seen)

    rows = all_subscribers(runtime)
    assert rows, "the fuzz never produced one valid signup"
    course = runtime.courses.get()
    renderer = runtime.renderer
    for row in rows:
        assert row.email is not None
        assert normalise_email(row.email) == row.email
        if row.first_name is not None:
            assert clean_name(row.first_name) == row.first_name
            assert 0 < len(row.first_name) <= NAME_MAX_CHARS
            row.first_name.encode("utf-8")  # no lone surrogates
        message = renderer.confirmation(
            course, Recipient(row.id, row.email, row.first_name), renderer.confirm_url(row.id)
        )
        assert message.to_email == row.email
        for value in (message.subject, message.to_name, message.from_name, message.to_email):
            _assert_clean_header(value)
        for key, value in message.headers.items():
            _assert_clean_header(key)
            _assert_clean_header(value)
    # Every stored person got exactly one confirmation queued (same minute: no resends).
    assert queued_confirmations(runtime, redis_url) == sorted(row.id for row in rows)
