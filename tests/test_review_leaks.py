"""Leak paths found in the adversarial review: each test is named after the path it closes."""

from __future__ import annotations

import io
import json
import sys
import threading

import pytest

from bot.ops.logging import install_exception_hooks
from tests.bot_support import logging_configured

CANARY = "CANARY-Пак-Ённа-4711"


class _Holder:
    """An object whose repr carries the canary, as a conversation or an Update would."""

    def __repr__(self) -> str:
        return f"<holder {CANARY}>"

    def __del__(self) -> None:
        raise ValueError(f"reporter wrote {CANARY}")


def test_unraisable_exception_in_a_finaliser_writes_no_message_or_repr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # "Exception ignored in: <repr>" plus a traceback with the message is what Python's default
    # unraisable hook prints (a __del__ or an unawaited coroutine's close that raised).
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)
    monkeypatch.setattr(threading, "excepthook", threading.__excepthook__)
    stream = io.StringIO()
    with logging_configured("DEBUG", stream):
        install_exception_hooks()
        holder = _Holder()
        del holder  # its finaliser raises with the canary in the message
    err = capsys.readouterr().err
    out = stream.getvalue()
    assert CANARY not in err
    assert CANARY not in out
    events = [json.loads(line) for line in out.splitlines() if line]
    assert any(
        e["event"] == "unraisable_exception" and e["exc_type"] == "ValueError" for e in events
    )
