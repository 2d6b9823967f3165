"""Two editors at once in the studio: a page that is out of date cannot overwrite someone
else's change to the course settings or the lesson list, nor throw their edit away with the
draft. The refusal (409) says so in Dutch, shows the course as it is now and keeps what the
editor typed on the page; on both databases, one after the other and truly at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from accounts_support import BROWSER, EDITOR_EMAIL, EDITOR_PASSWORD, OWNER_EMAIL, OWNER_PASSWORD
from courses_support import SLUG, publish_real_details
from studio_support import (
    form_values,
    logged_in,
    make_accounts,
    post_form,
    save_lesson,
    seen_in,
)

from course.drafts import get_draft
from runtime import Runtime

COURSE = f"/admin/courses/{SLUG}"
SETTINGS = f"{COURSE}/settings"
SETTINGS_CONFLICT = "Iemand anders heeft de instellingen intussen gewijzigd"
LIST_CONFLICT = "Iemand anders heeft de lessenlijst intussen gewijzigd"


@pytest.fixture
def two(app: Any, runtime: Runtime) -> tuple[Any, Any]:
    """The owner and the editor, each logged in in a browser of their own."""
    publish_real_details(runtime)
    make_accounts(runtime)
    return (
        logged_in(app, runtime, OWNER_EMAIL, OWNER_PASSWORD),
        logged_in(app, runtime, EDITOR_EMAIL, EDITOR_PASSWORD),
    )


def _page(client: Any, path: str) -> str:
    return str(client.get(path, headers=BROWSER).get_data(as_text=True))


def _draft(runtime: Runtime) -> dict[str, Any]:
    with runtime.session() as session:
        draft = get_draft(session, SLUG)
        assert draft is not None
        return dict(draft.content)


def test_a_stale_settings_page_is_refused_and_keeps_the_editors_text(
    two: tuple[Any, Any], runtime: Runtime
) -> None:
    owner, editor = two
    owners_form = form_values(_page(owner, SETTINGS), "settings-form")
    editors_form = form_values(_page(editor, SETTINGS), "settings-form")
    assert owners_form["seen"] == editors_form["seen"]

    saved = post_form(editor, SETTINGS, SETTINGS, editors_form | {"title": "Titel van Eva"})
    assert saved.status_code == 302
    mine = {"title": "Titel van de eigenaar", "cta.text": "Bel ons gerust,\nook 's avonds."}
    stale = post_form(owner, SETTINGS, SETTINGS, owners_form | mine)
    page = stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert SETTINGS_CONFLICT in page and 'role="alert"' in page
    assert _draft(runtime)["settings"]["title"] == "Titel van Eva"  # nothing overwritten
    assert _draft(runtime)["settings"]["cta"]["text"] != mine["cta.text"]
    # The form shows the settings as they are now; the owner's text stays beside it.
    now = form_values(page, "settings-form")
    assert now["title"] == "Titel van Eva" and now["seen"] != owners_form["seen"]
    kept = page.split('id="mine-title"', 1)[1].split("</div>", 1)[0]
    assert "Titel van de eigenaar" in kept
    assert "Bel ons gerust,\nook &#39;s avonds." in page.split('id="mine-cta-text"', 1)[1]
    assert 'id="mine-clinic-name"' not in page  # only what differs from now

    # Taking over what they want and saving again, from the page as it is now, works.
    again = post_form(owner, SETTINGS, SETTINGS, now | mine)
    assert again.status_code == 302
    assert _draft(runtime)["settings"]["cta"]["text"] == mine["cta.text"]
    # The editor's page is now the stale one.
    late = post_form(editor, SETTINGS, SETTINGS, editors_form | {"title": "Nog eens"})
    assert late.status_code == 409
    assert _draft(runtime)["settings"]["title"] == "Titel van de eigenaar"


def test_a_stale_lesson_list_moves_removes_and_adds_nothing(
    two: tuple[Any, Any], runtime: Runtime
) -> None:
    owner, editor = two
    subjects = [lesson.subject for lesson in runtime.courses.get(SLUG).lessons]
    stale_seen = seen_in(_page(owner, COURSE), "add-lesson")
    moved = post_form(
        editor,
        COURSE,
        f"{COURSE}/lessons/2/move",
        {"direction": "up"} | {"seen": seen_in(_page(editor, COURSE), "add-lesson")},
    )
    assert moved.status_code == 302
    order = [subjects[1], subjects[0], *subjects[2:]]

    # The owner meant the lesson the page showed as day 2, which is day 1 now.
    removed = post_form(owner, COURSE, f"{COURSE}/lessons/2/remove", {"seen": stale_seen})
    page = removed.get_data(as_text=True)
    assert removed.status_code == 409
    assert LIST_CONFLICT in page and "(dag 2 verwijderen)" in page
    assert [lesson["subject"] for lesson in _draft(runtime)["lessons"]] == order
    assert page.index(subjects[1]) < page.index(subjects[0])  # the list as it is now

    added = post_form(owner, COURSE, f"{COURSE}/lessons", {"subject": "Slapen", "seen": stale_seen})
    page = added.get_data(as_text=True)
    assert added.status_code == 409 and "(les &#39;Slapen&#39; toevoegen)" in page
    assert 'id="new-subject" name="subject" maxlength="200" value="Slapen"' in page
    assert len(_draft(runtime)["lessons"]) == len(subjects)
    again = post_form(
        owner,
        COURSE,
        f"{COURSE}/lessons",
        {"subject": "Slapen"} | {"seen": seen_in(page, "add-lesson")},
    )
    assert again.status_code == 302
    assert [lesson["subject"] for lesson in _draft(runtime)["lessons"]] == [*order, "Slapen"]


def test_a_stale_page_cannot_throw_away_someone_elses_edit(
    two: tuple[Any, Any], runtime: Runtime
) -> None:
    owner, editor = two
    save_lesson(editor, 3, subject="Eerste opzet")
    stale_seen = seen_in(_page(owner, COURSE), "discard-form")
    save_lesson(editor, 3, subject="Van de redacteur")
    refused = post_form(owner, COURSE, f"{COURSE}/discard", {"seen": stale_seen})
    assert refused.status_code == 409
    assert "het concept intussen gewijzigd" in refused.get_data(as_text=True)
    assert _draft(runtime)["lessons"][2]["subject"] == "Van de redacteur"
    fresh = seen_in(refused.get_data(as_text=True), "discard-form")
    assert post_form(owner, COURSE, f"{COURSE}/discard", {"seen": fresh}).status_code == 302
    with runtime.session() as session:
        assert get_draft(session, SLUG) is None


def _at_once(*saves: Any) -> list[int]:
    """Run SAVES in threads released together; return their status codes."""
    start, codes = threading.Barrier(len(saves)), [0] * len(saves)

    def run(index: int) -> None:
        start.wait()
        codes[index] = saves[index]().status_code

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(saves))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sorted(codes)


def test_two_saves_of_one_page_at_once_one_wins_the_other_is_told(
    two: tuple[Any, Any], runtime: Runtime
) -> None:
    owner, editor = two
    forms = [form_values(_page(client, SETTINGS), "settings-form") for client in two]
    titles = ["Titel van de eigenaar", "Titel van Eva"]
    codes = _at_once(
        *[
            lambda client=client, form=form, title=title: post_form(
                client, SETTINGS, SETTINGS, form | {"title": title}
            )
            for client, form, title in zip(two, forms, titles, strict=True)
        ]
    )
    assert codes == [302, 409]
    assert _draft(runtime)["settings"]["title"] in titles

    seen = seen_in(_page(owner, COURSE), "add-lesson")
    codes = _at_once(
        *[
            lambda client=client: post_form(
                client, COURSE, f"{COURSE}/lessons/1/move", {"direction": "down", "seen": seen}
            )
            for client in (owner, editor)
        ]
    )
    assert codes == [302, 409]  # moved once, not twice
    subjects = [lesson.subject for lesson in runtime.courses.get(SLUG).lessons]
    assert [lesson["subject"] for lesson in _draft(runtime)["lessons"]][:3] == [
        subjects[1],
        subjects[0],
        subjects[2],
    ]
