"""Helpers for the digest and channel tests: keys, sealed reports with marker answers, a clock,
and opening what the channel holds with the analysts' toolkit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.questionnaire.flow import MediaKind
from bot.sealing.envelope import (
    ReportContext,
    ReportStatus,
    seal_answer,
    seal_attachment,
    seal_manifest,
)
from bot.sealing.keys import BotSigningKey, Recipients
from reportbot_analyst.keys import AnalystSecretKey
from reportbot_analyst.toolkit import OpenResult, open_digests
from storage.base import ReportId, ReportState, ReportStore
from tests.channel_fake import Posted

FLOW_ID = "worker_report"
FLOW_VERSION = "0123456789abcdef"


@dataclass
class Keys:
    analysts: list[AnalystSecretKey]
    signing: BotSigningKey

    @property
    def analyst(self) -> AnalystSecretKey:
        return self.analysts[0]

    @property
    def recipients(self) -> Recipients:
        return Recipients([k.public for k in self.analysts])


def make_keys(analysts: int = 1) -> Keys:
    return Keys([AnalystSecretKey.generate() for _ in range(analysts)], BotSigningKey.generate())


@dataclass
class Clock:
    """Wall and monotonic time that move only when the test says so."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 1, 0, 7, 13, tzinfo=UTC))
    mono: float = 10_000.0

    def wall(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


async def add_report(
    store: ReportStore,
    recipients: Recipients,
    marker: str,
    *,
    answers: int = 2,
    attachment: bytes | None = None,
    state: ReportState = ReportState.COMPLETE,
) -> ReportId:
    """A closed report whose answers are ``{"text": "<marker>-<n>"}``."""
    report_id = await store.open_report()
    ctx = ReportContext(report_id, FLOW_ID, FLOW_VERSION, "ko")
    slots: list[int] = []
    for n in range(answers):
        envelope = seal_answer(
            recipients, ctx, slot=n, question=f"q{n}", answer={"text": f"{marker}-{n}"}
        )
        await store.put_answer(report_id, n, envelope)
        slots.append(n)
    if attachment is not None:
        envelope = seal_attachment(
            recipients,
            ctx,
            slot=100,
            question="evidence",
            ref=f"ref{marker}"[-64:].replace(".", "_"),
            media=MediaKind.DOCUMENT,
            data=attachment,
            mime="application/pdf",
        )
        await store.put_attachment(report_id, 100, envelope)
        slots.append(100)
    status = ReportStatus.COMPLETE if state is ReportState.COMPLETE else ReportStatus.INTERRUPTED
    manifest = seal_manifest(recipients, ctx, slot=500, status=status, slots=slots)
    await store.close_report(report_id, state, manifest)
    return report_id


def save_posted(posted: Iterable[Posted], folder: Path) -> list[Path]:
    """Save every posted document as an analyst would (same name twice: a numbered copy)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for n, doc in enumerate(posted):
        path = folder / f"{n:05d}-{doc.file_name}"
        path.write_bytes(doc.data)
        paths.append(path)
    return paths


def open_files(paths: Sequence[Path], keys: Keys) -> OpenResult:
    return open_digests(list(paths), [keys.analyst], keys.signing.public)


def answer_texts(result: OpenResult) -> Counter[str]:
    """How often each answer text appears in the opened reports."""
    texts: Counter[str] = Counter()
    for report in result.reports:
        for answer in report.answers:
            text = answer.answer.get("text")
            if isinstance(text, str):
                texts[text] += 1
    return texts
