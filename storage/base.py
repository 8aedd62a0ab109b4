"""The report store's interface: what the bot, the digest sender and the demo may store and ask.

The store holds opaque bytes only: sealed envelopes made by ``bot.sealing.envelope``. It never
learns which question an envelope answers (the caller maps question ids to slot numbers in memory),
which branch a reporter took, who the reporter is, or when anything happened beyond the day.

Everything here is a plain value type or a ``typing.Protocol``; ``storage.sqlite`` is the real
implementation and ``storage.memory`` an in-memory one with the same contract (for tests and the
demo). ``tests/test_storage_contract.py`` holds both to the same behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import IntEnum, StrEnum
from typing import NewType, Protocol

from storage.errors import (
    InvalidEnvelopeError,
    InvalidReportIdError,
    InvalidSlotError,
    ReceiptExistsError,
)

ReportId = NewType("ReportId", str)
"""16 random bytes as 32 lowercase hex digits. Made only by :func:`new_report_id`."""

REPORT_ID_BYTES = 16
_REPORT_ID_RE = re.compile(r"^[0-9a-f]{32}$")

MAX_SLOT = 65_535
ERASE_KEY_BYTES = 16
"""The random key naming a conversation whose message ids wait to be deleted."""
ERASE_DAYS = 2
"""Noted message ids older than this are dropped: Telegram deletes for 48 hours only."""
MAX_MESSAGE_ID = 2**53
"""Bot API ids fit in 53 bits."""
"""Slots are 0..MAX_SLOT. A flow has far fewer questions; the cap stops nonsense, not flows."""

MAX_ANSWER_BYTES = 256 * 1024
"""One sealed answer or manifest. Telegram text is at most 4096 characters (16 KiB of UTF-8)."""

MAX_ATTACHMENT_BYTES = 21 * 1024 * 1024
"""One sealed attachment: the Bot API lets a bot download at most 20 MB, plus sealing overhead."""

MAX_DIGEST_PART_BYTES = 50 * 1024 * 1024
"""One part of a digest: the Bot API's limit on a document a bot uploads."""

MAX_REPLY_BYTES = 21 * 1024 * 1024
"""One sealed analyst reply (text or a file)."""

LOOKUP_TAG_MIN_BYTES = 16
LOOKUP_TAG_MAX_BYTES = 64
RECEIPT_SALT_BYTES = 16
MAX_LOOKUP_TAGS = 256
"""Most candidate tags one :meth:`ReportStore.find_receipts` asks for (2^k, k <= 8)."""


class ReceiptScheme(IntEnum):
    """How a receipt's lookup tag was derived (``bot.receipts.derivation``), kept beside it.

    Rows made before migration 0006 are scheme 1; every receipt (and dummy) made now is 2.
    """

    V1 = 1
    V2 = 2


def new_report_id() -> ReportId:
    """A fresh random id (``secrets.token_hex``), unrelated to anything about the reporter."""
    return ReportId(secrets.token_hex(REPORT_ID_BYTES))


def parse_report_id(value: str) -> ReportId:
    """Check ``value`` is a well-formed report id (as typed by an analyst) and return it."""
    if not isinstance(value, str) or not _REPORT_ID_RE.fullmatch(value):
        raise InvalidReportIdError
    return ReportId(value)


Clock = Callable[[], date]
"""What a store asks for today's date. Tests pass a fake one."""


def utc_today() -> date:
    """The default clock of a store: today's date in UTC. Nothing finer is ever stored."""
    return datetime.now(UTC).date()


ANSWER_ROW_BUCKETS: tuple[int, ...] = (64, 128, 256, 1024, 4096, 65536)
"""At closing, a report's answer rows are filled with sealed dummies up to the next of these, so
that the number of rows says nothing about how far a reporter got or which branches they took
(the shipped flow stays under 64 on every path)."""

DUMMY_TAG_BYTES = 32
"""A report closed without a receipt code gets a receipt row with this many random bytes as its
tag (real tags are as long), so that follow-ups and reports without a code look like the others
on disk (:func:`put_dummy_receipt`)."""

Dummy = Callable[[], bytes]
"""Makes one sealed dummy envelope (``bot.sealing.envelope.seal_dummy`` bound to the keys)."""


def padded_answer_rows(count: int) -> int:
    """How many answer rows a closed report with ``count`` real answers holds."""
    return next((b for b in ANSWER_ROW_BUCKETS if b >= count), count)


async def put_dummy_receipt(store: ReportStore, report_id: ReportId) -> None:
    """A receipt row nobody can find (a random tag), unless the report has a real one already."""
    with contextlib.suppress(ReceiptExistsError):
        await store.put_receipt(secrets.token_bytes(DUMMY_TAG_BYTES), report_id)


def free_slots(used: Collection[int], count: int) -> list[int]:
    """``count`` random slots not in ``used`` (dummies' slots: as random as real ones)."""
    taken = set(used)
    out: list[int] = []
    while len(out) < count:
        slot = secrets.randbelow(MAX_SLOT + 1)
        if slot not in taken:
            taken.add(slot)
            out.append(slot)
    return out


def check_slot(slot: int) -> int:
    if isinstance(slot, bool) or not isinstance(slot, int) or not 0 <= slot <= MAX_SLOT:
        raise InvalidSlotError(f"a slot is a whole number from 0 to {MAX_SLOT}")
    return slot


def check_blob(data: bytes, limit: int, what: str) -> bytes:
    """Reject what cannot be a sealed envelope: not bytes, empty, or larger than ``limit``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidEnvelopeError(f"{what} must be bytes")
    data = bytes(data)
    if not data:
        raise InvalidEnvelopeError(f"{what} is empty")
    if len(data) > limit:
        raise InvalidEnvelopeError(f"{what} is larger than {limit} bytes")
    return data


def check_tag(tag: bytes) -> bytes:
    """A receipt lookup tag: the bytes argon2id derived from a receipt code, never the code."""
    if not isinstance(tag, bytes) or not LOOKUP_TAG_MIN_BYTES <= len(tag) <= LOOKUP_TAG_MAX_BYTES:
        raise InvalidEnvelopeError(
            f"a lookup tag is {LOOKUP_TAG_MIN_BYTES} to {LOOKUP_TAG_MAX_BYTES} bytes"
        )
    return tag


def check_tags(tags: Sequence[bytes]) -> list[bytes]:
    """One to :data:`MAX_LOOKUP_TAGS` lookup tags (a list or tuple, never a bare ``bytes``)."""
    if not isinstance(tags, list | tuple) or not 1 <= len(tags) <= MAX_LOOKUP_TAGS:
        raise InvalidEnvelopeError(f"look up 1 to {MAX_LOOKUP_TAGS} tags at once")
    return [check_tag(tag) for tag in tags]


def check_erase_ids(conversation: bytes, message_ids: Sequence[int]) -> list[int]:
    """A well-formed erase key and positive integer message ids, or ValueError."""
    if not isinstance(conversation, bytes) or len(conversation) != ERASE_KEY_BYTES:
        raise ValueError("an erase key is 16 random bytes")
    out: list[int] = []
    for mid in message_ids:
        if type(mid) is not int or not 0 < mid < MAX_MESSAGE_ID:
            raise ValueError("message ids are positive integers")
        out.append(mid)
    return out


def join_fingerprints(fingerprints: Sequence[str]) -> str:
    """Key fingerprints of a channel binding as one comma-separated column."""
    if not fingerprints:
        raise ValueError("a channel binding names at least one analyst key")
    for fp in fingerprints:
        if not fp or not fp.isascii() or not fp.isprintable() or "," in fp or " " in fp:
            raise ValueError("a key fingerprint is printable ASCII without commas or spaces")
    return ",".join(fingerprints)


class ReportState(StrEnum):
    OPEN = "open"  # answers are being given; no manifest yet
    COMPLETE = "complete"  # closed by the reporter ("send")
    INTERRUPTED = "interrupted"  # closed after the idle timeout or a restart; answers kept


CLOSED_STATES = frozenset({ReportState.COMPLETE, ReportState.INTERRUPTED})


class DigestState(StrEnum):
    PENDING = "pending"  # in the outbox, not yet confirmed posted
    POSTED = "posted"  # Telegram confirmed the post (on ``posted_day``)
    PRUNED = "pruned"  # posted, and its bytes removed by retention; the row keeps the sequence


@dataclass(frozen=True, slots=True)
class StoredReport:
    """One report as stored: sealed bytes, keyed by opaque slot numbers."""

    report_id: ReportId
    state: ReportState
    created_day: date
    manifest: bytes | None
    answers: Mapping[int, bytes]
    attachments: Mapping[int, bytes]
    digest_seq: int | None


@dataclass(frozen=True, slots=True)
class DigestPart:
    part: int  # 0 is the signed digest itself; 1.. are documents it references
    data: bytes
    posted: bool


@dataclass(frozen=True, slots=True)
class OutboxDigest:
    """A digest in the outbox with its bytes (empty ``parts`` once pruned)."""

    seq: int
    created_day: date
    state: DigestState
    attempts: int
    posted_day: date | None
    parts: Sequence[DigestPart]


@dataclass(frozen=True, slots=True)
class DigestInfo:
    """A digest's delivery state without its bytes (for ``reportbot digests list``)."""

    seq: int
    created_day: date
    state: DigestState
    attempts: int
    posted_day: date | None
    parts: int
    reports: int
    size: int


@dataclass(frozen=True, slots=True)
class ChannelBinding:
    """The analyst channel proven (once, at setup) to be read by the holders of these keys."""

    channel_id: int
    key_fingerprints: tuple[str, ...]
    verified_day: date


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long sealed data stays after it has been delivered.

    ``report_days``: a report's envelopes (and the bytes of the digest that carried it) are deleted
    this many days after the digest was confirmed posted. ``receipt_days``: a receipt's lookup row
    and the analysts' replies to it are deleted this many days after the receipt was made.
    """

    report_days: int = 30
    receipt_days: int = 180

    def __post_init__(self) -> None:
        if self.report_days < 0 or self.receipt_days < 0:
            raise ValueError("retention periods are zero or more days")


@dataclass(frozen=True, slots=True)
class RetentionCounts:
    reports: int = 0
    digests: int = 0
    receipts: int = 0
    replies: int = 0


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """How many of each thing the store holds (``reportbot db check``); never what they hold."""

    reports: Mapping[str, int] = field(default_factory=dict)  # by ReportState, plus "carried"
    answers: int = 0
    attachments: int = 0
    digests: Mapping[str, int] = field(default_factory=dict)  # by DigestState
    receipts: int = 0
    replies: int = 0


class ReportStore(Protocol):
    """Sealed-only storage for reports, the digest outbox and receipts.

    Every write returns only after it is committed durably: when ``close_report`` returns, the
    report survives a crash of the process, and the reporter may be told it is safe.
    """

    # -- reports ------------------------------------------------------------------------------
    async def open_report(self) -> ReportId:
        """Start a report under a fresh random id, dated today (the day only)."""
        ...

    async def put_answer(self, report_id: ReportId, slot: int, envelope: bytes) -> None:
        """Store (or replace) the sealed answer in ``slot`` of an open report."""
        ...

    async def delete_answer(self, report_id: ReportId, slot: int) -> bool:
        """Forget the answer in ``slot`` (answer withdrawn, branch dropped). False if none."""
        ...

    async def put_attachment(self, report_id: ReportId, slot: int, envelope: bytes) -> None:
        """Store (or replace) a sealed attachment of an open report under an opaque slot."""
        ...

    async def delete_attachment(self, report_id: ReportId, slot: int) -> bool: ...

    async def close_report(
        self,
        report_id: ReportId,
        state: ReportState,
        manifest: bytes,
        *,
        dummy: Dummy | None = None,
    ) -> None:
        """Seal the report with its manifest; ``state`` is COMPLETE or INTERRUPTED.

        Answers and attachments already stored are kept; none can be added afterwards. With
        ``dummy``, the answer rows are filled up to :func:`padded_answer_rows` with its dummies
        under random free slots (the manifest does not list them), in the same transaction
        (issue 17.1). Callers give a report closed without a code a receipt row with a random tag
        first (:func:`put_dummy_receipt`), as they store a real one first.
        """
        ...

    async def discard_report(self, report_id: ReportId) -> bool:
        """Delete a report with every envelope at once (the reporter's "discard"). False if none."""
        ...

    async def load_report(
        self, report_id: ReportId, *, with_attachments: bool = True
    ) -> StoredReport:
        """Everything stored for one report. Raises UnknownReportError."""
        ...

    async def open_reports(self) -> list[ReportId]:
        """Reports without a manifest (after a restart: to be closed as INTERRUPTED)."""
        ...

    async def ready_reports(self) -> list[ReportId]:
        """Closed reports that no digest carries yet, in no meaningful order."""
        ...

    # -- digest outbox ------------------------------------------------------------------------
    async def next_digest_seq(self) -> int:
        """One more than the highest sequence number ever used (1 for the first digest)."""
        ...

    async def add_digest(
        self, seq: int, parts: Sequence[bytes], report_ids: Collection[ReportId]
    ) -> None:
        """Put a signed digest (part 0) and the documents it references in the outbox, pending,
        and mark ``report_ids`` as carried by it, in one transaction."""
        ...

    async def pending_digests(self) -> list[OutboxDigest]:
        """Digests not yet confirmed posted, oldest sequence first, with their bytes."""
        ...

    async def get_digest(self, seq: int) -> OutboxDigest:
        """One digest with its bytes (none once pruned). Raises UnknownDigestError."""
        ...

    async def list_digests(self) -> list[DigestInfo]: ...

    async def digest_reports(self, seq: int) -> list[ReportId]:
        """The reports a digest carries (still stored ones)."""
        ...

    async def record_attempt(self, seq: int) -> int:
        """Count one more delivery attempt; returns the new count."""
        ...

    async def mark_part_posted(self, seq: int, part: int) -> None: ...

    async def mark_digest_posted(self, seq: int) -> None:
        """Telegram confirmed the digest: it is posted today. Idempotent."""
        ...

    # -- analyst channel ----------------------------------------------------------------------
    async def channel_binding(self) -> ChannelBinding | None: ...

    async def set_channel_binding(self, binding: ChannelBinding) -> None:
        """Record (replacing any earlier one) the verified channel and analyst keys."""
        ...

    async def clear_channel_binding(self) -> None: ...

    # -- receipts and replies -----------------------------------------------------------------
    async def receipt_salt(self) -> bytes:
        """A random salt made once per database, for deriving receipt lookup tags."""
        ...

    async def put_receipt(
        self, tag: bytes, report_id: ReportId, *, scheme: ReceiptScheme = ReceiptScheme.V2
    ) -> None:
        """Remember that the receipt whose derived lookup tag is ``tag`` opens ``report_id``."""
        ...

    async def find_receipts(
        self, tags: Sequence[bytes], *, scheme: ReceiptScheme
    ) -> tuple[int, ReportId] | None:
        """The first of ``tags`` (candidates of one scheme) that a receipt of ``scheme`` has:
        its index in ``tags`` and the report it opens; None when none has. One query."""
        ...

    async def holds_receipts(self, scheme: ReceiptScheme) -> bool:
        """Whether any receipt of ``scheme`` is still kept (dummies count too)."""
        ...

    async def add_reply(self, report_id: ReportId, sealed: bytes) -> bool:
        """Keep a sealed analyst reply for the receipt holder. False if the same bytes are kept."""
        ...

    async def replies(self, report_id: ReportId) -> list[bytes]:
        """Sealed replies to a report, in the order they were added."""
        ...

    # -- messages to erase from reporters' chats ---------------------------------------------
    async def remember_messages(
        self, conversation: bytes, message_ids: Sequence[int], *, keep: bool = False
    ) -> None:
        """Note message ids of a conversation (a random 16-byte key) to delete later.

        ``keep``: a message that must stay on screen when the rest is erased (a receipt).
        """
        ...

    def note_messages(
        self, conversation: bytes, message_ids: Sequence[int], *, keep: bool = False
    ) -> asyncio.Future[None]:
        """:meth:`remember_messages` without waiting: the rows are queued at once and written
        in the next transaction the store commits (with the answer a step stores next, or on
        their own if none comes), in the order of the calls. The future resolves once they are
        committed (or fails); awaiting it is :meth:`remember_messages`."""
        ...

    async def forget_messages(
        self, conversation: bytes, message_ids: Sequence[int] | None = None
    ) -> None:
        """Drop these ids of a conversation (deleted, or no longer to delete); None: all."""
        ...

    async def messages_to_erase(self) -> dict[bytes, list[tuple[int, bool]]]:
        """Every conversation's noted ids as (message id, keep), after dropping those noted
        more than two days ago (Telegram no longer lets a bot delete them)."""
        ...

    # -- upkeep -------------------------------------------------------------------------------
    async def apply_retention(self, policy: RetentionPolicy) -> RetentionCounts:
        """Delete what the policy says has been kept long enough; return only counts."""
        ...

    async def counts(self) -> StoreCounts: ...

    async def close(self) -> None:
        """Finish queued writes and close. Idempotent."""
        ...
