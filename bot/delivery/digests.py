"""Closing digests: one file of one fixed size per slot, whatever was reported, to the outbox.

A digest is closed at fixed times (:class:`DigestSchedule`: slots aligned to the UTC epoch every
``interval``, each moved later by a random jitter), never because a report arrived, and one is
closed at every slot even when nothing was reported: whoever watches the channel learns when the
slots are, not when anyone wrote.

Every digest of a deployment has the same length (``REPORTBOT_DIGEST_SIZE_KIB``, default 4 MiB)
and the same number of entries, all of the same length: *carriers*
(``bot.sealing.envelope.seal_carrier``), sealed records padded to one fixed bucket, each holding
parts of the stored envelopes (manifest, answers, attachments, flow snapshots), or carrier-sized
dummies when there is nothing more to carry. :class:`DigestCloser` cuts the ready reports'
envelopes into parts that fill the carriers, oldest report first; what does not fit waits for
the next slot (the report in the middle continues where it stopped), and a report counts as
carried (``ReportStore.add_digest``) only with the digest holding its last part. A 20 MiB video
thus travels over several slots in the same fixed-size digests as everything else; analysts put
the parts back together by hash (``reportbot_analyst.carriers``).

Nothing here talks to Telegram; ``bot.delivery.outbox`` posts what the outbox holds. The layout of
the posted files and the sizes are written down in ``docs/digests.md`` and ``docs/format.md``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from bot.delivery.flow_snapshots import FlowSnapshots
from bot.sealing.envelope import (
    DIGEST_HEADER_BYTES,
    KIB,
    MIB,
    SIGNATURE_BYTES,
    CarriedPart,
    blob_hash,
    carrier_envelope_bytes,
    carrier_room,
    seal_carrier,
    seal_carrier_dummy,
    sign_digest,
)
from bot.sealing.keys import KEY_ID_BYTES, BotSigningKey, Recipients
from storage.base import ReportId, ReportStore, StoredReport
from storage.errors import DigestSequenceError, ReportNotReadyError, UnknownReportError

log = logging.getLogger("bot.delivery.digests")

DEFAULT_DIGEST_BYTES: Final = 4 * MIB
"""The one size of every digest file unless the deployment sets another."""

MIN_DIGEST_BYTES: Final = 256 * KIB
MAX_DIGEST_FILE: Final = 48 * MIB
"""A digest file is at most this (under the Bot API's 50 MB upload limit)."""

_ENTRY_OVERHEAD: Final = 1 + 4  # entry type and u32 length
_MAX_CLOSE_ATTEMPTS: Final = 3


class DigestError(Exception):
    """A digest cannot be closed. ``str(exc)`` is one line without any stored value."""


def carriers_per_digest(digest_bytes: int, recipients: int) -> int:
    """How many carriers fill a digest of ``digest_bytes`` sealed to ``recipients`` keys."""
    fixed = DIGEST_HEADER_BYTES + KEY_ID_BYTES * recipients + 4 + 4 + SIGNATURE_BYTES
    return (digest_bytes - fixed) // (_ENTRY_OVERHEAD + carrier_envelope_bytes(recipients))


def digest_file_name(seq: int, part: int = 0) -> str:
    """The neutral name a posted document carries: ``000042.bin``, ``000042-1.bin``."""
    return f"{seq:06d}.bin" if part == 0 else f"{seq:06d}-{part}.bin"


def digest_caption(seq: int, bot_fingerprint: str, part: int = 0) -> str:
    """Only the sequence number (and part) and the bot key's fingerprint; nothing else."""
    number = f"#{seq}" if part == 0 else f"#{seq}/{part}"
    return f"{number} · {bot_fingerprint}"


# --------------------------------------------------------------------------------------------
# When
# --------------------------------------------------------------------------------------------


class DigestSchedule:
    """Close times: slots every ``interval`` counted from the UTC epoch, plus a random jitter.

    The times depend on the clock and the random draw only; nothing about reports enters.
    ``jitter`` must be less than half the interval so that close times stay in order.
    """

    def __init__(
        self, interval: timedelta, jitter: timedelta, rng: random.Random | None = None
    ) -> None:
        if interval <= timedelta(0):
            raise ValueError("the digest interval must be positive")
        if jitter < timedelta(0) or jitter * 2 >= interval:
            raise ValueError("the digest jitter must be between zero and half the interval")
        self.interval = interval
        self.jitter = jitter
        self._rng = rng if rng is not None else random.SystemRandom()

    def slot_after(self, moment: datetime) -> datetime:
        """The first slot boundary strictly after ``moment``."""
        step = self.interval.total_seconds()
        index = math.floor(moment.timestamp() / step) + 1
        return datetime.fromtimestamp(index * step, UTC)

    def next_close(self, after: datetime) -> datetime:
        """When to close the next digest: the next slot after ``after`` plus a fresh jitter.

        Called with the previous close time, it gives the following slot's time, so one digest
        is closed per slot.
        """
        jitter = self._rng.uniform(0.0, self.jitter.total_seconds())
        return self.slot_after(after) + timedelta(seconds=jitter)


# --------------------------------------------------------------------------------------------
# What
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClosedDigest:
    """What was written to the outbox: counts and sizes only, never contents."""

    seq: int
    reports: int  # reports whose last part this digest holds
    entries: int  # carriers, dummies included (the same in every digest)
    dummies: int
    size: int  # bytes of the signed digest file (the same in every digest)

    @property
    def parts(self) -> int:
        return 1  # one document per digest; parts of envelopes travel inside it


def _report_envelopes(report: StoredReport) -> list[bytes]:
    envelopes: list[bytes] = []
    if report.manifest is not None:
        envelopes.append(report.manifest)
    envelopes += [report.answers[s] for s in sorted(report.answers)]
    envelopes += [report.attachments[s] for s in sorted(report.attachments)]
    return envelopes


class _Packer:
    """Fills ``slots`` carriers with parts of envelopes, in the order they are put."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.done: list[list[CarriedPart]] = []
        self.current: list[CarriedPart] = []

    @property
    def full(self) -> bool:
        return len(self.done) >= self.slots

    def put(self, envelope: bytes, offset: int = 0) -> int:
        """Carry ``envelope`` from ``offset`` on, as far as there is room; the offset reached."""
        blob, total = blob_hash(envelope), len(envelope)
        while offset < total and not self.full:
            room = carrier_room(self.current, total, offset)
            if room == 0:
                self._next()
                continue
            take = min(room, total - offset)
            self.current.append(CarriedPart(blob, offset, total, envelope[offset : offset + take]))
            offset += take
        return offset

    def _next(self) -> None:
        if self.current:
            self.done.append(self.current)
            self.current = []

    def carriers(self) -> list[list[CarriedPart]]:
        self._next()
        return self.done


class DigestCloser:
    """Closes one fixed-size digest per call from the store's ready reports; one per bot.

    It remembers, in memory, which report it is in the middle of and how far it got; after a
    restart that report is carried again from its start (analysts keep the first copy of each
    part and of each record, so nothing is doubled for them).
    """

    def __init__(
        self,
        store: ReportStore,
        signing_key: BotSigningKey,
        recipients: Recipients,
        *,
        digest_bytes: int = DEFAULT_DIGEST_BYTES,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        snapshots: FlowSnapshots | None = None,
    ) -> None:
        if not MIN_DIGEST_BYTES <= digest_bytes <= MAX_DIGEST_FILE:
            raise ValueError(
                f"the digest size must be between {MIN_DIGEST_BYTES} and {MAX_DIGEST_FILE} bytes"
            )
        self.store = store
        self.snapshots = snapshots  # flow snapshots every digest carries (self-describing)
        self.signing_key = signing_key
        self.recipients = recipients
        self.digest_bytes = digest_bytes
        self.slots = carriers_per_digest(digest_bytes, len(recipients))
        self._clock = clock
        self._rng = rng if rng is not None else random.SystemRandom()
        self._order: list[ReportId] = []  # ready reports, first seen first
        self._progress: dict[ReportId, tuple[int, int]] = {}  # (envelope index, offset) reached

    async def close(self) -> list[ClosedDigest]:
        """Close one digest (always exactly one, with dummies only when nothing is ready)."""
        for attempt in range(_MAX_CLOSE_ATTEMPTS):
            try:
                return [await self._close_once()]
            except (ReportNotReadyError, DigestSequenceError):
                # A report was discarded or carried meanwhile, or another closer ran: retry.
                if attempt == _MAX_CLOSE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _queue(self) -> list[ReportId]:
        ready = await self.store.ready_reports()
        still = set(ready)
        known = set(self._order)
        self._order = [r for r in self._order if r in still] + [r for r in ready if r not in known]
        self._progress = {r: p for r, p in self._progress.items() if r in still}
        return list(self._order)

    async def _pack(
        self, packer: _Packer
    ) -> tuple[list[ReportId], dict[ReportId, tuple[int, int]]]:
        """Fill ``packer`` with the ready reports, oldest first: those carried to their end,
        and where the one cut off stopped."""
        carried: list[ReportId] = []
        for report_id in await self._queue():
            if packer.full:
                break
            try:
                report = await self.store.load_report(report_id, with_attachments=True)
            except UnknownReportError:  # discarded in the meantime
                continue
            envelopes = _report_envelopes(report)
            index, offset = self._progress.get(report_id, (0, 0))
            while index < len(envelopes):
                offset = packer.put(envelopes[index], offset)
                if offset < len(envelopes[index]):
                    return carried, {report_id: (index, offset)}
                index, offset = index + 1, 0
            carried.append(report_id)
        return carried, {}

    async def _close_once(self) -> ClosedDigest:
        packer = _Packer(self.slots)
        always = self.snapshots.entries() if self.snapshots is not None else []
        for envelope in always:
            packer.put(envelope)
        if packer.full:
            raise DigestError(
                "the flow snapshots alone fill a digest: raise REPORTBOT_DIGEST_SIZE_KIB"
            )
        carried, partial = await self._pack(packer)
        carriers = [seal_carrier(self.recipients, parts) for parts in packer.carriers()]
        dummies = self.slots - len(carriers)
        entries = carriers + [seal_carrier_dummy(self.recipients) for _ in range(dummies)]
        # Dummies are mixed in, so that no position says "real" or "filler".
        self._rng.shuffle(entries)
        seq = await self.store.next_digest_seq()
        digest = sign_digest(
            self.signing_key,
            seq=seq,
            day=self._clock().astimezone(UTC).date(),
            key_ids=self.recipients.key_ids,
            entries=entries,
            size_buckets=(self.digest_bytes,),
        )
        await self.store.add_digest(seq, [digest], carried)
        for report_id in carried:
            self._progress.pop(report_id, None)
        self._order = [r for r in self._order if r not in set(carried)]
        self._progress.update(partial)
        if self.snapshots is not None:
            self.snapshots.carried()
        log.info("digest_closed", extra={"fields": {"seq": seq, "size": len(digest), "parts": 1}})
        return ClosedDigest(
            seq=seq, reports=len(carried), entries=len(entries), dummies=dummies, size=len(digest)
        )


# --------------------------------------------------------------------------------------------
# Into a folder instead of a channel (the demo; analysts' tests)
# --------------------------------------------------------------------------------------------


async def write_digest_files(store: ReportStore, seq: int, folder: Path) -> list[Path]:
    """Write a kept digest's documents into ``folder`` under their channel names."""
    digest = await store.get_digest(seq)
    if not digest.parts:
        raise DigestError(f"digest #{seq} was pruned by retention: its bytes are gone")

    def write() -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths: list[Path] = []
        for part in digest.parts:
            path = folder / digest_file_name(seq, part.part)
            path.write_bytes(part.data)
            paths.append(path)
        return paths

    return await asyncio.to_thread(write)


async def close_to_folder(closer: DigestCloser, folder: Path) -> list[Path]:
    """Close a digest and write it into ``folder`` instead of posting it; marks it posted.

    Returns the files written (digest first, then any separate documents).
    """
    paths: list[Path] = []
    for closed in await closer.close():
        paths += await write_digest_files(closer.store, closed.seq, folder)
        await closer.store.mark_digest_posted(closed.seq)
    return paths
