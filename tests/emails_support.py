"""Test support for the email tests: a small course folder in the shipped course's format."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_sendgrid import FakeSendGrid
from helpers import set_nurture_env

from config import Settings, load_settings
from course.loader import CONTENT_DIR, Course, load_course_from
from emails.render import Renderer
from emails.tokens import Tokens
from providers import MailBackend, build_mail_backend
from store.clock import Clock, system_clock

SHIPPED_SLUG = "rugpijn-en-training"

COURSE_TOML = """\
title = "Rugpijn en training"
language = "nl"
sender_name = "Team Voorbeeldkliniek"
welcome = "Fijn dat je meedoet! Vijf dagen lang krijg je **elke ochtend** een korte les."

[clinic]
name = "Chiropractie Voorbeeld & Zn"
postal_address = "Dorpsstraat 1, 1234 AB Voorbeeld"
website = "https://kliniek.example"

[cta]
url = "https://kliniek.example/afspraak?bron=cursus&x=1"
label = "Maak een afspraak"
text = "Wil je dat we met je meekijken?"

[confirmation]
subject = "Bevestig je aanmelding"
preheader = "Nog één klik en de cursus begint."
intro = "Klik op de knop om je aanmelding voor de cursus te bevestigen."
button = "Ja, ik doe mee"
outro = "Tot snel!"
"""

LESSON = """\
---
day: {day}
subject: "Dag {day}: bewegen <met> plezier"
preheader: "Preheader van dag {day}"
title: "Les {day}: waarom bewegen helpt"
teaser: "{teaser}"
---
Rugpijn is **vervelend**, maar bewegen helpt. Lees [het onderzoek](https://example.org/studie?a=1&b=2).

## Drie tips

- Wandel elke dag
- Til met gebogen knieën
- Neem pauzes, zie [de oefeningen](https://example.org/oefeningen)

1. Eerst opwarmen
2. Dan rustig opbouwen

Nog een keer [het onderzoek](https://example.org/studie?a=1&b=2)
en [mail ons](mailto:info@kliniek.example).
"""


def write_sample_course(root: Path, slug: str = "voorbeeld-cursus", days: int = 5) -> Path:
    """Write a course folder under ROOT and return its path."""
    folder = root / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course.toml").write_text(COURSE_TOML, encoding="utf-8")
    for day in range(1, days + 1):
        teaser = "" if day == days else f"Les {day + 1} gaat over houding."
        text = LESSON.format(day=day, teaser=teaser)
        (folder / f"{day:02d}-les.md").write_text(text, encoding="utf-8")
    return folder


def sample_course(root: Path) -> Course:
    """Return a freshly loaded sample course."""
    return load_course_from(write_sample_course(root))


def shipped_course() -> Course | None:
    """Return the shipped course, or None while the course engineer has not written it yet."""
    folder = CONTENT_DIR / SHIPPED_SLUG
    if not (folder / "course.toml").exists():
        return None
    return load_course_from(folder)


def mail_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **values: str) -> Settings:
    """Set NURTURE_* for mail tests (no database or Redis is touched) and return settings."""
    env = {
        "ENV": "test",
        "BASE_URL": "http://nurture.test",
        "SECRET_KEY": "test-secret-key-not-for-production",
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "MAIL_BACKEND": "outbox",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
        "REDIS_URL": "redis://127.0.0.1:6379/13",
        **{key.upper(): value for key, value in values.items()},
    }
    set_nurture_env(monkeypatch, tmp_path, env)
    return load_settings()


def renderer_for(settings: Settings, clock: Clock = system_clock) -> Renderer:
    """Return the renderer a runtime would build for SETTINGS."""
    return Renderer(settings, Tokens(settings.secret_key, clock))


def backend_for(settings: Settings, clock: Clock = system_clock) -> MailBackend:
    """Return the mail backend a runtime would build for SETTINGS."""
    return build_mail_backend(settings, clock)


@pytest.fixture
def mail_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """Give the test mail settings on the outbox backend, without a database."""
    return mail_settings(monkeypatch, tmp_path)


@pytest.fixture
def renderer(mail_env: Settings) -> Renderer:
    """The renderer for the mail settings."""
    return renderer_for(mail_env)


SENDGRID_TEST_KEY = "test-sendgrid-key"


def sendgrid_mail_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, host: str) -> Settings:
    """Return mail settings that send through the SendGrid API at HOST."""
    return mail_settings(
        monkeypatch,
        tmp_path,
        mail_backend="sendgrid",
        sendgrid_api_key=SENDGRID_TEST_KEY,
        sendgrid_host=host,
    )


@pytest.fixture
def sendgrid_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_sendgrid: FakeSendGrid
) -> FakeSendGrid:
    """Point the mail settings (no database) at the fake SendGrid; return the fake."""
    sendgrid_mail_settings(monkeypatch, tmp_path, fake_sendgrid.url)
    return fake_sendgrid
