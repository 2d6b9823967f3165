"""Render a template once per lesson into a fill-in form: inlined HTML and text with numbered slots.

Markdown, Jinja2 and CSS inlining are the expensive steps, and none depends on the recipient.
So each template is rendered once with unique placeholder markers where per-recipient values
go (greeting, unsubscribe and preferences links, open pixel, tracked links), CSS is inlined,
and the result is turned into a `str.format` string. Per email only `format()` runs, with
escaped values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from emails import lesson_links
from emails.markup import TRACKABLE_SCHEMES

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# Slot numbers; link slots follow FIRST_LINK_SLOT in the order links first appear.
GREETING_SLOT = 0
UNSUBSCRIBE_SLOT = 1
PIXEL_SLOT = 2
CONFIRM_SLOT = 3
PREFERENCES_SLOT = 4  # a lesson's link to the reader's preferences page
FIRST_LINK_SLOT = 5

# Letters and digits only, so Markdown, Jinja's escaping and the HTML serialiser of css-inline
# all pass it through untouched.
MARKER_PREFIX = "Nrt7q"
_MARKER_RE = re.compile(MARKER_PREFIX + r"(\d+)Zx")

# Zero-width padding after the preheader keeps inbox previews from showing body text.
PREHEADER_FILLER = Markup("&#847;&zwnj;&nbsp;" * 60)  # noqa: S704 (a constant)

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


class TemplateContentError(ValueError):
    """Course text happens to contain the slot marker, which would corrupt the fill-in form."""


def marker(slot: int) -> Markup:
    """Return the placeholder text for SLOT, safe to put into HTML unescaped."""
    return Markup(f"{MARKER_PREFIX}{slot}Zx")  # noqa: S704 (letters and digits only)


@dataclass(frozen=True, slots=True)
class FillIn:
    """A rendered email with numbered holes: `html.format(*values)` fills it for one recipient."""

    subject: str
    preheader: str
    html: str
    text: str
    links: tuple[str, ...]  # links[i] belongs in slot FIRST_LINK_SLOT + i


class LinkSlots:
    """Hand out one slot per distinct link target, so a repeated link costs one token."""

    def __init__(self) -> None:
        """Start with no links."""
        self._slots: dict[str, int] = {}

    def slot(self, url: str) -> str:
        """Return the marker standing for URL."""
        number = self._slots.setdefault(url, FIRST_LINK_SLOT + len(self._slots))
        return str(marker(number))

    @property
    def links(self) -> tuple[str, ...]:
        """Return the link targets in slot order."""
        return tuple(self._slots)


def cta_values(url: str, label: str, text: str, links: LinkSlots) -> dict[str, str]:
    """Return the call to action's template values; an http(s) URL gets a tracked slot."""
    # The placeholder marks the click as the call to action's (tracking.cta counts it).
    trackable = url.startswith(TRACKABLE_SCHEMES)
    href = links.slot(lesson_links.cta_placeholder(url)) if trackable else url
    return {"cta_text": text, "cta_label": label, "cta_href": href}


def check_free_of_markers(*texts: str) -> None:
    """Refuse course text that contains the marker prefix (it would be taken for a slot)."""
    for text in texts:
        if MARKER_PREFIX in text:
            raise TemplateContentError(f"course text may not contain {MARKER_PREFIX!r}")


def render_fill_in(
    template: str, context: Mapping[str, Any], *, subject: str, preheader: str, links: LinkSlots
) -> FillIn:
    """Render TEMPLATE.html (CSS inlined) and TEMPLATE.txt once and turn both into fill-ins."""
    values = {
        "subject": subject,
        "preheader": preheader,
        "preheader_filler": PREHEADER_FILLER,
        "greeting": marker(GREETING_SLOT),
        "unsubscribe_url": marker(UNSUBSCRIBE_SLOT),
        "pixel": marker(PIXEL_SLOT),
        **context,
    }
    html = _INLINER.inline(_ENV.get_template(f"{template}.html").render(values))
    text = _ENV.get_template(f"{template}.txt").render(values)
    return FillIn(
        subject=subject,
        preheader=preheader,
        html=_to_format(html.rstrip("\n") + "\n"),
        text=_to_format(_tidy_text(text)),
        links=links.links,
    )


def _to_format(rendered: str) -> str:
    # Escape braces (CSS is full of them) and turn markers into positional fields.
    pieces = _MARKER_RE.split(rendered)
    out = []
    for index, piece in enumerate(pieces):
        if index % 2:
            out.append("{" + piece + "}")
        else:
            out.append(piece.replace("{", "{{").replace("}", "}}"))
    return "".join(out)


_BLANK_RUNS = re.compile(r"\n{3,}")


def _tidy_text(text: str) -> str:
    # Optional template blocks leave blank-line runs; one empty line between parts is enough.
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)) + "\n"
