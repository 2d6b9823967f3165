"""Check the sender's domain in DNS the way receivers will: SPF, SendGrid's DKIM keys, DMARC.

Gmail and Yahoo refuse or bin bulk mail whose From domain has no DMARC record, or whose mail
is not signed by that domain. SendGrid's domain authentication signs with the keys it
publishes behind two CNAMEs, `s1._domainkey` and `s2._domainkey`, and its servers are allowed
by SPF through `include:sendgrid.net`. DMARC passes when the DKIM signing domain is aligned
with the From domain: the same domain, or (relaxed alignment, DMARC's default) a parent.

The organisational domain is found as DMARCbis does, by walking up the labels, not from the
public suffix list (a file to keep current); the walk stops before the top-level domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import dns.exception
import dns.resolver

DKIM_SELECTORS = ("s1", "s2")
DKIM_TARGET_SUFFIX = "sendgrid.net"
SPF_INCLUDE = "include:sendgrid.net"
# DMARCbis looks at most this many names up the tree.
MAX_WALK = 8
DEFAULT_TIMEOUT_SECONDS = 3.0

Severity = Literal["ok", "warning", "error"]


@dataclass(frozen=True)
class Finding:
    """One verdict about the domain: which record, how bad, what is wrong, how to fix it."""

    name: str
    severity: Severity
    message: str
    fix: str = ""


class DnsUnavailable(Exception):
    """The DNS server did not answer (timeout, SERVFAIL): nothing can be concluded."""


def make_resolver(
    server: tuple[str, int] | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> dns.resolver.Resolver:
    """Return a resolver asking SERVER (address, port), or the system's when None."""
    if server is None:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [server[0]]
        resolver.port = server[1]
    resolver.timeout = timeout
    resolver.lifetime = timeout
    return resolver


def _answers(resolver: dns.resolver.Resolver, name: str, kind: str) -> list[str]:
    """Return NAME's KIND records as text ([] when there are none); raise DnsUnavailable."""
    try:
        answer = resolver.resolve(name, kind, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise DnsUnavailable(f"no answer for {name} {kind}: {exc}") from None
    if kind == "TXT":
        return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]
    return [rdata.to_text().rstrip(".").lower() for rdata in answer]


def walk_up(domain: str) -> list[str]:
    """Return DOMAIN and its parents, nearest first, stopping before the top-level domain."""
    labels = domain.rstrip(".").lower().split(".")
    return [".".join(labels[start:]) for start in range(len(labels) - 1)][:MAX_WALK]


def check_spf(resolver: dns.resolver.Resolver, domain: str) -> Finding:
    """Check DOMAIN publishes one SPF record that lets SendGrid's servers send."""
    records = [r for r in _answers(resolver, domain, "TXT") if r.lower().startswith("v=spf1")]
    example = f'TXT record on {domain}: "v=spf1 {SPF_INCLUDE} ~all"'
    if not records:
        return Finding("SPF", "warning", f"{domain} has no SPF record", f"publish a {example}")
    if len(records) > 1:
        return Finding(
            "SPF",
            "error",
            f"{domain} has {len(records)} SPF records; receivers then ignore SPF altogether",
            f"merge them into one {example}",
        )
    if SPF_INCLUDE not in records[0].lower().split():
        return Finding(
            "SPF",
            "warning",
            f'{domain}\'s SPF record "{records[0]}" does not allow SendGrid',
            f"add {SPF_INCLUDE} before its all mechanism",
        )
    return Finding("SPF", "ok", f"{domain}'s SPF record includes sendgrid.net")


def find_dkim(resolver: dns.resolver.Resolver, domain: str) -> tuple[str | None, list[str]]:
    """Return the nearest of DOMAIN and its parents with both SendGrid DKIM CNAMEs, and faults.

    The faults name selectors that are missing or point somewhere other than SendGrid, at
    DOMAIN itself (the place SendGrid's domain authentication asks for).
    """
    faults: list[str] = []
    for candidate in walk_up(domain):
        here = []
        for selector in DKIM_SELECTORS:
            name = f"{selector}._domainkey.{candidate}"
            targets = _answers(resolver, name, "CNAME")
            if not targets:
                here.append(f"{name} has no CNAME")
            elif not targets[0].endswith(DKIM_TARGET_SUFFIX):
                here.append(f"{name} points to {targets[0]}, not to SendGrid")
        if not here:
            return candidate, []
        if candidate == domain:
            faults = here
    return None, faults


def dmarc_record(resolver: dns.resolver.Resolver, domain: str) -> tuple[str, list[str]] | None:
    """Return the nearest DMARC policy domain for DOMAIN and its v=DMARC1 records, or None."""
    for candidate in walk_up(domain):
        records = _answers(resolver, f"_dmarc.{candidate}", "TXT")
        policies = [r for r in records if r.replace(" ", "").upper().startswith("V=DMARC1")]
        if policies:
            return candidate, policies
    return None


def _tags(record: str) -> dict[str, str]:
    """Parse a DMARC record's tag=value pairs (lower-cased names)."""
    pairs = (part.split("=", 1) for part in record.split(";") if "=" in part)
    return {name.strip().lower(): value.strip() for name, value in pairs}


def check_dkim_and_dmarc(resolver: dns.resolver.Resolver, domain: str) -> list[Finding]:
    """Check SendGrid's DKIM keys and an aligned DMARC policy for From domain DOMAIN."""
    signing, faults = find_dkim(resolver, domain)
    findings = []
    if signing is None:
        findings.append(
            Finding(
                "DKIM",
                "error",
                "; ".join(faults) + " (SendGrid cannot sign mail as your domain)",
                f"authenticate {domain} in SendGrid (Settings → Sender Authentication) and "
                "publish the s1._domainkey and s2._domainkey CNAMEs it shows",
            )
        )
    else:
        where = "" if signing == domain else f" of the parent {signing}"
        findings.append(
            Finding("DKIM", "ok", f"s1 and s2 _domainkey CNAMEs{where} point to SendGrid")
        )
    found = dmarc_record(resolver, domain)
    fix = f'publish a TXT record on _dmarc.{domain}: "v=DMARC1; p=none; rua=mailto:…"'
    if found is None:
        findings.append(Finding("DMARC", "error", f"no DMARC record for {domain}", fix))
        return findings
    policy_domain, records = found
    if len(records) > 1:
        findings.append(
            Finding(
                "DMARC",
                "error",
                f"_dmarc.{policy_domain} has {len(records)} DMARC records; receivers ignore them",
                "keep exactly one",
            )
        )
        return findings
    tags = _tags(records[0])
    strict = tags.get("adkim", "r").lower() == "s"
    if signing is not None and strict and signing != domain:
        findings.append(
            Finding(
                "DMARC",
                "error",
                f"not aligned: _dmarc.{policy_domain} asks strict DKIM alignment (adkim=s), but "
                f"SendGrid signs as {signing}, not {domain}",
                f"authenticate {domain} itself in SendGrid, or drop adkim=s",
            )
        )
        return findings
    owner = "" if policy_domain == domain else f" (from the parent {policy_domain})"
    policy = tags.get("p", "none").lower()
    note = ", monitoring only" if policy == "none" else ""
    aligned = "aligned with DKIM" if signing else "but it fails until DKIM is fixed"
    findings.append(Finding("DMARC", "ok", f"policy p={policy}{note}{owner}, {aligned}"))
    return findings


def check_sender_domain(resolver: dns.resolver.Resolver, domain: str) -> list[Finding]:
    """Return the SPF, DKIM and DMARC findings for From domain DOMAIN.

    A DNS server that does not answer gives a warning for each record it left unchecked.
    """
    findings = []
    try:
        findings.append(check_spf(resolver, domain))
    except DnsUnavailable as exc:
        findings.append(_unchecked("SPF", exc))
    try:
        findings.extend(check_dkim_and_dmarc(resolver, domain))
    except DnsUnavailable as exc:
        findings += [_unchecked("DKIM", exc), _unchecked("DMARC", exc)]
    return findings


def _unchecked(name: str, exc: DnsUnavailable) -> Finding:
    return Finding(
        name,
        "warning",
        f"could not check: {exc}",
        "check that this machine resolves DNS (or set NURTURE_DNS_SERVER)",
    )
