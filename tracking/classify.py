"""Tell machine opens and clicks (privacy proxies, prefetchers, scanners) from a person's."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from datetime import datetime

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Characters of a user agent stored with an open or click (and compared with a rating's).
USER_AGENT_LIMIT = 500

# A proxy fetch this soon after the mail was sent or delivered is a prefetch, not a reader:
# a person rarely opens a lesson within seconds of it landing.
PROXY_PREFETCH_SECONDS = 10

# User agents that are always a machine, whoever is behind the inbox.
ALWAYS_MACHINE_PATTERNS = [
    # Apple Mail Privacy Protection fetches every image on delivery with a bare "Mozilla/5.0".
    r"^Mozilla/5\.0$",
    # Apple MPP's other form: WebKit without the Version/Safari tokens a real browser sends.
    r"^Mozilla/5\.0 \((?:Macintosh|iPhone|iPad)[^)]*\) AppleWebKit/[\d.]+ \(KHTML, like Gecko\)$",
    # Security gateways and link scanners open every mail they inspect.
    r"Barracuda|Mimecast|Proofpoint|Symantec|MessageLabs|Trend ?Micro|Forcepoint|SpamTitan",
    # Scripts and crawlers, not mail clients.
    r"bot\b|crawler|spider|python-requests|python-urllib|curl/|wget/|Go-http-client|HeadlessChrome",
]

# Image proxies that fetch on behalf of a person who opened the mail, but also prefetch:
# a machine open only when the fetch comes within PROXY_PREFETCH_SECONDS of sending.
PROXY_PATTERNS = [
    r"GoogleImageProxy",  # Gmail: "Mozilla/5.0 … (via ggpht.com GoogleImageProxy)"
    r"YahooMailProxy",  # Yahoo and AOL Mail
    r"Outlook-iOS|OutlookImageProxy|ms-office",  # Outlook's image fetchers
]

# What a user agent is: always a machine, an image proxy, or a person's mail client.
MACHINE, PROXY, PERSON = "machine", "proxy", "person"

_always_machine = re.compile("|".join(f"(?:{p})" for p in ALWAYS_MACHINE_PATTERNS), re.IGNORECASE)
_proxy = re.compile("|".join(f"(?:{p})" for p in PROXY_PATTERNS), re.IGNORECASE)


def is_proxy(user_agent: str | None) -> bool:
    """Tell whether USER_AGENT is a known mail image proxy."""
    return bool(user_agent) and _proxy.search(user_agent or "") is not None


def is_machine_open(
    user_agent: str | None,
    opened_at: datetime,
    sent_at: datetime | None = None,
    *,
    provider_says_machine: bool = False,
    known: dict[str, str] | None = None,
) -> bool:
    """Tell whether an open was made by a machine rather than a reader.

    KNOWN, if given, remembers what each user agent is across the calls of one batch: the
    patterns cost tens of microseconds an open, and a batch holds few distinct agents.
    """
    if provider_says_machine:
        return True
    agent = (user_agent or "").strip()
    if not agent:
        # No user agent at all: no mail client a person uses omits it.
        return True
    kind = known.get(agent) if known is not None else None
    if kind is None:
        kind = MACHINE if _always_machine.search(agent) else PROXY if is_proxy(agent) else PERSON
        if known is not None:
            known[agent] = kind
    if kind == MACHINE:
        return True
    if sent_at is not None and kind == PROXY:
        return abs((opened_at - sent_at).total_seconds()) <= PROXY_PREFETCH_SECONDS
    return False


def in_networks(client: str | None, networks: Sequence[IPNetwork]) -> bool:
    """Tell whether the IP address CLIENT lies in one of NETWORKS."""
    if not client or not networks:
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in network for network in networks if network.version == address.version)


def is_machine_click(
    user_agent: str | None,
    clicked_at: datetime,
    delivered_at: datetime | None,
    *,
    within_seconds: int,
    scanner_network: bool = False,
) -> bool:
    """Tell whether a click (or a rating) was made by a scanner rather than a reader.

    Machine: from a scanner network, with no or a scanner's user agent, from an image proxy
    (a proxy fetches images, a person clicks in their own browser), or within WITHIN_SECONDS
    of delivery (link scanners fetch every link on arrival). The patterns across a lesson's
    clicks (several links within a second, the trap link) are judged in tracking.clicks.
    """
    if scanner_network:
        return True
    agent = (user_agent or "").strip()
    if not agent or _always_machine.search(agent) or is_proxy(agent):
        return True
    if delivered_at is not None:
        return abs((clicked_at - delivered_at).total_seconds()) <= within_seconds
    return False
