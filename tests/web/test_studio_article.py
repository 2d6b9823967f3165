"""A new course from an article in the studio: suggest an outline, split with a coverage
report, and save the draft course; the shipped article and outline give the shipped lessons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from accounts_support import BROWSER, OWNER_EMAIL, OWNER_PASSWORD
from courses_support import SLUG, publish_real_details
from studio_support import logged_in, make_accounts, post_form

from course.content import read_folder
from course.coverage import coverage
from course.drafts import get_draft
from course.loader import CONTENT_DIR
from runtime import Runtime

NEW = "/admin/courses/new"
SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / f"artikel-{SLUG}.txt"
SHORT = (
    "Rugpijn\n\nDit is de eerste zin. Dit is de tweede.\n\nTraining\n\nHier gaat het om kracht.\n"
)


@pytest.fixture
def owner(app: Any, runtime: Runtime) -> Any:
    publish_real_details(runtime)
    make_accounts(runtime)
    return logged_in(app, runtime, OWNER_EMAIL, OWNER_PASSWORD)


def form(article: str, outline: str = "", action: str = "split", **extra: str) -> dict[str, str]:
    return {"article": article, "outline": outline, "action": action, "format": "text"} | extra


def test_the_shipped_article_becomes_the_shipped_course_as_a_draft(
    owner: Any, runtime: Runtime
) -> None:
    article = SEED.read_text(encoding="utf-8")
    outline = (CONTENT_DIR / SLUG / "outline.toml").read_text(encoding="utf-8")
    data = form(article, outline, slug="rug-twee", title="Rug twee")
    shown = post_form(owner, NEW, NEW, data)
    page = shown.get_data(as_text=True)
    assert shown.status_code == 200, page
    assert "staan in precies één les; er is niets bijgekomen" in page
    saved = post_form(owner, NEW, NEW, data | {"action": "save"})
    assert saved.status_code == 302 and saved.location.endswith("/admin/courses/rug-twee")
    shipped = read_folder(CONTENT_DIR / SLUG)
    with runtime.session() as session:
        draft = get_draft(session, "rug-twee")
        assert draft is not None
        assert draft.content["lessons"] == shipped["lessons"]
        assert draft.content["settings"]["title"] == "Rug twee"
    listing = owner.get("/admin/courses", headers=BROWSER).get_data(as_text=True)
    assert 'id="course-rug-twee"' in listing and "concept" in listing
    again = post_form(owner, NEW, NEW, data | {"action": "save"})
    assert again.status_code == 409 and "er is al een cursus rug-twee" in again.get_data(True)


def test_mark_the_days_in_the_page_then_split_and_save(owner: Any, runtime: Runtime) -> None:
    suggested = post_form(owner, NEW, NEW, form(SHORT, action="suggest")).get_data(as_text=True)
    assert 'name="mark-heading-0" value="Rugpijn"' in suggested
    assert 'name="mark-heading-1" value="Training"' in suggested
    assert 'id="subject-2" name="subject-2" value="Training"' in suggested
    marks = {"mark-heading-0": "Rugpijn", "mark-day-0": "1"}
    marks |= {"mark-heading-1": "Training", "mark-day-1": "2"}
    days = {"subject-1": "Dag een", "preheader-1": "Eerst", "teaser-1": "Morgen: training"}
    days |= {"subject-2": "Dag twee", "preheader-2": "Dan"}
    page = post_form(owner, NEW, NEW, form(SHORT, slug="kort") | marks | days)
    text = page.get_data(as_text=True)
    assert "Alle 5 zinnen van het artikel staan in precies één les" in text
    assert "[[section]]\nheading = &#34;Training&#34;\nday = 2" in text  # the outline it made
    # A 0: "Training" is no heading; its text stays with day 1.
    one_day = post_form(
        owner, NEW, NEW, form(SHORT, slug="kort") | marks | days | {"mark-day-1": "0"}
    )
    assert 'id="day-2"' not in one_day.get_data(as_text=True)
    saved = post_form(owner, NEW, NEW, form(SHORT, slug="kort", action="save") | marks | days)
    assert saved.status_code == 302
    with runtime.session() as session:
        draft = get_draft(session, "kort")
        assert draft is not None
        lessons = draft.content["lessons"]
    assert [(each["day"], each["subject"]) for each in lessons] == [(1, "Dag een"), (2, "Dag twee")]
    assert lessons[1]["body"] == "## Training\n\nHier gaat het om kracht.\n"


def test_an_outline_as_text_that_misses_a_day_is_refused(owner: Any) -> None:
    sections = (
        '[[section]]\nheading = "Rugpijn"\nday = 1\n[[section]]\nheading = "Training"\nday = 2\n'
    )
    outline = '[[lesson]]\nday = 1\nfile = "01-a.md"\nsubject = "Een"\npreheader = "p"\n'
    refused = post_form(owner, NEW, NEW, form(SHORT, outline + sections, "split-text", slug="k"))
    assert refused.status_code == 400
    assert "de indeling heeft geen [[lesson]] voor dag 2" in refused.get_data(as_text=True)


def test_a_bad_name_or_empty_article_is_refused_in_dutch(owner: Any) -> None:
    empty = post_form(owner, NEW, NEW, form("  ", slug="ok"))
    assert empty.status_code == 400 and "plak eerst de tekst" in empty.get_data(as_text=True)
    bad = post_form(owner, NEW, NEW, form(SHORT, "x", slug="../etc"))
    assert bad.status_code == 400 and "kleine letters" in bad.get_data(as_text=True)


def test_coverage_finds_missing_repeated_and_added_sentences() -> None:
    report = coverage("Een. Twee.\n- Drie.\n", ["Een. Een.", "- Drie\\. Vier."])
    assert report.missing == ["Twee."] and report.repeated == ["Een."]
    assert report.added == ["Vier."] and not report.complete
    assert coverage("# Kop\nEen.", ["## Kop\n\nEen."]).complete
