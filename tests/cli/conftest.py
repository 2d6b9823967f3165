"""Fixtures of the `nurture doctor` tests: a healthy deployment's settings, a local DNS server,
and the command run as (exit code, line per check, summary)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dns_support import serve_zone
from doctor_support import clean_course, healthy_values


@pytest.fixture
def dns_server() -> Iterator[str]:
    with serve_zone() as address:
        yield address


@pytest.fixture
def healthy(
    nurture_env: dict[str, str],
    fake_sendgrid: Any,
    dns_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """Set up a healthy public deployment's settings (SendGrid: the fake, DNS: the local one)."""
    values = healthy_values(dns_server, clean_course(tmp_path))
    for name, value in values.items():
        monkeypatch.setenv(f"NURTURE_{name}", value)
    return values


@pytest.fixture
def doctor(runner: Callable[..., Any]) -> Callable[..., tuple[int, dict[str, str], str]]:
    """Return run(*args): (exit code, {check name: its line}, the summary line)."""

    def run(*args: str) -> tuple[int, dict[str, str], str]:
        result = runner("doctor", *args)
        lines = result.stdout.splitlines()
        assert lines, result.output
        by_name = {}
        for line in lines[:-1]:
            status, rest = line.split(maxsplit=1)
            assert status in {"ok", "warning", "error"}, line
            by_name[rest.split(":", 1)[0]] = line
        return result.exit_code, by_name, lines[-1]

    return run
