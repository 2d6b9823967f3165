"""Ask SendGrid what an API key may do: GET /v3/scopes, through the official library.

SendGrid answers a valid key with the permissions ("scopes") it carries; sending mail needs
`mail.send`. A wrong, expired or revoked key gets a 401. `nurture doctor` asks this before the
first lesson would fail with the same 401.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
from dataclasses import dataclass

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from providers.sendgrid.mail import error_text

SEND_SCOPE = "mail.send"
# Statuses meaning "this key is not accepted", as opposed to SendGrid being unwell.
REFUSED_STATUSES = frozenset({401, 403})


class AccountUnreachable(Exception):
    """SendGrid could not be asked (network, timeout, or a 5xx); the message says which."""


@dataclass(frozen=True)
class KeyAccess:
    """What SendGrid said about a key: accepted or not, and whether it may send mail."""

    accepted: bool
    scopes: tuple[str, ...] = ()
    refusal: str = ""

    @property
    def can_send(self) -> bool:
        """Tell whether the key is accepted and carries the Mail Send permission."""
        return self.accepted and SEND_SCOPE in self.scopes


def key_access(api_key: str, host: str, timeout: float) -> KeyAccess:
    """Ask SendGrid at HOST which scopes API_KEY has; raise AccountUnreachable if it can't say.

    The stock client of the official library suffices here: one request, no keep-alive.
    """
    client = SendGridAPIClient(api_key=api_key, host=host)
    client.client.timeout = timeout
    try:
        response = client.client.scopes.get()
    except HTTPError as exc:
        status = int(exc.status_code)
        text = f"SendGrid {status}: {error_text(exc.body)}"
        if status in REFUSED_STATUSES:
            return KeyAccess(accepted=False, refusal=text)
        raise AccountUnreachable(text) from None
    except urllib.error.URLError as exc:
        raise AccountUnreachable(f"SendGrid unreachable: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise AccountUnreachable(f"SendGrid did not answer: {type(exc).__name__}: {exc}") from None
    try:
        scopes = json.loads(response.body or b"{}").get("scopes")
    except (ValueError, AttributeError):
        scopes = None
    if not isinstance(scopes, list):
        raise AccountUnreachable("SendGrid answered GET /v3/scopes without a list of scopes")
    return KeyAccess(accepted=True, scopes=tuple(str(scope) for scope in scopes))
