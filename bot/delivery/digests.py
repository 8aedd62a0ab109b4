"""Closing digests: the sealed reports ready since the last digest, padded, signed, to the outbox.

A digest is closed at fixed times (:class:`DigestSchedule`: slots aligned to the UTC epoch every
``interval``, each moved later by a random jitter), never because a report arrived, and one is
closed at every slot even when nothing was reported: whoever watches the channel learns when the
slots are, not when anyone wrote.

:class:`DigestCloser` takes the closed reports no digest carries yet, puts their envelopes
(manifest, answers, attachments) in random order, fills the list with dummy envelopes up to one
of a few entry counts (``bot.sealing.envelope.pad_with_dummies``), signs it and pads the file to
one of a few sizes (``bot.sealing.envelope.sign_digest``), and writes it to the outbox together
with the documents it references, in one transaction (``ReportStore.add_digest``). An attachment
whose envelope is larger than :data:`INLINE_ENVELOPE_MAX` is not put inline: it becomes its own
document (a part of the digest in the outbox) and the digest names it by length and hash
(``ExternalEntry``).

Nothing here talks to Telegram; ``bot.delivery.outbox`` posts what the outbox holds. The layout of
the posted files and the sizes are written down in ``docs/digests.md``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

from bot.delivery.flow_snapshots import FlowSnapshots
from bot.sealing.envelope import (
    DIGEST_ENTRY_BUCKETS,
    DIGEST_HEADER_BYTES,
    DIGEST_SIZE_BUCKETS,
    MIB,
    SIGNATURE_BYTES,
    DigestEntry,
    ExternalEntry,
    FormatError,
    pad_with_dummies,
    parse_envelope,
    seal_dummy,
    sign_digest,
)
from bot.sealing.keys import KEY_ID_BYTES, MAX_RECIPIENTS, BotSigningKey, Recipients
from storage.base import ReportId, ReportStore, StoredReport
from storage.errors import DigestSequenceError, ReportNotReadyError, UnknownReportError

log = logging.getLogger("bot.delivery.digests")

INLINE_ENVELOPE_MAX: Final = 1 * MIB
"""Envelopes larger than this (attachments of 1 MiB and more) are posted as their own documents
and referenced from the digest by hash, so that one video does not blow up every digest's size."""

MAX_DIGEST_FILE: Final = DIGEST_SIZE_BUCKETS[-1]
"""A digest file is at most the largest size bucket (32 MiB, under the Bot API's 50 MB upload
limit); reports that would not fit go into a further digest closed at the same moment."""

MAX_DIGEST_ENTRIES: Final = DIGEST_ENTRY_BUCKETS[-1]
"""Entries (real and dummy) in one digest: the largest entry-count bucket."""

_ENTRY_OVERHEAD: Final = 1 + 4  # entry type and u32 length
_EXTERNAL_ENTRY_BYTES: Final = _ENTRY_OVERHEAD + 32
_MAX_CLOSE_ATTEMPTS: Final = 3


class DigestError(Exception):
    """A digest cannot be closed. ``str(exc)`` is one line without any stored value."""


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
    reports: int
    entries: int  # inline and external, dummies included
    dummies: int
    external: int  # documents posted beside the digest
    size: int  # bytes of the signed digest file

    @property
    def parts(self) -> int:
        return 1 + self.external


@dataclass
class _Batch:
    report_ids: list[ReportId]
    inline: list[bytes]
    external: list[bytes]
    inline_bytes: int = 0

    @property
    def count(self) -> int:
        return len(self.inline) + len(self.external)


def _report_envelopes(report: StoredReport) -> list[bytes]:
    envelopes: list[bytes] = []
    if report.manifest is not None:
        envelopes.append(report.manifest)
    envelopes += [report.answers[s] for s in sorted(report.answers)]
    envelopes += [report.attachments[s] for s in sorted(report.attachments)]
    return envelopes


class DigestCloser:
    """Closes digests from the store's ready reports; one instance per bot (one writer)."""

    def __init__(
        self,
        store: ReportStore,
        signing_key: BotSigningKey,
        recipients: Recipients,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        inline_envelope_max: int = INLINE_ENVELOPE_MAX,
        max_file: int = MAX_DIGEST_FILE,
        entry_buckets: Sequence[int] = DIGEST_ENTRY_BUCKETS,
        size_buckets: Sequence[int] = DIGEST_SIZE_BUCKETS,
        snapshots: FlowSnapshots | None = None,
    ) -> None:
        self.store = store
        self.snapshots = snapshots  # flow snapshots every digest carries (self-describing)
        self.signing_key = signing_key
        self.recipients = recipients
        self._clock = clock
        self._rng = rng if rng is not None else random.SystemRandom()
        self._inline_max = inline_envelope_max
        self._max_file = max_file
        self._entry_buckets = tuple(sorted(entry_buckets))
        self._size_buckets = tuple(sorted(size_buckets))
        self._max_entries = self._entry_buckets[-1]
        self._dummy_bytes = len(seal_dummy(recipients)) + _ENTRY_OVERHEAD

    # -- sizing ----------------------------------------------------------------------------

    def _padded_count(self, n: int) -> int:
        return next(b for b in self._entry_buckets if b >= n)

    def _estimate(self, count: int, inline_bytes: int, key_ids: int) -> int:
        """The signed file's size before zero padding, for ``count`` real entries."""
        dummies = self._padded_count(max(count, 0)) - count
        return (
            DIGEST_HEADER_BYTES
            + KEY_ID_BYTES * key_ids
            + 4
            + inline_bytes
            + dummies * self._dummy_bytes
            + 4
            + SIGNATURE_BYTES
        )

    def _fits(self, count: int, inline_bytes: int) -> bool:
        if count > self._max_entries:
            return False
        return self._estimate(count, inline_bytes, MAX_RECIPIENTS) <= self._max_file

    def _split(self, envelopes: Sequence[bytes]) -> tuple[list[bytes], list[bytes]]:
        inline = [e for e in envelopes if len(e) <= self._inline_max]
        external = [e for e in envelopes if len(e) > self._inline_max]
        return inline, external

    def _batches(
        self, reports: Sequence[tuple[ReportId, list[bytes]]], always: Sequence[bytes] = ()
    ) -> list[_Batch]:
        """Reports grouped so that every digest fits; always at least one (maybe empty) batch.

        Every batch starts with ``always`` (the flow snapshots)."""

        def new_batch() -> _Batch:
            size = sum(len(e) + _ENTRY_OVERHEAD for e in always)
            return _Batch([], list(always), [], size)

        batches = [new_batch()]
        for report_id, envelopes in reports:
            inline, external = self._split(envelopes)
            size = sum(len(e) + _ENTRY_OVERHEAD for e in inline)
            extra = len(external) * _EXTERNAL_ENTRY_BYTES
            if not self._fits(len(envelopes), size + extra):
                # Too large even alone (cannot happen with a real flow): every envelope of it
                # goes as its own document, so that it is still delivered.
                inline, external, size = [], list(envelopes), 0
                extra = len(external) * _EXTERNAL_ENTRY_BYTES
            current = batches[-1]
            count = current.count + len(inline) + len(external)
            if current.report_ids and not self._fits(count, current.inline_bytes + size + extra):
                current = new_batch()
                batches.append(current)
            current.report_ids.append(report_id)
            current.inline += inline
            current.external += external
            current.inline_bytes += size + extra
        return batches

    # -- closing ---------------------------------------------------------------------------

    async def _ready(self) -> list[tuple[ReportId, list[bytes]]]:
        out: list[tuple[ReportId, list[bytes]]] = []
        for report_id in await self.store.ready_reports():
            try:
                report = await self.store.load_report(report_id, with_attachments=True)
            except UnknownReportError:  # discarded in the meantime
                continue
            out.append((report_id, _report_envelopes(report)))
        return out

    def _key_ids(self, envelopes: Sequence[bytes]) -> list[bytes]:
        ids = set(self.recipients.key_ids)
        for envelope in envelopes:
            try:
                ids.update(parse_envelope(envelope).key_ids)
            except FormatError as exc:
                raise DigestError(f"a stored envelope is not valid: {exc}") from None
        if len(ids) > MAX_RECIPIENTS:
            raise DigestError(
                f"ready reports are sealed to more than {MAX_RECIPIENTS} keys in all; "
                "deliver the older ones before adding keys"
            )
        return sorted(ids)

    def _sign(self, seq: int, day: date, batch: _Batch) -> tuple[bytes, list[bytes], int]:
        entries: list[DigestEntry] = [*batch.inline, *(ExternalEntry.of(e) for e in batch.external)]
        self._rng.shuffle(entries)
        real = len(entries)
        padded = pad_with_dummies(self.recipients, entries, count_buckets=self._entry_buckets)
        # Dummies are mixed in too, so that no position says "real" or "filler".
        self._rng.shuffle(padded)
        digest = sign_digest(
            self.signing_key,
            seq=seq,
            day=day,
            key_ids=self._key_ids([*batch.inline, *batch.external]),
            entries=padded,
            size_buckets=self._size_buckets,
        )
        # Documents in the order the digest names them, so analysts can match them by part.
        order = {ExternalEntry.of(e).blob_hash: e for e in batch.external}
        external = [
            order[e.blob_hash]
            for e in padded
            if isinstance(e, ExternalEntry) and e.blob_hash in order
        ]
        return digest, external, len(padded) - real

    async def close(self) -> list[ClosedDigest]:
        """Close one digest (more only when the ready reports do not fit in one).

        At least one digest is always closed, with dummies only when nothing is ready.
        """
        for attempt in range(_MAX_CLOSE_ATTEMPTS):
            try:
                return await self._close_once()
            except (ReportNotReadyError, DigestSequenceError):
                # A report was discarded or carried meanwhile, or another closer ran: retry.
                if attempt == _MAX_CLOSE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _close_once(self) -> list[ClosedDigest]:
        ready = await self._ready()
        day = self._clock().astimezone(UTC).date()
        closed: list[ClosedDigest] = []
        seq = await self.store.next_digest_seq()
        always = self.snapshots.entries() if self.snapshots is not None else []
        for batch in self._batches(ready, always):
            digest, external, dummies = self._sign(seq, day, batch)
            await self.store.add_digest(seq, [digest, *external], batch.report_ids)
            closed.append(
                ClosedDigest(
                    seq=seq,
                    reports=len(batch.report_ids),
                    entries=batch.count + dummies,
                    dummies=dummies,
                    external=len(external),
                    size=len(digest),
                )
            )
            seq += 1
        if self.snapshots is not None:
            self.snapshots.carried()
        for c in closed:
            log.info(
                "digest_closed",
                extra={"fields": {"seq": c.seq, "size": c.size, "parts": c.parts}},
            )
        return closed


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
