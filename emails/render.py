"""Build personalised lesson and confirmation emails from per-lesson fill-ins, fast.

Per lesson (once per Renderer and course object): Markdown, Jinja2 layout and CSS inlining,
see emails/layout.py. Per recipient: a cleaned first name, two to four signed tokens per
email plus one per distinct link, and two `str.format` calls.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from html import escape

from config import Settings
from course.loader import Course
from emails.bulk import Bulk, Personal
from emails.closing import build_closing
from emails.fill_ins import build_confirmation, build_lesson, course_context, markdown
from emails.layout import (
    FillIn,
)
from emails.lesson_links import PREVIEW_TOKEN, LinkResolver
from emails.message import Message, Tags
from emails.names import checked_address, clean_first_name, clean_line, greeting_for
from emails.tokens import Tokens

CATEGORY = "nurture"
CATEGORY_MAX = 255


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who one email is for; delivery_id is set for real sends (it keys events, opens, clicks).

    preview marks a proof sent by `nurture send-test`: no real subscriber, so the links are
    untracked and the unsubscribe link is a harmless placeholder.
    """

    subscriber_id: int
    email: str
    first_name: str | None
    delivery_id: int | None = None
    preview: bool = False


class Renderer:
    """Render emails for one installation: its sender, base URL and token keys.

    Prepared lessons (fill-ins) are kept per course object: a reloaded course is a new object
    and so gets fresh fill-ins; a weak reference guards against id() reuse.
    """

    def __init__(self, settings: Settings, tokens: Tokens) -> None:
        """Take the sender, base URL and unsubscribe mailbox from SETTINGS."""
        self.base_url = settings.base_url
        self.from_email = settings.from_email
        self.from_name = settings.from_name
        self.reply_to = settings.reply_to
        self.unsubscribe_mailto = settings.unsubscribe_mailto.strip()
        self.tokens = tokens
        self._fill_ins: dict[tuple[int, str, int], tuple[weakref.ref[Course], FillIn]] = {}
        self._lock = threading.Lock()

    def _cached(self, course: Course, kind: str, day: int, build: Callable[[], FillIn]) -> FillIn:
        key = (id(course), kind, day)
        entry = self._fill_ins.get(key)
        if entry is not None and entry[0]() is course:
            return entry[1]
        with self._lock:
            entry = self._fill_ins.get(key)
            if entry is not None and entry[0]() is course:
                return entry[1]
            fill_in = build()
            # Forget fill-ins of courses that are gone (tests and reloads make many objects).
            for stale in [k for k, (ref, _) in self._fill_ins.items() if ref() is None]:
                del self._fill_ins[stale]
            self._fill_ins[key] = (weakref.ref(course), fill_in)
            return fill_in

    def _list_unsubscribe(self, unsubscribe_url: str) -> dict[str, str]:
        value = f"<{unsubscribe_url}>"
        if self.unsubscribe_mailto:
            address = self.unsubscribe_mailto.removeprefix("mailto:")
            value += f", <mailto:{address}?subject=uitschrijven>"
        return {"List-Unsubscribe": value, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}

    def _unsubscribe_url(self, recipient: Recipient, course: Course) -> str:
        if recipient.preview:
            return f"{self.base_url}/unsubscribe/{PREVIEW_TOKEN}"
        # The link (and one-click header) of a course's mail stops that course only.
        token = self.tokens.make_unsubscribe(recipient.subscriber_id, course.slug)
        return f"{self.base_url}/unsubscribe/{token}"

    def _preferences_url(self, recipient: Recipient, course: Course) -> str:
        if recipient.preview:
            return f"{self.base_url}/voorkeuren/{PREVIEW_TOKEN}"
        # The page (and its pause, hour, restart and leave) is about this mail's course.
        token = self.tokens.make_preferences(recipient.subscriber_id, course.slug)
        return f"{self.base_url}/voorkeuren/{token}"

    def _personal(
        self,
        course: Course,
        fill_in: FillIn,
        recipient: Recipient,
        *,
        text_values: tuple[str, ...],
        html_values: tuple[str, ...],
        tags: Tags,
        category: str,
    ) -> Personal:
        """Fill FILL_IN for RECIPIENT: greeting and unsubscribe link, then the given values."""
        first_name = clean_first_name(recipient.first_name)
        greeting = greeting_for(first_name)
        unsubscribe_url = self._unsubscribe_url(recipient, course)
        subject = fill_in.subject
        if recipient.preview:
            subject = f"[Proef] {subject}"
        all_text = (greeting, unsubscribe_url, *text_values)
        all_html = (escape(greeting), escape(unsubscribe_url), *html_values)
        head = Message(
            to_email=checked_address(recipient.email),
            to_name=first_name,
            subject=subject,
            html="",
            text="",
            from_email=self.from_email,
            from_name=course.sender_name or self.from_name,
            reply_to=self.reply_to,
            headers=self._list_unsubscribe(unsubscribe_url),
            tags=tags,
            categories=(CATEGORY, category[:CATEGORY_MAX]),
        )
        return Personal(head, all_text, all_html, fill_in.text, fill_in.html)

    def lesson(self, course: Course, day: int, recipient: Recipient) -> Message:
        """Build the lesson of DAY for RECIPIENT, with tracked links when delivery_id is set."""
        return self._lesson(course, self._lesson_fill_in(course, day), day, recipient).message

    def lesson_bulk(self, course: Course, day: int, recipients: Sequence[Recipient]) -> Bulk:
        """Build the lesson of DAY for RECIPIENTS as one Bulk (shared parts, own values)."""
        if not recipients:
            raise ValueError("a bulk needs at least one recipient")
        fill_in = self._lesson_fill_in(course, day)
        return Bulk(tuple(self._lesson(course, fill_in, day, r) for r in recipients))

    def _lesson_fill_in(self, course: Course, day: int) -> FillIn:
        return self._cached(course, "lesson", day, lambda: build_lesson(course, day))

    def _lesson(self, course: Course, fill_in: FillIn, day: int, recipient: Recipient) -> Personal:
        return self._tracked(
            course, fill_in, recipient, kind="lesson", day=day, category=f"{course.slug}-dag-{day}"
        )

    def closing_bulk(self, course: Course, recipients: Sequence[Recipient]) -> Bulk:
        """Build COURSE's closing email for RECIPIENTS as one Bulk (tracked like a lesson)."""
        build = partial(build_closing, course, course_context(course), markdown)
        fill_in = self._cached(course, "closing", 0, build)
        category = f"{course.slug}-afsluiting"
        track = partial(self._tracked, course, fill_in, kind="closing", day=None, category=category)
        return Bulk(tuple(track(recipient) for recipient in recipients))

    def _tracked(
        self,
        course: Course,
        fill_in: FillIn,
        recipient: Recipient,
        *,
        kind: str,
        day: int | None,
        category: str,
    ) -> Personal:
        """Fill FILL_IN for RECIPIENT with tracked links and the open pixel (real sends)."""
        base_url = self.base_url
        delivery_id = recipient.delivery_id
        if delivery_id is not None and not recipient.preview:
            resolve = LinkResolver(base_url, self.tokens, delivery_id).resolve
            links = [resolve(url) for url in fill_in.links]
            pixel = (
                f'<img src="{escape(base_url)}/o/{self.tokens.make_open(delivery_id)}.gif" '
                'width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;">'
            )
            tags = Tags(
                kind=kind,
                course=course.slug,
                day=day,
                delivery_id=delivery_id,
                subscriber_id=recipient.subscriber_id,
            )
        else:
            resolve = LinkResolver(base_url, self.tokens, None).resolve
            links, pixel = [resolve(url) for url in fill_in.links], ""
            tags = Tags(kind="test", course=course.slug, day=day)
        preferences = self._preferences_url(recipient, course)
        return self._personal(
            course,
            fill_in,
            recipient,
            text_values=("", "", preferences, *links),
            html_values=(pixel, "", escape(preferences), *[escape(link) for link in links]),
            tags=tags,
            category=category,
        )

    def confirmation(self, course: Course, recipient: Recipient, confirm_url: str) -> Message:
        """Build the double opt-in email: an untracked confirm link, no pixel, a footer."""
        fill_in = self._cached(course, "confirmation", 0, lambda: build_confirmation(course))
        confirm_url = clean_line(confirm_url)
        tags = Tags(
            kind="test" if recipient.preview else "confirmation",
            course=course.slug,
            delivery_id=None if recipient.preview else recipient.delivery_id,
            subscriber_id=None if recipient.preview else recipient.subscriber_id,
        )
        return self._personal(
            course,
            fill_in,
            recipient,
            text_values=("", confirm_url, ""),
            html_values=("", escape(confirm_url), ""),
            tags=tags,
            category=f"{course.slug}-bevestiging",
        ).message

    def confirm_url(self, confirmation_id: int) -> str:
        """Return the absolute confirm link of confirmation delivery CONFIRMATION_ID."""
        return f"{self.base_url}/confirm/{self.tokens.make_confirm(confirmation_id)}"
