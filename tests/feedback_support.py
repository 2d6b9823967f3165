"""Helpers of the rating and call-to-action tests: a lesson's links as the reader gets them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import urlsplit

from helpers import admin_headers as admin_headers
from tracking_support import COURSE

from emails.lesson_links import REF_PARAM, is_trap
from emails.render import Recipient
from runtime import Runtime
from tracking.hits import drain_hits

HREF = re.compile(r'href="([^"]+)"')
BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
SCANNER_UA = "Mozilla/5.0 (compatible; Mimecast URL Protect)"


@dataclass
class MailLinks:
    """The links of one lesson email, as paths on our own site (besides `others`' targets)."""

    cta: str = ""
    trap: str = ""
    ja: str = ""
    nee: str = ""
    others: list[str] = field(default_factory=list)

    @property
    def every_tracked(self) -> list[str]:
        """Return every tracked link of the mail, the trap included (what a scanner fetches)."""
        return [self.cta, *self.others, self.trap]


def links_in(runtime: Runtime, html: str) -> MailLinks:
    """Sort the links of a lesson's HTML: call to action, trap, rating answers, other links."""
    base = runtime.settings.base_url
    found = MailLinks()
    for href in (unescape(h) for h in HREF.findall(html)):
        path = href.removeprefix(base)
        if path.startswith("/c/"):
            _delivery, url, cta = runtime.tokens.read_click_target(path.removeprefix("/c/"))
            if is_trap(url):
                found.trap = path
            elif cta:
                found.cta = path
            else:
                found.others.append(path)
        elif path.startswith("/r/"):
            setattr(found, path.rsplit("/", 1)[1], path)
    return found


def lesson_links(runtime: Runtime, subscriber_id: int, delivery_id: int, day: int) -> MailLinks:
    """Render lesson DAY for a delivery as the worker does, and return its links."""
    course = runtime.courses.get(COURSE)
    recipient = Recipient(subscriber_id, "lezer@example.com", "Test", delivery_id)
    return links_in(runtime, runtime.renderer.lesson(course, day, recipient).html)


def visit(client: Any, path: str, user_agent: str, address: str = "203.0.113.7") -> Any:
    """GET PATH as a browser with USER_AGENT at ADDRESS."""
    return client.get(
        path, headers={"User-Agent": user_agent}, environ_base={"REMOTE_ADDR": address}
    )


def store_all(app: Any, runtime: Runtime) -> None:
    """Ship the app's spooled hits and store them, as the drain task does."""
    app.extensions["nurture_hits"].spool.ship()
    drain_hits(runtime)


def row_cells(page: str, row_id: str) -> list[str]:
    """Return the text of the <td> cells of the table row with id ROW_ID."""
    row = page.split(f'<tr id="{row_id}">')[1].split("</tr>")[0]
    return [cell.split("</td>")[0].strip() for cell in row.split("<td>")[1:]]


def ref_of(url: str) -> str:
    """Return the booking reference in the call to action's target URL."""
    query = dict(part.split("=", 1) for part in urlsplit(url).query.split("&") if "=" in part)
    return query[REF_PARAM]
