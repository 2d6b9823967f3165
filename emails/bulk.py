"""One lesson for many recipients: shared content with tags, and each recipient's values.

A provider that substitutes (SendGrid takes up to 1,000 recipients in one request) gets the
content once, and per recipient their own `to`, subject, headers, tags and substitutions
(tag -> value) that it fills into the content. Sending a lesson's
recipients together costs one HTTP request instead of one per email, on our side and
SendGrid's (and it is SendGrid's own advice for volume).

A Bulk keeps, for every recipient, the fully rendered Message as well: backends that cannot
substitute (the outbox) send those, and a recipient whose values cannot be substituted
safely is sent on its own. `substitute()` is the reference for what the provider must
produce, and tests hold every substituted email equal to its own rendered Message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from emails.layout import MARKER_PREFIX
from emails.message import Message

# Letters and digits only, like the slot markers (see emails.layout), so no escaping step
# touches them; and under the same prefix, which course text is already refused to contain.
_TAG_TEXT = MARKER_PREFIX + "T{}Zx"
_TAG_HTML = MARKER_PREFIX + "H{}Zx"


@dataclass(frozen=True)
class Personal:
    """One recipient of a Bulk: their message's header fields, and the values of its body.

    The body itself (`message`) is only filled in when asked for: a substituted send needs
    just `head` and the values, so no per-recipient copy of a 7 KB body is made for it.
    """

    head: Message  # to, subject, headers, tags, sender; html and text are empty
    text_values: tuple[str, ...]
    html_values: tuple[str, ...]
    text_form: str
    html_form: str

    @cached_property
    def message(self) -> Message:
        """Return the fully rendered message for this recipient."""
        head = self.head
        # Spelled out: dataclasses.replace() costs more than the two format() calls.
        return Message(
            to_email=head.to_email,
            subject=head.subject,
            html=self.html_form.format(*self.html_values),
            text=self.text_form.format(*self.text_values),
            from_email=head.from_email,
            from_name=head.from_name,
            to_name=head.to_name,
            reply_to=head.reply_to,
            headers=head.headers,
            tags=head.tags,
            categories=head.categories,
        )

    @property
    def safe_to_substitute(self) -> bool:
        """Tell whether no value could be mistaken for a tag (a name typed as one, say)."""
        return not any(MARKER_PREFIX in value for value in (*self.text_values, *self.html_values))


@dataclass(frozen=True)
class Bulk:
    """The same lesson for several recipients, rendered from one fill-in form."""

    recipients: tuple[Personal, ...]

    @property
    def text_form(self) -> str:
        """Return the text part's fill-in form, shared by every recipient."""
        return self.recipients[0].text_form

    @property
    def html_form(self) -> str:
        """Return the HTML part's fill-in form, shared by every recipient."""
        return self.recipients[0].html_form

    @property
    def messages(self) -> list[Message]:
        """Return each recipient's fully rendered message."""
        return [personal.message for personal in self.recipients]

    @cached_property
    def _varying(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Return the text and HTML slots whose values differ between recipients."""
        return (
            _varying_slots([p.text_values for p in self.recipients]),
            _varying_slots([p.html_values for p in self.recipients]),
        )

    @cached_property
    def text(self) -> str:
        """Return the shared text part: same-for-all values filled in, tags for the rest."""
        return _shared(self.text_form, self.recipients[0].text_values, self._varying[0], _TAG_TEXT)

    @cached_property
    def html(self) -> str:
        """Return the shared HTML part: same-for-all values filled in, tags for the rest."""
        return _shared(self.html_form, self.recipients[0].html_values, self._varying[1], _TAG_HTML)

    @cached_property
    def substitutions_by_index(self) -> tuple[dict[str, str], ...]:
        """Return every recipient's tag -> value pairs, in recipient order (built once)."""
        return tuple(self.substitutions(personal) for personal in self.recipients)

    def substitutions(self, personal: Personal) -> dict[str, str]:
        """Return PERSONAL's tag -> value pairs for the shared parts."""
        text_slots, html_slots = self._varying
        pairs = {_TAG_TEXT.format(slot): personal.text_values[slot] for slot in text_slots}
        pairs.update({_TAG_HTML.format(slot): personal.html_values[slot] for slot in html_slots})
        return pairs


def _varying_slots(values: Sequence[tuple[str, ...]]) -> tuple[int, ...]:
    first = values[0]
    return tuple(slot for slot in range(len(first)) if any(v[slot] != first[slot] for v in values))


def _shared(form: str, first_values: tuple[str, ...], varying: tuple[int, ...], tag: str) -> str:
    varying_set = set(varying)
    values = (
        tag.format(slot) if slot in varying_set else value
        for slot, value in enumerate(first_values)
    )
    return form.format(*values)


def substitute(content: str, substitutions: dict[str, str]) -> str:
    """Replace every tag in CONTENT in one pass, as the provider does (values stay literal)."""
    if not substitutions:
        return content
    pattern = re.compile("|".join(re.escape(tag) for tag in sorted(substitutions, key=len)[::-1]))
    return pattern.sub(lambda match: substitutions[match.group(0)], content)
