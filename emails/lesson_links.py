"""The per-reader links of a lesson besides its tracked links: rating, trap and the booking CTA.

The fill-in form (emails.layout) gives each link target a slot; these targets are
placeholders (`nurture:...`) that `resolve` turns into each reader's own URL when the email
is filled in, so they cost no extra slot numbers and no other template change:
- the rating links "Ja" and "Nee" open /r/<rating token>/ja|nee (web.feedback); their GET is
  recorded as a click too, so a scanner walking the mail shows in its burst of links;
- the trap is a tracked link no person sees (hidden from sight and from screen readers):
  only a scanner that fetches every link in the HTML follows it (tracking.clicks);
- the call to action is a tracked link marked as such: its redirect adds a signed booking
  reference (`nurture_ref`) that the booking page may report with POST /api/conversions.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from emails.tokens import Tokens

RATING_YES = "nurture:rating:ja"
RATING_NO = "nurture:rating:nee"
TRAP = "nurture:trap"
CTA_PREFIX = "nurture:cta:"
# Where the trap's tracked link redirects to: a page that says nothing (web.tracking).
TRAP_PATH = "/links/controle"
RATING_ANSWERS = {RATING_YES: "ja", RATING_NO: "nee"}
# The query parameter of the booking reference on the call to action's target.
REF_PARAM = "nurture_ref"
PREVIEW_TOKEN = "voorbeeld"  # noqa: S105 (a placeholder in proof mails, not a secret)


def cta_placeholder(url: str) -> str:
    """Return the link target standing for the call to action to URL."""
    return CTA_PREFIX + url


def with_ref(url: str, ref: str) -> str:
    """Return URL with the booking reference REF (URL-safe already) added to its query."""
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=f"{query}{REF_PARAM}={ref}"))


def rating_click_url(base_url: str, answer: str) -> str:
    """Return the URL a rating link's GET is recorded under as a click (no token in it)."""
    return f"{base_url}/r/{answer}"


def is_rating(url: str | None) -> bool:
    """Tell whether URL is what a rating link's GET is recorded under."""
    return bool(url) and urlsplit(url or "").path in {"/r/ja", "/r/nee"}


def is_trap(url: str | None) -> bool:
    """Tell whether URL is the trap link's target."""
    return bool(url) and urlsplit(url or "").path == TRAP_PATH


class LinkResolver:
    """Turn a lesson's link targets into one reader's URLs (tracked when DELIVERY_ID is set)."""

    def __init__(self, base_url: str, tokens: Tokens, delivery_id: int | None) -> None:
        """Resolve for DELIVERY_ID; None (a proof mail) leaves links untracked."""
        self.base_url = base_url
        self.tokens = tokens
        self.delivery_id = delivery_id
        self._rating: str | None = None

    def _click(self, url: str, *, cta: bool = False) -> str:
        if self.delivery_id is None:
            return url
        return f"{self.base_url}/c/{self.tokens.make_click(self.delivery_id, url, cta=cta)}"

    def resolve(self, target: str) -> str:
        """Return the URL for TARGET in this reader's email."""
        if not target.startswith("nurture:"):
            return self._click(target)
        if target in RATING_ANSWERS:
            if self._rating is None:
                self._rating = (
                    PREVIEW_TOKEN
                    if self.delivery_id is None
                    else self.tokens.make_rating(self.delivery_id)
                )
            return f"{self.base_url}/r/{self._rating}/{RATING_ANSWERS[target]}"
        if target == TRAP:
            return self._click(self.base_url + TRAP_PATH)
        # The booking reference is added by the redirect (web.tracking), not signed in here:
        # one token fewer per email, and the CTA's target stays the same for everyone.
        return self._click(target.removeprefix(CTA_PREFIX), cta=True)
