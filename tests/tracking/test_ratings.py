"""Was deze les nuttig? Through the app: a GET records nothing, the page's POST does (the last
answer counts), scanners don't count, comments reach the dashboard escaped, and forget and
retention take the comments away while the answers keep counting."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from feedback_support import (
    BROWSER_UA,
    PHONE_UA,
    admin_headers,
    lesson_links,
    row_cells,
    store_all,
    visit,
)
from sqlalchemy import select
from tracking_support import T0, Made, make_subscriber

from cli.main import cli
from runtime import Runtime
from store.clock import FrozenClock
from store.models import Delivery, LessonRating
from subscribers.retention import apply_retention
from tracking.ratings import COMMENT_MAX_CHARS

pytestmark = pytest.mark.usefixtures("fresh_spool")


def ratings_of(runtime: Runtime) -> list[tuple[int | None, int, bool, str | None]]:
    """Return (subscriber, day, useful, comment) of every rating, by id."""
    with runtime.session() as session:
        rows = session.scalars(select(LessonRating).order_by(LessonRating.id))
        return [(r.subscriber_id, r.day, r.useful, r.comment) for r in rows]


def answer(client: Any, path: str, comment: str | None = None, **kwargs: Any) -> Any:
    """POST the rating page's form at PATH (its script sends no comment, as JSON)."""
    headers = {"User-Agent": kwargs.pop("user_agent", BROWSER_UA)}
    if comment is None:
        headers["Accept"] = "application/json"
        return client.post(path, headers=headers, **kwargs)
    return client.post(path, data={"opmerking": comment}, headers=headers, **kwargs)


def reader(runtime: Runtime, email: str, clock: FrozenClock, days: int = 2) -> tuple[Made, Any]:
    made = make_subscriber(runtime, email, sent_days=days)
    links = {
        d: lesson_links(runtime, made.subscriber_id, made.delivery_ids[d], d)
        for d in made.delivery_ids
    }
    clock.set(T0 + timedelta(days=days, hours=2))  # hours after the last lesson went out
    return made, links


def test_a_get_records_nothing_the_post_does_and_the_last_answer_counts(
    client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    made, links = reader(runtime, "anna@example.com", clock)
    page = visit(client, links[1].ja, BROWSER_UA)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Bedankt voor je antwoord!" in html and "nuttig" in html
    assert "data-auto-post" in html and "rating.js" in html
    assert page.headers["Cache-Control"] == "no-store"
    assert ratings_of(runtime) == []  # a scanner's GET would have stopped here
    assert answer(client, links[1].ja).get_json() == {"status": "ok"}
    assert ratings_of(runtime) == [(made.subscriber_id, 1, True, None)]
    clock.advance(minutes=2)
    response = answer(client, links[1].nee, "Te veel vaktermen.")
    assert response.status_code == 200 and "Bedankt!" in response.get_data(as_text=True)
    clock.advance(minutes=2)
    answer(client, links[2].ja)
    # Once per reader per lesson: the later "nee" replaced the "ja" of lesson 1.
    assert ratings_of(runtime) == [
        (made.subscriber_id, 1, False, "Te veel vaktermen."),
        (made.subscriber_id, 2, True, None),
    ]
    clock.advance(minutes=2)
    answer(client, links[1].nee)  # the page's script again, later: the comment stays
    assert ratings_of(runtime)[0] == (made.subscriber_id, 1, False, "Te veel vaktermen.")


def test_scanners_do_not_rate(client: Any, runtime: Runtime, clock: FrozenClock) -> None:
    made, links = reader(runtime, "bram@example.com", clock, days=1)
    # Sandboxes that run the page's script: a headless browser, or a known scanner.
    for agent in ("Mozilla/5.0 HeadlessChrome/131.0", "Mimecast/1.0", ""):
        assert answer(client, links[1].ja, user_agent=agent).get_json() == {"status": "ok"}
    # Seconds after the lesson was delivered: a link scanner, whatever it calls itself.
    with runtime.session() as session:
        sent_at = session.get(Delivery, made.delivery_ids[1]).sent_at
    clock.set(sent_at + timedelta(seconds=5))
    answer(client, links[1].ja)
    assert ratings_of(runtime) == []
    # "Ja" and "Nee" within a second: both links walked; neither answer counts.
    clock.set(sent_at + timedelta(hours=1))
    answer(client, links[1].ja)
    clock.advance(seconds=0.5)
    answer(client, links[1].nee)
    assert ratings_of(runtime) == []
    # A reader's answer later counts.
    clock.advance(minutes=3)
    answer(client, links[1].nee, user_agent=PHONE_UA)
    assert ratings_of(runtime) == [(made.subscriber_id, 1, False, None)]


def test_bad_links_and_long_comments_get_a_dutch_answer(
    client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    _made, links = reader(runtime, "cees@example.com", clock, days=1)
    token = links[1].ja.split("/")[2]
    for path in (
        f"/r/{token}x/ja",
        f"/r/{token}/misschien",
        f"/r/{runtime.tokens.make_open(1)}/ja",
    ):
        response = visit(client, path, BROWSER_UA)
        assert response.status_code == 400
        assert "Deze link werkt niet" in response.get_data(as_text=True)
        assert answer(client, path).status_code == 400
    proof = visit(client, "/r/voorbeeld/ja", BROWSER_UA)  # the links of `nurture send-test`
    assert proof.status_code == 200 and "Dit is een proefmail" in proof.get_data(as_text=True)
    too_long = "x" * (COMMENT_MAX_CHARS + 1)
    response = answer(client, links[1].ja, too_long)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f"maximaal {COMMENT_MAX_CHARS} tekens" in html and too_long in html  # text kept
    assert ratings_of(runtime) == []


def test_dashboard_shows_share_count_and_escaped_comments(
    app: Any, client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    readers = [reader(runtime, f"lezer{n}@example.com", clock) for n in range(3)]
    for n, (_made, links) in enumerate(readers):
        answer(client, links[1].ja if n < 2 else links[1].nee)
    answer(client, readers[2][1][2].nee, '<script>alert("x")</script>\nTweede regel & meer')
    store_all(app, runtime)
    page = client.get("/admin", headers=admin_headers()).get_data(as_text=True)
    assert row_cells(page, "feedback-day-1") == ["67%", "3"]
    assert row_cells(page, "feedback-day-2") == ["0%", "1"]
    assert row_cells(page, "feedback-day-3") == ["–", "0"]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert '<script>alert("x")' not in page
    assert "Dag 2 · nee, niet nuttig" in page
    assert "lezer2@example.com" not in page  # comments go without name or address


def test_forget_deletes_comments_and_keeps_the_anonymous_answer(
    client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    _made, links = reader(runtime, "dora@example.com", clock, days=1)
    answer(client, links[1].ja, "Mijn knie (Dora, 52) doet ook pijn.")
    export = CliRunner().invoke(
        cli, ["subscribers", "export", "dora@example.com"], obj={"runtime": runtime}
    )
    assert export.exit_code == 0, export.output
    exported = json.loads(export.output)["lesson_ratings"]
    assert json.loads(export.output)["bookings"] == []
    assert [(r["day"], r["useful"], r["comment"]) for r in exported] == [
        (1, True, "Mijn knie (Dora, 52) doet ook pijn.")
    ]
    result = CliRunner().invoke(
        cli, ["subscribers", "forget", "--yes", "dora@example.com"], obj={"runtime": runtime}
    )
    assert result.exit_code == 0, result.output
    assert ratings_of(runtime) == [(None, 1, True, None)]
    with runtime.session() as session:
        assert session.scalar(select(LessonRating.delivery_id)) is None
    # The old mail's links record nothing more for the forgotten person.
    clock.advance(minutes=5)
    answer(client, links[1].nee, "Nog iets")
    assert ratings_of(runtime) == [(None, 1, True, None)]


def test_retention_deletes_old_comments_and_keeps_the_answers(
    client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    made, links = reader(runtime, "eva@example.com", clock)
    answer(client, links[1].ja, "Duidelijk uitgelegd.")
    clock.advance(days=200)
    answer(client, links[2].nee, "Te lang.")
    clock.advance(days=200)  # 400 days after the first comment, 200 after the second
    report = apply_retention(runtime)
    assert report.comments_deleted == 1
    assert ratings_of(runtime) == [
        (made.subscriber_id, 1, True, None),
        (made.subscriber_id, 2, False, "Te lang."),
    ]


def test_a_scanner_walking_the_mail_takes_back_its_scripted_answer(
    app: Any, client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    made, links = reader(runtime, "fien@example.com", clock, days=1)
    sandbox = BROWSER_UA + " Sandbox"
    # A sandbox opens the call to action and the "ja" page within a second and runs the
    # page's script, which posts at once: before the hits are stored, the answer counts...
    visit(client, links[1].cta, sandbox)
    clock.advance(seconds=0.3)
    visit(client, links[1].ja, sandbox)
    answer(client, links[1].ja, user_agent=sandbox)
    assert ratings_of(runtime) == [(made.subscriber_id, 1, True, None)]
    # ...until the visits are stored and judged together: a scanner, so the answer goes.
    store_all(app, runtime)
    assert ratings_of(runtime) == []
    # Its script posting again later changes nothing; the reader, on their phone, counts.
    clock.advance(seconds=20)
    answer(client, links[1].ja, user_agent=sandbox)
    assert ratings_of(runtime) == []
    clock.advance(minutes=5)
    visit(client, links[1].nee, PHONE_UA, "198.51.100.3")
    answer(client, links[1].nee, user_agent=PHONE_UA)
    store_all(app, runtime)
    assert ratings_of(runtime) == [(made.subscriber_id, 1, False, None)]
