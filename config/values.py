"""Plain checks of setting values that need more than a type: a DNS server, pydantic's report."""

from __future__ import annotations

import ipaddress

from pydantic import ValidationError


def parse_dns_server(value: str) -> tuple[str, int]:
    """Split "IP", "IP:PORT" or "[IPv6]:PORT" into (address, port); raise ValueError if bad."""
    host, port = value, "53"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif value.count(":") == 1:
        host, port = value.split(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError("expected a DNS server as IP or IP:PORT, such as 127.0.0.1:53") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected a port from 1 to 65535 after the DNS server's address")
    return host, int(port)


def describe_validation_error(exc: ValidationError) -> str:
    """Turn pydantic's report into one line per variable: NURTURE_NAME: what is expected."""
    lines = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["loc"]:
            name = "NURTURE_" + str(error["loc"][0]).upper()
            lines.append(f"{name}: {message}")
        else:
            lines.append(message)
    return "; ".join(lines)
