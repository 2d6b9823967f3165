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
    assert again.status_code == 409 and "Er is al een cursus rug-twee" in again.get_data(True)


def test_suggest_then_split_a_pasted_article(owner: Any) -> None:
    suggested = post_form(owner, NEW, NEW, form(SHORT, action="suggest")).get_data(as_text=True)
    assert (
        "heading = &#34;Rugpijn&#34;" in suggested and "heading = &#34;Training&#34;" in suggested
    )
    sections = (
        '[[section]]\nheading = "Rugpijn"\nday = 1\n[[section]]\nheading = "Training"\nday = 2\n'
    )
    outline = '[[lesson]]\nday = 1\nfile = "01-a.md"\nsubject = "Een"\npreheader = "p"\n'
    refused = post_form(owner, NEW, NEW, form(SHORT, outline + sections, slug="kort"))
    assert refused.status_code == 400
    assert "the outline has no [[lesson]] for day 2" in refused.get_data(as_text=True)
    outline += '[[lesson]]\nday = 2\nfile = "02-b.md"\nsubject = "Twee"\npreheader = "p"\n'
    outline += sections
    page = post_form(owner, NEW, NEW, form(SHORT, outline, slug="kort")).get_data(as_text=True)
    assert "Alle 5 zinnen van het artikel staan in precies één les" in page


def test_a_bad_name_or_empty_article_is_refused_in_dutch(owner: Any) -> None:
    empty = post_form(owner, NEW, NEW, form("  ", slug="ok"))
    assert empty.status_code == 400 and "Plak de tekst" in empty.get_data(as_text=True)
    bad = post_form(owner, NEW, NEW, form(SHORT, "x", slug="../etc"))
    assert bad.status_code == 400 and "kleine letters" in bad.get_data(as_text=True)


def test_coverage_finds_missing_repeated_and_added_sentences() -> None:
    report = coverage("Een. Twee.\n- Drie.\n", ["Een. Een.", "- Drie\\. Vier."])
    assert report.missing == ["Twee."] and report.repeated == ["Een."]
    assert report.added == ["Vier."] and not report.complete
    assert coverage("# Kop\nEen.", ["## Kop\n\nEen."]).complete
