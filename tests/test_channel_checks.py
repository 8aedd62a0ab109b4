"""The bot posts only into the verified channel, and a failed check loses nothing.

For each check (not a channel, public username, bot not an administrator, bot may not post, an
unknown administrator, a foreign bot as administrator, a wrong channel id, no verification, keys
changed since the verification, channel unreachable): nothing is posted, every digest stays in
the outbox, exactly one alert line names the check however often the sender tries; restoring the
check delivers every held digest, in order, and the toolkit opens every report from them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from bot.delivery.channel_checks import ChannelChecker, Check, compact_fingerprint, key_fingerprints
from bot.delivery.digests import DigestCloser
from bot.delivery.outbox import CHECK_CACHE_SECONDS, DigestSender, Outcome
from bot.sealing.keys import Recipients
from storage.base import ChannelBinding, DigestState
from storage.memory import MemoryReportStore
from tests.channel_fake import ANALYST_IDS, CHANNEL_ID, FakeChannelApi, make_bot
from tests.digest_support import (
    Clock,
    Keys,
    add_report,
    answer_texts,
    make_keys,
    open_files,
    save_posted,
)


@dataclass
class Rig:
    api: FakeChannelApi
    store: MemoryReportStore
    keys: Keys
    clock: Clock
    sender: DigestSender
    closer: DigestCloser

    async def bind(self, channel_id: int = CHANNEL_ID, keys: Recipients | None = None) -> None:
        fingerprints = key_fingerprints(keys or self.keys.recipients)
        await self.store.set_channel_binding(
            ChannelBinding(channel_id, fingerprints, date(2026, 3, 1))
        )

    async def deliver_rounds(self, rounds: int) -> list[Outcome]:
        outcomes = []
        async with make_bot(self.api) as bot:
            for _ in range(rounds):
                outcomes.append((await self.sender.deliver(bot)).outcome)
                self.clock.advance(max(0.0, self.sender.not_before - self.clock.mono) + 1)
        return outcomes


async def _rig() -> Rig:
    keys = make_keys()
    clock = Clock()
    store = MemoryReportStore()
    api = FakeChannelApi(admins=list(ANALYST_IDS))
    checker = ChannelChecker(
        store, channel_id=CHANNEL_ID, allowed_admins=ANALYST_IDS, recipients=keys.recipients
    )
    sender = DigestSender(
        store, checker, bot_fingerprint=keys.signing.public.fingerprint, monotonic=clock.monotonic
    )
    closer = DigestCloser(store, keys.signing, keys.recipients, clock=clock.wall)
    rig = Rig(api, store, keys, clock, sender, closer)
    await rig.bind()
    return rig


Breaker = Callable[[Rig], Awaitable[None]]


async def _not_a_channel(rig: Rig) -> None:
    rig.api.chat_type = "supergroup"


async def _public(rig: Rig) -> None:
    rig.api.username = "open_analysts"


async def _not_admin(rig: Rig) -> None:
    rig.api.bot_status = "member"


async def _cannot_post(rig: Rig) -> None:
    rig.api.bot_can_post = False


async def _unknown_admin(rig: Rig) -> None:
    rig.api.admins.append(5_550_123)


async def _foreign_bot_admin(rig: Rig) -> None:
    rig.api.bot_admins.append(7_777_777)


async def _wrong_id(rig: Rig) -> None:
    await rig.bind(channel_id=CHANNEL_ID - 1)


async def _never_verified(rig: Rig) -> None:
    await rig.store.clear_channel_binding()


async def _keys_changed(rig: Rig) -> None:
    await rig.bind(keys=make_keys(analysts=2).recipients)


async def _unreachable(rig: Rig) -> None:
    rig.api.reachable = False


CASES: list[tuple[str, Breaker, Check]] = [
    ("not a channel", _not_a_channel, Check.NOT_A_CHANNEL),
    ("public username", _public, Check.PUBLIC_USERNAME),
    ("bot not admin", _not_admin, Check.BOT_NOT_ADMIN),
    ("bot cannot post", _cannot_post, Check.BOT_CANNOT_POST),
    ("unknown admin", _unknown_admin, Check.UNKNOWN_ADMIN),
    ("another bot is admin", _foreign_bot_admin, Check.UNKNOWN_ADMIN),
    ("wrong id", _wrong_id, Check.WRONG_ID),
    ("no verification yet", _never_verified, Check.NOT_VERIFIED),
    ("keys changed since verification", _keys_changed, Check.NOT_VERIFIED),
    ("channel unreachable", _unreachable, Check.UNREACHABLE),
]


def _alerts(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "bot.delivery.outbox" and r.getMessage() == message
    ]


@pytest.mark.parametrize(("name", "breaker", "check"), CASES, ids=[c[0] for c in CASES])
async def test_a_failing_check_posts_nothing_holds_digests_and_logs_one_alert(
    name: str, breaker: Breaker, check: Check, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    rig = await _rig()
    await add_report(rig.store, rig.keys.recipients, "before")
    await rig.closer.close()
    await breaker(rig)
    # Fresh reports keep coming while the channel is broken: digests pile up, none is lost.
    outcomes = await rig.deliver_rounds(3)
    await add_report(rig.store, rig.keys.recipients, "during")
    await rig.closer.close()
    outcomes += await rig.deliver_rounds(3)

    assert set(outcomes) == {Outcome.HELD}
    assert rig.api.posted == []
    assert "sendDocument" not in rig.api.calls
    assert [d.seq for d in await rig.store.pending_digests()] == [1, 2]
    alerts = _alerts(caplog, "channel_check_failed")
    assert len(alerts) == 1, "one alert line, not one per attempt"
    fields = alerts[0].__dict__["fields"]
    assert fields["check"] == check.value
    assert fields["held_digests"] == 1
    assert fields["since"] == (await rig.store.pending_digests())[0].created_day.isoformat()

    rig.api.heal()
    await rig.bind()
    assert await rig.deliver_rounds(1) == [Outcome.DELIVERED]
    assert [d.state for d in await rig.store.list_digests()] == [DigestState.POSTED] * 2
    assert [p.file_name for p in rig.api.posted] == ["000001.bin", "000002.bin"]
    assert len(_alerts(caplog, "channel_checks_hold_again")) == 1
    result = open_files(save_posted(rig.api.posted, tmp_path), rig.keys)
    assert answer_texts(result) == {"before-0": 1, "before-1": 1, "during-0": 1, "during-1": 1}


async def test_checks_run_before_the_first_post_and_again_once_their_pass_expires() -> None:
    rig = await _rig()
    for n in range(3):
        await add_report(rig.store, rig.keys.recipients, f"r{n}")
        await rig.closer.close()
    await rig.deliver_rounds(1)
    # A passing round of checks covers the next CHECK_CACHE_SECONDS: one call per upload.
    assert [c for c in rig.api.calls if c != "getMe"] == [
        "getChat",
        "getChatMember",
        "getChatAdministrators",
        "sendDocument",
        "sendDocument",
        "sendDocument",
    ]
    await add_report(rig.store, rig.keys.recipients, "later")
    await rig.closer.close()
    rig.clock.advance(CHECK_CACHE_SECONDS)
    rig.api.calls.clear()
    await rig.deliver_rounds(1)
    assert [c for c in rig.api.calls if c != "getMe"] == [
        "getChat",
        "getChatMember",
        "getChatAdministrators",
        "sendDocument",
    ]


async def test_a_check_that_breaks_stops_posting_once_the_checks_pass_expires() -> None:
    rig = await _rig()
    for n in range(2):
        await add_report(rig.store, rig.keys.recipients, f"r{n}")
        await rig.closer.close()
    assert await rig.deliver_rounds(1) == [Outcome.DELIVERED]
    rig.api.username = "gone_public"
    await add_report(rig.store, rig.keys.recipients, "r2")
    await rig.closer.close()
    rig.clock.advance(CHECK_CACHE_SECONDS)
    assert await rig.deliver_rounds(1) == [Outcome.HELD]
    assert [p.file_name for p in rig.api.posted] == ["000001.bin", "000002.bin"]
    assert [d.seq for d in await rig.store.pending_digests()] == [3]


async def test_a_listed_analyst_missing_from_the_channel_is_an_alert_not_a_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = await _rig()
    rig.api.admins = [ANALYST_IDS[0]]  # the second analyst left or was removed
    await add_report(rig.store, rig.keys.recipients, "r0")
    await rig.closer.close()
    with caplog.at_level(logging.WARNING, logger="bot.delivery.outbox"):
        assert await rig.deliver_rounds(1) == [Outcome.DELIVERED]
    alerts = [r for r in caplog.records if r.getMessage() == "channel_analyst_missing"]
    assert len(alerts) == 1
    assert alerts[0].levelno == logging.ERROR
    assert alerts[0].fields == {"missing": "2", "count": 2}  # type: ignore[attr-defined]
    assert str(ANALYST_IDS[1]) not in caplog.text  # a position, never the account's id


async def test_the_owner_must_be_on_the_allowed_list_too() -> None:
    rig = await _rig()
    rig.api.admins = [5_550_999, ANALYST_IDS[0]]  # the first one is the channel's creator
    async with make_bot(rig.api) as bot:
        result = await rig.sender.checker.check(bot)
    assert result.failed is Check.UNKNOWN_ADMIN


async def test_no_channel_configured_is_a_failed_check() -> None:
    rig = await _rig()
    checker = ChannelChecker(
        rig.store, channel_id=None, allowed_admins=ANALYST_IDS, recipients=rig.keys.recipients
    )
    async with make_bot(rig.api) as bot:
        assert (await checker.check(bot)).failed is Check.NO_CHANNEL
    assert rig.api.calls == ["getMe"]


def test_binding_fingerprints_are_the_spoken_fingerprints_without_spaces() -> None:
    keys = make_keys(analysts=2)
    fingerprints = key_fingerprints(keys.recipients)
    spoken = sorted(k.public.fingerprint for k in keys.analysts)
    assert list(fingerprints) == sorted(compact_fingerprint(f) for f in spoken)
    assert all(len(f) == 25 and f.isdigit() for f in fingerprints)
