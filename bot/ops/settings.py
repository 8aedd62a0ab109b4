"""The bot's settings: one frozen object, read once in ``main()`` and passed explicitly.

Sources, strongest first: environment variables (``REPORTBOT_*``), a ``.env`` file, then files in
a secrets directory (one file per setting, named like the variable, e.g. ``reportbot_token``).
Anything wrong stops the start with one line naming the setting, never its value (the value may
be the token).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.phrasebook.model import normalise_code
from bot.questionnaire.flow import LANGUAGES, REPORTER_LANGUAGES

ENV_PREFIX = "REPORTBOT_"

TELEGRAM_DOWNLOAD_MAX = 20 * 1024 * 1024
"""The Bot API lets a bot download files up to 20 MB (a self-hosted server allows more)."""

WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,256}$")
"""Telegram allows 1-256 of these characters; we demand at least 32 (random, not a word)."""

DEFAULT_DOCUMENT_TYPES: tuple[str, ...] = (
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/heic",
    "image/webp",
    "audio/mpeg",
    "audio/ogg",
    "audio/mp4",
    "audio/x-m4a",
    "audio/aac",
    "audio/amr",
    "video/mp4",
    "video/quicktime",
    "video/3gpp",
    "text/plain",
)
"""MIME types a document (a file sent "as file") may have; anything else is refused unopened."""


class SettingsError(Exception):
    """Bad settings. ``str(exc)`` is one line naming the setting, never carrying its value."""


def _split_list(value: object) -> object:
    """Accept ``a,b,c`` (or JSON-less whitespace lists) from the environment for list settings."""
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,\s]+", value) if part.strip()]
    return value


class Settings(BaseSettings):
    """Every knob of the bot. Frozen: nothing changes it after start."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        # A .env may be shared with other tools: only REPORTBOT_* keys are ours, and an unknown
        # one of those is a typo that must stop the start.
        dotenv_filtering="match_prefix",
        extra="forbid",
        frozen=True,
        case_sensitive=False,
        hide_input_in_errors=True,
    )

    # --- Telegram -----------------------------------------------------------------------------
    token: SecretStr | None = None
    """The bot token from @BotFather. Required by ``reportbot run``."""

    api_url: str = "https://api.telegram.org"
    """Root of the Bot API server; set it to use a self-hosted ``telegram-bot-api`` server."""

    # --- Files ----------------------------------------------------------------------------------
    data_dir: Path = Path("data")
    analyst_public_keys: Annotated[tuple[Path, ...], NoDecode] = ()
    """Files holding the analysts' public keys; answers are sealed to every one of them."""
    bot_signing_key: Path | None = None
    """The bot's own signing key (digests, issue 6); created by ``reportbot keys``."""
    receipt_pepper: Path | None = None
    """The receipt pepper file (``reportbot keys new-pepper``); required by ``reportbot run``.
    Outside the data directory: a database and its backups alone must test no receipt code."""
    flow: Path = Path("flows/worker_report.yaml")
    locales_dir: Path = Path("locales")

    # --- Reporter-facing ------------------------------------------------------------------------
    languages: Annotated[tuple[str, ...], NoDecode] = LANGUAGES
    """Languages offered on the start screen, in this order."""

    messages_per_minute: Annotated[int, Field(ge=1, le=600)] = 60
    """Updates per minute one reporter may send on average (the refill of their flood bucket)."""
    message_burst: Annotated[int, Field(ge=1, le=1000)] = 40
    """Updates one reporter may send at once: with the rate above, someone tapping every 0.7 s
    finishes the whole shipped flow unthrottled. Over it: one calm line, then silence; after as
    many dropped updates again the account is ignored for ``flood_ignore_minutes``."""
    flood_ignore_minutes: Annotated[float, Field(gt=0, le=1440)] = 10.0
    reports_per_day: Annotated[int, Field(ge=1, le=1000)] = 5
    idle_timeout_hours: Annotated[float, Field(gt=0, le=47)] = 3.0
    """Open conversations idle this long end (answers kept) and are wiped from memory.

    At most 47 hours: Telegram lets a bot delete messages for 48 hours only.
    """
    pseudonym_rotation_hours: Annotated[float, Field(gt=0, le=24 * 7)] = 24.0
    max_open_conversations: Annotated[int, Field(ge=1, le=1_000_000)] = 50_000
    max_file_bytes: Annotated[int, Field(ge=1, le=TELEGRAM_DOWNLOAD_MAX)] = TELEGRAM_DOWNLOAD_MAX
    document_types: Annotated[tuple[str, ...], NoDecode] = DEFAULT_DOCUMENT_TYPES

    # --- Server-side limits -----------------------------------------------------------------------
    send_per_second: Annotated[float, Field(gt=0, le=1000)] = 29.0
    """Messages sent or edited per second overall (Telegram's limit is about 30)."""
    send_per_chat_per_second: Annotated[float, Field(gt=0, le=1000)] = 0.9
    """Messages sent or edited per second into one private chat (Telegram's: about 1)."""
    send_chat_burst: Annotated[int, Field(ge=1, le=1000)] = 3
    """How many of them may go into one chat at once before that rate applies."""
    retry_after_retries: Annotated[int, Field(ge=0, le=20)] = 3
    concurrent_updates: Annotated[int, Field(ge=1, le=1024)] = 32
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    """Days a report's envelopes are kept after the digest carrying them was confirmed posted."""

    # --- Analyst channel (issue 6) ----------------------------------------------------------------
    channel_id: int | None = None
    channel_admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    digest_interval_hours: Annotated[float, Field(gt=0, le=24 * 7)] = 6.0
    """A digest is closed and posted every this many hours, also when nothing was reported."""
    digest_jitter_minutes: Annotated[float, Field(ge=0)] = 30.0
    """Each digest's time is moved later by a random 0..this many minutes (< half the interval)."""
    digest_size_kib: Annotated[int, Field(ge=256, le=48 * 1024)] = 4096
    """Every digest file is exactly this many KiB (one size per deployment, issue 17.2); what
    does not fit waits for the next slot. Posted per day: this x 24 / the interval in hours."""

    # --- Webhook (long polling when webhook_url is unset) -----------------------------------------
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: Annotated[int, Field(ge=1, le=65535)] = 8443
    webhook_secret: SecretStr | None = None

    # --- Logging ----------------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Below DEBUG, lines carry the hour only and reporters' events come as hourly counts; DEBUG
    writes every update and answer with its exact time: a timeline of reporters' activity."""
    log_format: Literal["json", "kv"] = "json"
    deployment: Literal["production", "development"] = "production"
    """``development`` for a machine without real reporters: DEBUG is allowed there."""
    log_debug_timeline_accepted: bool = False
    """DEBUG outside development only with this set: the operator accepts that the logs then
    hold a timeline of reporters' activity (and keeps them off disk and journald)."""

    # --- Receipts and follow-ups (issue 7) ------------------------------------------------------
    receipt_wrong_codes_per_reporter: Annotated[int, Field(ge=1, le=100)] = 5
    """Wrong receipt codes one reporter (pseudonym) may type in 24 hours; then none is tried."""
    receipt_wrong_codes_per_hour: Annotated[int, Field(ge=1, le=100_000)] = 100
    """Wrong receipt codes all reporters together may type in an hour without waiting; beyond it
    every code waits before its lookup, 2 s doubling to at most 30 s (never a lock-out)."""
    receipt_wrong_code_delay_seconds: Annotated[float, Field(ge=0, le=30)] = 2.0
    """Pause before answering a wrong code (on top of argon2id's own cost)."""

    # --- Cover mode (issue 15, docs/cover.md) ------------------------------------------------
    cover: bool = True
    """Outside a report the bot is a Korean-Russian phrasebook; a report opens only with an
    entry code. On by default: ``reportbot run`` refuses to start without entry codes, and
    ``reportbot doctor`` flags a deployment that turned it off."""
    entry_codes: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    """Words or phrases that open a report (typed, or ``t.me/<bot>?start=<code>``), separated
    by commas; several at once so that codes can change without locking anyone out. Compared
    in constant time after normalising (case, ё/е, punctuation as space); never logged."""
    duress_codes: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    """Codes that look like an entry code to a watcher: they erase everything the bot can
    erase in that chat and show the phrasebook as if nothing had happened."""
    phrasebook: Path | None = None
    """The cover's phrasebook; unset: ``phrasebook.yaml`` next to the flow."""
    entry_attempts_per_hour: Annotated[int, Field(ge=1, le=1000)] = 20
    """Typed words and ``/start`` payloads one account may have compared with the codes per
    hour; beyond that they are only searched in the phrasebook (a right code then waits)."""

    @field_validator(
        "analyst_public_keys", "languages", "document_types", "channel_admin_ids", mode="before"
    )
    @classmethod
    def _lists_from_env(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("entry_codes", "duress_codes", mode="before")
    @classmethod
    def _codes_from_env(cls, value: object) -> object:
        """Codes may be phrases: only commas (or new lines) separate them."""
        if isinstance(value, str):
            return [part.strip() for part in re.split(r"[,\n]+", value) if part.strip()]
        return value

    @field_validator("entry_codes", "duress_codes")
    @classmethod
    def _codes_have_letters(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if any(not normalise_code(code.get_secret_value()) for code in value):
            raise ValueError("a code is empty once spaces and punctuation are left out")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [lang for lang in value if lang not in LANGUAGES]
        if unknown:
            raise ValueError(f"unknown language(s) {unknown}; known: {list(LANGUAGES)}")
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        missing = [lang for lang in REPORTER_LANGUAGES if lang not in value]
        if missing:
            raise ValueError(f"reporters' languages {missing} must be offered")
        return value

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://api.telegram.org")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query or fragment")
        return value.rstrip("/")

    @field_validator("webhook_url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("must be an https URL (Telegram posts webhooks only over https)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        if not WEBHOOK_SECRET_PATTERN.fullmatch(value.get_secret_value()):
            raise ValueError("must be 32-256 random characters of A-Z a-z 0-9 _ -")
        return value

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        if not re.fullmatch(r"[0-9]{1,20}:[A-Za-z0-9_-]{20,100}", value.get_secret_value()):
            raise ValueError("does not look like a bot token (digits:characters from @BotFather)")
        return value

    @field_validator("document_types")
    @classmethod
    def _mime_shape(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [t for t in value if not re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", t)]
        if bad:
            raise ValueError(f"not MIME types: {bad}")
        return value

    @field_validator("digest_jitter_minutes")
    @classmethod
    def _jitter_under_half_interval(cls, value: float, info: ValidationInfo) -> float:
        interval = info.data.get("digest_interval_hours")
        if isinstance(interval, float | int) and value * 2 >= interval * 60:
            raise ValueError("must be less than half of REPORTBOT_DIGEST_INTERVAL_HOURS")
        return value

    @model_validator(mode="after")
    def _debug_only_where_accepted(self) -> Settings:
        if (
            self.log_level == "DEBUG"
            and self.deployment != "development"
            and not self.log_debug_timeline_accepted
        ):
            raise ValueError(
                "log_level: DEBUG writes a timeline of reporters' activity (every update, with "
                "its time); outside REPORTBOT_DEPLOYMENT=development it needs "
                "REPORTBOT_LOG_DEBUG_TIMELINE_ACCEPTED=true"
            )
        return self

    @model_validator(mode="after")
    def _duress_is_not_entry(self) -> Settings:
        entry = {normalise_code(c.get_secret_value()) for c in self.entry_codes}
        if any(normalise_code(c.get_secret_value()) in entry for c in self.duress_codes):
            raise ValueError("duress_codes: a duress code must differ from every entry code")
        return self

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url is not None and self.webhook_secret is None:
            raise ValueError("webhook_secret: required when webhook_url is set")
        return self

    # --- Derived --------------------------------------------------------------------------------
    @property
    def bot_api_base_url(self) -> str:
        """``base_url`` for python-telegram-bot (the token is appended to it)."""
        return f"{self.api_url}/bot"

    @property
    def bot_api_file_url(self) -> str:
        return f"{self.api_url}/file/bot"

    @property
    def webhook_path(self) -> str:
        if self.webhook_url is None:
            return "/"
        return urlsplit(self.webhook_url).path or "/"

    @property
    def idle_timeout_seconds(self) -> float:
        return self.idle_timeout_hours * 3600.0

    def require_token(self) -> str:
        """The token's value, or SettingsError naming the missing setting."""
        if self.token is None:
            raise SettingsError(f"{ENV_PREFIX}TOKEN: required to run the bot (from @BotFather)")
        return self.token.get_secret_value()

    @property
    def phrasebook_path(self) -> Path:
        return self.phrasebook or self.flow.with_name("phrasebook.yaml")

    def require_cover_codes(self) -> None:
        """With cover mode on, at least one entry code; else SettingsError saying what to do."""
        if self.cover and not self.entry_codes:
            raise SettingsError(
                f"{ENV_PREFIX}ENTRY_CODES: cover mode is on and no entry code is set; set "
                f"{ENV_PREFIX}ENTRY_CODES (words or phrases, comma-separated; docs/cover.md) "
                f"or turn the cover off with {ENV_PREFIX}COVER=false"
            )


def _setting_name(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return f"{ENV_PREFIX}<settings>"
    name = str(loc[0]).upper()
    return name if name.startswith(ENV_PREFIX) else f"{ENV_PREFIX}{name}"


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming the first bad setting and what is wrong; never the value."""
    errors = exc.errors(include_input=False, include_url=False)
    if not errors:  # pragma: no cover - pydantic always has at least one
        return "bad settings"
    first = errors[0]
    loc = tuple(first.get("loc", ()))
    message = str(first.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        message = "unknown setting (a typo?)"
    # model validators name their field first
    for field in ("webhook_secret", "log_level", "duress_codes"):
        if not loc and message.startswith(f"{field}: "):
            loc = (field,)
            message = message.removeprefix(f"{field}: ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"bad setting {_setting_name(loc)}: {message}{more}"


def load_settings(
    env_file: Path | None = Path(".env"),
    secrets_dir: Path | None = None,
) -> Settings:
    """Read settings once. Raises SettingsError with one line naming the bad setting."""
    if secrets_dir is not None and not secrets_dir.is_dir():
        raise SettingsError(f"{ENV_PREFIX}SECRETS_DIR: {secrets_dir} is not a directory")
    if env_file is not None and not env_file.is_file():
        env_file = None
    try:
        return Settings(_env_file=env_file, _secrets_dir=secrets_dir)
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None
