"""Fault injection: a flaky Bot API and a bot process that keeps dying, yet nothing is lost.

The fake Bot API answers 30% of calls with 429 (``retry_after``), a 5xx or a timeout (some
timeouts strike after the document was posted: the confirmation is lost). The bot "process"
dies at random points: before a call, after Telegram posted a document but before the answer
arrived, and just before the store records a confirmation (``ProcessKilled``, a BaseException
no code path may catch, like SIGKILL). Each time it restarts from the same SQLite database with
fresh in-memory state. Reports keep arriving and digests keep closing throughout.

At the end, the toolkit opens exactly what the channel holds: every report exactly once, every
sequence number from 1 to the last, duplicates of re-posted digests dropped.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from bot.delivery.channel_checks import ChannelChecker
from bot.delivery.digests import DigestCloser
from bot.delivery.outbox import DigestSender
from storage.base import ChannelBinding, DigestState, ReportStore
from storage.sqlite import SqliteReportStore
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
from tests.proof_support import report

TOTAL_REPORTS = 36
FAULT_RATE = 0.3
KILL_RATE = 0.03
POST_KILL_RATE = 0.2
"""Deaths between Telegram posting a document and the store recording it are the interesting
ones (they make duplicates), so they are made more likely."""


class ProcessKilled(BaseException):
    """The bot process dies here."""


class DyingStore:
    """The real store, except that the process may die just before a write reaches it."""

    DEADLY = frozenset({"mark_part_posted", "mark_digest_posted", "record_attempt"})

    def __init__(self, store: SqliteReportStore, world: World) -> None:
        self._store = store
        self._world = world

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name not in self.DEADLY:
            return attr

        rate = POST_KILL_RATE if name == "mark_part_posted" else KILL_RATE

        async def call(*args: Any) -> Any:
            self._world.maybe_die(f"store.{name}", rate)
            return await attr(*args)

        return call


@dataclass
class World:
    keys: Keys
    data_dir: Path
    rng: random.Random
    clock: Clock = field(default_factory=Clock)
    api: FakeChannelApi = field(default_factory=FakeChannelApi)
    created: list[str] = field(default_factory=list)
    kills: dict[str, int] = field(default_factory=dict)

    def maybe_die(self, where: str, rate: float = KILL_RATE) -> None:
        if self.rng.random() < rate:
            self.kills[where] = self.kills.get(where, 0) + 1
            raise ProcessKilled(where)

    async def life(self) -> bool:
        """One run of the bot process; True when everything is delivered."""
        store = await SqliteReportStore.open(self.data_dir, clock=lambda: self.clock.now.date())
        try:
            dying = cast(ReportStore, DyingStore(store, self))
            checker = ChannelChecker(
                store,
                channel_id=CHANNEL_ID,
                allowed_admins=ANALYST_IDS,
                recipients=self.keys.recipients,
            )
            sender = DigestSender(
                dying,
                checker,
                bot_fingerprint=self.keys.signing.public.fingerprint,
                monotonic=self.clock.monotonic,
                rng=random.Random(self.rng.random()),
            )
            closer = DigestCloser(store, self.keys.signing, self.keys.recipients)
            async with make_bot(self.api) as bot:
                for _ in range(400):
                    if len(self.created) < TOTAL_REPORTS and self.rng.random() < 0.35:
                        for _ in range(self.rng.randint(1, 3)):
                            marker = f"report{len(self.created):03d}"
                            await add_report(store, self.keys.recipients, marker)
                            self.created.append(marker)
                        await closer.close()
                    await sender.deliver(bot)
                    self.clock.advance(max(0.0, sender.not_before - self.clock.mono) + 1.0)
                    if len(self.created) >= TOTAL_REPORTS and not await store.pending_digests():
                        return True
            return False
        except ProcessKilled:
            return False
        finally:
            await store.close()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [20260301, 7, 1234])
async def test_every_report_arrives_exactly_once_through_faults_and_kills(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PTB 22 warns when a RetryAfter is built unless told to use timedeltas (as the bot is).
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    keys = make_keys()
    world = World(keys, tmp_path / "data", rng=random.Random(seed))
    world.api = FakeChannelApi(
        admins=list(ANALYST_IDS), fault_rate=FAULT_RATE, rng=random.Random(seed + 1)
    )
    world.api.on_call = lambda method: world.maybe_die(f"before {method}")
    world.api.after_call = lambda method: (
        world.maybe_die("after posting", POST_KILL_RATE) if method == "sendDocument" else None
    )
    setup = await SqliteReportStore.open(world.data_dir)
    fingerprints = tuple(sorted(k.fingerprint.replace(" ", "") for k in keys.recipients.keys))
    await setup.set_channel_binding(
        ChannelBinding(CHANNEL_ID, fingerprints, world.clock.now.date())
    )
    await setup.close()

    lives = 0
    while not await world.life():
        lives += 1
        assert lives < 200, "the sender never finished"

    # The faults and deaths really happened, on every path.
    assert set(world.api.faults) == {"429", "5xx", "timeout"}
    assert sum(world.api.faults.values()) > 25  # fewer calls since checks are cached
    assert world.kills.get("after posting", 0) >= 1
    assert world.kills.get("store.mark_part_posted", 0) >= 1
    assert sum(world.kills.values()) >= 5
    names = [p.file_name for p in world.api.posted]
    assert len(names) > len(set(names)), "some digest was posted twice"

    async with await SqliteReportStore.open(world.data_dir) as store:
        infos = await store.list_digests()
    assert {i.state for i in infos} == {DigestState.POSTED}
    last = infos[-1].seq
    assert [i.seq for i in infos] == list(range(1, last + 1))
    assert sorted(set(names)) == [f"{seq:06d}.bin" for seq in range(1, last + 1)]

    result = open_files(save_posted(world.api.posted, tmp_path / "channel"), keys)
    assert result.verify.rejected == []
    assert result.verify.missing == [], "no gap in the sequence"
    assert [d.seq for d in result.verify.accepted] == list(range(1, last + 1))
    assert len(result.verify.duplicates) == len(names) - len(set(names))
    texts = answer_texts(result)
    expected = {f"{m}-{n}" for m in world.created for n in range(2)}
    assert set(texts) == expected
    assert set(texts.values()) == {1}, "every answer exactly once"
    assert sorted(len(r.answers) for r in result.reports) == [2] * len(world.created)
    report(
        f"digest-faults-seed-{seed}",
        faults_injected=sum(world.api.faults.values()),
        kills_survived=sum(world.kills.values()),
        posted_twice=len(names) - len(set(names)),
        reports_delivered_once=len(result.reports),
        reports_lost=len(world.created) - len(result.reports),
        sequence_gaps=len(result.verify.missing),
    )
