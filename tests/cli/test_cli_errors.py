"""The CLI reports a bad setting or an unreachable database in one line, exit code 2."""

from __future__ import annotations

import subprocess
import sys


def test_cli_reports_bad_setting_in_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "db", "upgrade"],
        env={"NURTURE_MAIL_BACKEND": "smtp", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "nurture: NURTURE_MAIL_BACKEND: Input should be 'sendgrid' or 'outbox'"
    ]


def test_cli_reports_unreachable_database(runner, monkeypatch):
    monkeypatch.setenv("NURTURE_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = runner("db", "upgrade")
    assert result.exit_code == 2
    assert "NURTURE_DATABASE_URL: database unreachable" in result.output
