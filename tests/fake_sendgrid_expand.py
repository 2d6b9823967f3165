"""What one accepted mail/send request turns into: a message per recipient, as SendGrid builds it.

SendGrid sends every `to` of every personalization its own copy: the personalization's subject
(else the top-level one), top-level headers and custom_args merged with the personalization's
(its keys win), and the content with that personalization's substitutions applied to the
text, html and subject.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, TypedDict

__all__ = ["Accepted", "Message", "count_key", "substitute"]


class Message(TypedDict):
    """One recipient's copy of an accepted request."""

    to: str
    name: str
    subject: str
    headers: dict[str, str]
    custom_args: dict[str, str]
    categories: list[str]
    text: str
    html: str


def substitute(text: str, substitutions: dict[str, str]) -> str:
    """Replace every substitution key in TEXT by its value, in one pass."""
    keys = sorted((key for key in substitutions if key), key=len, reverse=True)
    if not keys:
        return text
    # One alternation, longest key first, so where one key starts another (":name" and
    # ":name_full") the longer one wins; and one pass, so a value that happens to contain
    # another key (a subscriber's name, say) stays literal instead of being substituted again.
    pattern = re.compile("|".join(re.escape(key) for key in keys))
    return pattern.sub(lambda match: substitutions[match.group(0)], text)


def _content(body: dict[str, Any], kind: str) -> str:
    for part in body.get("content") or []:
        if part.get("type") == kind:
            return str(part["value"])
    return ""


@dataclass
class Accepted:
    """One accepted request: the id we answered with and what was sent."""

    message_id: str
    body: dict[str, Any]
    received_at: float

    @property
    def recipients(self) -> list[tuple[str, dict[str, str]]]:
        """Return (email, merged custom args) for every recipient of the request."""
        top = self.body.get("custom_args", {})
        out: list[tuple[str, dict[str, str]]] = []
        for item in self.body["personalizations"]:
            merged = {**top, **item.get("custom_args", {})}
            out.extend((to["email"], merged) for to in item["to"])
        return out

    @property
    def messages(self) -> list[Message]:
        """Return each recipient's own message, in request order."""
        body = self.body
        text, html = _content(body, "text/plain"), _content(body, "text/html")
        out: list[Message] = []
        for item in body["personalizations"]:
            subs = item.get("substitutions", {})
            subject = substitute(item.get("subject") or body.get("subject") or "", subs)
            headers = {**body.get("headers", {}), **item.get("headers", {})}
            args = {**body.get("custom_args", {}), **item.get("custom_args", {})}
            own_text, own_html = substitute(text, subs), substitute(html, subs)
            out.extend(
                Message(
                    to=to["email"],
                    name=to.get("name", ""),
                    subject=subject,
                    # Copies, so a test changing one message cannot change its neighbours.
                    headers=dict(headers),
                    custom_args=dict(args),
                    categories=list(body.get("categories", [])),
                    text=own_text,
                    html=own_html,
                )
                for to in item["to"]
            )
        return out

    def events(self, kinds: tuple[str, ...], now: int) -> list[dict[str, Any]]:
        """Return the webhook events of KINDS for every recipient, with merged custom args."""
        return [
            {
                **args,
                "event": kind,
                "email": email,
                "timestamp": now,
                "sg_event_id": secrets.token_urlsafe(16),
                # The recipient's index makes the id unique per recipient, as SendGrid's is;
                # every event about one recipient shares it.
                "sg_message_id": f"{self.message_id}.filterdrecv-fake-{index}-{now}.0",
                "smtp-id": f"<{self.message_id}@fake.sendgrid.net>",
            }
            for index, (email, args) in enumerate(self.recipients)
            for kind in kinds
        ]


def count_key(email: str, args: dict[str, str]) -> tuple[str, str, str]:
    """Return the counting key: (address, course, day or kind)."""
    return (email.lower(), args.get("course", ""), args.get("day") or args.get("kind", ""))
