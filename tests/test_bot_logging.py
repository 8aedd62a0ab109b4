"""Logging: no argument of a library record, no exception message, no token ever written."""

from __future__ import annotations

import ast
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ops.logging import FIELD_NAMES, SafeFormatter, log_exception
from tests.bot_support import logging_configured

ROOT = Path(__file__).resolve().parent.parent
CANARY = "CANARY-Пак-Ённа-4711"


class Canary:
    def __str__(self) -> str:
        return CANARY

    __repr__ = __str__


TOKEN = "123456789:AAtesttokenCANARYtok3n_abcdefghijklmno"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    with logging_configured("DEBUG", stream):
        yield stream


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_library_record_arguments_are_never_written(captured: io.StringIO) -> None:
    logging.getLogger("telegram.ext.Application").critical(
        "Error while building CallbackContext for update %s.", {"text": CANARY}
    )
    out = captured.getvalue()
    assert CANARY not in out
    assert "Error while building CallbackContext for update %s." in out


def test_library_message_formatted_in_place_is_withheld(captured: io.StringIO) -> None:
    logging.getLogger("telegram.ext").error(f"Update {CANARY} failed")  # noqa: G004 - the leak under test
    out = captured.getvalue()
    assert CANARY not in out
    assert "withheld" in out


def test_exception_message_and_traceback_are_never_written(captured: io.StringIO) -> None:
    log = logging.getLogger("handlers.test")
    try:
        raise ValueError(f"Bad Request: message text {CANARY}")
    except ValueError:
        log.exception("something_failed")
    [line] = _lines(captured)
    assert CANARY not in captured.getvalue()
    assert line["exc_type"] == "ValueError"
    assert "tests.test_bot_logging" in str(line["exc_where"])
    assert "Traceback" not in captured.getvalue()


def test_chained_exception_types_are_named_without_messages(captured: io.StringIO) -> None:
    try:
        try:
            raise KeyError(CANARY)
        except KeyError as inner:
            raise RuntimeError(CANARY) from inner
    except RuntimeError as exc:
        incident = log_exception(logging.getLogger("bot.x"), "boom", exc)
    [line] = _lines(captured)
    assert line["exc_type"] == "RuntimeError<-KeyError"
    assert line["incident"] == incident
    assert CANARY not in captured.getvalue()


def test_token_is_masked_even_in_our_own_messages(captured: io.StringIO) -> None:
    logging.getLogger("bot.app").info("url https://api.telegram.org/bot%s/getMe", TOKEN)
    out = captured.getvalue()
    assert TOKEN not in out
    assert "<token>" in out


def test_library_loggers_stay_at_warning_when_the_bot_is_at_debug(captured: io.StringIO) -> None:
    for name in ("telegram", "telegram.ext", "httpx", "httpcore"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
    assert logging.getLogger("handlers.private").isEnabledFor(logging.DEBUG)
    logging.getLogger("httpx").info("HTTP Request: POST %s", f"https://x/bot{TOKEN}/sendMessage")
    assert captured.getvalue() == ""


def test_only_scalar_fields_are_written() -> None:
    record = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "event", None, None)
    record.fields = {
        "count": 3,
        "kind": "photo",
        "open": True,
        "size": None,
        "state": {"nested": CANARY},
        "slots": [CANARY],
        "phase": (CANARY,),
        "outcome": Canary(),
    }
    out = SafeFormatter("json").format(record)
    line = json.loads(out)
    assert CANARY not in out
    assert {k: line[k] for k in ("count", "kind", "open", "size")} == {
        "count": 3,
        "kind": "photo",
        "open": True,
        "size": None,
    }
    assert not {"state", "slots", "phase", "outcome"} & line.keys()
    assert line["withheld_fields"] == 4


def test_a_field_not_in_the_allow_list_is_not_written_even_when_scalar() -> None:
    record = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "event", None, None)
    record.fields = {"count": 1, "text": CANARY, "user_id": 123456789}
    out = SafeFormatter("kv").format(record)
    assert CANARY not in out
    assert "123456789" not in out
    assert "count=1" in out
    assert "withheld_fields=2" in out


def test_a_string_subclass_cannot_smuggle_text_through_its_str() -> None:
    class Sneaky(str):
        def __str__(self) -> str:
            return CANARY

    record = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "event", None, None)
    record.fields = {"kind": Sneaky("photo")}
    line = json.loads(SafeFormatter("json").format(record))
    assert line["kind"] == "photo"


def test_every_field_name_the_code_logs_is_allow_listed() -> None:
    """A field the code passes but the formatter drops would hide what the event is about."""
    used: dict[str, str] = {}
    for folder in ("bot", "handlers", "storage", "analyst"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Dict):
                    continue
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "fields":
                        assert isinstance(value, ast.Dict), f"{path}:{node.lineno}: literal fields"
                        for name in value.keys:
                            assert isinstance(name, ast.Constant), f"{path}:{node.lineno}"
                            used[str(name.value)] = f"{path.relative_to(ROOT)}:{node.lineno}"
    assert len(used) > 20  # the scan found the code's fields
    assert {n: where for n, where in used.items() if n not in FIELD_NAMES} == {}


def test_key_value_format_is_one_line() -> None:
    record = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "multi\nline", None, None)
    out = SafeFormatter("kv").format(record)
    assert "\n" not in out
    assert 'event="multi\\nline"' in out
