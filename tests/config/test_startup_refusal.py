"""Secrets and settings: a public BASE_URL with a guessable key, short password or unsigned
webhooks stops the web app, the workers, beat and the sending commands, in one line.

The finding: with NURTURE_BASE_URL=https://… and no NURTURE_ENV the service started with the
development secret, so anyone could sign unsubscribe, confirm and click tokens.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REDIS_TEST_URL, run_cli, set_nurture_env

from config import ConfigError, Settings, load_settings
from config.startup import KEYGEN_COMMAND, is_loopback_url, startup_problems
from emails.tokens import TokenError, Tokens
from store.clock import system_clock

PUBLIC_URL = "https://cursus.umoya.example"
GOOD_SECRET = "Zr0m7yq3B1hX9kP2wV5nD8sT4fL6cJ0a"  # 32 bytes
TEST_SECRET = "test-secret-key-not-for-production"  # tests/conftest.py's
# Nothing listens here: a command that (wrongly) went on to connect fails differently.
DATABASE_DOWN = "postgresql://nobody@127.0.0.1:1/none"

# (extra settings, the variable the refusal must name)
UNSAFE = [
    pytest.param({"SECRET_KEY": None}, "NURTURE_SECRET_KEY", id="development-default-secret"),
    pytest.param({"SECRET_KEY": "changethis"}, "NURTURE_SECRET_KEY", id="placeholder-secret"),
    pytest.param(
        {"SECRET_KEY": "changethis-changethis-changethis-changethis"},
        "NURTURE_SECRET_KEY",
        id="long-placeholder-secret",
    ),
    pytest.param({"SECRET_KEY": GOOD_SECRET[:31]}, "NURTURE_SECRET_KEY", id="31-byte-secret"),
    pytest.param(
        {"SECRET_KEY_FALLBACKS": '["dev-secret"]'},
        "NURTURE_SECRET_KEY_FALLBACKS",
        id="guessable-fallback-key",
    ),
    pytest.param({"ADMIN_PASSWORD": "elf-tekens!"}, "NURTURE_ADMIN_PASSWORD", id="short-admin"),
    pytest.param(
        {"WEBHOOK_INSECURE_DEV": "true"}, "NURTURE_WEBHOOK_INSECURE_DEV", id="insecure-webhooks"
    ),
]


def public_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, base_url: str = PUBLIC_URL, **extra: object
) -> Settings:
    """Set NURTURE_* as a clinic might (no NURTURE_ENV), with EXTRA on top; None unsets."""
    values = {
        "BASE_URL": base_url,
        "SECRET_KEY": GOOD_SECRET,
        "ADMIN_PASSWORD": "een-lang-beheerwachtwoord",
        "DATABASE_URL": DATABASE_DOWN,
        "REDIS_URL": REDIS_TEST_URL,
        "MAIL_BACKEND": "outbox",
        "OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    values.update({name: str(value) for name, value in extra.items() if value is not None})
    for name in [name for name, value in extra.items() if value is None]:
        del values[name]
    set_nurture_env(monkeypatch, tmp_path, values)
    return load_settings()


@pytest.mark.parametrize(("extra", "variable"), UNSAFE)
def test_web_app_refuses_a_public_base_url_with_unsafe_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, extra: dict[str, object], variable: str
) -> None:
    from web import create_app

    settings = public_env(monkeypatch, tmp_path, **extra)
    with pytest.raises(ConfigError) as refused:
        create_app(settings)
    assert f"{variable}:" in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(("extra", "variable"), UNSAFE)
def test_workers_and_beat_refuse_unsafe_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, extra: dict[str, object], variable: str
) -> None:
    from tasks.app import create_celery

    settings = public_env(monkeypatch, tmp_path, **extra)
    with pytest.raises(ConfigError, match=variable):
        create_celery(settings)


@pytest.mark.parametrize(
    "command",
    [
        ["web"],
        ["worker"],
        ["beat"],
        ["run"],
        ["send-test", "--to", "anna@example.com"],
        ["dispatch", "--once"],
    ],
    ids=lambda command: command[0],
)
def test_serving_and_sending_commands_refuse_a_development_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str]
) -> None:
    public_env(monkeypatch, tmp_path, SECRET_KEY=None)
    result = run_cli(*command)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("nurture: NURTURE_SECRET_KEY: is the development default")
    assert KEYGEN_COMMAND in lines[0]
    assert not (tmp_path / "outbox").exists()  # send-test sent nothing


def test_refusal_is_one_line_on_stderr_with_how_to_make_a_key(tmp_path: Path) -> None:
    """The real `nurture web` process, as a clinic would start it: one line, exit code 2."""
    env = {
        "PATH": "/usr/bin:/bin",
        "NURTURE_BASE_URL": PUBLIC_URL,
        "NURTURE_DATABASE_URL": DATABASE_DOWN,
        "NURTURE_REDIS_URL": REDIS_TEST_URL,
    }
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "web"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "nurture: NURTURE_SECRET_KEY: is the development default; make one with: "
        f"{KEYGEN_COMMAND} (refused because NURTURE_BASE_URL {PUBLIC_URL} is not a loopback "
        "address)"
    ]
    # The command prints a key that the rule accepts.
    key = subprocess.run(
        [sys.executable, "-c", KEYGEN_COMMAND.split('"')[1]], capture_output=True, text=True
    ).stdout.strip()
    assert startup_problems(Settings(base_url=PUBLIC_URL, secret_key=key, _env_file=None)) == []


def test_every_problem_is_named_in_the_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = public_env(
        monkeypatch,
        tmp_path,
        SECRET_KEY="changethis",
        ADMIN_PASSWORD="kort",
        WEBHOOK_INSECURE_DEV=1,
    )
    problems = startup_problems(settings)
    assert [problem.split(":", 1)[0] for problem in problems] == [
        "NURTURE_SECRET_KEY",
        "NURTURE_ADMIN_PASSWORD",
        "NURTURE_WEBHOOK_INSECURE_DEV",
    ]


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8000", "http://127.3.4.5", "http://localhost:8000", "http://[::1]:8000"],
)
@pytest.mark.parametrize(("extra", "variable"), UNSAFE)
def test_loopback_base_url_allows_development_settings(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    base_url: str,
    extra: dict[str, object],
    variable: str,
) -> None:
    assert startup_problems(public_env(monkeypatch, tmp_path, base_url, **extra)) == []


@pytest.mark.parametrize(
    "base_url",
    [
        PUBLIC_URL,
        "http://0.0.0.0:8000",
        "http://192.168.1.20:8000",
        "http://127.0.0.1.nip.io",
        "http://localhost.umoya.example",
        "http://[::ffff:10.0.0.1]",
    ],
)
def test_anything_else_is_public(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, base_url: str
) -> None:
    assert not is_loopback_url(base_url)
    settings = public_env(monkeypatch, tmp_path, base_url, SECRET_KEY=None)
    assert startup_problems(settings)[0].startswith("NURTURE_SECRET_KEY:")


def test_good_settings_serve_a_public_base_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = public_env(
        monkeypatch, tmp_path, SECRET_KEY_FALLBACKS=f'["{GOOD_SECRET[::-1]}"]', ADMIN_PASSWORD=None
    )
    assert startup_problems(settings) == []
    # The tests' own secret is a good one too, so their BASE_URL http://nurture.test serves.
    settings = public_env(monkeypatch, tmp_path, "http://nurture.test", SECRET_KEY=TEST_SECRET)
    assert startup_problems(settings) == []


def test_a_token_signed_with_the_development_secret_is_worthless_once_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What the attacker did: sign an unsubscribe token with the well-known default key."""
    forged = Tokens("dev-secret", system_clock).make_unsubscribe(1)
    settings = public_env(monkeypatch, tmp_path)
    assert startup_problems(settings) == []
    with pytest.raises(TokenError):
        Tokens(settings.secret_keys, system_clock).read_unsubscribe(forged)
