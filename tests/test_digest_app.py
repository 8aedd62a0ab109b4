"""The digest machinery inside the real Application: the job is there, and an analyst's code
sent to the running bot binds the channel while reporters typing the same digits are untouched."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.app import Deps, build_application
from bot.delivery.channel_checks import ChannelChecker, ChannelVerifier, key_fingerprints
from bot.delivery.outbox import TICK_SECONDS, build_service
from bot.sealing.keys import BotSigningKey, Recipients
from reportbot_analyst.channel import read_challenge
from storage.base import ChannelBinding, DigestState
from storage.memory import MemoryReportStore
from tests.bot_support import make_settings, running_bot, shipped_flow, shipped_ui
from tests.botclient import FakeTelegram, RecordingRequest, texts_of
from tests.channel_fake import ANALYST_IDS, CHANNEL_ID, FakeChannelApi, make_bot
from tests.digest_support import Clock, make_keys


async def test_the_application_runs_the_digest_job_when_it_can_sign(tmp_path: Path) -> None:
    keys = make_keys()
    settings = make_settings(tmp_path / "data", channel_id=CHANNEL_ID)
    deps = Deps(
        store=MemoryReportStore(),
        recipients=keys.recipients,
        flow=shipped_flow(),
        ui=shipped_ui(),
        signing_key=keys.signing,
        request=RecordingRequest(FakeTelegram("x")),
    )
    app = build_application(settings, deps)
    assert app.job_queue is not None
    (job,) = app.job_queue.get_jobs_by_name("digests")
    interval = getattr(job.trigger, "interval", None)  # APScheduler's trigger is untyped
    assert interval is not None
    assert interval.total_seconds() == TICK_SECONDS


async def test_without_a_signing_key_the_bot_says_digests_are_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot")
    settings = make_settings(tmp_path / "data")
    deps = Deps(
        store=MemoryReportStore(),
        recipients=Recipients([make_keys().analyst.public]),
        flow=shipped_flow(),
        ui=shipped_ui(),
        request=RecordingRequest(FakeTelegram("x")),
    )
    app = build_application(settings, deps)
    assert app.job_queue is not None
    assert app.job_queue.get_jobs_by_name("digests") == ()
    assert [r.getMessage() for r in caplog.records] == ["digests_disabled"]


async def test_an_analyst_answers_the_challenge_to_the_running_bot(tmp_path: Path) -> None:
    keys = make_keys()
    async with running_bot(
        tmp_path,
        analyst=keys.analyst,
        channel_id=CHANNEL_ID,
        channel_admin_ids=ANALYST_IDS,
    ) as harness:
        recipients = Recipients([keys.analyst.public])
        verifier = ChannelVerifier(
            harness.store,
            harness.data_dir,
            channel_id=CHANNEL_ID,
            recipients=recipients,
            allowed_admins=ANALYST_IDS,
        )
        checker = ChannelChecker(
            harness.store, channel_id=CHANNEL_ID, allowed_admins=ANALYST_IDS, recipients=recipients
        )
        channel = FakeChannelApi(admins=list(ANALYST_IDS))
        async with make_bot(channel) as bot:
            bot_key = BotSigningKey.generate()
            await verifier.start(bot, checker, bot_key)
        code = read_challenge(
            channel.posted[0].data, [keys.analyst], bot_key.public, CHANNEL_ID
        ).spaced_code

        reporter = harness.client(user_id=5_550_777, language_code="ru")
        calls = await reporter.send(code)
        assert "Channel verified" not in " ".join(texts_of(calls))
        assert await harness.store.channel_binding() is None

        analyst = harness.client(user_id=ANALYST_IDS[0], language_code="en")
        calls = await analyst.send(code)
        assert texts_of(calls) == ["Channel verified. Digests will be posted to it."]
        binding = await harness.store.channel_binding()
        assert binding is not None
        assert binding.channel_id == CHANNEL_ID


async def test_the_job_closes_on_its_schedule_and_posts_in_the_background(tmp_path: Path) -> None:
    keys = make_keys()
    clock = Clock()
    store = MemoryReportStore()
    await store.set_channel_binding(
        ChannelBinding(CHANNEL_ID, key_fingerprints(keys.recipients), date(2026, 3, 1))
    )
    settings = make_settings(
        tmp_path / "data", channel_id=CHANNEL_ID, channel_admin_ids=ANALYST_IDS
    )
    service = build_service(
        settings, store, keys.recipients, keys.signing, clock=clock.wall, monotonic=clock.monotonic
    )
    api = FakeChannelApi(admins=list(ANALYST_IDS))
    tasks: list[asyncio.Task[object]] = []

    def create_task(
        coro: Coroutine[Any, Any, object], name: str | None = None
    ) -> asyncio.Task[object]:
        task = asyncio.create_task(coro, name=name)
        tasks.append(task)
        return task

    async with make_bot(api) as bot:
        context = SimpleNamespace(bot=bot, application=SimpleNamespace(create_task=create_task))
        await service.job(context)  # schedules the first close (06:00 + jitter)
        assert await store.list_digests() == []
        clock.advance(7 * 3600)
        await service.job(context)
        await asyncio.gather(*tasks)
    assert [p.file_name for p in api.posted] == ["000001.bin"]
    assert [d.state for d in await store.list_digests()] == [DigestState.POSTED]
