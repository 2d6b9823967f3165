"""One typed settings object, read from NURTURE_* environment variables and an optional .env."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.values import describe_validation_error, parse_dns_server

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"
# A course day of this many seconds is a real day; fewer compress it for demos and tests.
FULL_DAY_SECONDS = 86400

# Values that mean "nobody set this yet"; production refuses to start with any of them.
PLACEHOLDER_SECRETS = frozenset({"", "changethis", "change-me", "changeme", "secret", "dev-secret"})
DEV_SECRET_KEY = "dev-secret"  # noqa: S105 (development only; production refuses it)
# A shorter NURTURE_METRICS_TOKEN could be guessed by trying.
METRICS_TOKEN_MIN_LENGTH = 16


class ConfigError(Exception):
    """A setting is wrong; the message names the variable and what is expected."""


class Settings(BaseSettings):
    """Every setting of the service; each is read as NURTURE_<NAME>."""

    model_config = SettingsConfigDict(
        env_prefix="NURTURE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    env: Literal["development", "test", "production"] = "development"

    database_url: str = f"sqlite:///{VAR_DIR / 'nurture.db'}"
    redis_url: str = "redis://127.0.0.1:6379/0"
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = DEV_SECRET_KEY

    mail_backend: Literal["sendgrid", "outbox"] | None = None
    sendgrid_api_key: str = ""
    sendgrid_host: str = "https://api.sendgrid.com"
    sendgrid_timeout: float = Field(default=10.0, gt=0)
    sendgrid_webhook_public_key: str = ""
    # The DNS server `nurture doctor` asks about the sender's domain (SPF, DKIM, DMARC), as
    # IP or IP:PORT ([IPv6]:PORT); empty means the system's resolvers.
    dns_server: str = ""
    webhook_insecure_dev: bool = False
    webhook_max_age_seconds: int = Field(default=600, gt=0)
    webhook_max_bytes: int = Field(default=1_000_000, gt=0)
    outbox_dir: Path = VAR_DIR / "outbox"

    from_email: str = "cursus@umoya.example"
    from_name: str = "UMOYA"
    reply_to: str = ""
    unsubscribe_mailto: str = ""

    timezone: str = "Europe/Amsterdam"
    admin_password: str = ""
    day_seconds: int = Field(default=86400, ge=1)

    # The signup course: what / shows and a form without a course field joins. Empty: / lists
    # every live course (each folder under content_dir is live at /cursus/<folder>).
    course: str = "rugpijn-en-training"
    # The folder holding the course folders; keep the clinic's edited copy outside the code.
    content_dir: Path = PROJECT_ROOT / "course" / "content"
    cors_origins: list[str] = Field(default_factory=list)
    rate_limit: str = "20 per minute"
    trusted_proxies: int = Field(default=0, ge=0, le=5)
    # DNS look-up of the signup address's domain (MX); off by default, so tests need no DNS.
    check_email_deliverability: bool = False
    # Bodies of POST /subscribe larger than this are refused (413): a signup is a few fields.
    subscribe_max_bytes: int = Field(default=8192, gt=0)

    # Old secret keys, newest first: tokens signed with them still verify (key rotation).
    secret_key_fallbacks: list[str] = Field(default_factory=list)
    # Confirmation emails per address (a form anyone can fill in must not become a mailer),
    # and for the whole service per hour; above the latter they wait in the database.
    confirmations_per_address_day: int = Field(default=3, ge=1)
    confirmations_per_address_month: int = Field(default=5, ge=1)
    confirmations_per_hour: int = Field(default=1000, ge=1)
    # Soft and "blocked" bounces in a row that suppress an address (hard ones do at once).
    soft_bounce_limit: int = Field(default=3, ge=1)
    # Failed admin logins per client address, and for all addresses together, per window.
    admin_failed_logins_per_client: int = Field(default=10, ge=1)
    admin_failed_logins_total: int = Field(default=50, ge=1)
    # An account's login lasts this long, however busy it is; then the login page again.
    admin_session_hours: float = Field(default=8, gt=0, le=24 * 30)
    # A pixel or click counts at most once per delivery, client and this many seconds.
    hit_replay_window_seconds: int = Field(default=60, ge=1)
    # How often each web process seals its spool of pixel and click hits and ships it to Redis.
    hit_ship_seconds: float = Field(default=1.0, gt=0)
    # A click (or a lesson rating) this soon after the lesson was delivered is a link
    # scanner's: Safe Links and security gateways fetch every link on arrival.
    machine_click_seconds: int = Field(default=10, ge=0)
    # Networks (CIDR) of mail security scanners and proxies whose clicks never count as a
    # reader's: add your recipients' gateways (Mimecast, Proofpoint, ...) as you learn them.
    scanner_networks: list[str] = Field(default_factory=list)
    # Free-text comments on lessons are deleted this many months after they were written.
    feedback_comment_retention_months: int = Field(default=12, ge=1)
    # Retention: processed webhook bodies, unconfirmed signups, finished or stopped people.
    webhook_batch_retention_days: int = Field(default=7, ge=0)
    unconfirmed_retention_days: int = Field(default=30, ge=1)
    inactive_retention_months: int = Field(default=24, ge=1)

    send_time: str = "07:30"
    skip_weekends: bool = False
    first_lesson: Literal["immediately", "next_send_time"] = "immediately"
    dispatch_interval_seconds: float = Field(default=60.0, gt=0)
    dispatch_batch_size: int = Field(default=2000, gt=0)
    claim_timeout_seconds: int = Field(default=300, gt=0)
    evidence_grace_seconds: int = Field(default=120, ge=0)
    max_send_attempts: int = Field(default=12, ge=1)
    # A send failing for a passing reason (429, 5xx, timeouts) fails only once it had
    # max_send_attempts tries AND was queued this many hours ago: tries alone ran out after
    # about 2.5 hours of a SendGrid outage, and a lesson a day late beats one never sent.
    retry_window_hours: float = Field(default=24.0, gt=0)
    retry_backoff_base_seconds: float = Field(default=30.0, gt=0)
    retry_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    # The circuit breaker (delivery.breaker): after this many provider requests in a row fail
    # with a 5xx or a broken connection, the dispatcher holds sends and lets one small probe
    # batch through every probe interval (doubling up to 16 times it) until one gets through.
    breaker_failures: int = Field(default=5, ge=1)
    breaker_probe_seconds: float = Field(default=60.0, gt=0)

    # Where the clinic hears about trouble (tasks.alerts): a short Dutch email, at most once a
    # day per condition. Empty: the dashboard still shows the banners, nobody is mailed.
    alert_email: str = ""

    worker_pool: Literal["prefork", "threads", "gevent", "solo"] = "threads"
    # Threads per worker process: each runs one batch at a time, so 8 keep a process's
    # batches overlapping SendGrid's latency without idling on the GIL (bench_throughput).
    worker_concurrency: int = Field(default=8, ge=1)
    # The dispatcher hands out due deliveries of one lesson in batches of up to this many: one
    # send task, one claim statement, one render, one SendGrid request (a personalization
    # per recipient; SendGrid takes 1,000 at most) and one commit. 1 sends one by one.
    send_batch_size: int = Field(default=500, ge=1, le=1000)

    # GET /metrics (Prometheus) answers only `Authorization: Bearer <this token>`; unset, the
    # endpoint does not exist (404). At least 16 characters: it guards no personal data, but
    # the figures say how the service is doing.
    metrics_token: str = ""
    # "json": one JSON object per log line (time, level, logger, message, ids; no addresses),
    # in the web app, workers, beat and `nurture run`. "text" leaves the logs as they were.
    log_format: Literal["text", "json"] = "text"

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme in {"postgres", "postgresql"}:
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        if scheme.startswith("postgresql+") or scheme.startswith("sqlite"):
            return value
        raise ValueError("expected sqlite:///PATH or postgresql://USER@HOST/DB")

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"redis", "rediss", "unix"} or not (parts.hostname or parts.path):
            raise ValueError("expected redis://HOST:PORT/DB")
        return value

    @field_validator("base_url", "sendgrid_host")
    @classmethod
    def _check_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("expected an absolute http(s):// URL")
        return value.rstrip("/")

    @field_validator("dns_server")
    @classmethod
    def _check_dns_server(cls, value: str) -> str:
        value = value.strip()
        if value:
            parse_dns_server(value)
        return value

    @field_validator("metrics_token")
    @classmethod
    def _check_metrics_token(cls, value: str) -> str:
        value = value.strip()
        if value and len(value) < METRICS_TOKEN_MIN_LENGTH:
            raise ValueError(
                f"use at least {METRICS_TOKEN_MIN_LENGTH} characters (or leave it unset)"
            )
        return value

    @field_validator("scanner_networks")
    @classmethod
    def _check_scanner_networks(cls, value: list[str]) -> list[str]:
        try:
            return [str(ipaddress.ip_network(item.strip(), strict=False)) for item in value]
        except ValueError as exc:
            raise ValueError('expected a JSON list of networks, such as ["192.0.2.0/24"]') from exc

    @field_validator("alert_email")
    @classmethod
    def _check_alert_email(cls, value: str) -> str:
        value = value.strip()
        local, at, domain = value.partition("@")
        # One plain address: it goes into a mail header, so no spaces, commas or line breaks.
        if value and not (at and local and "." in domain and not set(value) & set(" ,;<>\r\n")):
            raise ValueError("expected one email address, such as praktijk@example.nl")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("expected an IANA time zone such as Europe/Amsterdam") from exc
        return value

    @field_validator("send_time")
    @classmethod
    def _check_send_time(cls, value: str) -> str:
        hours, _, minutes = value.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            raise ValueError("expected a local time as HH:MM, such as 07:30")
        return f"{int(hours):02d}:{int(minutes):02d}"

    @model_validator(mode="after")
    def _default_backend_and_secrets(self) -> Settings:
        if self.mail_backend is None:
            self.mail_backend = "sendgrid" if self.sendgrid_api_key else "outbox"
        if self.mail_backend == "sendgrid" and not self.sendgrid_api_key:
            raise ValueError(
                "NURTURE_SENDGRID_API_KEY: required when NURTURE_MAIL_BACKEND is sendgrid"
            )
        if self.env == "production":
            for name in ("secret_key", "admin_password"):
                if getattr(self, name).strip().lower() in PLACEHOLDER_SECRETS:
                    raise ValueError(
                        f"NURTURE_{name.upper()}: set a real secret in production "
                        "(it is missing or a placeholder)"
                    )
            if not self.base_url.startswith("https://"):
                raise ValueError("NURTURE_BASE_URL: production links must be https://")
        return self

    @property
    def secret_keys(self) -> list[str]:
        """Return the secret key, then its fallbacks: sign with the first, verify with any."""
        return [self.secret_key, *self.secret_key_fallbacks]

    @property
    def is_sqlite(self) -> bool:
        """Tell whether the database is SQLite."""
        return self.database_url.startswith("sqlite")

    @property
    def zone(self) -> ZoneInfo:
        """Return the default subscriber time zone."""
        return ZoneInfo(self.timezone)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, raising ConfigError with a one-line message.

    Entry points (web app, worker, CLI) call this once and hand the result to build_runtime;
    nothing else reads the environment.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
