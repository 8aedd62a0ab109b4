"""Conversations in memory, keyed by pseudonym; nothing here is ever written anywhere.

A :class:`Conversation` holds only what the engine needs (its State), the report's slot map, the
ids of the messages to delete (both directions), and a random nonce for the buttons. It is wiped
at submit, discard, quick exit, panic and idle timeout. No plain chat id or user id is kept: a
chat id is at hand while an update from that chat is handled, and otherwise only sealed.

The sealed chat id (cover mode only): while a conversation has messages to erase, it keeps a
:class:`bot.sealing.chat_handle.ChatHandle`, its chat id sealed in memory under a random key made
at start (never written, never logged; its repr shows no digits). It exists so that the bot can
erase the chat *without the reporter*: at the idle timeout and before a graceful stop (SIGTERM),
leaving the phrasebook's first screen (docs/cover.md). It is dropped (``chat = None``) when the
conversation ends in any way (submit, discard, quick exit, /panic, duress, idle timeout,
eviction, key rotation) and when nothing of it is left to erase, so it lives no longer than the
idle timeout. It keeps the number off the heap (no int object, no digits: a heap, swap or core
scan, a repr in an exception report or a log line finds nothing); it does not protect against
someone reading the live process, who can take the key beside it and sees every update anyway.

With the cover off there is no handle. When a conversation times out nobody is there to tell, and
without the chat id its messages cannot be deleted then; the ids are kept as a :class:`Leftover`
under the pseudonym, and deleted (with a word that the answers were kept) when the reporter next
writes, within Telegram's 48 hours. In cover mode that is the fallback when the erase at the
timeout fails.

Every recorded message id is also written to the store under the conversation's ``erase_key`` (16
random bytes, unrelated to the reporter) so that erasing survives a restart; after one, those
ids are :class:`Orphan` s: nobody knows whose they are until the reporter writes again
(``handlers.private``, "after a restart"). In cover mode a graceful stop erases what it can
first (within a time budget); a kill or a crash leaves only this route.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bot.questionnaire.engine import ACTIVE_PHASES, State
from bot.sealing.chat_handle import ChatHandle
from handlers.pseudonyms import Pseudonym
from handlers.reports import ReportDraft
from storage.base import ERASE_KEY_BYTES

MAX_MESSAGE_IDS = 5_000
"""Messages remembered for deletion per conversation (a flood cannot grow it further)."""


@dataclass(slots=True)
class Conversation:
    nonce: str
    last_seen: float
    lang: str | None = None
    state: State | None = None
    draft: ReportDraft | None = None
    message_ids: list[int] = field(default_factory=list)
    prompt_message_id: int | None = None
    can_back: bool = False
    awaiting_cancel: bool = False
    files_received: int = 0
    erase_key: bytes = field(default_factory=lambda: secrets.token_bytes(ERASE_KEY_BYTES))
    unsaved: list[int] = field(default_factory=list)
    """Recorded ids not yet written to the store (``ReporterChats.save``)."""
    kept: set[int] = field(default_factory=set)
    """Messages an erase at the end of a report leaves on screen (the receipt, the last word)."""
    entered: bool = False
    """Cover mode: an entry code opened this conversation (until it is erased, the chat is a
    report's, not the phrasebook's)."""
    chat: ChatHandle | None = None
    """Cover mode: the chat id, sealed, while there is something to erase (docstring above)."""

    def record(self, message_id: int | None) -> None:
        if message_id is None or message_id in self.message_ids[-8:]:
            return
        if len(self.message_ids) >= MAX_MESSAGE_IDS:
            # Keep the first ones (the answers) and the newest; a flood's middle is lost.
            del self.message_ids[MAX_MESSAGE_IDS // 2]
        self.message_ids.append(message_id)
        if len(self.unsaved) < MAX_MESSAGE_IDS:
            self.unsaved.append(message_id)

    @property
    def active(self) -> bool:
        return self.state is not None and self.state.phase in ACTIVE_PHASES

    @property
    def current_qid(self) -> str | None:
        return self.state.current if self.state is not None else None


@dataclass(slots=True)
class Leftover:
    """Message ids of a conversation that timed out, to delete when the reporter is back."""

    message_ids: list[int]
    answers_kept: bool
    expires: float
    erase_key: bytes = b""


@dataclass(slots=True)
class Orphan:
    """Message ids in the store whose chat nobody knows: left by a run that stopped, or by a
    conversation pushed out of memory. ``kept``: ids to leave on screen (a receipt)."""

    erase_key: bytes
    message_ids: list[int]
    kept: set[int] = field(default_factory=set)

    def probe(self) -> int | None:
        """The newest id that may be deleted: trying it in a chat tells whether it is there.

        One id per conversation, so that a newcomer's first message costs at most
        ``MAX_PROBED_ORPHANS`` delete calls (it was two each). A reporter who deleted that very
        message by hand is found only through a button of the old conversation."""
        return max((m for m in self.message_ids if m not in self.kept), default=None)


class KeyedLocks:
    """One asyncio.Lock per pseudonym while in use; nothing kept for idle pseudonyms."""

    def __init__(self) -> None:
        self._locks: dict[Pseudonym, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    def busy(self, key: Pseudonym) -> bool:
        return key in self._locks

    def users(self, key: Pseudonym) -> int:
        """Updates holding or waiting for this pseudonym's lock."""
        entry = self._locks.get(key)
        return 0 if entry is None else entry[1]

    @asynccontextmanager
    async def hold(self, key: Pseudonym) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
