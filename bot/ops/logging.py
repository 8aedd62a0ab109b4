"""Structured logging that cannot carry a reporter's id, name or words.

Every record goes through :class:`SafeFormatter`, which builds its line from an allow-list:

- time, level, logger name;
- for the project's own loggers (``reportbot``, ``bot``, ``handlers``, ``storage``): the message,
  plus ``fields`` passed as ``extra={"fields": {...}}``, each only if its name is in
  :data:`FIELD_NAMES` and its value a scalar (None, bool, number, string); anything else (a dict,
  a list, an object, whose ``str()`` could carry a text or an id) is not written, only counted in
  ``withheld_fields``. Our code logs event names and counts only; the canary tests hold it to that.
- for every other logger (python-telegram-bot, httpx, asyncio, ...): only the message *template*,
  never its arguments (PTB passes whole Updates and server replies as arguments), and nothing at
  all when a library formatted data into the message itself;
- for exceptions: the type names of the chain and where they were raised (module:line), never
  ``str(exception)`` (a Telegram error can quote a text) and never a traceback with values.

Anything that still looks like a bot token is masked. ``telegram``, ``httpx`` and ``httpcore`` are
held at WARNING whatever the bot's own level (at DEBUG they log the token and every parameter).

Times (issue 17.4): a log with exact times of what reporters did is a timeline of their activity,
whatever the lines say. So, unless the operator accepted a timeline (DEBUG, see
``bot.ops.settings``), every line's ``ts`` is the hour only (``2026-03-01T14Z``), and records of
:data:`REPORTER_LOGGERS` (everything a reporter's message, press, file, code or silence sets
off) are not written when they happen: :class:`SafeHandler` counts them per hour and writes one
line per distinct record with its ``hourly_count`` once the hour is over
(:func:`roll_reporter_events`, a job every minute, and at shutdown), in sorted order, so neither
the lines nor the moment the journal receives them tell when within the hour anyone wrote.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Final, Literal, TextIO

OWN_LOGGERS: tuple[str, ...] = ("reportbot", "bot", "handlers", "storage")
QUIET_LOGGERS: tuple[str, ...] = (
    "telegram",
    "httpx",
    "httpcore",
    "hpack",
    "apscheduler",
    "aiohttp",
    "asyncio",
)
"""Third-party loggers held at WARNING or above (``aiohttp.access`` would log client addresses)."""

REPORTER_LOGGERS: tuple[str, ...] = (
    "handlers",
    "bot.receipts",
    "bot.sealing",
    "bot.delivery.ratelimit",
)
"""Loggers whose records a reporter sets off (updates, answers, files, codes, erasing, idle
timeouts, sends into their chats): written only as counts per hour, after the hour."""

HOURLY_COUNT: Final = "hourly_count"
MAX_HOURLY_KEYS: Final = 10_000
"""Distinct reporter records kept per hour; beyond, one ``reporter_events_withheld`` count."""

_TOKEN_RE = re.compile(r"\d{3,20}:[A-Za-z0-9_-]{20,}")
_MAX_EVENT = 300
_FRAMES = 6

LogFormat = Literal["json", "kv"]

log = logging.getLogger("reportbot.logging")


def new_incident_id() -> str:
    """A random id to quote to the reporter and find in the logs; carries no information."""
    return secrets.token_hex(4)


def _under(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def is_own_logger(name: str) -> bool:
    return _under(name, OWN_LOGGERS)


def is_reporter_logger(name: str) -> bool:
    return _under(name, REPORTER_LOGGERS)


def hour_stamp(seconds: float) -> str:
    """``2026-03-01T14Z``: the UTC hour of a time, nothing finer."""
    return time.strftime("%Y-%m-%dT%HZ", time.gmtime(seconds))


def exception_types(exc: BaseException) -> str:
    """``Outer<-Cause<-Context`` type names only."""
    names: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(names) < 5:
        seen.add(id(current))
        names.append(type(current).__name__)
        current = current.__cause__ or current.__context__
    return "<-".join(names)


def exception_where(tb: TracebackType | None) -> str:
    """The last few frames as ``module:line``: where, never what."""
    frames: list[str] = []
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "?")
        frames.append(f"{module}:{tb.tb_lineno}")
        tb = tb.tb_next
    return " > ".join(frames[-_FRAMES:])


FIELD_NAMES: frozenset[str] = frozenset(
    {
        "all_wrong_1h",
        "attempt",
        "bytes",
        "chat_type",
        "check",
        "conversations",
        "core_limit",
        "count",
        "dumpable",
        "errno",
        "event",
        "exc_type",
        "exc_where",
        "failures",
        "held_digests",
        "incident",
        "keys",
        "kind",
        "messages",
        "missing",
        "mode",
        "open",
        "outcome",
        "outputs",
        "parts",
        "phase",
        "remaining",
        "reporter_wrong_24h",
        "retry_after",
        "scope",
        "seq",
        "since",
        "size",
        "slots",
        "state",
        "verdict",
        "was",
        "wrong",
    }
)
"""The only ``fields`` names ever written: counts, states, kinds and type names, never content.
A new field is added here on purpose (a test checks every name the code logs is listed)."""

WITHHELD_FIELDS = "withheld_fields"
"""How many fields of a record were not written (a name not listed, or a value not a scalar)."""

Scalar = str | int | float | bool | None


def _scalar(value: object) -> tuple[bool, Scalar]:
    """``(True, value)`` for a scalar (strings cut to 300 characters), ``(False, None)`` else.

    Never ``str()`` of anything else: a dict, list or object may hold a text or an id.
    """
    if value is None or isinstance(value, bool | int | float):
        return True, value
    if isinstance(value, str):
        return True, str.__str__(value)[:_MAX_EVENT]
    return False, None


def mask_tokens(text: str) -> str:
    return _TOKEN_RE.sub("<token>", text)


class SafeFormatter(logging.Formatter):
    """Formats a record from allow-listed parts only (see the module docstring)."""

    def __init__(self, fmt: LogFormat = "json", *, precise: bool = False) -> None:
        super().__init__()
        self._fmt_kind = fmt
        self.precise = precise  # milliseconds (a timeline the operator accepted) or the hour

    def stamp(self, record: logging.LogRecord) -> str:
        if not self.precise:
            return hour_stamp(record.created)
        return (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z"
        )

    def format(self, record: logging.LogRecord) -> str:
        return self.render(self.fields(record))

    def render(self, fields: Mapping[str, Any]) -> str:
        if self._fmt_kind == "json":
            line = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        else:
            line = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in fields.items())
        return mask_tokens(line)

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """The allow-listed parts of ``record``, ``ts`` first."""
        own = is_own_logger(record.name)
        fields: dict[str, Any] = {
            "ts": self.stamp(record),
            "level": record.levelname,
            "logger": record.name,
            "event": self._event(record, own),
        }
        extra = getattr(record, "fields", None)
        if own and isinstance(extra, Mapping):
            withheld = 0
            for key, value in extra.items():
                ok, scalar = _scalar(value)
                if ok and key in FIELD_NAMES and key not in fields:
                    fields[key] = scalar
                else:
                    withheld += 1
            if withheld:
                fields[WITHHELD_FIELDS] = withheld
        if record.exc_info and record.exc_info[1] is not None:
            fields["exc_type"] = exception_types(record.exc_info[1])
            fields["exc_where"] = exception_where(record.exc_info[2])
        return fields

    @staticmethod
    def _event(record: logging.LogRecord, own: bool) -> str:
        if own:
            try:
                message = record.getMessage()
            except (TypeError, ValueError):  # a bad format string must not lose the record
                message = str(record.msg)
            return message[:_MAX_EVENT]
        template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
        if record.args:
            # A %-template is constant text written by the library's authors; its arguments
            # (Updates, replies, URLs) are exactly what must not be written.
            return template[:_MAX_EVENT]
        # No arguments: the library may have formatted data into the message itself.
        return f"[library message withheld, {len(template)} chars]"

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's own name
        # Never called by format() above; defined so no other path can render a traceback.
        return ""

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging's own name
        return ""


_Key = tuple[int, str]  # (hour index, the record's line without its ts, as JSON)


class SafeHandler(logging.StreamHandler[TextIO]):
    """One line per record through :class:`SafeFormatter`; reporter records as hourly counts.

    With ``timeline`` (DEBUG accepted by the operator) reporter records are written at once with
    their exact time, like every other line.
    """

    def __init__(
        self,
        stream: TextIO,
        fmt: LogFormat = "json",
        *,
        timeline: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(stream)
        self.formatter_safe = SafeFormatter(fmt, precise=timeline)
        self.setFormatter(self.formatter_safe)
        self.timeline = timeline
        self._clock = clock
        self._counts: Counter[_Key] = Counter()
        self._withheld: Counter[int] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if self.timeline or not is_reporter_logger(record.name):
            super().emit(record)
            return
        try:
            fields = self.formatter_safe.fields(record)
            del fields["ts"]
            key = (math.floor(record.created / 3600), json.dumps(fields, sort_keys=True))
            if key in self._counts or len(self._counts) < MAX_HOURLY_KEYS:
                self._counts[key] += 1
            else:
                self._withheld[key[0]] += 1
        except Exception:
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        # logging's default prints the record's message and arguments with a traceback.
        try:
            fields = {
                "ts": self.formatter_safe.stamp(record),
                "level": "ERROR",
                "logger": "reportbot.logging",
                "event": "log_record_failed",
            }
            self.stream.write(self.formatter_safe.render(fields) + self.terminator)
        except Exception:  # noqa: S110 - nowhere left to report it
            pass

    def roll(self, *, everything: bool = False) -> int:
        """Write the counts of every hour that is over (``everything``: the current one too, at
        shutdown); returns how many lines were written."""
        now_hour = math.floor(self._clock() / 3600)
        lines: list[str] = []
        with self.lock if self.lock is not None else threading.Lock():
            due = sorted(k for k in self._counts if everything or k[0] < now_hour)
            for hour, body in due:
                fields = {"ts": hour_stamp(hour * 3600), **json.loads(body)}
                fields[HOURLY_COUNT] = self._counts.pop((hour, body))
                lines.append(self.formatter_safe.render(fields))
            for hour in sorted(h for h in self._withheld if everything or h < now_hour):
                fields = {
                    "ts": hour_stamp(hour * 3600),
                    "level": "WARNING",
                    "logger": "reportbot.logging",
                    "event": "reporter_events_withheld",
                    HOURLY_COUNT: self._withheld.pop(hour),
                }
                lines.append(self.formatter_safe.render(fields))
            if lines:
                self.stream.write("".join(line + self.terminator for line in lines))
                self.flush()
        return len(lines)


def roll_reporter_events(*, everything: bool = False) -> int:
    """:meth:`SafeHandler.roll` for every such handler on the root logger (the bot's jobs)."""
    return sum(
        h.roll(everything=everything)
        for h in logging.getLogger().handlers
        if isinstance(h, SafeHandler)
    )


def configure_logging(
    level: str = "INFO",
    fmt: LogFormat = "json",
    stream: TextIO | None = None,
    *,
    timeline: bool | None = None,
    clock: Callable[[], float] = time.time,
) -> SafeHandler:
    """Route every record through one :class:`SafeHandler`; return that handler.

    ``timeline`` (exact times, reporter records at once) defaults to ``level == "DEBUG"``:
    ``bot.ops.settings`` refuses DEBUG unless the deployment is a development one or the
    operator accepted the timeline. Idempotent: earlier handlers on the root logger are replaced.
    """
    if timeline is None:
        timeline = level.upper() == "DEBUG"
    handler = SafeHandler(
        stream if stream is not None else sys.stderr, fmt, timeline=timeline, clock=clock
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    root.setLevel(max(numeric, logging.INFO))
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(numeric)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    logging.captureWarnings(True)
    return handler


def log_exception(logger: logging.Logger, event: str, exc: BaseException) -> str:
    """Log an exception's type and place with a fresh incident id; return the id."""
    incident = new_incident_id()
    logger.error(
        event,
        extra={
            "fields": {
                "incident": incident,
                "exc_type": exception_types(exc),
                "exc_where": exception_where(exc.__traceback__),
            }
        },
    )
    return incident


def asyncio_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Replace asyncio's default handler, which prints the exception and the failing object."""
    exc = context.get("exception")
    if isinstance(exc, BaseException):
        log_exception(log, "asyncio_unhandled", exc)
    else:
        log.error("asyncio_unhandled", extra={"fields": {"exc_type": "none"}})


def install_exception_hooks() -> None:
    """Make uncaught exceptions (main thread, threads, finalisers) print one safe line instead of a
    traceback.

    For ``main()`` of long-running commands only; it changes process-wide hooks.
    """

    def _hook(
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            return
        log_exception(log, "uncaught_exception", exc)

    def _thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            log_exception(log, "uncaught_thread_exception", args.exc_value)

    def _unraisable_hook(args: sys.UnraisableHookArgs) -> None:
        # Python's default prints "Exception ignored in: <repr of the object>" and a traceback
        # with the message (a finaliser, an unawaited coroutine): either can quote a reporter.
        if args.exc_value is not None:
            log_exception(log, "unraisable_exception", args.exc_value)

    sys.excepthook = _hook
    threading.excepthook = _thread_hook
    sys.unraisablehook = _unraisable_hook
