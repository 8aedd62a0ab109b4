"""The setup handshake proves the channel's readers hold every analyst key.

``reportbot channel verify`` posts one challenge per analyst key, each sealed to that key alone;
only the code from each key, sent back from an allowed account, binds the channel. Wrong codes,
codes from other accounts, changed keys and old challenges bind nothing.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from click.testing import CliRunner
from telegram import Bot, Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.cli import _register, cli
from bot.delivery.channel_checks import (
    KEYHOLDERS_FILE,
    MAX_WRONG_ANSWERS,
    PENDING_FILE,
    AnswerStatus,
    ChannelChecker,
    ChannelError,
    ChannelVerifier,
    Check,
    format_code,
    key_fingerprints,
    keys_held_by,
)
from bot.sealing.envelope import seal_record, sign_challenge
from bot.sealing.keys import Recipients, write_private_file
from reportbot_analyst.channel import ChallengeError, read_challenge
from reportbot_analyst.keys import analyst_key_file_bytes
from storage.memory import MemoryReportStore
from tests.channel_fake import ANALYST_IDS, CHANNEL_ID, FakeChannelApi, make_bot
from tests.digest_support import Clock, Keys, make_keys


def _parts(
    tmp_path: Path, keys: Keys, clock: Clock | None = None
) -> tuple[MemoryReportStore, ChannelChecker, ChannelVerifier]:
    store = MemoryReportStore()
    checker = ChannelChecker(
        store, channel_id=CHANNEL_ID, allowed_admins=ANALYST_IDS, recipients=keys.recipients
    )
    verifier = ChannelVerifier(
        store,
        tmp_path,
        channel_id=CHANNEL_ID,
        recipients=keys.recipients,
        allowed_admins=ANALYST_IDS,
        clock=(clock or Clock()).wall,
    )
    return store, checker, verifier


async def _start(
    api: FakeChannelApi, checker: ChannelChecker, verifier: ChannelVerifier, keys: Keys
) -> None:
    async with make_bot(api) as bot:
        await verifier.start(bot, checker, keys.signing)


def _codes(api: FakeChannelApi, keys: Keys) -> list[str]:
    """Each analyst opens the document for their key (and only that one opens)."""
    codes = []
    for analyst in keys.analysts:
        opened, refused = [], []
        for doc in api.posted:
            try:
                opened.append(read_challenge(doc.data, [analyst], keys.signing.public, CHANNEL_ID))
            except ChallengeError as exc:
                refused.append(str(exc))
        assert all("for another analyst key" in message for message in refused)
        (challenge,) = opened
        assert challenge.channel_id == CHANNEL_ID
        assert challenge.key_fingerprint == analyst.public.fingerprint.replace(" ", "")
        assert challenge.bot_fingerprint == keys.signing.public.fingerprint.replace(" ", "")
        codes.append(challenge.spaced_code)
    return codes


async def test_the_handshake_binds_the_channel_to_every_analyst_key(tmp_path: Path) -> None:
    keys = make_keys(analysts=2)
    store, checker, verifier = _parts(tmp_path, keys)
    api = FakeChannelApi(admins=list(ANALYST_IDS))
    await _start(api, checker, verifier, keys)
    assert [d.file_name for d in api.posted] == ["verify-1.bin", "verify-2.bin"]
    async with make_bot(api) as bot:
        assert (await checker.check(bot)).failed is Check.NOT_VERIFIED
    first, second = _codes(api, keys)
    outcome = await verifier.answer(first)
    assert (outcome.status, outcome.remaining) == (AnswerStatus.ACCEPTED, 1)
    assert await store.channel_binding() is None, "one key's code is not enough"
    assert (await verifier.answer(second.replace(" ", "-"))).status is AnswerStatus.VERIFIED
    binding = await store.channel_binding()
    assert binding is not None
    assert binding.channel_id == CHANNEL_ID
    assert binding.key_fingerprints == key_fingerprints(keys.recipients)
    assert not (tmp_path / PENDING_FILE).exists()
    async with make_bot(api) as bot:
        assert (await checker.check(bot)).ok
    assert (await verifier.answer(first)).status is AnswerStatus.NO_CHALLENGE


async def test_the_waiting_handshake_keeps_no_code_and_only_its_owner_reads_it(
    tmp_path: Path,
) -> None:
    keys = make_keys()
    _, checker, verifier = _parts(tmp_path, keys)
    api = FakeChannelApi(admins=list(ANALYST_IDS))
    await _start(api, checker, verifier, keys)
    (code,) = _codes(api, keys)
    pending = tmp_path / PENDING_FILE
    assert pending.stat().st_mode & 0o777 == 0o600
    text = pending.read_text(encoding="ascii")
    assert code.replace(" ", "") not in text


async def test_wrong_codes_bind_nothing_and_too_many_void_the_challenge(tmp_path: Path) -> None:
    keys = make_keys()
    store, checker, verifier = _parts(tmp_path, keys)
    api = FakeChannelApi(admins=list(ANALYST_IDS))
    await _start(api, checker, verifier, keys)
    (code,) = _codes(api, keys)
    assert (await verifier.answer("not a code")).status is AnswerStatus.NO_CHALLENGE
    for n in range(MAX_WRONG_ANSWERS):
        wrong = format_code(f"{n:020d}")
        assert (await verifier.answer(wrong)).status is AnswerStatus.WRONG
    assert (await verifier.answer(code)).status is AnswerStatus.EXPIRED
    assert await store.channel_binding() is None


async def test_an_old_challenge_expires(tmp_path: Path) -> None:
    keys = make_keys()
    clock = Clock()
    store, checker, verifier = _parts(tmp_path, keys, clock)
    api = FakeChannelApi(admins=list(ANALYST_IDS))
    await _start(api, checker, verifier, keys)
    (code,) = _codes(api, keys)
    clock.advance(timedelta(days=8).total_seconds())
    assert (await verifier.answer(code)).status is AnswerStatus.EXPIRED
    assert await store.channel_binding() is None


async def test_changed_keys_need_a_new_verification(tmp_path: Path) -> None:
    keys = make_keys()
    store, checker, verifier = _parts(tmp_path, keys)
    api = FakeChannelApi(admins=list(ANALYST_IDS))
    await _start(api, checker, verifier, keys)
    (code,) = _codes(api, keys)
    assert (await verifier.answer(code)).status is AnswerStatus.VERIFIED
    more = Keys([*keys.analysts, *make_keys().analysts], keys.signing)
    _, new_checker, new_verifier = _parts(tmp_path, more)
    new_checker.store = new_verifier.store = store
    async with make_bot(api) as bot:
        assert (await new_checker.check(bot)).failed is Check.NOT_VERIFIED
    # A challenge posted for the old keys is refused by a bot that now has new ones.
    await _start(api, checker, verifier, keys)
    (stale,) = _codes(FakeChannelApi(posted=api.posted[-1:]), keys)
    assert (await new_verifier.answer(stale)).status is AnswerStatus.KEYS_CHANGED


async def test_verify_refuses_a_channel_that_fails_its_checks(tmp_path: Path) -> None:
    keys = make_keys()
    _, checker, verifier = _parts(tmp_path, keys)
    api = FakeChannelApi(admins=list(ANALYST_IDS), username="public_channel")
    with pytest.raises(ChannelError, match="public_username"):
        await _start(api, checker, verifier, keys)
    assert api.posted == []
    assert not (tmp_path / PENDING_FILE).exists()


class _Replies:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> None:
        self.sent.append((chat_id, text))


def _private_text(bot: Bot, user_id: int, text: str) -> Update:
    data = {
        "update_id": 1,
        "message": {
            "message_id": 5,
            "date": 1_700_000_000,
            "chat": {"id": user_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": "A"},
            "text": text,
        },
    }
    update = Update.de_json(data, bot)
    assert update is not None
    return update


async def test_only_an_allowed_account_can_answer_and_reporters_are_untouched(
    tmp_path: Path,
) -> None:
    keys = make_keys()
    store, checker, verifier = _parts(tmp_path, keys)
    api = FakeChannelApi(admins=list(ANALYST_IDS))
    replies = _Replies()
    context = cast(ContextTypes.DEFAULT_TYPE, type("Ctx", (), {"bot": replies})())
    async with make_bot(api) as bot:
        # No handshake waiting: even an allowed account's digits go on to the normal handlers.
        digits = _private_text(bot, ANALYST_IDS[0], format_code("1" * 20))
        await verifier.handle_update(digits, context)
        assert replies.sent == []
    await _start(api, checker, verifier, keys)
    (code,) = _codes(api, keys)
    async with make_bot(api) as bot:
        # A reporter (not on the list) typing the very code: handed on to the reporters' flow.
        await verifier.handle_update(_private_text(bot, 5_550_001, code), context)
        assert replies.sent == []
        assert await store.channel_binding() is None
        # An allowed account typing anything else: also handed on.
        await verifier.handle_update(_private_text(bot, ANALYST_IDS[1], "hello"), context)
        assert replies.sent == []
        with pytest.raises(ApplicationHandlerStop):
            await verifier.handle_update(_private_text(bot, ANALYST_IDS[1], code), context)
    assert replies.sent == [(ANALYST_IDS[1], "Channel verified. Digests will be posted to it.")]
    assert await store.channel_binding() is not None
    # Which account proved which key is remembered, hashed: the doctor can name an orphaned key.
    [fingerprint] = key_fingerprints(keys.recipients)
    assert keys_held_by(tmp_path, ANALYST_IDS) == {
        ANALYST_IDS[0]: [],
        ANALYST_IDS[1]: [fingerprint],
    }
    stored = (tmp_path / KEYHOLDERS_FILE).read_text("ascii")
    assert str(ANALYST_IDS[1]) not in stored


def test_the_analyst_command_prints_the_code_for_their_key_only(tmp_path: Path) -> None:
    import asyncio

    keys = make_keys(analysts=2)
    _, checker, verifier = _parts(tmp_path, keys)
    api = FakeChannelApi(admins=list(ANALYST_IDS))
    asyncio.run(_start(api, checker, verifier, keys))
    files = []
    for doc in api.posted:
        path = tmp_path / doc.file_name
        path.write_bytes(doc.data)
        files.append(str(path))
    key_file = tmp_path / "me.key"
    write_private_file(key_file, analyst_key_file_bytes(keys.analysts[1], None))
    _register()
    pinned = ["--bot-key", keys.signing.public.token(), "--channel", str(CHANNEL_ID)]
    result = CliRunner().invoke(
        cli, ["analyst", "verify-channel", *files, "--key", str(key_file), *pinned]
    )
    assert result.exit_code == 0, result.output
    (code,) = _codes(api, Keys(keys.analysts[1:], keys.signing))
    assert code in result.stdout
    assert str(CHANNEL_ID) in result.stdout
    assert "for another analyst key" in result.stderr
    other = tmp_path / "other.key"
    write_private_file(other, analyst_key_file_bytes(make_keys().analyst, None))
    refused = CliRunner().invoke(
        cli, ["analyst", "verify-channel", *files, "--key", str(other), *pinned]
    )
    assert refused.exit_code == 1
    assert "no challenge for your key" in refused.stderr
    assert json.loads((tmp_path / PENDING_FILE).read_text())["v"] == 1
    assert os.stat(tmp_path / PENDING_FILE).st_mode & 0o077 == 0


def _channel_post(bot: Bot, chat_id: int, text: str) -> Update:
    data = {
        "update_id": 2,
        "channel_post": {
            "message_id": 9,
            "date": 1_700_000_000,
            "chat": {"id": chat_id, "type": "channel", "title": "c"},
            "sender_chat": {"id": chat_id, "type": "channel", "title": "c"},
            "text": text,
        },
    }
    update = Update.de_json(data, bot)
    assert update is not None
    return update


async def test_a_code_posted_in_the_channel_gets_told_to_go_to_the_private_chat(
    tmp_path: Path,
) -> None:
    keys = make_keys()
    store, checker, verifier = _parts(tmp_path, keys)
    api = FakeChannelApi(admins=list(ANALYST_IDS))
    await _start(api, checker, verifier, keys)
    (code,) = _codes(api, keys)
    replies = _Replies()
    context = cast(ContextTypes.DEFAULT_TYPE, type("Ctx", (), {"bot": replies})())
    async with make_bot(api) as bot:
        with pytest.raises(ApplicationHandlerStop):
            await verifier.handle_update(_channel_post(bot, CHANNEL_ID, code), context)
        # Other channel posts (and other channels) go on untouched.
        await verifier.handle_update(_channel_post(bot, CHANNEL_ID, "hello"), context)
        await verifier.handle_update(_channel_post(bot, -100_999, code), context)
    assert len(replies.sent) == 1
    chat, text = replies.sent[0]
    assert chat == CHANNEL_ID
    assert "send it to the bot in a private chat" in text
    assert await store.channel_binding() is None  # a code in the channel does not count


def test_a_forged_unsigned_or_misdirected_challenge_is_refused_by_the_analyst(
    tmp_path: Path,
) -> None:
    """Issue 17.7: a challenge counts only if the pinned bot key signed it for the channel the
    analyst was told; an intruder's own document (sealed to the analyst's public key, which is no
    secret) or one posted for another channel is refused, and its code is never printed."""
    import asyncio

    keys = make_keys(analysts=1)
    _, checker, verifier = _parts(tmp_path, keys)
    api = FakeChannelApi(admins=list(ANALYST_IDS))
    asyncio.run(_start(api, checker, verifier, keys))
    (doc,) = api.posted
    analyst = keys.analysts[0]
    good = read_challenge(doc.data, [analyst], keys.signing.public, CHANNEL_ID)
    with pytest.raises(ChallengeError, match="channel"):
        read_challenge(doc.data, [analyst], keys.signing.public, CHANNEL_ID - 1)
    with pytest.raises(ChallengeError, match="pinned bot key"):
        read_challenge(doc.data, [analyst], make_keys().signing.public, CHANNEL_ID)
    fields = {
        "kind": "channel_challenge",
        "channel": CHANNEL_ID,
        "code": "1" * 20,
        "key": good.key_fingerprint,
        "bot": good.bot_fingerprint,
        "day": good.day,
    }
    forged = seal_record(Recipients([analyst.public]), fields)
    with pytest.raises(ChallengeError, match="not signed by the bot"):
        read_challenge(forged, [analyst], keys.signing.public, CHANNEL_ID)
    impostor = sign_challenge(make_keys().signing, forged)
    with pytest.raises(ChallengeError, match="pinned bot key"):
        read_challenge(impostor, [analyst], keys.signing.public, CHANNEL_ID)
    flipped = bytearray(doc.data)
    flipped[len(flipped) // 2] ^= 1
    with pytest.raises(ChallengeError):
        read_challenge(bytes(flipped), [analyst], keys.signing.public, CHANNEL_ID)
    # the command says so and prints no code
    path = tmp_path / "verify-1.bin"
    path.write_bytes(doc.data)
    key_file = tmp_path / "me.key"
    write_private_file(key_file, analyst_key_file_bytes(analyst, None))
    _register()
    result = CliRunner().invoke(
        cli,
        [
            *("analyst", "verify-channel", str(path), "--key", str(key_file)),
            *("--bot-key", keys.signing.public.token(), "--channel", str(CHANNEL_ID + 7)),
        ],
    )
    assert result.exit_code == 1
    assert good.spaced_code not in result.output
    assert "do not send its code" in result.stderr
