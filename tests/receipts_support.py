"""A bot with receipts on, for the follow-up tests: the real Application, store, sealing and
digests; argon2id at its minimum cost (``bot.receipts.derivation.TEST_KDF``), no pause after a wrong
code.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.app import Deps, build_application, runtime_of
from bot.delivery.digests import DigestCloser, close_to_folder
from bot.receipts.codes import ReceiptCode, parse_code
from bot.receipts.derivation import TEST_KDF
from bot.receipts.pepper import ReceiptPepper
from bot.receipts.service import ReceiptService
from bot.sealing.keys import BotSigningKey, Recipients, write_private_file
from reportbot_analyst.keys import AnalystSecretKey, analyst_key_file_bytes
from reportbot_analyst.toolkit import OpenResult, open_digests
from storage.sqlite import SqliteReportStore
from tests.bot_support import (
    TEST_TOKEN,
    BotHarness,
    FakeClock,
    make_settings,
    shipped_flow,
    shipped_phrasebook,
    shipped_ui,
    tap,
    walk,
)
from tests.botclient import FakeTelegram, RecordingRequest, ReporterClient

CHANNEL_ID = -1_001_234_567_890
PEPPER = ReceiptPepper.generate()
NUMBER_RE = re.compile(r"8 9\d\d \d\d\d-\d\d-\d\d")

SHORT_PLAN: dict[str, list[Any]] = {
    "alone": [("choose", "ok_now")],
    "about": [("choose", "me")],
}


@dataclass
class ReceiptBot:
    harness: BotHarness
    service: ReceiptService
    signing: BotSigningKey

    @property
    def telegram(self) -> FakeTelegram:
        return self.harness.telegram

    @property
    def store(self) -> SqliteReportStore:
        return self.harness.store

    @property
    def analyst(self) -> AnalystSecretKey:
        return self.harness.analyst

    def client(self, **person: Any) -> ReporterClient:
        return self.harness.client(**person)

    def channel(self) -> ReporterClient:
        return self.harness.group(CHANNEL_ID, "channel")

    def ui(self, lang: str, text_id: str) -> str:
        return self.harness.ui(lang, text_id)

    def analyst_key_file(self, folder: Path) -> Path:
        path = folder / "analyst.key"
        if not path.exists():
            write_private_file(path, analyst_key_file_bytes(self.analyst, None))
        return path

    async def close_digest(self, folder: Path) -> list[Path]:
        """Close a digest of everything ready, into ``folder`` (as if posted to the channel)."""
        closer = DigestCloser(
            self.store,
            self.signing,
            Recipients([self.analyst.public]),
            clock=self.harness.clock.wall,
        )
        return await close_to_folder(closer, folder)

    def open_digests(self, files: list[Path]) -> OpenResult:
        return open_digests(files, [self.analyst], self.signing.public)


@contextlib.asynccontextmanager
async def receipt_bot(tmp_path: Path, **overrides: Any) -> AsyncIterator[ReceiptBot]:
    """Like ``tests.bot_support.running_bot``, with receipts and the analyst channel set."""
    data_dir = tmp_path / "data"
    values: dict[str, Any] = {
        "channel_id": CHANNEL_ID,
        "receipt_wrong_code_delay_seconds": 0.0,
    }
    values.update(overrides)
    settings = make_settings(data_dir, **values)
    telegram = FakeTelegram(TEST_TOKEN)
    clock = FakeClock()
    analyst = AnalystSecretKey.generate()
    store = await SqliteReportStore.open(data_dir)
    service = ReceiptService(store, [analyst.public], pepper=PEPPER, kdf=TEST_KDF)
    try:
        deps = Deps(
            store=store,
            recipients=Recipients([analyst.public]),
            flow=shipped_flow(),
            ui=shipped_ui(),
            clock=clock.wall,
            monotonic=clock.monotonic,
            request=RecordingRequest(telegram),
            receipts=service,
            phrasebook=shipped_phrasebook() if settings.cover else None,
        )
        app = build_application(settings, deps)
        async with app:
            await runtime_of(app).post_init(app)
            harness = BotHarness(app, telegram, store, analyst, clock, settings, data_dir)
            yield ReceiptBot(harness, service, BotSigningKey.generate())
            await runtime_of(app).post_stop(app)
    finally:
        await store.close()
    assert telegram.unexpected == [], f"the bot called unknown methods: {telegram.unexpected}"


async def report(
    client: ReporterClient, language: str = "Русский", plan: dict[str, list[Any]] | None = None
) -> None:
    """A short report from /start to Send."""
    from handlers.callbacks import Op

    await client.send("/start")
    await client.click(language)
    await walk(client, plan if plan is not None else SHORT_PLAN)
    await tap(client, Op.SUBMIT)


def shown_code(client: ReporterClient) -> ReceiptCode:
    """The receipt code on the reporter's screen (the two numbers of the receipt message)."""
    for msg in reversed(client.on_screen()):
        if msg.from_bot and msg.text and len(NUMBER_RE.findall(msg.text)) == 2:
            code = parse_code(" ".join(NUMBER_RE.findall(msg.text)))
            assert code is not None
            return code
    raise AssertionError("no receipt on screen")


def receipt_message_id(client: ReporterClient) -> int | None:
    for msg in client.on_screen():
        if msg.from_bot and msg.text and len(NUMBER_RE.findall(msg.text)) == 2:
            return msg.message_id
    return None
