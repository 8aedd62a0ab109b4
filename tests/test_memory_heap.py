"""No reporter's id, name, username or answer is left anywhere in the bot's memory.

The walk looks at every object the garbage collector tracks (``gc.get_objects()``) and at
everything each of them refers to (``gc.get_referents``): ints, strings and bytes included, so a
raw id held in any set, dict, list, slot or attribute is found. What Telegram itself holds (the
fake Bot API, the test's reporters) and the running test's own frames are left out by walking
from them, never into the bot's objects.
"""

from __future__ import annotations

import asyncio
import gc
import secrets
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import CoroutineType, FrameType, ModuleType
from typing import Any

from telegram.ext import Application

from handlers.callbacks import Op
from tests.bot_support import COVER_ON, BotHarness, enter, running_bot, tap, walk
from tests.botclient import FakeTelegram, ReporterClient

_BOT_PACKAGES = ("bot.", "handlers.", "storage.", "telegram", "asyncio", "httpx")


@dataclass
class Canaries:
    ids: set[int]
    words: list[str]

    def found_in(self, value: object) -> str | None:
        if type(value) is int and value in self.ids:
            return "an id"
        if isinstance(value, str | bytes | bytearray):
            text = value if isinstance(value, str) else bytes(value).decode("utf-8", "replace")
            for word in self.words:
                if word in text:
                    return "a word"
        return None


def _owned_by_the_bot(obj: object) -> bool:
    module = type(obj).__module__ or ""
    return isinstance(obj, Application | ModuleType) or module.startswith(_BOT_PACKAGES)


def _telegrams_side(roots: Iterable[object]) -> set[int]:
    """Object ids reachable from the fake Telegram and the reporters, not entering the bot."""
    seen: set[int] = set()
    todo = list(roots)
    while todo:
        obj = todo.pop()
        if id(obj) in seen or _owned_by_the_bot(obj):
            continue
        seen.add(id(obj))
        todo.extend(gc.get_referents(obj))
    return seen


def _this_test(frame: FrameType | None) -> set[int]:
    """The running test's frames and coroutines (they hold its clients, not the bot's data)."""
    out: set[int] = set()
    while frame is not None:
        out.add(id(frame))
        out.add(id(frame.f_locals))
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, CoroutineType) and obj.cr_frame is not None and id(obj.cr_frame) in out:
            out.add(id(obj))
    return out


def holders(canaries: Canaries, telegram: FakeTelegram, clients: list[ReporterClient]) -> list[str]:
    """Type names of the bot-side objects that refer to a canary."""
    gc.collect()
    excluded = _telegrams_side([telegram, clients, canaries, *clients]) | _this_test(
        sys._getframe()
    )
    found: list[str] = []
    for obj in gc.get_objects():
        if id(obj) in excluded:
            continue
        for ref in gc.get_referents(obj):
            what = canaries.found_in(ref)
            if what is not None:
                found.append(f"{type(obj).__module__}.{type(obj).__qualname__} holds {what}")
    return found


def _reporters(bot: BotHarness, count: int) -> tuple[list[ReporterClient], Canaries]:
    clients: list[ReporterClient] = []
    canaries = Canaries(set(), [])
    for _ in range(count):
        user_id = 6_000_000_000 + secrets.randbelow(10**9)
        first, last = f"First{secrets.token_hex(6)}", f"Last{secrets.token_hex(6)}"
        username = f"user_{secrets.token_hex(6)}"
        client = bot.client(
            user_id=user_id,
            first_name=first,
            last_name=last,
            username=username,
            language_code="ru",
        )
        clients.append(client)
        canaries.ids.add(user_id)
        canaries.words += [first, last, username]
    return clients, canaries


def _answer(canaries: Canaries) -> str:
    word = f"Answer{secrets.token_hex(8)}"
    canaries.words.append(word)
    return word


async def test_heap_holds_no_id_name_or_answer_after_reporters_finish_and_panic(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        # the bot's last word after an erase is deleted after a while, holding the chat id until
        # then (docs/threat-model.md): make that while short here, and wait it out below
        bot.runtime.chats.last_word_seconds = 0.05
        clients, canaries = _reporters(bot, 4)
        for n, client in enumerate(clients):
            await client.send("/start")
            await client.click("Русский")
            await walk(
                client,
                {"about": [("choose", "me")], "more": [("text", _answer(canaries))]},
                stop_at=None if n % 2 == 0 else "evidence",
            )
            if n == 1:
                # the walk can see what it looks for: an open report holds its answer
                assert any("a word" in h for h in holders(canaries, bot.telegram, clients))
            if n % 2 == 0:
                await tap(client, Op.SUBMIT)
            else:
                await client.send("/panic")
        await asyncio.sleep(0.3)
        app = bot.app
        assert app._user_ids_to_be_updated_in_persistence == set()  # the library's own sets
        assert app._chat_ids_to_be_updated_in_persistence == set()
        # ...and the walk reaches into the bot: an id planted there is found
        app.bot_data["planted"] = [next(iter(canaries.ids))]
        assert holders(canaries, bot.telegram, clients)
        del app.bot_data["planted"]
        assert holders(canaries, bot.telegram, clients) == []


async def test_an_idle_cover_conversation_holds_its_chat_id_only_sealed_and_drops_it_at_the_end(
    tmp_path: Path,
) -> None:
    """Cover mode keeps a chat handle so that the idle sweep and a stop can erase the chat without
    the reporter (handlers.state). The failure this blocks: the chat id kept for that as a plain
    int (or its digits) in a conversation waiting for its reporter, or left after it ended."""
    async with running_bot(tmp_path, **COVER_ON) as bot:
        clients, canaries = _reporters(bot, 3)
        ids_only = Canaries(set(canaries.ids), [str(i) for i in canaries.ids])
        for client in clients:
            await client.send("/start")
            await enter(client)
            await client.click("Русский")
            await tap(client, Op.CHOOSE, "intro", "continue")
            await tap(client, Op.CHOOSE, "consent", "agree")
            await walk(client, {"about": [("choose", "me")]}, stop_at="place")
        chats = bot.runtime.chats
        waiting = [conv for _, conv in chats.conversations.items()]
        assert len(waiting) == 3
        assert all(conv.chat is not None for conv in waiting)
        assert sorted(chats.handles.open(c.chat) for c in waiting if c.chat) == sorted(
            canaries.ids
        )  # each handle is its reporter's chat: the bot can erase it without them
        assert not any(str(i) in repr(c) for c in waiting for i in canaries.ids)
        assert holders(ids_only, bot.telegram, clients) == []  # neither int nor digits
        # ...and the walk sees an id a waiting conversation would hold as a plain int
        waiting[0].files_received = next(iter(canaries.ids))
        assert holders(ids_only, bot.telegram, clients)
        waiting[0].files_received = 0
        bot.clock.advance(bot.settings.idle_timeout_seconds + 1)
        assert await chats.sweep() == 3  # erased, the phrasebook left, the handles dropped
        assert [conv.chat for conv in waiting] == [None, None, None]
        del waiting
        assert holders(ids_only, bot.telegram, clients) == []


async def test_the_library_would_have_kept_every_id_without_the_forgetful_application(
    tmp_path: Path,
) -> None:
    """Why ForgetfulApplication exists: PTB's own method, called as PTB calls it, keeps ids."""
    async with running_bot(tmp_path) as bot:
        clients, canaries = _reporters(bot, 1)
        await clients[0].send("/start")
        plain: Any = super(type(bot.app), bot.app)
        from telegram import Update

        update = Update.de_json(
            {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": next(iter(canaries.ids)), "type": "private"},
                    "from": {"id": next(iter(canaries.ids)), "is_bot": False, "first_name": "x"},
                    "text": "hi",
                },
            },
            bot.app.bot,
        )
        plain._mark_for_persistence_update(update=update)
        assert bot.app._user_ids_to_be_updated_in_persistence == canaries.ids
        bot.app._user_ids_to_be_updated_in_persistence.clear()
        bot.app._chat_ids_to_be_updated_in_persistence.clear()
