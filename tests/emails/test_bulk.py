"""One request for many recipients: every substituted email equals its own rendered email."""

from __future__ import annotations

from pathlib import Path

import pytest
from emails_support import mail_env, renderer, sample_course
from fake_sendgrid_rules import validate_mail

from course.loader import Course
from emails.bulk import substitute
from emails.layout import MARKER_PREFIX
from emails.render import Recipient, Renderer
from providers.sendgrid.contract import custom_args
from providers.sendgrid.requests import (
    MAX_SUBSTITUTION_BYTES,
    build_bulk_body,
    plan_requests,
)

_ = mail_env, renderer  # the fixtures, imported so pytest finds them here

NAMES = ["Anna", None, "Zoë & <Jan>", '"Piet"', "", "Ö" * 80]


@pytest.fixture
def course(tmp_path: Path) -> Course:
    return sample_course(tmp_path / "courses")


def recipients(count: int) -> list[Recipient]:
    return [
        Recipient(
            subscriber_id=100 + n,
            email=f"lid{n}@example.nl",
            first_name=NAMES[n % len(NAMES)],
            delivery_id=5000 + n,
        )
        for n in range(count)
    ]


@pytest.mark.parametrize("day", [1, 2, 3])
def test_substituting_each_recipient_gives_exactly_their_own_email(
    renderer: Renderer, course: Course, day: int
) -> None:
    people = recipients(12)
    bulk = renderer.lesson_bulk(course, day, people)
    for person, personal in zip(people, bulk.recipients, strict=True):
        alone = renderer.lesson(course, day, person)
        assert personal.message == alone
        pairs = bulk.substitutions(personal)
        assert substitute(bulk.html, pairs) == alone.html
        assert substitute(bulk.text, pairs) == alone.text
    # The shared parts hold tags, not anybody's values.
    assert MARKER_PREFIX in bulk.html and "lid0@example.nl" not in bulk.html


def test_the_bulk_body_is_one_valid_request_with_a_personalization_each(
    renderer: Renderer, course: Course
) -> None:
    bulk = renderer.lesson_bulk(course, 1, recipients(30))
    [group] = plan_requests(bulk)
    body = build_bulk_body(bulk, group)
    validate_mail(body)
    assert len(body["personalizations"]) == 30
    for personal, item in zip(bulk.recipients, body["personalizations"], strict=True):
        message = personal.message
        assert item["to"][0]["email"] == message.to_email
        assert item["subject"] == message.subject
        assert item["headers"] == message.headers
        assert item["custom_args"] == custom_args(message.tags)
        assert substitute(body["content"][1]["value"], item["substitutions"]) == message.html
        assert substitute(body["content"][0]["value"], item["substitutions"]) == message.text
        assert sum(len(k) + len(v) for k, v in item["substitutions"].items()) < (
            MAX_SUBSTITUTION_BYTES
        )


def test_values_that_look_like_tags_and_repeated_addresses_go_in_other_requests(
    renderer: Renderer, course: Course
) -> None:
    people = recipients(4)
    people.append(Recipient(200, "lid1@example.nl", "Anna", delivery_id=6000))  # again
    people.append(Recipient(201, "ander@example.nl", f"{MARKER_PREFIX}H0Zx", delivery_id=6001))
    bulk = renderer.lesson_bulk(course, 2, people)
    groups = plan_requests(bulk)
    assert [5] in groups  # the tag-like name is sent fully rendered, on its own
    for group in groups:
        addresses = [bulk.recipients[i].message.to_email for i in group]
        assert len(addresses) == len(set(addresses))
    assert sorted(i for group in groups for i in group) == list(range(6))
    assert len(groups) == 3


def test_a_bulk_of_one_needs_no_substitution_at_all(renderer: Renderer, course: Course) -> None:
    bulk = renderer.lesson_bulk(course, 1, recipients(1))
    assert bulk.substitutions(bulk.recipients[0]) == {}
    assert bulk.html == bulk.recipients[0].message.html


def test_substitution_is_one_pass() -> None:
    assert substitute("-a- -b-", {"-a-": "-b-", "-b-": "x"}) == "-b- x"
