"""Courses in the database: import and export, drafts, publish refusals, history, diff, audit."""

from __future__ import annotations

import pytest
from courses_support import (
    AUTHOR,
    REAL_DETAILS,
    SLUG,
    edit_lesson,
    import_shipped,
    publish_real_details,
)
from sqlalchemy import select

from course.content import content_files, content_hash, read_folder
from course.drafts import (
    add_lesson,
    move_lesson,
    open_draft,
    remove_lesson,
    update_lesson,
    update_settings,
)
from course.loader import CONTENT_DIR, CourseError
from store.models import AdminAuditEntry, CourseVersion
from subscribers.studio import PublishRefused, check_draft, diff, publish, revert, versions


def test_db_upgrade_imports_the_shipped_course_once_and_export_import_round_trips(
    runner, runtime, tmp_path
):
    assert runtime.courses.live_hash(SLUG) is None  # the migrated test database has none
    result = runner("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "imported from its folder as version 1" in result.output
    shipped = content_hash(read_folder(CONTENT_DIR / SLUG))
    assert runtime.courses.live_hash(SLUG) == shipped
    assert "imported" not in runner("db", "upgrade").output  # the database has a course now

    out = tmp_path / "export"
    result = runner("course", "export", SLUG, str(out))
    assert result.exit_code == 0, result.output
    assert content_hash(read_folder(out)) == shipped
    assert sorted(p.name for p in out.glob("*.md")) == sorted(
        p.name for p in (CONTENT_DIR / SLUG).glob("*.md")
    )
    result = runner("course", "import", str(out), "--slug", SLUG)
    assert result.exit_code == 0 and "already live with this content" in result.output
    # The exported folder is a course folder like any other: `course check` reads it.
    result = runner("course", "check", str(out))
    assert result.exit_code == 0 and "OK: geen problemen in" in result.output
    assert [v.number for v in versions(runtime, SLUG)] == [1]


def test_import_of_a_changed_folder_is_a_draft_and_the_cli_publishes_it(runner, runtime, tmp_path):
    import_shipped(runtime)
    out = tmp_path / "course"
    runner("course", "export", SLUG, str(out))
    toml = (out / "course.toml").read_text(encoding="utf-8")
    toml = toml.replace(
        "Voorbeeldstraat 1, 1234 AB Voorbeeldstad", REAL_DETAILS["clinic.postal_address"]
    )
    (out / "course.toml").write_text(toml.replace("umoya.example", "praktijk.nl"), encoding="utf-8")
    result = runner("course", "import", str(out), "--slug", SLUG)
    assert "imported as the draft" in result.output
    assert runtime.courses.get(SLUG).postal_address.startswith("Voorbeeldstraat")  # not yet

    result = runner("course", "publish", SLUG, "--note", "echte adresgegevens")
    assert result.exit_code == 0, result.output
    assert "version 2" in result.output
    assert runtime.courses.get(SLUG).postal_address == REAL_DETAILS["clinic.postal_address"]
    listing = runner("course", "versions", SLUG).output.splitlines()
    assert listing[0].startswith("*   2") and "echte adresgegevens" in listing[0]
    assert runner("course", "diff", SLUG, "1", "2").output.count("+postal_address") == 1


def test_placeholders_block_publishing_with_a_dutch_message(runtime):
    import_shipped(runtime)
    edit_lesson(runtime, 2, subject="Kracht, techniek en herstel")
    with pytest.raises(PublishRefused) as refused:
        publish(runtime, SLUG, author=AUTHOR)
    problems = refused.value.problems
    assert all("voorbeeldinhoud" in problem for problem in problems), problems
    assert {problem.split(":")[0] for problem in problems} == {f"{SLUG}/course.toml"}
    assert len(versions(runtime, SLUG)) == 1
    with runtime.session() as session:
        update_settings(session, SLUG, REAL_DETAILS, author=AUTHOR, now=runtime.now())
    assert check_draft(runtime, SLUG) == []
    assert publish(runtime, SLUG, author=AUTHOR).version.number == 2


def test_a_lesson_link_to_the_example_domain_blocks_too(runtime):
    publish_real_details(runtime)
    edit_lesson(runtime, 3, body="Lees meer op [onze site](https://umoya.example/rug).")
    problems = check_draft(runtime, SLUG)
    assert problems == [
        f"{SLUG}/03-doortrainen-met-pijn.md:8: voorbeeldinhoud (het voorbeeldadres of een "
        "link naar umoya.example); vul de echte gegevens van de praktijk in"
    ]


def test_check_errors_block_publishing(runtime):
    publish_real_details(runtime)
    edit_lesson(runtime, 3, body="Zie [dit](http://praktijk.nl/oud) voor meer.")
    with pytest.raises(PublishRefused) as refused:
        publish(runtime, SLUG, author=AUTHOR)
    assert any("https://" in problem for problem in refused.value.problems)
    assert runtime.courses.get(SLUG).lesson(3).body.startswith("##")  # still the old lesson


def test_consent_text_change_needs_a_raised_version(runtime):
    publish_real_details(runtime)
    new_text = "Ik wil de cursus ontvangen en mag altijd afmelden."
    with runtime.session() as session:
        update_settings(session, SLUG, {"consent.text": new_text}, author=AUTHOR, now=runtime.now())
    with pytest.raises(PublishRefused) as refused:
        publish(runtime, SLUG, author=AUTHOR)
    with runtime.session() as session:
        toml = content_files(open_draft(session, SLUG, author=AUTHOR, now=runtime.now()).content)
    lines = toml["course.toml"].splitlines()
    line = lines.index('version = "1"', lines.index("[consent]")) + 1  # the field to change
    assert refused.value.problems == [
        f'{SLUG}/course.toml:{line}: de toestemmingstekst is gewijzigd, maar de versie ("1") '
        "niet; verhoog [consent] version, want die versie hoort al bij een andere tekst"
    ]
    with runtime.session() as session:
        update_settings(session, SLUG, {"consent.version": "2"}, author=AUTHOR, now=runtime.now())
    published = publish(runtime, SLUG, author=AUTHOR)
    assert runtime.courses.get(SLUG).consent_version == "2"
    # Reverting to version 2 brings back text 1 under version 1: that pair is consistent.
    reverted = revert(runtime, SLUG, 2, author=AUTHOR)
    assert reverted.version.number == published.version.number + 1
    assert runtime.courses.get(SLUG).consent_version == "1"


def test_publish_and_revert_are_audited_with_the_author(runtime):
    first = publish_real_details(runtime)
    edit_lesson(runtime, 1, subject="Nieuw onderwerp voor dag 1")
    second = publish(runtime, SLUG, author="marie@studio")
    back = revert(runtime, SLUG, first.version.number, author="joost@studio")
    assert back.version.content_hash == first.version.content_hash
    assert runtime.courses.get(SLUG).lesson(1).subject != "Nieuw onderwerp voor dag 1"
    with runtime.session() as session:
        entries = session.scalars(select(AdminAuditEntry).order_by(AdminAuditEntry.id)).all()
        numbers = session.scalars(select(CourseVersion.number).order_by(CourseVersion.id)).all()
    assert [(e.action, e.actor, e.target) for e in entries] == [
        ("course.import", AUTHOR, SLUG),
        ("course.publish", AUTHOR, SLUG),
        ("course.publish", "marie@studio", SLUG),
        ("course.revert", "joost@studio", SLUG),
    ]
    assert entries[-1].detail.startswith(f"versie {back.version.number} ")
    assert numbers == [1, 2, second.version.number, back.version.number] == [1, 2, 3, 4]
    with pytest.raises(PublishRefused, match="al live"):
        revert(runtime, SLUG, 2, author=AUTHOR)


def test_diff_between_versions_is_readable(runtime):
    publish_real_details(runtime)
    with runtime.session() as session:
        open_draft(session, SLUG, author=AUTHOR, now=runtime.now())
        remove_lesson(session, SLUG, 5, author=AUTHOR, now=runtime.now())
    changes = {change.name: change for change in diff(runtime, SLUG, "live", "concept")}
    assert changes["05-beoordeling.md"].status == "removed"
    changes = {change.name: change for change in diff(runtime, SLUG, "1", "2")}
    assert list(changes) == ["course.toml"]
    assert '+postal_address = "Kerkstraat 12, 1017 GB Amsterdam"' in changes["course.toml"].lines


def test_adding_and_moving_lessons_renumbers_days_and_file_names(runtime):
    import_shipped(runtime)
    now = runtime.now()
    with runtime.session() as session:
        open_draft(session, SLUG, author=AUTHOR, now=now)
        add_lesson(session, SLUG, author=AUTHOR, now=now, subject="Tussendoor", body="Kort.", day=2)
        draft = move_lesson(session, SLUG, 2, 6, author=AUTHOR, now=now)
        lessons = [(lesson["day"], lesson["name"]) for lesson in draft.content["lessons"]]
    assert lessons == [
        (1, "01-factoren"),
        (2, "02-kracht-en-prestaties"),
        (3, "03-doortrainen-met-pijn"),
        (4, "04-wat-helpt"),
        (5, "05-beoordeling"),
        (6, "06-nieuw"),
    ]
    with runtime.session() as session, pytest.raises(CourseError, match="geen dag 9"):
        update_lesson(session, SLUG, 9, author=AUTHOR, now=now, subject="x")


def test_a_course_only_in_the_database_passes_the_start_check(runtime):
    from cli.common import course_problems
    from subscribers.studio import import_course

    import_course(runtime, CONTENT_DIR / SLUG, author=AUTHOR, slug="eigen-cursus")
    assert not (CONTENT_DIR / "eigen-cursus").exists()
    assert course_problems(runtime, "eigen-cursus") == []
    assert runtime.courses.get("eigen-cursus").days == 5
    assert "eigen-cursus" in runtime.courses.slugs()
    # The same content under two names: one hash, two courses, each with its own slug.
    import_shipped(runtime)
    assert runtime.courses.live_hash(SLUG) == runtime.courses.live_hash("eigen-cursus")
    assert (runtime.courses.get(SLUG).slug, runtime.courses.get("eigen-cursus").slug) == (
        SLUG,
        "eigen-cursus",
    )
