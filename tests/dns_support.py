"""A local DNS server for tests (dnslib): serves zone text on a free loopback UDP port.

The doctor's SPF, DKIM and DMARC checks ask it through NURTURE_DNS_SERVER or a resolver
passed in; there is no internet here. `ZONES` holds one domain with everything right and one
domain per problem, as SendGrid's domain authentication publishes them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dnslib.server import BaseResolver, DNSLogger, DNSServer
from dnslib.zoneresolver import ZoneResolver

SG = "u123.wl124.sendgrid.net."
DKIM = f"""
s1._domainkey.{{d}}. 300 IN CNAME s1.domainkey.{SG}
s2._domainkey.{{d}}. 300 IN CNAME s2.domainkey.{SG}
"""
SPF = '{d}. 300 IN TXT "v=spf1 include:sendgrid.net ~all"\n'
DMARC = '_dmarc.{d}. 300 IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@{d}"\n'


def _all_right(domain: str) -> str:
    return (SPF + DKIM + DMARC).format(d=domain)


ZONES = "\n".join(
    [
        # Everything right.
        _all_right("kliniek.test"),
        # SPF missing; SPF without SendGrid; two SPF records.
        (DKIM + DMARC).format(d="nospf.test"),
        (DKIM + DMARC).format(d="othermail.test")
        + 'othermail.test. 300 IN TXT "v=spf1 include:_spf.google.com ~all"\n',
        _all_right("twospf.test") + 'twospf.test. 300 IN TXT "v=spf1 mx -all"\n',
        # DKIM: s2 missing; both pointing at another provider.
        (SPF + DMARC).format(d="halfdkim.test")
        + f"s1._domainkey.halfdkim.test. 300 IN CNAME s1.domainkey.{SG}\n",
        (SPF + DMARC).format(d="otherdkim.test")
        + "s1._domainkey.otherdkim.test. 300 IN CNAME s1.dkim.mailprovider.test.\n"
        + "s2._domainkey.otherdkim.test. 300 IN CNAME s2.dkim.mailprovider.test.\n",
        # DMARC missing; two DMARC records.
        (SPF + DKIM).format(d="nodmarc.test"),
        _all_right("twodmarc.test") + '_dmarc.twodmarc.test. 300 IN TXT "v=DMARC1; p=none"\n',
        # The From domain is a subdomain: DKIM and DMARC of the parent (relaxed: aligned).
        _all_right("ouder.test")
        + 'nieuws.ouder.test. 300 IN TXT "v=spf1 include:sendgrid.net -all"\n',
        # The same, but the parent asks strict DKIM alignment: not aligned.
        (SPF + DKIM).format(d="strikt.test")
        + '_dmarc.strikt.test. 300 IN TXT "v=DMARC1; p=reject; adkim=s"\n'
        + 'nieuws.strikt.test. 300 IN TXT "v=spf1 include:sendgrid.net -all"\n',
    ]
)


class _Quiet(DNSLogger):
    """Log nothing: a line per query would drown pytest's output."""

    def __init__(self) -> None:
        super().__init__(log="-request,-reply,-truncated,-error,-recv,-send,-data")


@contextmanager
def serve_zone(zone: str = ZONES, resolver: BaseResolver | None = None) -> Iterator[str]:
    """Serve ZONE on 127.0.0.1 (UDP) in a thread; yield "127.0.0.1:PORT"."""
    server = DNSServer(resolver or ZoneResolver(zone), address="127.0.0.1", port=0, logger=_Quiet())
    thread = threading.Thread(
        target=server.server.serve_forever,
        kwargs={"poll_interval": 0.05},  # shutdown() waits up to one poll
        daemon=True,
    )
    thread.start()
    try:
        yield f"127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.server.shutdown()
        server.server.server_close()
        thread.join(timeout=5)
