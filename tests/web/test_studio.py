"""The studio at /admin/courses: list, lesson editor with live check and preview, test mails,
settings, rights, CSRF, publish with the removed-day choice, diff and revert (both databases)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from accounts_support import (
    BROWSER,
    EDITOR_EMAIL,
    EDITOR_PASSWORD,
    OWNER_EMAIL,
    OWNER_PASSWORD,
)
from courses_support import SLUG, publish_real_details
from lessons import enroll, enrollment_of
from sqlalchemy import func, select, update
from studio_support import JSON, LESSON_3, logged_in, make_accounts, post_form, save_lesson

from course.drafts import get_draft
from runtime import Runtime
from store.models import AdminAuditEntry, Enrollment, Subscriber
from subscribers.audit import COURSE_PUBLISH, COURSE_REVERT

COURSE = f"/admin/courses/{SLUG}"
VERSIONS = f"{COURSE}/versions"


@pytest.fixture
def owner(app: Any, runtime: Runtime) -> Any:
    publish_real_details(runtime)
    make_accounts(runtime)
    return logged_in(app, runtime, OWNER_EMAIL, OWNER_PASSWORD)


@pytest.fixture
def editor(app: Any, runtime: Runtime, owner: Any) -> Any:
    return logged_in(app, runtime, EDITOR_EMAIL, EDITOR_PASSWORD)


def audit_actions(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.session() as session:
        rows = session.scalars(select(AdminAuditEntry).order_by(AdminAuditEntry.id)).all()
        return [(row.action, row.actor) for row in rows]


def test_the_list_shows_status_subscribers_and_the_live_version(owner: Any, runtime: Runtime):
    enroll(runtime, 2, runtime.now())
    page = owner.get("/admin/courses", headers=BROWSER).get_data(as_text=True)
    row = page.split(f'id="course-{SLUG}"')[1].split("</tr>")[0]
    assert "Rugpijn en training" in row and ">live<" in row
    assert "<td>2</td>" in row and "versie 2" in row
    save_lesson(owner, 3, subject="Anders")
    page = owner.get("/admin/courses", headers=BROWSER).get_data(as_text=True)
    assert "live, met concept" in page


def test_typing_saves_the_draft_checks_it_and_the_preview_follows(owner: Any, runtime: Runtime):
    live_subject = runtime.courses.get(SLUG).lesson(3).subject
    assert live_subject in owner.get(f"{LESSON_3}/preview").get_data(as_text=True)
    answer = save_lesson(owner, 3, subject="Doortrainen: het nieuwe onderwerp")
    assert answer.status_code == 200 and answer.get_json()["problems"] == []
    preview = owner.get(f"{LESSON_3}/preview")
    assert "Doortrainen: het nieuwe onderwerp" in preview.get_data(as_text=True)
    assert "sandbox" in preview.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in preview.headers["Content-Security-Policy"]
    # Live is unchanged until it is published.
    assert runtime.courses.get(SLUG).lesson(3).subject == live_subject

    body = runtime.courses.get(SLUG).lesson(3).body + "\nLees meer op http://praktijk.nl/meer.\n"
    result = save_lesson(owner, 3, body=body).get_json()
    assert any("http://praktijk.nl/meer" in line for line in result["by_field"]["body"])
    assert "Lees meer op http://praktijk.nl/meer." in result["text"]
    page = owner.get(VERSIONS, headers=BROWSER).get_data(as_text=True)
    assert 'id="publish-button" disabled' in page
    refused = post_form(owner, VERSIONS, f"{COURSE}/publish", {})
    assert refused.status_code == 409 and "https://" in refused.get_data(as_text=True)
    assert runtime.courses.get(SLUG).lesson(3).subject == live_subject


def test_an_empty_subject_is_shown_next_to_its_field(owner: Any):
    result = save_lesson(owner, 3, subject="").get_json()
    assert result["by_field"]["subject"] == [
        "in de kop van de les ontbreekt het onderwerp (subject); vul het in"
    ]
    assert "body" not in result["by_field"] and result["course_wide"] == []


def test_a_subject_over_70_is_shown_next_to_its_field(owner: Any):
    result = save_lesson(owner, 3, subject="x" * 71).get_json()
    assert result["by_field"]["subject"] == ["het onderwerp is 71 tekens; houd het op 70 of minder"]
    page = owner.get(LESSON_3, headers=BROWSER).get_data(as_text=True)
    field = page.split('id="problems-subject"')[1].split("</ul>")[0]
    assert "71 tekens" in field


def test_publish_is_audited_with_the_account_and_revert_publishes_an_old_version(
    owner: Any, runtime: Runtime
):
    save_lesson(owner, 3, subject="Versie drie")
    published = post_form(owner, VERSIONS, f"{COURSE}/publish", {"note": "dag 3"})
    assert published.status_code == 302
    assert runtime.courses.get(SLUG).lesson(3).subject == "Versie drie"
    page = owner.get(VERSIONS, headers=BROWSER).get_data(as_text=True)
    assert "Versie 3 is gepubliceerd" in page and OWNER_EMAIL in page
    diff = owner.get(f"{VERSIONS}?old=2&new=3", headers=BROWSER).get_data(as_text=True)
    assert (
        '<span class="add"><span class="visually-hidden">toegevoegd: </span>+subject: Versie drie'
        in diff
    )

    reverted = post_form(owner, VERSIONS, f"{COURSE}/revert/2", {})
    assert reverted.status_code == 302
    assert runtime.courses.get(SLUG).lesson(3).subject != "Versie drie"
    assert "opnieuw gepubliceerd als versie 4" in owner.get(VERSIONS, headers=BROWSER).get_data(
        as_text=True
    )
    actions = audit_actions(runtime)
    assert (COURSE_PUBLISH, f"account:{OWNER_EMAIL}") in actions or any(
        action == COURSE_PUBLISH and OWNER_EMAIL in actor for action, actor in actions
    )
    assert any(action == COURSE_REVERT and OWNER_EMAIL in actor for action, actor in actions)


def test_an_editor_writes_drafts_and_sends_tests_but_cannot_publish(editor: Any, runtime: Runtime):
    assert save_lesson(editor, 3, subject="Van de redacteur").get_json()["saved"]
    page = editor.get(VERSIONS, headers=BROWSER).get_data(as_text=True)
    assert 'id="publish-form"' not in page and "Publiceren doet een eigenaar" in page
    refused = post_form(editor, VERSIONS, f"{COURSE}/publish", {})
    assert refused.status_code == 403 and "eigenaar" in refused.get_data(as_text=True)
    assert post_form(editor, VERSIONS, f"{COURSE}/revert/1", {}).status_code == 403
    assert runtime.courses.get(SLUG).lesson(3).subject != "Van de redacteur"
    assert not any(
        action == COURSE_PUBLISH and EDITOR_EMAIL in actor
        for action, actor in audit_actions(runtime)
    )


def test_studio_forms_need_their_csrf_token(owner: Any, runtime: Runtime):
    for path, data in (
        (LESSON_3, {"subject": "Zonder token"}),
        (f"{COURSE}/settings", {"title": "Zonder token"}),
        (f"{COURSE}/publish", {}),
        (f"{COURSE}/revert/1", {}),
        (f"{LESSON_3}/test", {"address": "proef@praktijk.nl"}),
        ("/admin/courses/new", {"article": "Tekst.", "action": "suggest"}),
    ):
        assert owner.post(path, data=data, headers=BROWSER).status_code == 400, path
    with runtime.session() as session:
        assert get_draft(session, SLUG) is None


def test_a_changed_consent_text_needs_a_raised_version(owner: Any, runtime: Runtime):
    page = f"{COURSE}/settings"
    form = owner.get(page, headers=BROWSER).get_data(as_text=True)
    assert 'name="consent.text"' in form and 'name="cadence.skip_weekends"' in form
    settings = runtime.courses.get(SLUG)
    values = {
        "title": settings.title,
        "sender_name": "Praktijk",
        "clinic.name": "Praktijk",
        "clinic.postal_address": "Kerkstraat 12, 1017 GB Amsterdam",
        "clinic.website": "https://praktijk.nl",
        "cta.label": "Plan",
        "cta.url": "https://praktijk.nl/afspraak",
        "cta.text": "Kom langs.",
        "confirmation.subject": "Bevestig",
        "confirmation.preheader": "Een klik",
        "confirmation.intro": "Bevestig je aanmelding.",
        "confirmation.button": "Ja",
        "confirmation.outro": "Niet zelf? Negeer dit.",
        "consent.text": "Een nieuwe toestemmingstekst.",
        "consent.version": "1",
        "cadence.send_time": "08:15",
        "cadence.timezone": "Europe/Amsterdam",
        "cadence.skip_weekends": "on",
    }
    assert post_form(owner, page, page, values).status_code == 302
    refused = post_form(owner, VERSIONS, f"{COURSE}/publish", {})
    assert refused.status_code == 409
    assert "verhoog [consent] version" in refused.get_data(as_text=True)
    post_form(owner, page, page, values | {"consent.version": "2"})
    assert post_form(owner, VERSIONS, f"{COURSE}/publish", {}).status_code == 302
    live = runtime.courses.get(SLUG)
    assert (live.send_time, live.skip_weekends, live.consent_version) == ("08:15", True, "2")


def test_removing_a_waited_for_day_asks_what_happens_to_those_people(owner: Any, runtime: Runtime):
    [waiting] = enroll(runtime, 1, runtime.now())
    with runtime.session() as session:
        at_three = update(Enrollment).where(Enrollment.subscriber_id == waiting)
        session.execute(at_three.values(next_day=3))
    removed = post_form(owner, COURSE, f"{COURSE}/lessons/3/remove", {})
    assert "Dag 3 is uit het concept gehaald" in owner.get(removed.location).get_data(True)
    save_lesson(owner, 4, teaser="")  # the check: the last day (now 4) announces nothing
    refused = post_form(owner, VERSIONS, f"{COURSE}/publish", {})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409 and 'id="choice-form"' in page
    assert "1 inschrijving(en) wachten" in page
    chosen = post_form(owner, VERSIONS, f"{COURSE}/publish", {"choice": "old"})
    assert chosen.status_code == 302 and runtime.courses.get(SLUG).days == 4
    assert enrollment_of(runtime, waiting).course_version is not None  # finishes on the old one


def test_add_move_and_discard_in_the_lesson_list(owner: Any, runtime: Runtime):
    subjects = [lesson.subject for lesson in runtime.courses.get(SLUG).lessons]
    post_form(owner, COURSE, f"{COURSE}/lessons", {"subject": "Een zesde les"})
    post_form(owner, COURSE, f"{COURSE}/lessons/2/move", {"direction": "up"})
    with runtime.session() as session:
        draft = get_draft(session, SLUG)
        assert draft is not None
        order = [lesson["subject"] for lesson in draft.content["lessons"]]
    assert order == [subjects[1], subjects[0], *subjects[2:], "Een zesde les"]
    page = owner.get(COURSE, headers=BROWSER).get_data(as_text=True)
    assert 'id="lesson-6"' in page and 'id="discard-form"' in page
    post_form(owner, COURSE, f"{COURSE}/discard", {})
    with runtime.session() as session:
        assert get_draft(session, SLUG) is None
    moved_off = post_form(owner, COURSE, f"{COURSE}/lessons/5/move", {"direction": "down"})
    assert "dag 6 bestaat niet" in owner.get(moved_off.location).get_data(True)


def test_send_a_test_goes_through_the_mail_backend_marked_as_a_test(
    owner: Any, runtime: Runtime, fake_sendgrid: Any
):
    save_lesson(owner, 3, subject="Proef van dag drie")
    with runtime.session() as session:
        before = session.scalar(select(func.count()).select_from(Subscriber))
    sent = post_form(owner, LESSON_3, f"{LESSON_3}/test", {"address": "proef@praktijk.nl"})
    assert sent.status_code == 302
    [request] = fake_sendgrid.accepted
    [message] = request.messages
    assert message["subject"] == "[Proef] Proef van dag drie"
    assert message["to"] == "proef@praktijk.nl"
    assert message["custom_args"]["kind"] == "test"
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == before
    wrong = post_form(owner, LESSON_3, f"{LESSON_3}/test", {"address": "geen adres"})
    assert "geldig e-mailadres" in owner.get(wrong.location, headers=BROWSER).get_data(True)
    assert len(fake_sendgrid.accepted) == 1


def test_an_unknown_course_or_day_is_404(owner: Any, runtime: Runtime):
    assert owner.get("/admin/courses/bestaat-niet", headers=BROWSER).status_code == 404
    assert owner.get(f"{COURSE}/lessons/9", headers=BROWSER).status_code == 404
    assert owner.get(f"{COURSE}/lessons/9/preview").status_code == 404
    saved = post_form(owner, LESSON_3, f"{COURSE}/lessons/9", {"subject": "x"}, **JSON)
    assert saved.status_code == 400 and "geen dag 9" in saved.get_json()["error"]
    with runtime.session() as session:
        assert get_draft(session, SLUG) is None  # nothing half-saved


def test_an_emptied_setting_blocks_publishing_in_dutch(owner: Any) -> None:
    page = f"{COURSE}/settings"
    form = {"title": "Rugpijn", "clinic.postal_address": "  ", "cadence.send_time": "07:30"}
    assert post_form(owner, page, page, form).status_code == 302
    shown = owner.get(page, headers=BROWSER).get_data(as_text=True)
    assert "het postadres van de praktijk (verplicht onderaan elke mail) is leeg" in shown
    refused = post_form(owner, VERSIONS, f"{COURSE}/publish", {})
    assert refused.status_code == 409 and "is leeg; vul het in" in refused.get_data(as_text=True)


def test_a_stale_page_does_not_overwrite_someone_elses_edit(
    editor: Any, app: Any, runtime: Runtime
):
    owner = logged_in(app, runtime, OWNER_EMAIL, OWNER_PASSWORD)
    page = owner.get(LESSON_3, headers=BROWSER).get_data(as_text=True)
    seen = re.search(r'name="seen" id="seen" value="([0-9a-f]+)"', page)
    assert seen
    mine = save_lesson(editor, 3, subject="Van de redacteur").get_json()
    stale = post_form(
        owner, LESSON_3, LESSON_3, {"subject": "Van de eigenaar", "seen": seen[1]}, **JSON
    )
    assert stale.status_code == 409
    assert "Iemand anders heeft deze les intussen gewijzigd" in stale.get_json()["error"]
    with runtime.session() as session:
        draft = get_draft(session, SLUG)
        assert draft is not None
        assert draft.content["lessons"][2]["subject"] == "Van de redacteur"
    fresh = {"subject": "Van de redacteur, verder", "seen": mine["seen"]}
    assert post_form(editor, LESSON_3, LESSON_3, fresh, **JSON).get_json()["saved"]
