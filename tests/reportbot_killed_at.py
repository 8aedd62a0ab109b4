"""``reportbot run``, killed by SIGKILL at one named point of the submit path. Test-only.

Usage: ``python tests/reportbot_killed_at.py POINT LAST_WORD_SECONDS run --env-file ...``
(``-`` for either: no kill, the shipped delay). Everything after the two is handed to the real
``reportbot`` command line (``bot.cli.main``), so what runs is the bot as deployed, with one
store method wrapped: right after the commit named by POINT, the process sends itself SIGKILL,
a real kill with no cleanup, at an exact place instead of a moment chosen by a timer. The shipped
code has no such hook: nothing a deployment sets can reach it (tests/test_erase_crash_points.py
says why it is done this way).

POINT is one of :data:`POINTS`; ``LAST_WORD_SECONDS`` replaces
``handlers.private.LAST_WORD_SECONDS`` (how long the neutral line stays) for a test that must
not wait half a minute.

With :data:`DONE_FILE_ENV` set to a path, the id of every update is appended to that file once
the Application has finished processing it (every Bot API call of that update answered, every
write it queued committed), so a
test over HTTP knows when the bot is done with what the reporter did instead of guessing from a
pause in its calls.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

POINTS = ("answers_stored", "receipt_issued", "closed", "receipt_noted")
"""answers_stored: on entering the receipt's commit (every answer committed, nothing of the end);
receipt_issued: the receipt's tag committed, the report still open; closed: the report closed
(committed), nothing shown; receipt_noted: "sent" shown and its message id committed as kept
(``note_messages`` with keep, the moment its commit is done), nothing erased yet."""


DONE_FILE_ENV = "TEST_UPDATES_DONE_FILE"
"""Not a setting of the bot (no REPORTBOT_ prefix; nothing in ``bot/`` reads it)."""


def _observe(done: Path) -> None:
    from telegram.ext import Application

    from storage.sqlite import SqliteReportStore

    stores: list[Any] = []
    opened = SqliteReportStore.__init__

    def kept(self: Any, *args: Any, **kwargs: Any) -> None:
        opened(self, *args, **kwargs)
        stores.append(self)

    SqliteReportStore.__init__ = kept  # type: ignore[method-assign]
    original = Application.process_update

    async def observed(self: Any, update: object) -> None:
        try:
            await original(self, update)
            # and what it queued for the store is committed: the ids of what it sent last
            # commit right after the update, not in it (docs/storage.md); a test that kills the
            # bot once it is "done" means a kill after that
            for store in stores:
                await store.settled()
        finally:
            update_id = getattr(update, "update_id", None)
            if update_id is not None:
                with done.open("a", encoding="ascii") as out:
                    out.write(f"{update_id}\n")

    Application.process_update = observed  # type: ignore[method-assign]


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _wrap(cls: Any, name: str, *, before: bool, when: Callable[..., bool]) -> None:
    original = getattr(cls, name)

    async def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        if before and when(*args, **kwargs):
            _kill()
        result = await original(self, *args, **kwargs)
        if not before and when(*args, **kwargs):
            _kill()
        return result

    setattr(cls, name, wrapped)


def _wrap_noted(cls: Any, *, when: Callable[..., bool]) -> None:
    """``note_messages`` queues its rows and returns the future of their commit: the kill comes
    the moment that commit is done (before the caller, waiting on it, goes on)."""
    original = cls.note_messages

    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        future = original(self, *args, **kwargs)
        if when(*args, **kwargs):
            future.add_done_callback(lambda _: _kill())
        return future

    cls.note_messages = wrapped


def _arm(point: str) -> None:
    from storage.sqlite import SqliteReportStore

    def always(*_: Any, **__: Any) -> bool:
        return True

    def kept(*_: Any, keep: bool = False, **__: Any) -> bool:
        return keep

    if point == "answers_stored":
        _wrap(SqliteReportStore, "put_receipt", before=True, when=always)
    elif point == "receipt_issued":
        _wrap(SqliteReportStore, "put_receipt", before=False, when=always)
    elif point == "closed":
        _wrap(SqliteReportStore, "close_report", before=False, when=always)
    elif point == "receipt_noted":
        _wrap_noted(SqliteReportStore, when=kept)
    else:
        raise SystemExit(f"unknown point {point!r}; one of {', '.join(POINTS)}")


def main() -> int:
    point, last_word, *rest = sys.argv[1:]
    done = os.environ.get(DONE_FILE_ENV)
    if done:
        _observe(Path(done))
    if point != "-":
        _arm(point)
    if last_word != "-":
        import handlers.private

        handlers.private.LAST_WORD_SECONDS = float(last_word)
    from bot.cli import main as reportbot

    sys.argv = ["reportbot", *rest]
    reportbot()  # click exits with the command's own status
    return 0


if __name__ == "__main__":
    sys.exit(main())
