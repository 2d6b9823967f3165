"""The one message model every mail provider sends, and the tags that tie it to our rows."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Tags:
    """What a sent email is, in our terms; providers echo it back on their events.

    How tags travel is each provider's business (SendGrid: custom args; the outbox: headers),
    so nothing above providers/ knows the names on the wire.
    """

    kind: str  # "lesson", "confirmation" or "test"
    course: str
    day: int | None = None
    delivery_id: int | None = None
    subscriber_id: int | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """A fully rendered email for one recipient."""

    to_email: str
    subject: str
    html: str
    text: str
    from_email: str
    tags: Tags
    from_name: str = ""
    to_name: str = ""
    reply_to: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    categories: tuple[str, ...] = ()
