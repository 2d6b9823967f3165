"""The sender's domain in DNS: SPF, SendGrid's DKIM CNAMEs and an aligned DMARC policy, asked of
a local DNS server (tests/dns_support.py) with one zone that is right and one per problem."""

from __future__ import annotations

from collections.abc import Iterator

import dns.resolver
import pytest
from dns_support import serve_zone

from config.values import parse_dns_server
from providers.sendgrid.domain import check_sender_domain, make_resolver, walk_up


@pytest.fixture(scope="module")
def resolver() -> Iterator[dns.resolver.Resolver]:
    with serve_zone() as address:
        yield make_resolver(parse_dns_server(address), timeout=2.0)


def verdicts(resolver: dns.resolver.Resolver, domain: str) -> dict[str, tuple[str, str]]:
    return {f.name: (f.severity, f.message) for f in check_sender_domain(resolver, domain)}


def test_a_domain_authenticated_for_sendgrid_passes_all_three(resolver) -> None:
    found = verdicts(resolver, "kliniek.test")
    assert {name: severity for name, (severity, _) in found.items()} == {
        "SPF": "ok",
        "DKIM": "ok",
        "DMARC": "ok",
    }
    assert "p=quarantine" in found["DMARC"][1]
    assert "aligned" in found["DMARC"][1]


@pytest.mark.parametrize(
    ("domain", "name", "severity", "words"),
    [
        ("nospf.test", "SPF", "warning", "has no SPF record"),
        ("othermail.test", "SPF", "warning", "does not allow SendGrid"),
        ("twospf.test", "SPF", "error", "has 2 SPF records"),
        ("halfdkim.test", "DKIM", "error", "s2._domainkey.halfdkim.test has no CNAME"),
        ("otherdkim.test", "DKIM", "error", "points to s1.dkim.mailprovider.test, not to SendGrid"),
        ("nodmarc.test", "DMARC", "error", "no DMARC record for nodmarc.test"),
        ("twodmarc.test", "DMARC", "error", "has 2 DMARC records"),
        ("nieuws.strikt.test", "DMARC", "error", "not aligned"),
        ("nergens.test", "DKIM", "error", "has no CNAME"),
    ],
)
def test_each_problem_is_named(resolver, domain, name, severity, words) -> None:
    found = verdicts(resolver, domain)
    assert found[name][0] == severity
    assert words in found[name][1]
    # The other records of these zones are right: only the broken one is reported.
    others = {n: s for n, (s, _) in found.items() if n != name}
    if domain != "nergens.test":
        assert set(others.values()) == {"ok"}


def test_a_subdomain_sender_is_aligned_through_its_parent(resolver) -> None:
    found = verdicts(resolver, "nieuws.ouder.test")
    assert {n: s for n, (s, _) in found.items()} == {"SPF": "ok", "DKIM": "ok", "DMARC": "ok"}
    assert "parent ouder.test" in found["DKIM"][1]
    assert "parent ouder.test" in found["DMARC"][1]


def test_a_fix_is_given_for_every_problem(resolver) -> None:
    for domain in ("nospf.test", "halfdkim.test", "nodmarc.test", "nieuws.strikt.test"):
        for finding in check_sender_domain(resolver, domain):
            assert (finding.severity == "ok") == (finding.fix == "")


def test_a_dns_server_that_does_not_answer_gives_warnings_not_verdicts() -> None:
    silent = make_resolver(("127.0.0.1", 9), timeout=0.3)
    found = check_sender_domain(silent, "kliniek.test")
    assert [(f.name, f.severity) for f in found] == [
        ("SPF", "warning"),
        ("DKIM", "warning"),
        ("DMARC", "warning"),
    ]
    assert all("could not check" in f.message for f in found)


def test_the_walk_up_stops_before_the_top_level_domain() -> None:
    assert walk_up("a.b.kliniek.nl.") == ["a.b.kliniek.nl", "b.kliniek.nl", "kliniek.nl"]
    assert walk_up("kliniek.nl") == ["kliniek.nl"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:5353", ("::1", 5353)),
        ("::1", ("::1", 53)),
    ],
)
def test_the_dns_server_setting_takes_an_address_and_a_port(value, expected) -> None:
    assert parse_dns_server(value) == expected


@pytest.mark.parametrize("value", ["dns.example", "127.0.0.1:0", "127.0.0.1:99999", "[::1]:x"])
def test_a_bad_dns_server_setting_is_refused(value) -> None:
    with pytest.raises(ValueError):
        parse_dns_server(value)
