"""The fake SendGrid server itself: its checks, scripted failures, signed webhook, process mode."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fake_sendgrid import FakeSendGrid
from fake_sendgrid_client import KEY, PEOPLE, good_body, lesson_body, post
from fake_sendgrid_expand import substitute


def test_accepts_a_valid_request_with_a_unique_message_id(fake_sendgrid: FakeSendGrid) -> None:
    ids = {post(fake_sendgrid.url, good_body())[2]["X-Message-Id"] for _ in range(20)}
    assert len(ids) == 20
    assert fake_sendgrid.counts[("a@example.nl", "c", "1")] == 20
    assert fake_sendgrid.duplicates == 19


def many(count: int) -> list[dict[str, Any]]:
    return [{"to": [{"email": f"u{n}@example.nl"}]} for n in range(count)]


def one(**fields: Any) -> dict[str, Any]:
    return {"personalizations": [{"to": [{"email": "a@example.nl"}], **fields}]}


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"personalizations": []}, "personalizations", "at least one"),
        ({"personalizations": many(1001)}, "personalizations", "1000 or fewer"),
        ({"personalizations": [{"to": []}]}, "personalizations.0.to", "to array is required"),
        (
            {"personalizations": [{"to": [{"email": "a@x.nl"}, {"email": "A@x.nl"}]}]},
            "personalizations.0.to.1.email",
            "unique",
        ),
        ({"personalizations": [{"to": [{"email": "nope"}]}]}, "personalizations.0.to.0.email", ""),
        ({"from": {"name": "x"}}, "from.email", "from object"),
        ({"subject": ""}, "subject", "subject is required"),
        ({"content": []}, "content", "content parameter is required"),
        (
            {
                "content": [
                    {"type": "text/html", "value": "<p>"},
                    {"type": "text/plain", "value": "p"},
                ]
            },
            "content",
            "text/plain must be first",
        ),
        ({"custom_args": {"day": 1}}, "custom_args.day", "Expected: string"),
        ({"custom_args": {"big": "x" * 10_000}}, "custom_args", "10,000 byte"),
        ({"categories": [f"c{n}" for n in range(11)]}, "categories", "maximum is 10"),
        ({"categories": ["x" * 256]}, "categories.0", "255"),
        ({"headers": {"Subject": "x"}}, "headers.Subject", "reserved"),
        ({"headers": {"X-Sg-Id": "x"}}, "headers.X-Sg-Id", "reserved"),
        (
            {"personalizations": [{"to": [{"email": "a@x.nl"}]}, {"to": [{"email": "A@x.nl"}]}]},
            "personalizations.1.to.0.email",
            "unique",
        ),
        (one(subject=""), "personalizations.0.subject", "at least one character"),
        (one(subject=7), "personalizations.0.subject", "given: integer"),
        (one(substitutions={"-n-": 1}), "personalizations.0.substitutions.-n-", "given: integer"),
        (one(substitutions=["-n-"]), "personalizations.0.substitutions", "must be an object"),
        (
            one(substitutions={"-a-": "x" * 5_000, "-b-": "y" * 4_995}),
            "personalizations.0.substitutions",
            "The total size of substitutions for a personalization may not exceed 10000 bytes.",
        ),
        (
            {"custom_args": {"a": "x" * 5_000}, **one(custom_args={"b": "y" * 5_000})},
            "personalizations.0.custom_args",
            "10,000 byte",
        ),
    ],
)
def test_refuses_what_sendgrid_refuses(
    fake_sendgrid: FakeSendGrid, changes: dict[str, Any], field: str, text: str
) -> None:
    status, error, _ = post(fake_sendgrid.url, good_body(**changes))
    assert status == 400 and error is not None
    assert error["errors"][0]["field"] == field
    assert text in error["errors"][0]["message"]
    assert fake_sendgrid.accepted == []


def test_substitutions_up_to_the_limit_and_custom_args_per_personalization(
    fake_sendgrid: FakeSendGrid,
) -> None:
    # Exactly 10,000 bytes ("é" is two), and 2 x 9,000 bytes of custom args in two
    # personalizations: SendGrid counts both per personalization, so this passes.
    subs = {"-a-": "é" * 2_500, "-b-": "y" * 4_994}
    big = [{"to": [{"email": f"u{n}@x.nl"}], "custom_args": {"b": "y" * 9_000}} for n in (1, 2)]
    assert post(fake_sendgrid.url, good_body(**one(substitutions=subs)))[0] == 202
    assert post(fake_sendgrid.url, good_body(personalizations=big))[0] == 202


# Three recipients of one lesson in one request. Cor's values hold other keys: one-pass
# substitution leaves them literal, whichever order a sequential replacer would try the keys in.
def test_messages_expand_each_recipient_with_their_substitutions(
    fake_sendgrid: FakeSendGrid,
) -> None:
    assert post(fake_sendgrid.url, lesson_body())[0] == 202
    [accepted] = fake_sendgrid.accepted
    anna, bob, cor = accepted.messages
    assert anna == {
        "to": "anna@x.nl",
        "name": "Anna",
        "subject": "Dag 1: Hallo Anna,",
        "headers": {"List-Unsubscribe": "<https://x.example/u/a>", "X-Top": "1"},
        "custom_args": {"course": "c", "day": "1", "delivery_id": "0", "subscriber_id": "10"},
        "categories": ["nurture"],
        "text": "Hallo Anna, Lees: https://x.example/u/a (nl)",
        "html": '<p>Hallo Anna,</p><a href="https://x.example/u/a">nl</a>',
    }
    assert (bob["to"], bob["name"], bob["subject"], bob["text"]) == (
        "bob@x.nl",
        "",
        "Les 1",
        "Hallo, Lees: https://x.example/u/b (nl)",
    )
    assert bob["headers"] == {"List-Unsubscribe": "<https://x.example/u/t>", "X-Top": "1"}
    assert bob["custom_args"] == {"course": "c", "day": "1", "delivery_id": "5"}
    assert cor["subject"] == "Dag 1: Hallo -h1-,"
    assert cor["text"] == "Hallo -h1-, Lees: https://x.example/u/c (-h0-)"
    assert cor["html"] == '<p>Hallo -h1-,</p><a href="https://x.example/u/c">-h0-</a>'
    # Every recipient counts once per (email, course, day); the request counts once.
    assert dict(fake_sendgrid.counts) == {(email, "c", "1"): 1 for email, _, _ in PEOPLE}
    stats = fake_sendgrid.stats()
    assert (stats["accepted"], stats["recipients"], stats["duplicates"]) == (1, 3, 0)
    assert post(fake_sendgrid.url, good_body(**one(to=[{"email": "Bob@x.nl"}])))[0] == 202
    assert fake_sendgrid.counts[("bob@x.nl", "c", "1")] == 2 and fake_sendgrid.duplicates == 1


def test_substitute_prefers_the_longest_key() -> None:
    subs = {":name": "A", ":name_full": "Anna B", "B": "never"}
    assert substitute(":name_full / :name.", subs) == "Anna B / A."


def test_template_id_replaces_content_and_subject(fake_sendgrid: FakeSendGrid) -> None:
    body = good_body(template_id="d-123")
    del body["content"], body["subject"]
    assert post(fake_sendgrid.url, body)[0] == 202


def test_bad_key_and_broken_json(fake_sendgrid: FakeSendGrid) -> None:
    status, error, _ = post(fake_sendgrid.url, good_body(), key="wrong")
    assert status == 401 and error is not None and "authorization" in error["errors"][0]["message"]
    assert post(fake_sendgrid.url, b"{not json")[0] == 400


def test_scripted_statuses_then_normal_service(fake_sendgrid: FakeSendGrid) -> None:
    fake_sendgrid.script(429, 500, 413)
    first = post(fake_sendgrid.url, good_body())
    assert first[0] == 429
    reset = int(first[2]["X-RateLimit-Reset"])
    assert first[2]["X-RateLimit-Remaining"] == "0" and reset >= time.time()
    assert [post(fake_sendgrid.url, good_body())[0] for _ in range(3)] == [500, 413, 202]
    with pytest.raises(ValueError, match="cannot script status 418"):
        fake_sendgrid.script(418)


def test_random_failures_follow_the_seed() -> None:
    def run() -> list[int]:
        fake = FakeSendGrid(api_key=KEY, fail_429=0.2, fail_500=0.1, seed=7).start()
        try:
            return [post(fake.url, good_body())[0] for _ in range(100)]
        finally:
            fake.stop()

    first, second = run(), run()
    assert first == second
    assert 8 <= first.count(429) <= 35 and 2 <= first.count(500) <= 20
    assert first.count(202) + first.count(429) + first.count(500) == 100


def test_many_parallel_requests_with_latency() -> None:
    fake = FakeSendGrid(api_key=KEY, latency=0.05).start()
    try:
        started = time.monotonic()
        threads = [
            threading.Thread(
                target=lambda n=n: post(
                    fake.url, good_body(custom_args={"course": "c", "day": str(n)})
                )
            )
            for n in range(200)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        fake.stop()
    assert len(fake.accepted) == 200 and fake.duplicates == 0
    assert elapsed < 5  # 200 x 50 ms in series would be 10 s: requests overlap
